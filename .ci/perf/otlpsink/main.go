// Command otlpsink is a tiny OTLP/HTTP trace receiver for performance runs:
// it accepts POST /v1/traces (protobuf or JSON), counts requests and spans,
// answers 200 with an empty ExportTraceServiceResponse, and prints the counts
// on SIGTERM or SIGINT (and every -every, when set). It stores nothing.
//
//	go build ./.ci/perf/otlpsink && ./otlpsink -addr 127.0.0.1:4318
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 orgstack serve
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4318", "listen address")
	every := flag.Duration("every", 0, "also print the counts this often (0: only at exit)")
	flag.Parse()

	var requests, spans, bad atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = http.MaxBytesReader(w, r.Body, 64<<20)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(body)
			if err != nil {
				bad.Add(1)
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
			defer zr.Close()
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			bad.Add(1)
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		json := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
		if json {
			err = protojson.Unmarshal(b, &req)
		} else {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			bad.Add(1)
			http.Error(w, "not an ExportTraceServiceRequest", http.StatusBadRequest)
			return
		}
		n := 0
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
		}
		requests.Add(1)
		spans.Add(int64(n))
		var out []byte
		if json {
			out, _ = protojson.Marshal(&coltracepb.ExportTraceServiceResponse{})
			w.Header().Set("Content-Type", "application/json")
		} else {
			out, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
			w.Header().Set("Content-Type", "application/x-protobuf")
		}
		_, _ = w.Write(out)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "otlpsink: listening on %s\n", ln.Addr())

	report := func() {
		fmt.Printf("otlpsink: requests=%d spans=%d rejected=%d\n", requests.Load(), spans.Load(), bad.Load())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var tick <-chan time.Time
	if *every > 0 {
		t := time.NewTicker(*every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			report()
		case <-sig:
			_ = srv.Close()
			report()
			return
		}
	}
}
