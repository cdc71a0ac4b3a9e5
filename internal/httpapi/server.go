package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server runs one listener with production timeouts and drains in-flight
// requests on shutdown.
type Server struct {
	Name      string // for logs: "main", "m2m-ta", ...
	Addr      string
	Handler   http.Handler
	TLS       *tls.Config // nil: plain HTTP
	Log       *slog.Logger
	DrainTime time.Duration // default 20s
	// Limits: the connection cap per peer address and the header deadline
	// are applied here (the handler applies the rest).
	Limits Limits

	// Listening is called with the bound address once the listener is up.
	Listening func(addr net.Addr)
	// Certificates, when set, is told of the listener's served
	// certificates when it starts (their expiry is a metric).
	Certificates CertificateSink
}

// CertificateSink collects the certificates listeners serve, read again
// at every use so a reload is seen (telemetry.CertificateExpiry).
type CertificateSink interface {
	Add(name string, src func() []*x509.Certificate)
}

// ServedCertificates reads the chain cfg serves now: from GetCertificate
// (a reloading listener) or its first certificate; nil cfg serves none.
func ServedCertificates(cfg *tls.Config) func() []*x509.Certificate {
	return func() []*x509.Certificate {
		if cfg == nil {
			return nil
		}
		var cert *tls.Certificate
		switch {
		case cfg.GetCertificate != nil:
			c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
			if err != nil {
				return nil
			}
			cert = c
		case len(cfg.Certificates) > 0:
			cert = &cfg.Certificates[0]
		default:
			return nil
		}
		var out []*x509.Certificate
		for _, der := range cert.Certificate {
			if c, err := x509.ParseCertificate(der); err == nil {
				out = append(out, c)
			}
		}
		return out
	}
}

// Run listens and serves until ctx is cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on an existing listener until ctx is cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Certificates != nil && s.TLS != nil {
		s.Certificates.Add("listener:"+s.Name, ServedCertificates(s.TLS))
	}
	header := s.Limits.ReadHeaderTimeout
	if header <= 0 {
		header = 5 * time.Second
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: header,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	var refused func()
	if h, ok := s.Handler.(*Handler); ok {
		refused = h.metrics.connsCut.Inc
	}
	// Counted on the raw connection, so a TLS handshake needs a slot too.
	ln = LimitListener(ln, s.Limits.MaxConnsPerAddr, s.Limits.ClientAddr, refused)
	scheme := "http"
	if s.TLS != nil {
		srv.TLSConfig = s.TLS
		scheme = "https"
	}
	// Request heads are checked on their raw bytes (bare LF refused); on
	// TLS the listener does the handshake itself so it sees plaintext.
	ln = newStrictListener(ln, s.TLS, header, s.Log)
	if s.TLS != nil { // a plain listener's requests have no TLS state to put back
		srv.ConnContext = connContext
		srv.Handler = withTLSState(s.Handler)
	}
	s.Log.Info("listening", slog.String("server", s.Name), slog.String("addr", ln.Addr().String()), slog.String("scheme", scheme))
	if s.Listening != nil {
		s.Listening(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	drain := s.DrainTime
	if drain <= 0 {
		drain = 20 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	s.Log.Info("draining", slog.String("server", s.Name))
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
