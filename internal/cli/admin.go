package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
)

// newAdminCmd groups direct administration on the database (no server needed).
func newAdminCmd(g *globalFlags) *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Administer organisations, principals and credentials directly in the database",
	}
	admin.AddCommand(newAdminOrgCmd(g), newAdminPrincipalCmd(g), newAdminCredentialCmd(g), newAdminAuditCmd(g))
	admin.AddCommand(newRotateMasterKeyCmd(g), newMasterKeyCmd(g))
	return admin
}

// withRuntime runs fn with the store open and prints its result (-o).
func withRuntime(g *globalFlags, fn func(cmd *cobra.Command, rt *runtime) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		rt, err := openRuntime(cmd.Context(), g, cmd)
		if err != nil {
			return err
		}
		defer rt.Close()
		out, err := fn(cmd, rt)
		if err != nil {
			return err
		}
		return printOut(cmd, out)
	}
}

func newAdminOrgCmd(g *globalFlags) *cobra.Command {
	org := &cobra.Command{Use: "org", Short: "Organisations"}
	var name string
	create := &cobra.Command{
		Use: "create", Short: "Create an organisation", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return rt.svc.CreateOrganisationAs(cmd.Context(), core.Operator{}, core.NewOrganisation{Name: name})
		}),
	}
	create.Flags().StringVar(&name, "name", "", "organisation name")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list", Short: "List organisations", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			orgs, total, err := rt.svc.ListOrganisations(cmd.Context(), core.Operator{}, core.Page{Limit: listLimit})
			return listed(orgs, total), err
		}),
	}
	org.AddCommand(create, list, newAdminOrgGetCmd(g))
	return org
}

func newAdminPrincipalCmd(g *globalFlags) *cobra.Command {
	pr := &cobra.Command{Use: "principal", Short: "Principals (admin, owner, user, device, application, partner)"}
	var orgID, kind, name string
	create := &cobra.Command{
		Use: "create", Short: "Create a principal", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return rt.svc.CreatePrincipalAs(cmd.Context(), core.Operator{}, core.NewPrincipal{OrgID: orgID, Kind: core.PrincipalKind(kind), Name: name})
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id")
	create.Flags().StringVar(&kind, "kind", "user", "admin, owner, user, device, application or partner")
	create.Flags().StringVar(&name, "name", "", "name (login, device id, brand)")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("name")
	var listOrg string
	list := &cobra.Command{
		Use: "list", Short: "List principals of an organisation", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ps, total, err := rt.svc.ListPrincipals(cmd.Context(), core.Operator{}, listOrg, "", core.Page{Limit: listLimit})
			return listed(ps, total), err
		}),
	}
	list.Flags().StringVar(&listOrg, "org", "", "organisation id")
	_ = list.MarkFlagRequired("org")
	pr.AddCommand(create, list, newAdminPrincipalGetCmd(g), newAdminPrincipalDisableCmd(g))
	return pr
}

