package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
)

// newCACmd is `authgate ca`: the built-in certificate authority, operated
// directly on the database (the same store the server uses).
func newCACmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Built-in certificate authority: init, sign CSRs by profile, list, get, revoke, CRL, rollover",
	}
	c.AddCommand(newCAInitCmd(g), newCASignCmd(g), newCARevokeCmd(g), newCACRLCmd(g), newCAListCmd(g), newCAGetCmd(g), newCACertCmd(g),
		newCARolloverCmd(g), newCARetirePreviousCmd(g))
	return c
}

// withCA opens the runtime and the authority for one command.
func withCA(g *globalFlags, fn func(cmd *cobra.Command, args []string, a *ca.Authority) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		rt, err := openRuntime(cmd.Context(), g, cmd)
		if err != nil {
			return err
		}
		defer rt.Close()
		return fn(cmd, args, ca.New(rt.cfg.CA, ca.DepsFrom(rt.svc)))
	}
}

// writeOut writes data to path (0644: certificates and CRLs are public)
// or to stdout when path is "" or "-".
func writeOut(cmd *cobra.Command, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func newCAInitCmd(g *globalFlags) *cobra.Command {
	var opt ca.InitOptions
	var out string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the root and the issuing CAs (device, m2m-ta, m2m-pe); prints the root certificate",
		Args:  cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			root, err := a.Init(cmd.Context(), opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "CA initialised: %s, valid until %s; key sealed in the database\n",
				root.Subject, root.NotAfter.Format(time.DateOnly))
			return writeOut(cmd, out, pemEncode("CERTIFICATE", root.Raw))
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opt.Algorithm, "algorithm", "rsa", "key algorithm: rsa or ecdsa")
	f.IntVar(&opt.RSABits, "bits", 3072, "RSA key size")
	f.StringVar(&opt.Curve, "curve", "P-256", "ECDSA curve: P-256 or P-384")
	f.StringVar(&opt.CommonName, "cn", "authgate Root CA", "root CA common name")
	f.StringVar(&opt.Organisation, "org", "authgate", "CA organisation")
	var intermediate bool
	f.BoolVar(&intermediate, "intermediate", false, "ignored: the issuing CAs are always created")
	_ = f.MarkDeprecated("intermediate", "the root always gets the device, m2m-ta and m2m-pe issuing CAs")
	f.DurationVar(&opt.RootValidity, "root-validity", 10*365*24*time.Hour, "root certificate lifetime")
	f.DurationVar(&opt.IssuerValidity, "issuer-validity", 5*365*24*time.Hour, "issuing CAs' lifetime")
	f.StringVar(&out, "out", "", "write the root certificate here (default stdout)")
	return cmd
}

func newCARolloverCmd(g *globalFlags) *cobra.Command {
	var opt ca.InitOptions
	var out string
	cmd := &cobra.Command{
		Use:   "rollover",
		Short: "Make a new root and issuing CAs; the current ones become the previous generation (validate-only); prints the new root",
		Long: `Make a new generation of the CA: a new root and new device, m2m-ta and
m2m-pe issuing CAs, which sign everything from now on. The current
generation is kept as the previous one: it signs no certificate again, but
what it issued keeps authenticating (device listener, M2M partner trust)
and can still be revoked; its CRLs stay served (--ca NAME@GENERATION).
Every node uses the new generation within about 10 seconds. Retire the
previous generation with ` + "`authgate ca retire-previous`" + ` once its certificates
are re-issued. Flags left unset keep the current root's algorithm, key
size and organisation; the name gets the generation (" G2").`,
		Args: cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			root, err := a.Rollover(cmd.Context(), opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "CA rolled over: new root %s, valid until %s; the previous generation validates what it issued until `authgate ca retire-previous`\n",
				root.Subject, root.NotAfter.Format(time.DateOnly))
			return writeOut(cmd, out, pemEncode("CERTIFICATE", root.Raw))
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opt.Algorithm, "algorithm", "", "key algorithm: rsa or ecdsa (default the current root's)")
	f.IntVar(&opt.RSABits, "bits", 0, "RSA key size (default the current root's)")
	f.StringVar(&opt.Curve, "curve", "", "ECDSA curve: P-256 or P-384 (default the current root's)")
	f.StringVar(&opt.CommonName, "cn", "", "new root CA common name (default the current one with the generation)")
	f.StringVar(&opt.Organisation, "org", "", "CA organisation (default the current root's)")
	f.DurationVar(&opt.RootValidity, "root-validity", 10*365*24*time.Hour, "new root certificate lifetime")
	f.DurationVar(&opt.IssuerValidity, "issuer-validity", 5*365*24*time.Hour, "new issuing CAs' lifetime")
	f.StringVar(&out, "out", "", "write the new root certificate here (default stdout)")
	return cmd
}

