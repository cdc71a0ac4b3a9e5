// Command poptokens signs PoP tokens for bench/gateway: one line per
// token, each over the same Authorization, uri and http-method (a PoP is
// used once, so wrk's Lua script hands every request its own).
package main

import (
	"bufio"
	"flag"
	"log"
	"os"
	"runtime"
	"sync"

	"github.com/authgate/authgate/sdk/pop"
)

func main() {
	keyFile := flag.String("key", "", "RSA private key (PEM)")
	n := flag.Int("n", 10000, "number of tokens")
	authz := flag.String("authorization", "", "the Authorization header the requests carry")
	uri := flag.String("uri", "/", "path and query as sent")
	method := flag.String("method", "GET", "HTTP method as sent")
	flag.Parse()
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		log.Fatal(err)
	}
	key, err := pop.ParsePrivateKey(b)
	if err != nil {
		log.Fatal(err)
	}
	builder := &pop.Builder{Key: key}
	parts := []pop.Part{{Name: "Authorization", Value: *authz}, {Name: "uri", Value: *uri}, {Name: "http-method", Value: *method}}
	toks := make([]string, *n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < *n; i += workers {
				t, err := builder.Build(parts)
				if err != nil {
					log.Fatal(err)
				}
				toks[i] = t
			}
		}()
	}
	wg.Wait()
	out := bufio.NewWriter(os.Stdout)
	for _, t := range toks {
		out.WriteString(t)
		out.WriteByte('\n')
	}
	if err := out.Flush(); err != nil {
		log.Fatal(err)
	}
}
