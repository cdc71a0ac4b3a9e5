package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/m2m"
	sdk "github.com/authgate/authgate/sdk/m2m"
	"github.com/authgate/authgate/sdk/wss"
)

// newM2MCmd groups the M2M Connectivity API commands: server-side set-up
// (API keys, SIMs) and the partner side (signed calls, M2MAdmCl/M2MMonCl server).
func newM2MCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "m2m", Short: "M2M Connectivity API: API keys, SIMs, signed calls and the partner server"}
	cmd.AddCommand(g.server(newM2MAPIKeyCmd(g), newM2MSIMCmd(g), newM2MPartnerCmd(g), newM2MOutboxCmd(g))...)
	cmd.AddCommand(newM2MCallCmd(), newM2MPartnerServeCmd())
	return cmd
}

// The apikey, sim, partner and outbox verbs call m2m.Admin, the operations
// the admin API calls too, as the operator (core.Operator). `m2m apikey
// --partner P` (without a verb) is kept as it was: it creates, and prints
// the key as m2m_api_key.

func m2mAdmin(rt *runtime) *m2m.Admin { return m2m.NewAdmin(rt.cfg.M2M, rt.svc) }

func newM2MAPIKeyCmd(g *globalFlags) *cobra.Command {
	var req m2m.CreateAPIKeyRequest
	c := &cobra.Command{
		Use:   "apikey",
		Short: "A partner's M2MApiKeys: create, list, get, revoke",
		Long: `An M2MApiKey authenticates a partner in one environment, besides its signature. Without a
verb, "m2m apikey --partner P [--env TA|PE]" creates one (as "m2m apikey create" does).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Partner == "" {
				return cmd.Help()
			}
			return withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
				k, err := m2mAdmin(rt).CreateAPIKey(cmd.Context(), core.Operator{}, req)
				if err != nil {
					return nil, err
				}
				return map[string]string{"env": k.Env, "partner": k.Partner, "m2m_api_key": k.Secret}, nil
			})(cmd, args)
		},
	}
	cr := &cobra.Command{Use: "create", Short: "Create a partner's M2MApiKey for one environment (printed once)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return m2mAdmin(rt).CreateAPIKey(cmd.Context(), core.Operator{}, req)
		})}
	for _, v := range []*cobra.Command{c, cr} {
		v.Flags().StringVar(&req.Env, "env", "TA", "environment: TA or PE")
		v.Flags().StringVar(&req.Partner, "partner", "", "partner name (as in the m2m configuration)")
	}
	_ = cr.MarkFlagRequired("partner")
	var lr m2m.ListRequest
	list := &cobra.Command{Use: "list", Short: "List M2MApiKeys (never their secrets)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return m2mAdmin(rt).ListAPIKeys(cmd.Context(), core.Operator{}, lr)
		})}
	list.Flags().StringVar(&lr.Partner, "partner", "", "only this partner's keys")
	list.Flags().StringVar(&lr.OrgID, "org", "", "only this organisation's keys")
	list.Flags().BoolVar(&lr.IncludeRevoked, "include-revoked", false, "list revoked keys too")
	get := &cobra.Command{Use: "get ID", Short: "Show an M2MApiKey (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).GetAPIKey(cmd.Context(), core.Operator{}, args[0])
		})}
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an M2MApiKey: requests carrying it are refused", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).RevokeAPIKey(cmd.Context(), core.Operator{}, args[0])
		})}
	c.AddCommand(cr, list, get, revoke)
	return c
}

func newM2MPartnerCmd(g *globalFlags) *cobra.Command {
	partner := &cobra.Command{Use: "partner", Short: "What a partner receives from the platform"}
	var env string
	var newKey bool
	sheet := &cobra.Command{
		Use:   "sheet NAME",
		Short: "Print a partner's data-exchange sheet for one environment (setup document items A-K)",
		Long: `Print the data-exchange sheet of partner NAME in one environment, from the configuration:
the platform's SSL server and signature certificates (A/C, B/D) as PEM with SHA-256
fingerprints, the M2MAdm and M2MMon access points (E-H, from public_url or listen), the
SOA-BP sender ID (K) and M2M partner identifier, and what is registered from the partner
(signing certificates, M2MAdmCl/M2MMonCl). The M2MApiKey (J/9) is only shown when issued:
--new-api-key issues one and prints it on the sheet, once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			s, err := m2m.NewSheet(cfg.M2M, env, args[0])
			if err != nil {
				return err
			}
			if newKey {
				rt, err := openRuntime(cmd.Context(), g, cmd)
				if err != nil {
					return err
				}
				defer rt.Close()
				k, err := m2mAdmin(rt).CreateAPIKey(cmd.Context(), core.Operator{}, m2m.CreateAPIKeyRequest{Env: s.Env, Partner: s.Partner})
				if err != nil {
					return err
				}
				s.APIKey = k.Secret
			}
			return s.WriteText(cmd.OutOrStdout())
		},
	}
	sheet.Flags().StringVar(&env, "env", "TA", "environment: TA or PE")
	sheet.Flags().BoolVar(&newKey, "new-api-key", false, "issue a new M2MApiKey for the environment and print it on the sheet (once)")
	var lr m2m.ListRequest
	list := &cobra.Command{Use: "list", Short: "List the partners (configured or provisioned)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return m2mAdmin(rt).ListPartners(cmd.Context(), core.Operator{}, lr)
		})}
	list.Flags().StringVar(&lr.OrgID, "org", "", "only this organisation's partner")
	get := &cobra.Command{Use: "get NAME", Short: "Show a partner", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).GetPartner(cmd.Context(), core.Operator{}, args[0])
		})}
	partner.AddCommand(sheet, list, get)
	return partner
}

