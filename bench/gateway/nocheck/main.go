// Command nocheck answers every request 200 with no body and a fixed set
// of response headers (authgate's own answer to a forward-auth check,
// captured by bench/gateway/run.sh), doing no work: a check server that
// costs nothing, the ceiling bench/gateway compares authgate's
// /gateway/check with. The answer carries no body, as authgate's does: a
// front end that discards the check's body (nginx auth_request) closes the
// connection after a body it did not read, and a new connection per check
// would measure connection set-up instead.
package main

import (
	"bufio"
	"flag"
	"log"
	"net/http"
	"net/textproto"
	"os"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address")
	headers := flag.String("headers", "", "file of response header lines (Name: value) to send")
	flag.Parse()
	h := http.Header{}
	if *headers != "" {
		f, err := os.Open(*headers)
		if err != nil {
			log.Fatal(err)
		}
		m, err := textproto.NewReader(bufio.NewReader(f)).ReadMIMEHeader()
		if err != nil && len(m) == 0 {
			log.Fatalf("-headers %s: %v", *headers, err)
		}
		_ = f.Close()
		h = http.Header(m)
	}
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			out := w.Header()
			for k, v := range h {
				out[k] = v
			}
			w.WriteHeader(http.StatusOK)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
