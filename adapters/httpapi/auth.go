package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// maxAuthorizationHeader bounds the Authorization header we look at: a
// token over 8 KiB is refused without being parsed.
const maxAuthorizationHeader = 8<<10 + len("Bearer ")

// authenticate turns the bearer token of the Authorization header into a
// principal stored in the request context. The token is taken only from the
// header, never from the query string. No header answers 401
// unauthenticated; a rejected, malformed or repeated header answers 401
// invalid_token with the reason; a token that cannot be checked because the
// identity provider's keys never loaded answers 503 unavailable. The rest of
// the request runs under the request deadline, which bounds every wait on a
// dependency (database connections included).
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) == 0 {
			s.authFailed(ports.ReasonMissing)
			s.writeError(w, r, newAPIError("unauthenticated", "authentication is required: send Authorization: Bearer <token>"))
			return
		}
		raw, ok := bearerToken(values)
		if !ok {
			s.authFailed(string(ports.ReasonMalformed))
			s.writeError(w, r, &ports.TokenError{Reason: ports.ReasonMalformed,
				Detail: "the Authorization header must hold exactly one Bearer token"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		p, err := s.verifier.Verify(ctx, raw)
		if err != nil {
			s.log.Debug("token rejected", zap.String("request_id", requestID(ctx)), zap.Error(err))
			var te *ports.TokenError
			if errors.As(err, &te) {
				s.authFailed(string(te.Reason))
			}
			s.writeError(w, r, err)
			return
		}
		if ri := infoOf(ctx); ri != nil {
			ri.subject = p.Subject
		}
		if s.limiter != nil && !s.allow(w, r, p) {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey, p)))
	})
}

// authFailed counts a refused authentication by its reason.
func (s *server) authFailed(reason string) {
	if s.authEv != nil {
		s.authEv.AuthFailure(reason)
	}
}

// ratePolicy names the one rate-limit policy in the RateLimit fields.
const ratePolicy = `"principal"`

// allow takes one request from the caller's quota (keyed by issuer and
// subject) and writes the RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers). When the quota is spent it
// answers 429 rate_limited with Retry-After and reports false. A limiter
// that cannot decide lets the request through.
func (s *server) allow(w http.ResponseWriter, r *http.Request, p ports.Principal) bool {
	d, err := s.limiter.Allow(r.Context(), p.Issuer+"\x00"+p.Subject)
	if err != nil {
		s.log.Warn("rate limiter failed; request let through", zap.String("request_id", requestID(r.Context())), zap.Error(err))
		return true
	}
	h := w.Header()
	h.Set("RateLimit-Policy", ratePolicy+";q="+strconv.Itoa(d.Quota)+";w="+strconv.Itoa(ceilSeconds(d.Window)))
	h.Set("RateLimit", ratePolicy+";r="+strconv.Itoa(d.Remaining)+";t="+strconv.Itoa(ceilSeconds(d.Reset)))
	if d.Allowed {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(max(ceilSeconds(d.RetryAfter), 1)))
	s.writeError(w, r, newAPIError("rate_limited", "the request quota of this caller is spent; retry after the time in Retry-After"))
	return false
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// bearerToken extracts the token from exactly one "Bearer <token>" header
// value; the scheme is case-insensitive.
func bearerToken(values []string) (string, bool) {
	if len(values) != 1 || len(values[0]) > maxAuthorizationHeader {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t,") {
		return "", false
	}
	return token, true
}

// principal returns the verified caller of an authenticated route.
func principal(ctx context.Context) ports.Principal {
	p, _ := ctx.Value(principalKey).(ports.Principal)
	return p
}