func newM2MSIMCmd(g *globalFlags) *cobra.Command {
	sim := &cobra.Command{Use: "sim", Short: "SIMs of the partners: add, list, get, delete, and their usage (the network side)"}
	var env, iccid string
	var req m2m.AddSIMRequest
	var data, sms, voice int64
	add := &cobra.Command{
		Use: "add [ICCID]", Short: "Provision a shipped SIM for a partner", Args: cobra.MaximumNArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			id, err := oneID(args, iccid, "--iccid")
			if err != nil {
				return nil, err
			}
			req.Env, req.ICCID = env, id
			return m2mAdmin(rt).AddSIM(cmd.Context(), core.Operator{}, req)
		}),
	}
	add.Flags().StringVar(&req.Partner, "partner", "", "partner name")
	add.Flags().StringVar(&req.Tariff, "tariff", "", "tariff (default M2M_BASIC)")
	add.Flags().StringVar(&iccid, "iccid", "", "ICCID (or the argument)")
	_ = add.MarkFlagRequired("partner")
	usage := &cobra.Command{
		Use: "usage", Short: "Add usage to a SIM", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return m2m.RecordUsage(cmd.Context(), m2m.DepsFrom(rt.svc, httpapi.ClientAddr{}), strings.ToUpper(env), iccid, data, sms, voice)
		}),
	}
	usage.Flags().Int64Var(&data, "data", 0, "data volume in bytes")
	usage.Flags().Int64Var(&sms, "sms", 0, "SMS count")
	usage.Flags().Int64Var(&voice, "voice", 0, "voice seconds")
	usage.Flags().StringVar(&iccid, "iccid", "", "ICCID")
	_ = usage.MarkFlagRequired("iccid")
	var lr m2m.ListRequest
	list := &cobra.Command{Use: "list", Short: "List SIMs, newest first", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return m2mAdmin(rt).ListSIMs(cmd.Context(), core.Operator{}, lr)
		})}
	list.Flags().StringVar(&lr.Partner, "partner", "", "only this partner's SIMs")
	list.Flags().StringVar(&lr.OrgID, "org", "", "only this organisation's SIMs")
	get := &cobra.Command{Use: "get ICCID", Short: "Show a SIM of one environment", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).GetSIM(cmd.Context(), core.Operator{}, env, args[0])
		})}
	del := &cobra.Command{Use: "delete ICCID", Short: "Remove a SIM from one environment", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).DeleteSIM(cmd.Context(), core.Operator{}, env, args[0])
		})}
	for _, c := range []*cobra.Command{add, usage, get, del} {
		c.Flags().StringVar(&env, "env", "TA", "environment: TA or PE")
	}
	sim.AddCommand(add, usage, list, get, del)
	return sim
}

// oneID is the id given as the argument or (the older way) as a flag.
func oneID(args []string, flagValue, flagName string) (string, error) {
	switch {
	case len(args) == 1 && flagValue != "" && flagValue != args[0]:
		return "", usageError(fmt.Errorf("the argument and %s name different objects", flagName))
	case len(args) == 1:
		return args[0], nil
	case flagValue == "":
		return "", usageError(fmt.Errorf("give the id as the argument (or %s)", flagName))
	}
	return flagValue, nil
}

