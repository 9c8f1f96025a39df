package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// ctxKey is the type of this package's context keys; being unexported, no
// other package can read or forge them.
type ctxKey int

const (
	requestInfoKey ctxKey = iota
	principalKey
)

// requestInfo is what the outer middleware learns about a request and the
// inner layers fill in: its ID, its trace ID, the client's address (from
// the connection, or from Forwarded / X-Forwarded-For behind a trusted
// proxy), the route template that matched, the authenticated subject,
// (through note) the organization the application resolved, and what the
// rate limits decided.
type requestInfo struct {
	id       string
	traceID  string
	clientIP netip.Addr
	route    string
	subject  string
	note     ports.RequestNote
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
// well-formed incoming X-Request-ID), resolves the client address, sets
// the ID on every response, learns the trace ID, answers CORS, recovers
// panics as 500 problems, reports the request to the metrics and writes one
// access-log line per request. It never logs headers other than the user
// agent, so the Authorization header never reaches the log.
func (s *server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if s.requests != nil {
			s.requests.RequestStarted()
		}
		id := r.Header.Get("X-Request-ID")
		if len(r.Header.Values("X-Request-ID")) != 1 || !validRequestID(id) {
			id = newRequestID()
		}
		ri := &requestInfo{id: id, traceID: traceID(r), clientIP: clientIP(r, s.trustedProxies)}
		ctx := ports.WithRequestNote(context.WithValue(r.Context(), requestInfoKey, ri), &ri.note)
		// What the audit log records about where a change came from.
		meta := ports.RequestMeta{RequestID: id, TraceID: ri.traceID}
		if ri.clientIP.IsValid() {
			meta.ClientIP = ri.clientIP.String()
		}
		ctx = ports.WithRequestMeta(ctx, meta)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-ID", id)
		// No response may be sniffed into another type (RFC 9457 problem
		// bodies and JSON included).
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rec := &statusRecorder{ResponseWriter: w, ri: ri}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
					if s.requests != nil {
						s.requests.RequestDone(ri.route, r.Method, http.StatusInternalServerError, time.Since(start))
					}
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
			elapsed := time.Since(start)
			if s.requests != nil {
				s.requests.RequestDone(ri.route, r.Method, rec.status, elapsed)
			}
			route := ri.route
			if route == "" {
				route = "unmatched"
			}
			fields := make([]zap.Field, 0, 12)
			fields = append(fields,
				zap.String("method", r.Method),
				zap.String("route", route),
				zap.Int("status", rec.status),
				zap.Int("bytes", rec.bytes),
				zap.Duration("duration", elapsed),
				zap.String("request_id", id),
				zap.String("client_ip", ri.clientIP.String()))
			if ri.traceID != "" {
				fields = append(fields, zap.String("trace_id", ri.traceID))
			}
			if ua := r.Header.Get("User-Agent"); ua != "" {
				fields = append(fields, zap.String("user_agent", cleanUserAgent(ua)))
			}
			if org := ri.note.OrgID(); org != "" {
				fields = append(fields, zap.String("organization", org))
			}
			if ri.subject != "" {
				fields = append(fields, zap.String("subject", ri.subject))
			}
			s.log.Info("request", fields...)
		}()
		if s.cors != nil && s.cors.handle(rec, r) {
			return // a preflight, answered
		}
		next.ServeHTTP(rec, r)
	})
}

// traceID returns the ID of the trace the request belongs to: the server
// span's when tracing is on (adapters/telemetry starts it before this
// handler), otherwise the caller's from a valid W3C traceparent header; ""
// when there is neither. With tracing off OrgStack records no span, but
// reporting the caller's trace ID lets them find their own trace.
func traceID(r *http.Request) string {
	if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
		return sc.TraceID().String()
	}
	if r.Header.Get("Traceparent") == "" {
		return ""
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(r.Header))
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// remoteHost is the host of the connection's remote address (the client,
// or the nearest proxy).
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// maxUserAgent bounds the user agent written to the access log.
const maxUserAgent = 256

// cleanUserAgent returns ua cut to maxUserAgent bytes (at a character
// boundary), with control characters and invalid UTF-8 replaced by '?', so
// that a client cannot forge log lines or flood the log.
func cleanUserAgent(ua string) string {
	clean := len(ua) <= maxUserAgent
	for i := 0; clean && i < len(ua); i++ {
		if c := ua[i]; c < 0x20 || c >= 0x7f {
			clean = false
		}
	}
	if clean {
		return ua
	}
	var b strings.Builder
	for _, c := range ua {
		if c == utf8.RuneError || unicode.IsControl(c) || !unicode.IsPrint(c) && c != ' ' {
			c = '?'
		}
		if b.Len()+utf8.RuneLen(c) > maxUserAgent {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}

// matched records the matched route template for the access log and the
// metrics, and names the server span (when tracing is on) "METHOD
// template", with the template as http.route; it runs inside the router,
// where mux knows the route.
func matched(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri := infoOf(r.Context()); ri != nil {
			if cr := mux.CurrentRoute(r); cr != nil {
				ri.route, _ = cr.GetPathTemplate()
				if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
					span.SetName(r.Method + " " + ri.route)
					span.SetAttributes(httpRouteKey.String(ri.route))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// httpRouteKey is the OpenTelemetry semantic-convention attribute of the
// route template.
const httpRouteKey = attribute.Key("http.route")
