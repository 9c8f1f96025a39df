package httpapi

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// maxAuthorizationHeader bounds the Authorization header we look at: a
// token over 8 KiB is refused without being parsed.
const maxAuthorizationHeader = 8<<10 + len("Bearer ")

// authenticate turns the bearer token of the Authorization header into a
// principal stored in the request context. The token is taken only from the
// header, never from the query string. No header answers 401
// unauthenticated; a rejected, malformed or repeated header answers 401
// invalid_token.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) == 0 {
			s.writeError(w, r, domain.ErrUnauthenticated)
			return
		}
		raw, ok := bearerToken(values)
		if !ok {
			s.writeError(w, r, domain.ErrInvalidToken)
			return
		}
		p, err := s.verifier.Verify(r.Context(), raw)
		if err != nil {
			// Every verification failure is the caller's token (or keys we
			// cannot load yet): 401, never 500.
			s.log.Debug("token rejected", zap.String("request_id", requestID(r.Context())), zap.Error(err))
			s.writeError(w, r, domain.ErrInvalidToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

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