func newM2MOutboxCmd(g *globalFlags) *cobra.Command {
	outbox := &cobra.Command{Use: "outbox", Short: "The callback outbox: M2MAdm requests executed and notifications sent to partners"}
	var lr m2m.ListRequest
	list := &cobra.Command{Use: "list", Short: "List outbox jobs, newest first: state, attempts, last error, next attempt", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lr.Page = core.Page{Limit: listLimit}
			return m2mAdmin(rt).ListOutbox(cmd.Context(), core.Operator{}, lr)
		})}
	list.Flags().StringVar(&lr.Env, "env", "", "only this environment: TA or PE (default both)")
	list.Flags().StringVar(&lr.State, "state", "", "only jobs in this state: pending, failed or done")
	list.Flags().StringVar(&lr.OrgID, "org", "", "only the jobs of this organisation's partner")
	requeue := &cobra.Command{Use: "requeue ID", Short: "Run a failed job once more, now", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return m2mAdmin(rt).RequeueJob(cmd.Context(), core.Operator{}, args[0])
		})}
	outbox.AddCommand(list, requeue)
	return outbox
}

// m2mPartnerFlags are the partner's key material and its trust in the platform.
type m2mPartnerFlags struct {
	cert, key, platformCerts, caFile string
	ttl                              time.Duration
}

func (f *m2mPartnerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cert, "cert", "", "partner signing certificate (PEM)")
	fl.StringVar(&f.key, "key", "", "partner signing key (PEM, unencrypted)")
	fl.StringVar(&f.platformCerts, "platform-cert", "", "PEM file of the platform's signing certificate(s), pinned")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CAs trusted for the platform's TLS certificate (default: system roots)")
	fl.DurationVar(&f.ttl, "ttl", wss.DefaultTTL, "Timestamp lifetime")
	for _, n := range []string{"cert", "key", "platform-cert"} {
		_ = cmd.MarkFlagRequired(n)
	}
}

func (f *m2mPartnerFlags) load() (*wss.Signer, *wss.Verifier, *x509.CertPool, error) {
	key, cert, err := wss.LoadKeyPair(f.cert, f.key)
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := wss.NewSigner(key, cert, wss.SignerOptions{TTL: f.ttl})
	if err != nil {
		return nil, nil, nil, err
	}
	pinned, err := wss.LoadCertificates(f.platformCerts)
	if err != nil {
		return nil, nil, nil, err
	}
	verifier, err := wss.NewVerifier(wss.Policy{Pinned: pinned})
	if err != nil {
		return nil, nil, nil, err
	}
	var roots *x509.CertPool
	if f.caFile != "" {
		cas, err := wss.LoadCertificates(f.caFile)
		if err != nil {
			return nil, nil, nil, err
		}
		roots = wss.CertPool(cas)
	}
	return signer, verifier, roots, nil
}

