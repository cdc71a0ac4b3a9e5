// Package cnf reads OpenSSL-style configuration files (the NCONF format of
// openssl.cnf) such as the sample request configurations in the annex of the
// M2M Connectivity API setup document: sections, name = value pairs,
// comments, quotes, backslash escapes, line continuation and $var /
// ${section::name} / $ENV::NAME references, with OpenSSL's rules for each.
// req.go turns a parsed file into the key size, subject and extensions of a
// certificate request, as `openssl req -config` does.
//
// Input is untrusted (a user hands us a file): sizes, line counts and the
// length of expanded values are capped so a crafted file cannot blow up.
package cnf

import (
	"errors"
	"fmt"
	"strings"
)

// Limits on untrusted input.
const (
	MaxFileSize    = 64 << 10 // bytes of configuration text
	MaxValueLength = 64 << 10 // bytes of one value after expansion (OpenSSL's own cap)
	MaxTotalValues = 1 << 20  // bytes of all values after expansion
	MaxEntries     = 4096
)

// DefaultSection holds the entries before the first [section] header;
// lookups in any section fall back to it, as in OpenSSL.
const DefaultSection = "default"

// Entry is one name = value pair, value fully unquoted and expanded.
type Entry struct {
	Name  string
	Value string
	Line  int
}

// Section is a named, ordered list of entries. Order matters: the entries
// of a distinguished_name section become the subject in file order.
type Section struct {
	Name    string
	Entries []Entry
}

// Get returns the value of the last entry called name (later assignments
// override earlier ones, as in OpenSSL).
func (s *Section) Get(name string) (string, bool) {
	for i := len(s.Entries) - 1; i >= 0; i-- {
		if s.Entries[i].Name == name {
			return s.Entries[i].Value, true
		}
	}
	return "", false
}

// File is a parsed configuration.
type File struct {
	sections map[string]*Section
	order    []string
}

// Options tune parsing.
type Options struct {
	// LookupEnv resolves $ENV::NAME references. Nil resolves none: every
	// $ENV reference is then an error, as an unset variable is in OpenSSL.
	LookupEnv func(name string) (string, bool)
}

// Section returns the named section.
func (f *File) Section(name string) (*Section, bool) {
	s, ok := f.sections[name]
	return s, ok
}

// Sections lists section names in the order they first appear.
func (f *File) Sections() []string { return append([]string(nil), f.order...) }

// Get looks name up in section, falling back to the default section.
func (f *File) Get(section, name string) (string, bool) {
	if s, ok := f.sections[section]; ok {
		if v, ok := s.Get(name); ok {
			return v, true
		}
	}
	if s, ok := f.sections[DefaultSection]; ok {
		return s.Get(name)
	}
	return "", false
}

// Error is a parse error with its line number.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse reads configuration text.
func Parse(data []byte, opt Options) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("configuration larger than %d bytes", MaxFileSize)
	}
	p := &parser{
		f:   &File{sections: map[string]*Section{}},
		opt: opt,
	}
	p.section = p.sectionNamed(DefaultSection)
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := lines[i]
		// A backslash at the very end continues the line (OpenSSL joins
		// before it strips comments).
		for endsWithEscape(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + lines[i]
		}
		if err := p.line(line, lineNo); err != nil {
			return nil, &Error{Line: lineNo, Msg: err.Error()}
		}
	}
	return p.f, nil
}

