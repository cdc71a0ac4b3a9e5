package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/sdk/pop"
)

// newPopCmd builds a TAAP PoP token for one request and prints it.
func newPopCmd() *cobra.Command {
	var keyFile, method, uri, body string
	var headers []string
	cmd := &cobra.Command{
		Use:   "pop",
		Short: "Build a T-Mobile TAAP PoP token (X-Authorization) for one request",
		Long: `Build a proof-of-possession token signed with an RSA private key (PEM, PKCS#8 or
PKCS#1). The token signs the given headers in order, then uri, http-method and body,
as T-Mobile's builders do; send it in the X-Authorization header within 120 s, once.

  authgate pop --key key.pem --method GET --uri /iot-connectivity/v1/devices/8901... \
      --header 'Content-Type: application/json' --header "Authorization: Bearer $AT"
  authgate pop --key key.pem --method POST --uri /commerce/v1/orders --body @order.json \
      --header 'Content-Type: application/json'

--uri is the path and query exactly as sent (a full URL is cut to them). --body @FILE
reads the body from FILE (@- from standard input); otherwise the text is the body.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pemBytes, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			key, err := pop.ParsePrivateKey(pemBytes)
			if err != nil {
				return err
			}
			if u, err := url.Parse(uri); err == nil && u.IsAbs() {
				uri = u.RequestURI()
			}
			if !strings.HasPrefix(uri, "/") {
				return fmt.Errorf("--uri %q: want the path (and ?query) as sent, starting with /", uri)
			}
			b, err := readBodyArg(cmd, body)
			if err != nil {
				return err
			}
			var parts []pop.Part
			for _, h := range headers {
				name, value, ok := strings.Cut(h, ":")
				name = strings.TrimSpace(name)
				if !ok || name == "" || strings.ContainsAny(name, " ;") {
					return fmt.Errorf("--header %q: want 'Name: value'", h)
				}
				parts = append(parts, pop.Part{Name: http.CanonicalHeaderKey(name), Value: strings.TrimLeft(value, " \t")})
			}
			parts = append(parts, pop.Part{Name: pop.URI, Value: uri}, pop.Part{Name: pop.Method, Value: method}, pop.Part{Name: pop.Body, Value: string(b)})
			tok, err := (&pop.Builder{Key: key}).Build(parts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "RSA private key (PEM)")
	f.StringVar(&method, "method", "GET", "HTTP method exactly as sent (case matters)")
	f.StringVar(&uri, "uri", "", "path and ?query as sent")
	f.StringArrayVar(&headers, "header", nil, "signed header 'Name: value' (repeatable, in order)")
	f.StringVar(&body, "body", "", "request body, or @FILE, or @- for standard input")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("uri")
	return cmd
}

func readBodyArg(cmd *cobra.Command, body string) ([]byte, error) {
	switch {
	case body == "@-":
		var sb strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := cmd.InOrStdin().Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return []byte(sb.String()), nil
	case strings.HasPrefix(body, "@"):
		return os.ReadFile(body[1:])
	}
	return []byte(body), nil
}

// newTAAPCmd is the administrator's side of TAAP: clients and SIM records,
// on the database directly like `authgate admin`.
func newTAAPCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "taap", Short: "T-Mobile TAAP: register clients and SIM records (on the database)"}
	client := &cobra.Command{Use: "client", Short: "TAAP clients"}
	var orgID, name, scope string
	var keyFiles []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a TAAP client: client id and secret (printed once) plus RSA public keys",
		Long: `Register a TAAP client (an application principal) with a client secret for Basic
authentication at POST /oauth2/v6/tokens and one or more RSA public keys (>= 2048 bits;
PEM SPKI or PKCS#1, or a JWK) that verify its PoP tokens. Without --org a new
organisation named after the client is created. The secret is stored only as a keyed
hash and cannot be shown again.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			spec := taap.ClientSpec{OrgID: orgID, Name: name, Scope: scope}
			for _, f := range keyFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, err
				}
				spec.PublicKeys = append(spec.PublicKeys, b)
			}
			return taap.CreateClient(cmd.Context(), rt.svc, spec)
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id (default: a new organisation named after the client)")
	create.Flags().StringVar(&name, "name", "", "client name")
	create.Flags().StringVar(&scope, "scope", "", "scope granted to the client's access tokens")
	create.Flags().StringArrayVar(&keyFiles, "public-key", nil, "public key file, PEM or JWK (repeatable)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("public-key")
	client.AddCommand(create)

	sim := &cobra.Command{Use: "sim", Short: "SIM records of the connectivity demo resource"}
	var s taap.SIM
	var simOrg string
	add := &cobra.Command{
		Use: "add", Short: "Add a SIM record (ICCID: 19-20 digits, 89..., Luhn check digit)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return taap.AddSIM(cmd.Context(), rt.svc, simOrg, s)
		}),
	}
	add.Flags().StringVar(&simOrg, "org", "", "organisation id of the client that may read it")
	add.Flags().StringVar(&s.ICCID, "iccid", "", "ICCID")
	add.Flags().StringVar(&s.IMSI, "imsi", "", "IMSI")
	add.Flags().StringVar(&s.MSISDN, "msisdn", "", "MSISDN")
	add.Flags().StringVar(&s.Status, "status", "active", "active, inactive, suspended or deactivated")
	add.Flags().StringVar(&s.Label, "label", "", "free label")
	_ = add.MarkFlagRequired("org")
	_ = add.MarkFlagRequired("iccid")
	sim.AddCommand(add)
	cmd.AddCommand(client, sim)
	return cmd
}