func newM2MCallCmd() *cobra.Command {
	var f m2mPartnerFlags
	var url, iccid, tariff, apiKeyFile string
	var ids sdk.Identifiers
	c := &cobra.Command{
		Use:   "call OPERATION",
		Short: "Send a signed M2MAdm or M2MMon request (SIMUsageGet, SIMStateGet, SIMActivation, ...)",
		Long: `Send one signed request and print the verified answer as JSON. OPERATION is one of
SIMUsageGet, SIMStateGet (M2MMon, synchronous) or SIMActivation, SIMDeactivation,
SIMSuspend, SIMResume, SIMTariffChange (M2MAdm: the answer is a MessageResponse; the
result arrives at your M2MAdmCl). The M2MApiKey comes from --api-key-file or M2M_API_KEY.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			signer, verifier, roots, err := f.load()
			if err != nil {
				return err
			}
			apiKey := os.Getenv("M2M_API_KEY")
			if apiKeyFile != "" {
				b, err := os.ReadFile(apiKeyFile)
				if err != nil {
					return err
				}
				apiKey = strings.TrimSpace(string(b))
			}
			if apiKey == "" {
				return errors.New("the M2MApiKey is required: --api-key-file or M2M_API_KEY")
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}}
			defer tr.CloseIdleConnections() // one call per run: keep no connection open after it
			cl := &sdk.Client{BaseURL: url, APIKey: apiKey, Identifiers: ids, Signer: signer, Verifier: verifier,
				HTTP: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
			var out any
			ctx := cmd.Context()
			switch op := args[0]; op {
			case sdk.OpSIMUsageGet:
				out, err = cl.SIMUsageGet(ctx, iccid)
			case sdk.OpSIMStateGet:
				out, err = cl.SIMStateGet(ctx, iccid)
			case sdk.OpSIMActivation, sdk.OpSIMDeactivation, sdk.OpSIMSuspend, sdk.OpSIMResume, sdk.OpSIMTariffChange:
				out, err = cl.Adm(ctx, op, iccid, tariff)
			default:
				return fmt.Errorf("unknown operation %q", op)
			}
			if err != nil {
				return err
			}
			return printOut(cmd, out)
		},
	}
	f.register(c)
	c.Flags().StringVar(&url, "url", os.Getenv("M2M_URL"), "environment base URL, e.g. https://m2m-ta.example:8443 (env M2M_URL)")
	c.Flags().StringVar(&iccid, "iccid", "", "ICCID of the SIM")
	c.Flags().StringVar(&tariff, "tariff", "", "tariff (SIMTariffChange, optional for SIMActivation)")
	c.Flags().StringVar(&apiKeyFile, "api-key-file", "", "file holding the M2MApiKey (default: env M2M_API_KEY)")
	c.Flags().StringVar(&ids.SenderID, "sender-id", "", "API sender identifier (SOA-BP sender ID, item K of the partner sheet) to send, optional")
	c.Flags().StringVar(&ids.PartnerID, "partner-id", "", "M2M partner identifier (partner sheet) to send, optional")
	_ = c.MarkFlagRequired("iccid")
	return c
}

func newM2MPartnerServeCmd() *cobra.Command {
	var f m2mPartnerFlags
	var listen, tlsCert, tlsKey string
	c := &cobra.Command{
		Use:   "partner-serve",
		Short: "Serve M2MAdmCl and M2MMonCl: verify the platform's signed notifications, answer signed",
		Long: `Run the partner side of the M2M API over HTTPS: POST /M2MAdmCl receives M2MAdmResponse,
POST /M2MMonCl receives SIMNetworkStateChange. Each notification is verified against the
pinned platform certificate, printed as one JSON line on stdout, and acknowledged with a
signed M2MAdmResponseMessage / M2MMonResponseMessage (StateCode 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			signer, verifier, _, err := f.load()
			if err != nil {
				return err
			}
			pair, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
			if err != nil {
				return fmt.Errorf("tls: %w", err)
			}
			out := &lockedWriter{w: cmd.OutOrStdout()}
			h := newPartnerHandler(signer, verifier, out)
			mux := http.NewServeMux()
			mux.Handle("/M2MAdmCl", h)
			mux.Handle("/M2MMonCl", h)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv := &httpapi.Server{Name: "m2m-partner", Addr: listen, Handler: mux, Log: log,
				TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}}
			return srv.Run(cmd.Context())
		},
	}
	f.register(c)
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:9443", "host:port")
	c.Flags().StringVar(&tlsCert, "tls-cert", "", "SSL server certificate (PEM)")
	c.Flags().StringVar(&tlsKey, "tls-key", "", "SSL server key (PEM)")
	_ = c.MarkFlagRequired("tls-cert")
	_ = c.MarkFlagRequired("tls-key")
	return c
}

// newPartnerHandler acknowledges every verified notification after
// printing it as a JSON line.
func newPartnerHandler(signer *wss.Signer, verifier *wss.Verifier, out io.Writer) *sdk.PartnerHandler {
	emit := func(kind string, v any) {
		doc, err := normalise(map[string]any{"received": kind, "message": v})
		if err != nil {
			return
		}
		b, _ := json.Marshal(doc)
		_, _ = out.Write(append(b, '\n'))
	}
	return &sdk.PartnerHandler{Signer: signer, Verifier: verifier,
		OnAdmResponse: func(_ context.Context, r sdk.M2MAdmResponse) sdk.M2MAdmResponseMessage {
			emit(sdk.OpM2MAdmResponse, r)
			return sdk.M2MAdmResponseMessage{StateCode: 0, NotificationText: "received " + r.RequestID}
		},
		OnNetworkState: func(_ context.Context, n sdk.SIMNetworkStateChange) sdk.M2MMonResponseMessage {
			emit(sdk.OpSIMNetworkState, n)
			return sdk.M2MMonResponseMessage{StateCode: 0, NotificationText: "received " + n.EventID}
		},
	}
}

// lockedWriter serialises writes from concurrent handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