func newCARetirePreviousCmd(g *globalFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "retire-previous",
		Short: "Drop the generation kept by the last rollover (refused while its certificates are unexpired and unrevoked, unless --force)",
		Args:  cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			n, err := a.RetirePrevious(cmd.Context(), force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "previous CA generation retired (%d unexpired certificates of it stop validating)\n", n)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "retire even though unexpired, unrevoked certificates of the previous generation exist: they stop validating")
	return cmd
}

func newCASignCmd(g *globalFlags) *cobra.Command {
	var profile, env, org, out string
	var days int
	cmd := &cobra.Command{
		Use:   "sign --profile signing|ssl-server --env TA|PE req.csr",
		Short: "Issue an M2M partner certificate from a CSR (PEM or DER) by the environment's issuing CA; prints it and its chain",
		Args:  cobra.ExactArgs(1),
		RunE: withCA(g, func(cmd *cobra.Command, args []string, a *ca.Authority) error {
			csr, err := readLimited(args[0], ca.MaxCSRSize)
			if err != nil {
				return err
			}
			iss, err := a.IssueCertificate(cmd.Context(), core.Operator{}, ca.IssueRequest{CSR: csr, Profile: profile, Environment: env,
				Organisation: org, ValidityDays: days})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "issued serial %s to %s, valid until %s\n", iss.Record.Serial, iss.Record.Subject,
				iss.Record.NotAfter.Format(time.DateOnly))
			return writeOut(cmd, out, iss.PEM())
		}),
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "signing or ssl-server (device certificates: POST /identities/certificates)")
	f.StringVar(&env, "env", "", "environment: TA (OU M2M_TA) or PE (OU M2M)")
	f.StringVar(&org, "expect-org", "", "refuse unless the subject O is exactly this partner organisation")
	f.IntVar(&days, "days", 0, "validity in days (default ca.default_validity_days; at most ca.max_validity_days)")
	f.StringVar(&out, "out", "", "write the certificate chain here (default stdout)")
	_ = cmd.MarkFlagRequired("profile")
	return cmd
}

// readLimited reads at most limit bytes of a file ("-" is stdin).
func readLimited(path string, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func newCARevokeCmd(g *globalFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke SERIAL",
		Short: "Revoke an issued certificate of any generation (serial in hex, as openssl prints it); prints its record",
		Long: `Revoke an issued certificate (serial in hex, as openssl prints it, colons
allowed), of the current CA generation or of the previous one: its CA's next
CRL lists it, and its credential and every token issued on it are revoked.
An unknown serial exits 3; a certificate revoked before exits 5 (its tokens
are revoked again first, which repairs an interrupted revocation).`,
		Args: cobra.ExactArgs(1),
		RunE: withCA(g, func(cmd *cobra.Command, args []string, a *ca.Authority) error {
			rec, err := a.RevokeCertificate(cmd.Context(), core.Operator{}, args[0], reason)
			if err != nil {
				return err
			}
			return printOut(cmd, ca.ViewOf(rec, a.Now(), false))
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "unspecified", "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn")
	return cmd
}

func newCAGetCmd(g *globalFlags) *cobra.Command {
	var pemOnly bool
	cmd := &cobra.Command{
		Use:   "get SERIAL",
		Short: "Show one issued certificate: its record and its PEM (--pem: the PEM certificate only)",
		Args:  cobra.ExactArgs(1),
		RunE: withCA(g, func(cmd *cobra.Command, args []string, a *ca.Authority) error {
			rec, err := a.Certificate(cmd.Context(), core.Operator{}, args[0])
			if err != nil {
				return err
			}
			if pemOnly {
				return writeOut(cmd, "", []byte(rec.CertificatePEM))
			}
			return printOut(cmd, ca.ViewOf(rec, a.Now(), true))
		}),
	}
	cmd.Flags().BoolVar(&pemOnly, "pem", false, "print the PEM certificate only")
	return cmd
}

func newCACRLCmd(g *globalFlags) *cobra.Command {
	var format, out, caName string
	cmd := &cobra.Command{
		Use:   "crl",
		Short: "Print the current CRL (signed by the CA)",
		Args:  cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			der, err := a.CRLFor(cmd.Context(), core.Operator{}, caName)
			if err != nil {
				return err
			}
			switch format {
			case "pem":
				return writeOut(cmd, out, ca.CRLPEM(der))
			case "der":
				return writeOut(cmd, out, der)
			}
			return errors.New("--format must be pem or der")
		}),
	}
	cmd.Flags().StringVar(&caName, "ca", "", "issuing CA whose CRL to print: device, m2m-ta or m2m-pe (default the root's, or the legacy intermediate's); NAME@GENERATION (legacy@GENERATION) for a previous generation's")
	cmd.Flags().StringVar(&format, "format", "pem", "pem or der")
	cmd.Flags().StringVar(&out, "out", "", "write the CRL here (default stdout)")
	return cmd
}

