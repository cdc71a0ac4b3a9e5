package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"
)

// Output formats of -o/--output.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// outputFlag is the root's -o/--output: how every command prints its data.
// "" is the command's own default (JSON for most, a table for listings
// that always were one).
type outputFlag struct{ format string }

func (o *outputFlag) register(root *cobra.Command) {
	root.PersistentFlags().StringVarP(&o.format, "output", "o", "", "output format: json or table")
}

func (o *outputFlag) check() error {
	switch o.format {
	case "", outputJSON, outputTable:
		return nil
	}
	return usageError(fmt.Errorf("--output %q: want json or table", o.format))
}

// outputOf is the -o of the command being run (the root's flag).
func outputOf(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("output"); f != nil {
		return f.Value.String()
	}
	return ""
}

// printOut prints v as the command's data: JSON (indented) unless -o table.
func printOut(cmd *cobra.Command, v any) error {
	return printAs(cmd.OutOrStdout(), outputOf(cmd), outputJSON, v)
}

// printOutTable prints v as a table unless -o json.
func printOutTable(cmd *cobra.Command, v any) error {
	return printAs(cmd.OutOrStdout(), outputOf(cmd), outputTable, v)
}

func printAs(w io.Writer, format, def string, v any) error {
	if format == "" {
		format = def
	}
	doc, err := normalise(v)
	if err != nil {
		return err
	}
	if format == outputTable {
		return writeTable(w, doc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// normalise turns v into its JSON value with every object key in
// snake_case: the one style of the command line's output, whatever the
// wire format of the object (TAAP's createdAt, a SOAP element's Go name).
func normalise(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	return snakeKeys(doc), nil
}

func snakeKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[snakeCase(k)] = snakeKeys(val)
		}
		return out
	case []any:
		for i := range t {
			t[i] = snakeKeys(t[i])
		}
	}
	return v
}

// snakeCase: createdAt -> created_at, NetworkState -> network_state,
// M2MApiKey -> m2m_api_key, ICCID -> iccid; snake_case stays as it is.
// A word starts at an upper-case letter after a lower-case one, or at the
// last upper-case letter of an acronym when a lower-case one follows.
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || ((unicode.IsUpper(prev) || unicode.IsDigit(prev)) && nextLower) {
				b.WriteByte('_')
			}
		}
		if c == '-' {
			c = '_'
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// writeTable prints a normalised value: a list (or an object whose "items"
// is one) as one row per element with a column per key, any other object
// as KEY/VALUE rows, a scalar alone.
func writeTable(w io.Writer, doc any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows, isList := tableRows(doc)
	switch {
	case isList:
		cols := columns(rows)
		if len(cols) == 0 { // a list of scalars
			for _, r := range rows {
				fmt.Fprintln(tw, cell(r["value"]))
			}
			break
		}
		head := make([]string, len(cols))
		for i, c := range cols {
			head[i] = strings.ToUpper(c)
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, r := range rows {
			vals := make([]string, len(cols))
			for i, c := range cols {
				vals[i] = cell(r[c])
			}
			fmt.Fprintln(tw, strings.Join(vals, "\t"))
		}
	default:
		m, ok := doc.(map[string]any)
		if !ok {
			fmt.Fprintln(tw, cell(doc))
			break
		}
		fmt.Fprintln(tw, "KEY\tVALUE")
		for _, k := range sortedKeys(m) {
			fmt.Fprintf(tw, "%s\t%s\n", k, cell(m[k]))
		}
	}
	return tw.Flush()
}

// tableRows finds the rows of a listing: the value itself when it is a
// list, or its "items" list (the admin listings' {"total","items"}).
func tableRows(doc any) ([]map[string]any, bool) {
	list, ok := doc.([]any)
	if !ok {
		m, isMap := doc.(map[string]any)
		if !isMap {
			return nil, false
		}
		if list, ok = m["items"].([]any); !ok {
			return nil, false
		}
	}
	rows := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			rows = append(rows, m)
		} else {
			rows = append(rows, map[string]any{"value": e})
		}
	}
	return rows, true
}

// columns are the keys of every row: ids first, then the others sorted.
func columns(rows []map[string]any) []string {
	seen := map[string]bool{}
	for _, r := range rows {
		if _, scalar := r["value"]; scalar && len(r) == 1 {
			continue
		}
		for k := range r {
			seen[k] = true
		}
	}
	cols := make([]string, 0, len(seen))
	for k := range seen {
		cols = append(cols, k)
	}
	slices.SortFunc(cols, func(a, b string) int {
		if ra, rb := keyRank(a), keyRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return cols
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := keyRank(a), keyRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// keyRank puts the identifying keys first.
func keyRank(k string) int {
	switch {
	case k == "id":
		return 0
	case strings.HasSuffix(k, "_id") || k == "name" || k == "serial" || k == "iccid":
		return 1
	}
	return 2
}

// cell is one value in a table: scalars as they are, anything nested as
// compact JSON, tabs and newlines escaped so a row stays one line.
func cell(v any) string {
	var s string
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		s = t
	case json.Number:
		s = t.String()
	case bool:
		s = fmt.Sprint(t)
	default:
		b, _ := json.Marshal(t)
		s = string(b)
	}
	return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}
