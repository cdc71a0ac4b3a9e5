package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/sdk/oauth2client"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// newTPVCmd groups the TPV Hub client commands and brand administration.
func newTPVCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tpv",
		Short: "TPV Hub API: brand set-up, login and submissions",
	}
	cmd.AddCommand(g.server(newTPVBrandCmd(g))[0], newTPVLoginCmd(), newTPVSubmitCmd(), newTPVProductCmd())
	return cmd
}

// tpvClientFlags are how the client commands reach a TPV API. The secret
// comes from a file or the environment, never from the command line
// (where other users could read it in the process list).
type tpvClientFlags struct {
	url, token, secretFile, authToken, caFile, cachePath string
	unsigned, noCache                                    bool
}

// tpvCache keeps TPV auth tokens in a file only the user can read (0600 in
// a 0700 directory, the format `authgate token` uses), keyed by
// sdk.Client.CacheKey; the application secret is never written.
type tpvCache struct{ f oauth2client.FileCache }

var _ sdk.Cache = tpvCache{}

func (c tpvCache) Load(key string) (string, time.Time, error) {
	t, err := c.f.Load(key)
	if err != nil || t == nil {
		return "", time.Time{}, err
	}
	return t.AccessToken, t.Expiry, nil
}

func (c tpvCache) Save(key, token string, expires time.Time) error {
	return c.f.Save(key, &oauth2client.Token{AccessToken: token, Expiry: expires})
}

func (f *tpvClientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", os.Getenv("TPV_URL"), "client portal base URL (env TPV_URL)")
	fl.StringVar(&f.token, "token", os.Getenv("TPV_APP_TOKEN"), "application token (env TPV_APP_TOKEN)")
	fl.StringVar(&f.secretFile, "secret-file", "", "file holding the application secret (default: env TPV_APP_SECRET)")
	fl.StringVar(&f.authToken, "auth-token", os.Getenv("TPV_AUTH_TOKEN"), "use this auth_token instead of logging in (env TPV_AUTH_TOKEN)")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CA certificates to trust for the server")
	fl.BoolVar(&f.unsigned, "unsigned", false, "leave the Signature header out (only for routes configured signature-optional)")
	fl.StringVar(&f.cachePath, "cache", "", "auth token cache file (default: user cache dir/authgate/tpv-tokens.json)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the auth token cache")
}

func (f *tpvClientFlags) client() (*sdk.Client, error) {
	if f.url == "" || f.token == "" {
		return nil, errors.New("--url and --token (or TPV_URL and TPV_APP_TOKEN) are required")
	}
	secret := os.Getenv("TPV_APP_SECRET")
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, err
		}
		secret = string(trimNewline(b))
	}
	if secret == "" {
		return nil, errors.New("the application secret is required: --secret-file or TPV_APP_SECRET")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", f.caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	c := &sdk.Client{BaseURL: f.url, AppToken: f.token, AppSecret: secret, HTTP: hc, Unsigned: f.unsigned}
	if f.authToken != "" {
		// Expiry unknown here: assume a fresh 30-minute token; the server decides.
		c.SetAuthToken(f.authToken, time.Now().Add(29*time.Minute))
		return c, nil
	}
	if !f.noCache {
		path := f.cachePath
		if path == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("no cache directory (use --cache or --no-cache): %w", err)
			}
			path = filepath.Join(dir, "authgate", "tpv-tokens.json")
		}
		c.Cache = tpvCache{oauth2client.FileCache{Path: path}}
	}
	return c, nil
}

func newTPVLoginCmd() *cobra.Command {
	f := &tpvClientFlags{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign a login with the application secret, print the auth_token and cache it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			tok, err := c.Login(cmd.Context())
			if err != nil {
				return err
			}
			return printOut(cmd, map[string]string{"auth_token": tok})
		},
	}
	f.register(cmd)
	return cmd
}

func newTPVSubmitCmd() *cobra.Command {
	f := &tpvClientFlags{}
	var digital, queue bool
	cmd := &cobra.Command{
		Use:   "submit FILE.json",
		Short: "Submit a TPV sales record (signed) and print its confirmation code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if !json.Valid(body) {
				return fmt.Errorf("%s is not valid JSON", args[0])
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			code, err := c.Submit(ctx, json.RawMessage(body))
			if err != nil {
				return err
			}
			out := map[string]string{"success": code}
			if digital {
				if out["digital"], err = c.SendDigital(ctx, code); err != nil {
					return err
				}
			}
			if queue {
				if out["call"], err = c.QueueCall(ctx, code); err != nil {
					return err
				}
			}
			return printOut(cmd, out)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&digital, "send-digital", false, "request the digital delivery afterwards")
	cmd.Flags().BoolVar(&queue, "queue-call", false, "queue the verification call afterwards")
	return cmd
}

func newTPVProductCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "product", Short: "The brand's products (program codes), through the API"}
	lf := &tpvClientFlags{}
	list := &cobra.Command{
		Use: "list", Short: "List the brand's products", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lf.client()
			if err != nil {
				return err
			}
			ps, err := c.Products(cmd.Context())
			if err != nil {
				return err
			}
			return printOut(cmd, map[string]any{"success": ps})
		},
	}
	lf.register(list)
	af := &tpvClientFlags{}
	var code, name string
	add := &cobra.Command{
		Use: "add", Short: "Register a program code for the brand", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			p, err := c.CreateProduct(cmd.Context(), sdk.Product{ProgramCode: code, Name: name})
			if err != nil {
				return err
			}
			return printOut(cmd, map[string]any{"success": p})
		},
	}
	af.register(add)
	add.Flags().StringVar(&code, "code", "", "program code")
	add.Flags().StringVar(&name, "name", "", "product name")
	_ = add.MarkFlagRequired("code")
	_ = add.MarkFlagRequired("name")
	cmd.AddCommand(list, add)
	return cmd
}
