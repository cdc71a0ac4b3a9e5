package m2m

import (
	"context"
	"fmt"

	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/wssec"
)

// Module is the configured environments of one authgate node.
type Module struct {
	Envs []*Env
	cfg  Config
}

// Build loads the material of every environment with a listener, checks
// that TA and PE share none of it, and builds the environments.
func Build(ctx context.Context, cfg Config, d Deps) (*Module, error) {
	mats := map[string]Material{}
	m := &Module{cfg: cfg}
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
	return m, nil
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
		srv := &httpapi.Server{Name: o.Server, Addr: ec.Listen, Handler: e.Handler(o), TLS: e.TLSConfig(), Log: opts.Log, Limits: opts.Limits}
		out = append(out, srv.Run, e.RunWorker)
	}
	return out
}
