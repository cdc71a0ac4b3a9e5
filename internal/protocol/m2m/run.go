package m2m

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/wssec"
)

// Module is the configured environments of one authgate node.
type Module struct {
	Envs []*Env
	cfg  Config
	crls map[string]*wssec.CRLFiles // by environment, when crl_files are set
}

// Build loads the material of every environment with a listener, checks
// that TA and PE share none of it, and builds the environments.
func Build(ctx context.Context, cfg Config, d Deps) (*Module, error) {
	mats := map[string]Material{}
	m := &Module{cfg: cfg, crls: map[string]*wssec.CRLFiles{}}
	for _, name := range []string{EnvTA, EnvPE} {
		ec := cfg.Envs()[name]
		if ec.Listen == "" {
			continue
		}
		mat, err := LoadMaterial(*ec)
		if err != nil {
			return nil, fmt.Errorf("m2m %s: %w", name, err)
		}
		if len(ec.CRLFiles) > 0 {
			crls, err := wssec.NewCRLFiles(ec.CRLFiles, mat.TrustedCACerts, cfg.CRLCheckInterval, d.Clock, d.Log)
			if err != nil {
				return nil, fmt.Errorf("m2m %s: crl_files: %w", name, err)
			}
			mat.Checkers = append(mat.Checkers, crls)
			m.crls[name] = crls
		}
		mats[name] = mat
	}
	if ta, ok := mats[EnvTA]; ok {
		if pe, ok := mats[EnvPE]; ok {
			if err := CheckSeparated(ta, pe); err != nil {
				return nil, fmt.Errorf("m2m: %w", err)
			}
		}
	}
	for _, name := range []string{EnvTA, EnvPE} {
		mat, ok := mats[name]
		if !ok {
			continue
		}
		e, err := NewEnv(ctx, name, cfg, mat, d)
		if err != nil {
			return nil, err
		}
		m.Envs = append(m.Envs, e)
	}
	if len(m.Envs) == 2 { // a reloaded TLS pair must keep TA and PE apart, as at start
		ta, pe := m.Envs[0], m.Envs[1]
		ta.certs.SetCheck(func(c *tls.Certificate) error { return separateTLS(c, pe.certs.Current(), "pe") })
		pe.certs.SetCheck(func(c *tls.Certificate) error { return separateTLS(c, ta.certs.Current(), "ta") })
	}
	return m, nil
}

// separateTLS refuses a TLS pair whose key the other environment serves.
func separateTLS(c, other *tls.Certificate, otherName string) error {
	a, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return err
	}
	b, err := x509.ParseCertificate(other.Certificate[0])
	if err != nil {
		return err
	}
	if bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo) {
		return fmt.Errorf("the %s listener serves the same TLS key: TA and PE never share one", otherName)
	}
	return nil
}

// Reloadables are what a reload re-reads: each environment's TLS pair
// (new handshakes get the new one, open connections keep theirs) and its
// CRL files. Signing keys, trusted CAs and partners need a restart.
func (m *Module) Reloadables() []httpapi.Reloadable {
	var out []httpapi.Reloadable
	for _, e := range m.Envs {
		key := "m2m." + strings.ToLower(e.Name) // as in the configuration
		out = append(out, httpapi.Reloadable{Name: key + " tls_cert/tls_key", Reload: e.certs.Reload})
		if c, ok := m.crls[e.Name]; ok {
			out = append(out, httpapi.Reloadable{Name: key + " crl_files", Reload: c.Reload})
		}
	}
	return out
}

// Background returns the loops to run: each environment's HTTPS listener
// (behind the standard handler chain built from opts, with opts.Limits on
// the listener too) and its outbox worker.
func (m *Module) Background(opts httpapi.Options) []func(ctx context.Context) error {
	var out []func(ctx context.Context) error
	for _, e := range m.Envs {
		ec := m.cfg.Envs()[e.Name]
		// The chain refuses a body over max_message_bytes with the same
		// Fault as the handler (413).
		if opts.MaxBodyBytes == 0 || opts.MaxBodyBytes > int64(m.cfg.MaxMessageBytes) {
			opts.MaxBodyBytes = int64(m.cfg.MaxMessageBytes)
		}
		// Partner-facing: metrics are never served here (they go to the
		// shared registry, labelled with this listener's name).
		o := opts
		o.Server, o.ServeMetrics = "m2m-"+e.Name, false
		srv := &httpapi.Server{Name: o.Server, Addr: ec.Listen, Handler: e.Handler(o), TLS: e.TLSConfig(), Log: opts.Log, Limits: opts.Limits, Certificates: opts.Certificates}
		out = append(out, srv.Run, e.RunWorker)
	}
	return out
}
