package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/protocol/apstrata"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// newApstrataCmd groups account administration and the signed client.
func newApstrataCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "apstrata", Short: "Apstrata token service: accounts, users, devices and signed calls"}
	cmd.AddCommand(g.server(newApstrataAccountCmd(g), newApstrataMemberCmd(g))...)
	cmd.AddCommand(newApstrataCallCmd())
	return cmd
}

func newApstrataAccountCmd(g *globalFlags) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use: "account", Short: "Create an account (owner authKey and secret, printed once)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			a, err := apstrata.CreateAccount(cmd.Context(), rt.svc, name)
			if err != nil {
				return nil, err
			}
			return map[string]string{"org_id": a.OrgID, "auth_key": a.AuthKey, "secret": a.Secret}, nil
		}),
	}
	c.Flags().StringVar(&name, "name", "", "account (organisation) name")
	_ = c.MarkFlagRequired("name")
	return c
}

func newApstrataMemberCmd(g *globalFlags) *cobra.Command {
	var authKey, id, passwordFile string
	var device bool
	c := &cobra.Command{
		Use:   "member",
		Short: "Create a user or device of an account",
		Long:  "Create a user (or, with --device, a device) with a password read from --password-file, or generated and printed once.",
		Args:  cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			password := ""
			if passwordFile != "" {
				b, err := os.ReadFile(passwordFile)
				if err != nil {
					return nil, err
				}
				password = string(trimNewline(b))
			}
			pw, err := apstrata.CreateMember(cmd.Context(), rt.svc, authKey, id, password, device)
			if err != nil {
				return nil, err
			}
			out := map[string]string{"auth_key": authKey, "id": id, "kind": "user"}
			if device {
				out["kind"] = "device"
			}
			if passwordFile == "" {
				out["password"] = pw
			}
			return out, nil
		}),
	}
	c.Flags().StringVar(&authKey, "auth-key", "", "the account's authKey")
	c.Flags().StringVar(&id, "id", "", "login of the user or id of the device")
	c.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (default: generate one)")
	c.Flags().BoolVar(&device, "device", false, "create a device instead of a user")
	_ = c.MarkFlagRequired("auth-key")
	_ = c.MarkFlagRequired("id")
	return c
}

func newApstrataCallCmd() *cobra.Command {
	var (
		serviceURL, authKey, secretFile, user, passwordFile, caFile, token, tokenID, method string
		params                                                                              []string
		simple, java                                                                        bool
	)
	c := &cobra.Command{
		Use:   "call ACTION",
		Short: "Call an action (GenerateToken, RenewToken, DeleteToken, VerifyCredentials) with a signature or a token",
		Long: `Sign and send one call. Sign as the owner (--secret-file) or as a user or device
(--user with --password-file), with the default signature or --simple; --java reproduces
the Java SDK (POST, milliseconds, upper-case hex). With --token and --token-id the call is
authenticated by a token instead. Secrets are read from files, never from the command line.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			read := func(path string) (string, error) {
				if path == "" {
					return "", nil
				}
				b, err := os.ReadFile(path)
				return string(trimNewline(b)), err
			}
			secret, err := read(secretFile)
			if err != nil {
				return err
			}
			password, err := read(passwordFile)
			if err != nil {
				return err
			}
			hc := &http.Client{Timeout: 30 * time.Second}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return errors.New("--ca-file holds no PEM certificate")
				}
				hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
			}
			cl := &sdk.Client{ServiceURL: serviceURL, AuthKey: authKey, Secret: secret, User: user, Password: password, Simple: simple, HTTP: hc}
			if java {
				cl.Flavor = sdk.Java
			}
			v := url.Values{}
			for _, p := range params {
				k, val, ok := strings.Cut(p, "=")
				if !ok {
					return fmt.Errorf("--param %q: want name=value", p)
				}
				v.Add(k, val)
			}
			var resp *sdk.Response
			if token != "" {
				resp, err = cl.CallWithToken(cmd.Context(), method, args[0], tokenID, token, v)
			} else {
				if secret == "" && user == "" {
					return errors.New("give --secret-file (owner), --user with --password-file, or --token with --token-id")
				}
				resp, err = cl.Call(cmd.Context(), method, args[0], v)
			}
			if resp != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "status: %s\n", resp.Status)
				if resp.ErrorCode != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "error: %s: %s\n", resp.ErrorCode, resp.ErrorDetail)
				}
				for k, val := range resp.Result {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", k, val)
				}
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&serviceURL, "url", os.Getenv("APSTRATA_URL"), "service URL, e.g. https://host:8080/apsdb/rest (env APSTRATA_URL)")
	f.StringVar(&authKey, "auth-key", os.Getenv("APSTRATA_AUTH_KEY"), "the account's authKey (env APSTRATA_AUTH_KEY)")
	f.StringVar(&secretFile, "secret-file", "", "file with the owner secret (sign as the owner)")
	f.StringVar(&user, "user", "", "user login or device id (sign as that user or device)")
	f.StringVar(&passwordFile, "password-file", "", "file with the user's or device's password")
	f.StringVar(&token, "token", "", "authenticate with this token instead of a signature")
	f.StringVar(&tokenID, "token-id", "", "user or device id the token belongs to")
	f.StringVar(&method, "method", http.MethodPost, "HTTP method")
	f.StringArrayVar(&params, "param", nil, "extra parameter name=value (repeatable), e.g. apsdb.tokenExpires=600")
	f.BoolVar(&simple, "simple", false, "use the simple (MD5) signature")
	f.BoolVar(&java, "java", false, "sign like the Java SDK")
	f.StringVar(&caFile, "ca-file", "", "PEM file of CA certificates to trust for the server")
	return c
}
