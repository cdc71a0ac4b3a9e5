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

	"github.com/authgate/authgate/internal/core"
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

// The account and member verbs call apstrata.Accounts, the operations the
// admin API calls too, as the operator (core.Operator). `apstrata account
// --name` and `apstrata member --auth-key --id` (without a verb) are kept
// as they were: they create.

func newApstrataAccountCmd(g *globalFlags) *cobra.Command {
	var name string
	create := func(cmd *cobra.Command, rt *runtime) (any, error) {
		if name == "" {
			return nil, usageError(errors.New("--name is required"))
		}
		return apstrata.NewAccounts(rt.svc).CreateAccount(cmd.Context(), core.Operator{}, apstrata.CreateAccountRequest{Name: name})
	}
	c := &cobra.Command{
		Use: "account", Short: "Apstrata accounts: create, list, get, delete",
		Long: `An account is an organisation with an owner holding the authKey and secret. Without a verb,
"apstrata account --name NAME" creates one (as "apstrata account create" does).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return cmd.Help()
			}
			return withRuntime(g, create)(cmd, args)
		},
	}
	c.Flags().StringVar(&name, "name", "", "account (organisation) name: create one")
	cr := &cobra.Command{Use: "create", Short: "Create an account (owner authKey and secret, printed once)", Args: cobra.NoArgs,
		RunE: withRuntime(g, create)}
	cr.Flags().StringVar(&name, "name", "", "account (organisation) name")
	_ = cr.MarkFlagRequired("name")

	var lr apstrata.ListAccountsRequest
	list := &cobra.Command{Use: "list", Short: "List accounts (never their secrets)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return apstrata.NewAccounts(rt.svc).ListAccounts(cmd.Context(), core.Operator{}, lr)
		})}
	list.Flags().StringVar(&lr.OrgID, "org", "", "only the account of this organisation")
	list.Flags().BoolVar(&lr.IncludeDeleted, "include-deleted", false, "list deleted accounts too")
	get := &cobra.Command{Use: "get AUTH_KEY", Short: "Show an account (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return apstrata.NewAccounts(rt.svc).GetAccount(cmd.Context(), core.Operator{}, args[0])
		})}
	del := &cobra.Command{Use: "delete AUTH_KEY", Short: "Delete an account: its authKey, secret and members' passwords stop working, their tokens are revoked",
		Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return apstrata.NewAccounts(rt.svc).DeleteAccount(cmd.Context(), core.Operator{}, args[0])
		})}
	c.AddCommand(cr, list, get, del)
	return c
}

func newApstrataMemberCmd(g *globalFlags) *cobra.Command {
	var authKey, name, passwordFile string
	var device bool
	create := func(cmd *cobra.Command, rt *runtime) (any, error) {
		if authKey == "" || name == "" {
			return nil, usageError(errors.New("--auth-key and --name are required"))
		}
		password := ""
		if passwordFile != "" {
			b, err := os.ReadFile(passwordFile)
			if err != nil {
				return nil, err
			}
			if password = string(trimNewline(b)); password == "" {
				return nil, usageError(errors.New("--password-file is empty"))
			}
		}
		return apstrata.NewAccounts(rt.svc).CreateMember(cmd.Context(), core.Operator{}, authKey,
			apstrata.CreateMemberRequest{Name: name, Device: device, Password: password})
	}
	createFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&authKey, "auth-key", "", "the account's authKey")
		c.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (default: generate one, printed once)")
		c.Flags().BoolVar(&device, "device", false, "create a device instead of a user")
	}
	c := &cobra.Command{
		Use:   "member",
		Short: "Users and devices of an account: create, list, get, delete",
		Long: `Users and devices sign with their id and password. Without a verb,
"apstrata member --auth-key K --id ID" creates one (as "apstrata member create" does).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if authKey == "" && name == "" {
				return cmd.Help()
			}
			return withRuntime(g, create)(cmd, args)
		},
	}
	createFlags(c)
	c.Flags().StringVar(&name, "id", "", "login of the user or id of the device")
	cr := &cobra.Command{Use: "create", Short: "Create a user or device of an account (a generated password is printed once)", Args: cobra.NoArgs,
		RunE: withRuntime(g, create)}
	createFlags(cr)
	cr.Flags().StringVar(&name, "name", "", "login of the user or id of the device")
	for _, f := range []string{"auth-key", "name"} {
		_ = cr.MarkFlagRequired(f)
	}

	var lr apstrata.ListMembersRequest
	list := &cobra.Command{Use: "list", Short: "List the users and devices of an account (never their passwords)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return apstrata.NewAccounts(rt.svc).ListMembers(cmd.Context(), core.Operator{}, authKey, lr)
		})}
	list.Flags().BoolVar(&lr.IncludeDeleted, "include-deleted", false, "list deleted users and devices too")
	get := &cobra.Command{Use: "get NAME", Short: "Show a user or device of an account (never its password)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return apstrata.NewAccounts(rt.svc).GetMember(cmd.Context(), core.Operator{}, authKey, args[0])
		})}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a user or device: its password stops working, its tokens are revoked", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return apstrata.NewAccounts(rt.svc).DeleteMember(cmd.Context(), core.Operator{}, authKey, args[0])
		})}
	for _, v := range []*cobra.Command{list, get, del} {
		v.Flags().StringVar(&authKey, "auth-key", "", "the account's authKey")
		_ = v.MarkFlagRequired("auth-key")
	}
	c.AddCommand(cr, list, get, del)
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
				if perr := printOutTable(cmd, callView(resp)); perr != nil {
					return perr
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

// callView is what `apstrata call` prints of an answer: the status, the
// error, and the result's parameters with their names in the command
// line's one key style (apsdb.authToken is apsdb_auth_token).
func callView(r *sdk.Response) map[string]any {
	out := map[string]any{"status": r.Status}
	if r.ErrorCode != "" {
		out["error_code"], out["error_detail"] = r.ErrorCode, r.ErrorDetail
	}
	for k, v := range r.Result {
		if k = strings.ReplaceAll(k, ".", "_"); out[k] == nil {
			out[k] = v
		}
	}
	return out
}
