package httpapi

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// refScanner is the byte-at-a-time scanner headScanner replaced, kept as
// the reference the fast one must agree with (FuzzHeadScannerReference).
type refScanner struct {
	state   scanState
	head    []byte // the current head, up to maxHeadScan
	prevCR  bool
	lineLen int   // bytes on the current line, CR excluded
	left    int64 // body bytes (or chunk bytes) still to skip
	start   int   // where the current head starts in the bytes being fed
	off     bool  // framing unknown: stop checking this connection
	err     error
}

// feed scans b. On a bare LF in a head it returns the error and how many
// bytes of b precede that head (complete requests, still to be served).
func (s *refScanner) feed(b []byte) (int, error) {
	s.start = 0
	for i := 0; i < len(b) && !s.off; i++ {
		c := b[i]
		switch s.state {
		case inHead:
			if c == '\n' {
				if !s.prevCR {
					s.err = errBareLF
					return s.start, s.err
				}
				if s.lineLen == 0 && len(s.head) > 1 { // CRLF CRLF: the head ends
					s.endHead()
					s.start = i + 1
				} else if s.lineLen == 0 { // an empty line before the request line
					s.head = s.head[:0]
				} else {
					s.lineLen = 0
					s.keep(c)
				}
				s.prevCR = false
				continue
			}
			if c == '\r' {
				s.prevCR = true
				s.keep(c)
				continue
			}
			s.prevCR = false
			s.lineLen++
			s.keep(c)
		case inBody:
			skip := min(int64(len(b)-i), s.left)
			s.left -= skip
			i += int(skip) - 1
			if s.left == 0 {
				s.reset()
				s.start = i + 1
			}
		case inChunkSize, inTrailer:
			// net/http's chunked reader takes LF or CRLF here; so do we.
			if c != '\n' {
				s.prevCR = c == '\r'
				if s.lineLen++; s.lineLen > 4096 {
					s.off = true
				} else if s.state == inChunkSize {
					s.keep(c)
				}
				continue
			}
			if s.state == inTrailer {
				if s.lineLen == 0 || s.lineLen == 1 && s.prevCR {
					s.reset()
					s.start = i + 1
				} else {
					s.lineLen, s.prevCR = 0, false
				}
				continue
			}
			size, ok := refChunkSize(s.head)
			s.head, s.lineLen = s.head[:0], 0
			switch {
			case !ok:
				s.off = true
			case size == 0:
				s.state = inTrailer
			default:
				s.state, s.left = inChunkData, size
			}
		case inChunkData:
			skip := min(int64(len(b)-i), s.left)
			s.left -= skip
			i += int(skip) - 1
			if s.left == 0 {
				s.state, s.left = inChunkEnd, 2
			}
		case inChunkEnd:
			if s.left--; s.left == 0 {
				s.state, s.lineLen = inChunkSize, 0
			}
		}
	}
	return 0, nil
}

func (s *refScanner) keep(c byte) {
	if len(s.head) < maxHeadScan {
		s.head = append(s.head, c)
	}
}

func (s *refScanner) reset() {
	s.state, s.head, s.lineLen, s.prevCR, s.left = inHead, s.head[:0], 0, false, 0
}

// endHead reads the framing of the head just completed.
func (s *refScanner) endHead() {
	if len(s.head) >= maxHeadScan {
		s.off = true
		return
	}
	lines := bytes.Split(s.head, []byte("\r\n"))
	var length int64 = -1
	chunked := false
	for _, ln := range lines[1:] {
		name, value, ok := bytes.Cut(ln, []byte(":"))
		if !ok {
			continue
		}
		v := strings.TrimSpace(string(value))
		switch strings.ToLower(strings.TrimSpace(string(name))) {
		case "content-length":
			u, err := strconv.ParseUint(v, 10, 63)
			n := int64(u)
			if err != nil || length >= 0 && n != length {
				s.off = true
				return
			}
			length = n
		case "transfer-encoding":
			if !strings.EqualFold(v, "chunked") || chunked {
				s.off = true
				return
			}
			chunked = true
		case "upgrade":
			s.off = true
			return
		}
	}
	if reqLine := string(lines[0]); strings.HasPrefix(reqLine, "CONNECT ") {
		s.off = true
		return
	}
	s.head, s.lineLen, s.prevCR = s.head[:0], 0, false
	switch {
	case chunked: // wins over Content-Length, as in net/http
		s.state = inChunkSize
	case length > 0:
		s.state, s.left = inBody, length
	default:
		s.state = inHead
	}
}

// chunkSize parses a chunk-size line (hex, optional extensions, optional CR).
func refChunkSize(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	return n, err == nil && n >= 0
}

// FuzzHeadScannerReference: the line-at-a-time scanner decides exactly as
// the byte-at-a-time one it replaced, for any stream split into reads
// anywhere: the same refusal at the same point, the same framing state
// after every read.
func FuzzHeadScannerReference(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		"\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\na\nb\n\ncGET / HTTP/1.1\r\nHost: x\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\na\n\nb\n\r\n3;ext=1\r\n\n\nx\r\n0\r\nT: v\r\n\r\nGET /\n",
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
		"CONNECT x:1 HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\ncontent-LENGTH : 3\r\nContent-Length: 4\r\n\r\nabcd",
		"GET / HTTP/1.1\r\nA: b\r\r\n\r\r\n",
		"\r\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		step := int(size)%64 + 1
		var fast headScanner
		var ref refScanner
		for i := 0; i < len(stream); i += step {
			b := stream[i:min(i+step, len(stream))]
			n1, err1 := fast.feed(b)
			n2, err2 := ref.feed(b)
			if n1 != n2 || err1 != err2 || fast.off != ref.off || fast.state != ref.state || fast.left != ref.left ||
				!bytes.Equal(fast.head, ref.head) || fast.prevCR != ref.prevCR || (fast.lineLen == 0) != (ref.lineLen == 0) {
				t.Fatalf("read at %d of %q: fast (%d, %v, off %v, state %d, left %d, head %q) ref (%d, %v, off %v, state %d, left %d, head %q)",
					i, stream, n1, err1, fast.off, fast.state, fast.left, fast.head, n2, err2, ref.off, ref.state, ref.left, ref.head)
			}
			if err1 != nil || fast.off {
				return
			}
		}
	})
}

// BenchmarkHeadScanner: the scanner's cost per request head of a typical
// forward-auth check (nginx auth_request: a dozen headers).
func BenchmarkHeadScanner(b *testing.B) {
	head := []byte("GET /gateway/check HTTP/1.1\r\nHost: api.example\r\nX-Original-URI: /bench/items/1?x=y\r\n" +
		"X-Original-Method: GET\r\nX-Original-Content-Length: 0\r\nX-Forwarded-Proto: http\r\nX-Forwarded-For: 127.0.0.1\r\n" +
		"Authorization: Bearer 0123456789abcdef0123456789abcdef0123456789abcdef\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	b.Run("line-at-a-time", func(b *testing.B) {
		var s headScanner
		b.SetBytes(int64(len(head)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.feed(head); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("byte-at-a-time", func(b *testing.B) {
		var s refScanner
		b.SetBytes(int64(len(head)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.feed(head); err != nil {
				b.Fatal(err)
			}
		}
	})
}