// endsWithEscape reports whether the line ends in an unescaped backslash.
func endsWithEscape(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

type parser struct {
	f       *File
	opt     Options
	section *Section
	entries int
	total   int
}

func (p *parser) sectionNamed(name string) *Section {
	s, ok := p.f.sections[name]
	if !ok {
		s = &Section{Name: name}
		p.f.sections[name] = s
		p.f.order = append(p.f.order, name)
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// isNameChar is OpenSSL's "alnum or punct" class for names (which lets
// "1.OU", "x-y" and "a;b" be names) minus the characters that delimit.
func isNameChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!%&*+,-./;?@^`|~", c) >= 0
}

// stripComment cuts the line at the first '#' outside quotes and escapes.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
		case '"', '\'':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			i = j
		case '#':
			return s[:i]
		}
	}
	return s
}

func (p *parser) line(raw string, lineNo int) error {
	s := stripComment(raw)
	s = strings.TrimLeft(s, " \t\r")
	if s == "" {
		return nil
	}
	switch s[0] {
	case '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return errors.New("missing close square bracket")
		}
		name := strings.TrimSpace(s[1:end])
		if name == "" || !allName(name) {
			return fmt.Errorf("invalid section name %q", name)
		}
		if rest := strings.TrimSpace(s[end+1:]); rest != "" {
			return fmt.Errorf("unexpected text after section header: %q", rest)
		}
		p.section = p.sectionNamed(name)
		return nil
	case '.':
		// .include and .pragma pull in other files or change parsing;
		// request configurations have no business with either.
		return fmt.Errorf("directive %q is not supported", strings.Fields(s)[0])
	}
	i := 0
	for i < len(s) && (isNameChar(s[i]) || s[i] == ':' || s[i] == '$') {
		i++
	}
	name := s[:i]
	if name == "" {
		return fmt.Errorf("expected a name, found %q", s[:min(len(s), 1)])
	}
	rest := strings.TrimLeft(s[i:], " \t")
	if rest == "" || rest[0] != '=' {
		return errors.New("missing equal sign")
	}
	target := p.section
	if sect, n, ok := strings.Cut(name, "::"); ok {
		// "section::name = value" assigns into another section.
		if sect == "" || n == "" || !allName(sect) || !allName(n) {
			return fmt.Errorf("invalid name %q", name)
		}
		target, name = p.sectionNamed(sect), n
	} else if !allName(name) {
		return fmt.Errorf("invalid name %q", name)
	}
	value, err := p.value(strings.TrimRight(strings.TrimLeft(rest[1:], " \t"), " \t\r"), target.Name)
	if err != nil {
		return err
	}
	p.entries++
	p.total += len(value)
	if p.entries > MaxEntries {
		return fmt.Errorf("more than %d entries", MaxEntries)
	}
	if p.total > MaxTotalValues {
		return fmt.Errorf("values longer than %d bytes in total", MaxTotalValues)
	}
	target.Entries = append(target.Entries, Entry{Name: name, Value: value, Line: lineNo})
	return nil
}

func allName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// value unquotes, unescapes and expands a raw value the way OpenSSL's
// str_copy does: quotes are removed (their content is literal apart from
// escapes), "\n" "\r" "\t" "\b" are control characters, any other escaped
// character stands for itself, and $ introduces a variable reference.
func (p *parser) value(s, section string) (string, error) {
	var b strings.Builder
	grow := func(n int) error {
		if b.Len()+n > MaxValueLength {
			return fmt.Errorf("value longer than %d bytes", MaxValueLength)
		}
		return nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				if err := grow(1); err != nil {
					return "", err
				}
				b.WriteByte(s[j])
			}
			i = j + 1 // past the closing quote (or the end)
		case c == '\\':
			if i+1 >= len(s) {
				i++
				continue
			}
			if err := grow(1); err != nil {
				return "", err
			}
			switch e := s[i+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			default:
				b.WriteByte(e)
			}
			i += 2
		case c == '$':
			v, n, err := p.reference(s[i+1:], section)
			if err != nil {
				return "", err
			}
			if err := grow(len(v)); err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 1 + n
		default:
			if err := grow(1); err != nil {
				return "", err
			}
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// reference resolves the variable after a '$': name, section::name, or
// either in {} or (). It returns the value and how many bytes it consumed.
func (p *parser) reference(s, section string) (string, int, error) {
	var body string
	var n int
	if len(s) > 0 && (s[0] == '{' || s[0] == '(') {
		closer := byte('}')
		if s[0] == '(' {
			closer = ')'
		}
		end := strings.IndexByte(s, closer)
		if end < 0 {
			return "", 0, errors.New("no close brace in variable reference")
		}
		body, n = s[1:end], end+1
	} else {
		i := 0
		for i < len(s) && isAlnum(s[i]) {
			i++
		}
		if i+2 < len(s) && s[i] == ':' && s[i+1] == ':' && isAlnum(s[i+2]) {
			j := i + 2
			for j < len(s) && isAlnum(s[j]) {
				j++
			}
			i = j
		}
		body, n = s[:i], i
	}
	if body == "" {
		return "", 0, errors.New("variable has no name")
	}
	sect, name, qualified := strings.Cut(body, "::")
	if !qualified {
		sect, name = section, body
	}
	if sect == "ENV" {
		if p.opt.LookupEnv != nil {
			if v, ok := p.opt.LookupEnv(name); ok {
				return v, n, nil
			}
		}
		return "", 0, fmt.Errorf("variable has no value: environment variable %s is not set", name)
	}
	if v, ok := p.f.Get(sect, name); ok {
		return v, n, nil
	}
	return "", 0, fmt.Errorf("variable has no value: %s", body)
}