func newAdminCredentialCmd(g *globalFlags) *cobra.Command {
	cr := &cobra.Command{Use: "credential", Short: "Credentials of principals"}
	var principalID, kind, lookup, name, secretFile, publicFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a credential and print its secret once",
		Long: `Create a credential for a principal. Kinds: access_key, client_secret, app_token,
signing_key, password, api_key (secret generated unless --secret-file), public_key and
certificate (--public-file). The secret is printed once and stored only hashed or sealed.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			in := core.NewCredential{PrincipalID: principalID, Kind: core.CredentialKind(kind), Lookup: lookup, Name: name}
			if secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return nil, err
				}
				in.Secret = string(trimNewline(b))
			}
			if publicFile != "" {
				b, err := os.ReadFile(publicFile)
				if err != nil {
					return nil, err
				}
				in.Public = string(b)
			}
			return rt.svc.CreateCredentialAs(cmd.Context(), core.Operator{}, in)
		}),
	}
	create.Flags().StringVar(&principalID, "principal", "", "principal id")
	create.Flags().StringVar(&kind, "kind", "access_key", "credential kind")
	create.Flags().StringVar(&lookup, "lookup", "", "public identifier (generated when empty)")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&secretFile, "secret-file", "", "read the secret from this file instead of generating one")
	create.Flags().StringVar(&publicFile, "public-file", "", "public key or certificate file (PEM or JWK)")
	_ = create.MarkFlagRequired("principal")
	var revokeID string
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a credential and every token issued to its principal", Args: cobra.MaximumNArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			switch {
			case len(args) == 1 && revokeID != "" && args[0] != revokeID:
				return nil, usageError(errors.New("give the credential id once: as the argument (--id is deprecated)"))
			case len(args) == 1:
				revokeID = args[0]
			case revokeID == "":
				return nil, usageError(errors.New("give the credential id: authgate admin credential revoke ID"))
			}
			return rt.svc.RevokeCredentialAs(cmd.Context(), core.Operator{}, revokeID)
		}),
	}
	revoke.Flags().StringVar(&revokeID, "id", "", "credential id")
	_ = revoke.Flags().MarkDeprecated("id", "give the credential id as the argument")
	cr.AddCommand(create, revoke, newAdminCredentialListCmd(g), newAdminCredentialGetCmd(g))
	return cr
}

func newAdminAuditCmd(g *globalFlags) *cobra.Command {
	var (
		limit        int
		since, until string
		f            core.AuditFilter
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Stream audit log entries as JSON lines, newest first",
		Long: `Stream audit log entries as JSON lines, newest first, filtered by time range,
organisation, principal, action, protocol and result. --since and --until take an
RFC 3339 time or a duration back from now (24h, 90m). --limit 0 streams every match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var err error
			if f.Since, err = auditTime(since, now); err != nil {
				return usageError(fmt.Errorf("--since: %w", err))
			}
			if f.Until, err = auditTime(until, now); err != nil {
				return usageError(fmt.Errorf("--until: %w", err))
			}
			switch f.Outcome {
			case "", core.OutcomeSuccess, core.OutcomeFailure:
			default:
				return usageError(fmt.Errorf("--result %q: want success or failure", f.Outcome))
			}
			if limit < 0 {
				return usageError(fmt.Errorf("--limit %d: want 0 (everything) or more", limit))
			}
			rt, err := openRuntime(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer rt.Close()
			if outputOf(cmd) == outputTable {
				return auditTable(cmd, rt.svc.Audit, f, limit)
			}
			return streamAudit(cmd.Context(), rt.svc.Audit, f, limit, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after this time (RFC 3339, or a duration back from now)")
	cmd.Flags().StringVar(&until, "until", "", "only entries before this time (RFC 3339, or a duration back from now)")
	cmd.Flags().StringVar(&f.OrgID, "org", "", "only this organisation id")
	cmd.Flags().StringVar(&f.PrincipalID, "principal", "", "only this principal id")
	cmd.Flags().StringVar(&f.Action, "action", "", "only this action (issue, renew, revoke, auth_failure, create, ...)")
	cmd.Flags().StringVar(&f.Protocol, "protocol", "", "only this protocol (oauth2, tpv, apstrata, taap, m2m, admin, ...)")
	cmd.Flags().StringVar(&f.Outcome, "result", "", "only this result: success or failure")
	cmd.Flags().IntVar(&limit, "limit", 50, "number of entries; 0 streams every match")
	return cmd
}

// auditTime parses a --since/--until value: RFC 3339, or a duration back from now.
func auditTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", v)
	}
	return now.Add(-d), nil
}

// auditPage is how many entries one store query of a stream reads.
const auditPage = 500

type auditLister interface {
	List(ctx context.Context, f core.AuditFilter) ([]core.AuditEvent, error)
}

// streamAudit writes the entries f selects as JSON lines, paging through
// the store with the id cursor so a large log never sits in memory.
func streamAudit(ctx context.Context, a auditLister, f core.AuditFilter, limit int, out io.Writer) error {
	enc := json.NewEncoder(out)
	return streamAuditTo(ctx, a, f, limit, func(e core.AuditEvent) error { return enc.Encode(e) })
}

// streamAuditTo calls emit with each entry f selects, paging with the id cursor.
func streamAuditTo(ctx context.Context, a auditLister, f core.AuditFilter, limit int, emit func(core.AuditEvent) error) error {
	written := 0
	for {
		f.Limit = auditPage
		if limit > 0 && limit-written < auditPage {
			f.Limit = limit - written
		}
		page, err := a.List(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := emit(e); err != nil {
				return err
			}
		}
		written += len(page)
		if len(page) < f.Limit || (limit > 0 && written >= limit) {
			return nil
		}
		f.BeforeID = page[len(page)-1].ID
	}
}

// auditTable prints the entries as a table, one page of the stream at a
// time (columns are aligned within a page).
func auditTable(cmd *cobra.Command, a auditLister, f core.AuditFilter, limit int) error {
	var page []core.AuditEvent
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		err := printOutTable(cmd, page)
		page = page[:0]
		return err
	}
	err := streamAuditTo(cmd.Context(), a, f, limit, func(e core.AuditEvent) error {
		if page = append(page, e); len(page) == auditPage {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
