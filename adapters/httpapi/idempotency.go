package httpapi

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// Idempotency configures Idempotency-Key handling
// (draft-ietf-httpapi-idempotency-key-header) on the POST routes that change
// state.
type Idempotency struct {
	// Store keeps responses that changed nothing and sweeps expired keys;
	// the store behind the application binds keys to changes (see
	// ports.TxRunner). It must be that same store.
	Store ports.IdempotencyStore
	// TTL is how long a response is kept (ORGSTACK_IDEMPOTENCY_TTL);
	// default DefaultIdempotencyTTL.
	TTL time.Duration
	// Clock tells the time; nil is the wall clock.
	Clock ports.Clock
	// Sealer encrypts the kept 2xx answers of the routes whose answer
	// carries a secret (creating a webhook, rotating its secret), so that
	// no secret is stored in clear; nil keeps no such answer (the change
	// is refused with 500 rather than stored in clear, which cannot happen
	// in practice: those routes need the same sealer to answer 2xx).
	Sealer ports.SecretSealer
}

// sealedPrefix marks a kept body that Idempotency.Sealer encrypted.
const sealedPrefix = "sealed:"

// DefaultIdempotencyTTL is how long a response is kept under its key unless
// Idempotency.TTL says otherwise.
const DefaultIdempotencyTTL = 24 * time.Hour

// IdempotencyKeyHeader is the request header field; a replay carries
// IdempotentReplayedHeader: true.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

// maxIdempotencyKey bounds the key (the string inside the quotes).
const maxIdempotencyKey = 255

// parseIdempotencyKey reads the Idempotency-Key field: one RFC 8941 sf-string
// (a quoted string of printable ASCII, \" and \\ escaped), 1 to
// maxIdempotencyKey characters, surrounding spaces allowed, nothing else. A
// bad value is a 400 invalid_parameter naming the header.
func parseIdempotencyKey(values []string) (string, error) {
	bad := func(detail string) error {
		return newAPIError("invalid_parameter", IdempotencyKeyHeader+" "+detail, paramProblem(IdempotencyKeyHeader, detail))
	}
	if len(values) != 1 {
		return "", bad("must be sent once")
	}
	v := strings.Trim(values[0], " ")
	if len(v) < 2 || v[0] != '"' {
		return "", bad(`must be a quoted string (an RFC 8941 sf-string), e.g. "4f0c2a9e-1b7d-4d52-9a55-0c7e0a4b9a31"`)
	}
	var b strings.Builder
	i := 1
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i == len(v) || (v[i] != '"' && v[i] != '\\') {
				return "", bad(`may escape only " and \ with a backslash`)
			}
			b.WriteByte(v[i])
		case c == '"':
			if i != len(v)-1 {
				return "", bad("must hold one quoted string and nothing after it")
			}
			if b.Len() == 0 {
				return "", bad("must not be empty")
			}
			if b.Len() > maxIdempotencyKey {
				return "", bad(fmt.Sprintf("must be at most %d characters long", maxIdempotencyKey))
			}
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", bad("may hold only printable ASCII characters")
		default:
			b.WriteByte(c)
		}
	}
	return "", bad("must end with a closing quote")
}

