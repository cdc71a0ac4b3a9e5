package bench

import (
	"context"
	"net"
	"net/http"
	"time"
)

// BareServer serves a handler that only answers "ok": the ceiling for any
// scheme served by net/http on this machine.
func BareServer() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok"))
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// GetScheme is a scheme that sends the same GET with fixed headers.
// Every request shares header (http.Client and Transport only read a
// request's headers), so the load generator spends nothing per request
// on copying them; header must not change while the scheme runs.
func GetScheme(name, url string, header http.Header) Scheme {
	return Scheme{Name: name, Request: func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if header != nil {
			req.Header = header
		}
		return req, nil
	}}
}
