package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

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