// fingerprint is the SHA-256 of the method, the path and the body's
// SHA-256: what a retry must repeat exactly.
func fingerprint(method, path string, body []byte) [32]byte {
	bh := sha256.Sum256(body)
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(bh[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// storable reports whether a response with status is kept under its key:
// successes and client errors, except 401 (the credentials, not the
// request, were wrong) and 429 (retry later); never a server error.
func storable(status int) bool {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusTooManyRequests:
		return false
	case status >= 200 && status < 300, status >= 400 && status < 500:
		return true
	}
	return false
}

// bufferedResponse holds a handler's status and body until the idempotency
// middleware decides what is sent; headers go straight to the real
// writer's map.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// flush sends the buffered response.
func (b *bufferedResponse) flush(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// stored is the buffered response as it is kept under the key.
func (b *bufferedResponse) stored() ports.StoredResponse {
	return ports.StoredResponse{Status: b.status, ContentType: b.header.Get("Content-Type"),
		Location: b.header.Get("Location"), ETag: b.header.Get("ETag"), Body: bytes.Clone(b.body.Bytes())}
}

// idempotent wraps a POST route that changes state (see routes): with an
// Idempotency-Key it runs the handler with a ports.IdempotentRequest in the
// context, scoped by the caller (issuer, subject), the method and the route
// template (the store adds the organization the application resolves),
// fingerprinted by method, path and body. The handler's response is
// buffered; then:
//
//   - the store found a response under the key: that one is sent, with
//     Idempotent-Replayed: true;
//   - the change is bound to the request (ports.PendingChange): a 2xx or
//     4xx is written with the key in the change's transaction and
//     committed before anything is sent; anything else rolls it back;
//   - no change: a 2xx or 4xx is stored on its own (RecordResponse), or
//     the response stored meanwhile is replayed.
//
// Without a key, or without Options.Idempotency, the handler runs as is.
//
// secret marks a route whose 2xx answer carries a secret: that answer is
// kept encrypted (Idempotency.Sealer) and decrypted to be replayed.
func (s *server) idempotent(next http.HandlerFunc, secret bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values(IdempotencyKeyHeader)
		if s.idem == nil || len(values) == 0 {
			next(w, r)
			return
		}
		key, err := parseIdempotencyKey(values)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// The body is read here (as far as the decoder would read it) to
		// fingerprint the request, then handed on whole.
		head, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			s.writeError(w, r, newAPIError("malformed_json", "the request body could not be read"))
			return
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		p := principal(r.Context())
		now := s.idemClock.Now()
		req := ports.NewIdempotentRequest(ports.IdempotencyScope{
			Issuer: p.Issuer, Subject: p.Subject, Method: r.Method, Route: routeTemplate(r), Key: key,
		}, fingerprint(r.Method, r.URL.EscapedPath(), head), now, now.Add(s.idemTTL))
		ctx := ports.WithIdempotentRequest(r.Context(), req)
		r = r.WithContext(ctx)
		defer func() { // a panic, or a path below that forgot it
			if pc := req.TakePending(); pc != nil {
				_ = pc.Rollback()
			}
		}()
		buf := &bufferedResponse{header: w.Header()}
		next(buf, r)
		s.finishIdempotent(w, r, req, buf, secret)
	}
}

// finishIdempotent sends the response of an idempotent request (see
// idempotent).
func (s *server) finishIdempotent(w http.ResponseWriter, r *http.Request, req *ports.IdempotentRequest, buf *bufferedResponse, secret bool) {
	ctx := r.Context()
	if st := req.Replay(); st != nil {
		s.replay(w, r, st)
		return
	}
	if pc := req.TakePending(); pc != nil {
		if !storable(buf.status) {
			_ = pc.Rollback()
			buf.flush(w)
			return
		}
		kept, err := s.keep(buf, secret)
		if err != nil {
			_ = pc.Rollback()
			s.rewriteError(w, r, err)
			return
		}
		if s.beforeCommit != nil {
			s.beforeCommit(r)
		}
		if err := pc.Commit(ctx, kept); err != nil {
			s.rewriteError(w, r, err)
			return
		}
		buf.flush(w)
		return
	}
	if req.Refused() != nil || !storable(buf.status) {
		buf.flush(w) // the key's own 409/422, or an answer that is not kept
		return
	}
	kept, err := s.keep(buf, secret)
	if err != nil {
		s.rewriteError(w, r, err)
		return
	}
	st, err := s.idem.RecordResponse(ctx, req, ports.NotedOrganization(ctx), kept)
	switch {
	case err != nil && req.Refused() != nil:
		s.rewriteError(w, r, err)
	case err != nil:
		// The response changed nothing; it is sent unkept.
		s.log.Warn("idempotency key not stored", zap.String("request_id", requestID(ctx)), zap.Error(err))
		buf.flush(w)
	case st != nil:
		s.replay(w, r, st)
	default:
		buf.flush(w)
	}
}

// keep is the response to store under the key: as answered, or, for a
// 2xx of a route whose answer carries a secret, with its body encrypted.
func (s *server) keep(buf *bufferedResponse, secret bool) (ports.StoredResponse, error) {
	st := buf.stored()
	if !secret || st.Status >= 300 {
		return st, nil
	}
	if s.idemSealer == nil {
		return st, errors.New("idempotency: no sealer for an answer that carries a secret")
	}
	sealed, err := s.idemSealer.Seal(string(st.Body))
	if err != nil {
		return st, err
	}
	st.Body = []byte(sealedPrefix + sealed)
	return st, nil
}

// replay sends a stored response (writeReplay), decrypting a sealed body.
func (s *server) replay(w http.ResponseWriter, r *http.Request, st *ports.StoredResponse) {
	if rest, ok := bytes.CutPrefix(st.Body, []byte(sealedPrefix)); ok {
		if s.idemSealer == nil {
			s.rewriteError(w, r, errors.New("idempotency: a sealed answer and no sealer"))
			return
		}
		plain, err := s.idemSealer.Open(string(rest))
		if err != nil {
			s.rewriteError(w, r, err)
			return
		}
		cp := *st
		cp.Body = []byte(plain)
		st = &cp
	}
	writeReplay(w, st)
}

// rewriteError replaces a buffered response by the problem of err.
func (s *server) rewriteError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Del("Location")
	w.Header().Del("ETag")
	s.writeError(w, r, err)
}

// writeReplay sends a stored response with Idempotent-Replayed: true.
func writeReplay(w http.ResponseWriter, st *ports.StoredResponse) {
	h := w.Header()
	for _, name := range []string{"Location", "ETag", "Retry-After", "WWW-Authenticate"} {
		h.Del(name)
	}
	if st.ContentType != "" {
		h.Set("Content-Type", st.ContentType)
	}
	if st.Location != "" {
		h.Set("Location", st.Location)
	}
	if st.ETag != "" {
		h.Set("ETag", st.ETag)
	}
	h.Set("Cache-Control", "no-store")
	h.Set(IdempotentReplayedHeader, "true")
	w.WriteHeader(st.Status)
	_, _ = w.Write(st.Body)
}
