package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// ctxKey is the type of this package's context keys; being unexported, no
// other package can read or forge them.
type ctxKey int

const (
	requestInfoKey ctxKey = iota
	principalKey
)

// requestInfo is what the outer middleware learns about a request and the
// inner layers fill in: its ID, the client's address (from the connection,
// or from Forwarded / X-Forwarded-For behind a trusted proxy), the route
// template that matched, and what the rate limits decided.
type requestInfo struct {
	id       string
	clientIP netip.Addr
	route    string
	rate     rateState
}

// clientAddr returns the client address of the request being served (the
// zero Addr when unknown).
func clientAddr(ctx context.Context) netip.Addr {
	if ri := infoOf(ctx); ri != nil {
		return ri.clientIP
	}
	return netip.Addr{}
}

func infoOf(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey).(*requestInfo)
	return ri
}

// requestID returns the ID of the request being served, or "".
func requestID(ctx context.Context) string {
	if ri := infoOf(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// routeTemplate returns the template of the matched route ("" when none).
func routeTemplate(r *http.Request) string {
	if ri := infoOf(r.Context()); ri != nil && ri.route != "" {
		return ri.route
	}
	if cr := mux.CurrentRoute(r); cr != nil {
		if t, err := cr.GetPathTemplate(); err == nil {
			return t
		}
	}
	return ""
}

// validRequestID reports whether an incoming X-Request-ID may be echoed:
// 1 to 128 characters of A-Z a-z 0-9 . _ -.
func validRequestID(v string) bool {
	if len(v) < 1 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and the number of body bytes
// written, and adds the RateLimit fields of what the limits decided (some
// are decided deep inside the application) just before the header goes out.
type statusRecorder struct {
	http.ResponseWriter
	ri     *requestInfo
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.ri.rate.writeHeaders(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outer wraps the whole router: it assigns the request ID (echoing a
// well-formed incoming X-Request-ID) and resolves the client address, sets
// the ID on every response, recovers
// panics as 500 problems and writes one access-log line per request. It never
// logs headers, so the Authorization header never reaches the log.
func (s *server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if len(r.Header.Values("X-Request-ID")) != 1 || !validRequestID(id) {
			id = newRequestID()
		}
		ri := &requestInfo{id: id, clientIP: clientIP(r, s.trustedProxies)}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey, ri))
		w.Header().Set("X-Request-ID", id)
		// No response may be sniffed into another type (RFC 9457 problem
		// bodies and JSON included).
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rec := &statusRecorder{ResponseWriter: w, ri: ri}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
					panic(v)
				}
				s.log.Error("panic while serving request",
					zap.String("request_id", id),
					zap.String("method", r.Method),
					zap.String("route", ri.route),
					zap.String("panic", fmt.Sprint(v)),
					zap.Stack("stack"))
				if rec.status == 0 {
					c := codeIndex["internal"]
					s.writeProblem(rec, r, problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "internal error"})
				}
			}
			route := ri.route
			if route == "" {
				route = "unmatched"
			}
			s.log.Info("request",
				zap.String("method", r.Method),
				zap.String("route", route),
				zap.Int("status", rec.status),
				zap.Int("bytes", rec.bytes),
				zap.Duration("duration", time.Since(start)),
				zap.String("request_id", id),
				zap.String("client_ip", ri.clientIP.String()))
		}()
		next.ServeHTTP(rec, r)
	})
}

// matched records the matched route template for the access log; it runs
// inside the router, where mux knows the route.
func matched(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri := infoOf(r.Context()); ri != nil {
			if cr := mux.CurrentRoute(r); cr != nil {
				ri.route, _ = cr.GetPathTemplate()
			}
		}
		next.ServeHTTP(w, r)
	})
}