func newCAListCmd(g *globalFlags) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List issued certificates, newest first (issuer generation, days to expiry, revocation)",
		Args:  cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			recs, total, err := a.ListCertificates(cmd.Context(), core.Operator{}, "", core.Page{Offset: offset, Limit: limit})
			if err != nil {
				return err
			}
			now := a.Now()
			items := make([]caListItem, 0, len(recs))
			for _, r := range recs {
				v := ca.ViewOf(r, now, false)
				status := v.Status
				if v.Status == ca.StatusRevoked {
					status += " (" + v.RevocationReason + ")"
				}
				items = append(items, caListItem{Serial: v.Serial, Profile: v.Profile, Env: v.Environment, Issuer: v.IssuerRef,
					NotAfter: v.NotAfter.Format(time.DateOnly), ExpiresInDays: v.ExpiresInDays, Status: status, Subject: v.Subject})
			}
			return printOutTable(cmd, caList{Total: total, Items: items})
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", ca.DefaultListLimit, "at most this many (1 to 1000)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	return cmd
}

// caList is `ca list`'s output; the columns in table order.
type caList struct {
	Items []caListItem `json:"items"`
	Total int          `json:"total"`
}

type caListItem struct {
	Serial        string `json:"serial"`
	Profile       string `json:"profile"`
	Env           string `json:"env"`
	Issuer        string `json:"issuer"`
	NotAfter      string `json:"not_after"`
	ExpiresInDays int    `json:"expires_in_days"`
	Status        string `json:"status"`
	Subject       string `json:"subject"`
}

func newCACertCmd(g *globalFlags) *cobra.Command {
	var caName string
	cmd := &cobra.Command{
		Use:   "cacert",
		Short: "Print the root certificate and the CAs under it, then the previous generation's, PEM (--ca NAME[@GENERATION]: that issuing CA only, e.g. for m2m.ta.trusted_cas)",
		Args:  cobra.NoArgs,
		RunE: withCA(g, func(cmd *cobra.Command, _ []string, a *ca.Authority) error {
			if caName != "" {
				c, err := a.IssuingCA(cmd.Context(), caName)
				if err != nil {
					return err
				}
				return writeOut(cmd, "", pemEncode("CERTIFICATE", c.Raw))
			}
			certs, err := a.Certificates(cmd.Context())
			if err != nil {
				return err
			}
			var out []byte
			for _, c := range certs {
				out = append(out, pemEncode("CERTIFICATE", c.Raw)...)
			}
			return writeOut(cmd, "", out)
		}),
	}
	cmd.Flags().StringVar(&caName, "ca", "", "print only this issuing CA: device, m2m-ta or m2m-pe (NAME@GENERATION: of that generation)")
	return cmd
}
