package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

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
//
// With rate limits (RateLimits), a client address whose failed
// authentications are spent and then the per-address limit are decided
// before the token is looked at, each 401 counts as a failed
// authentication, and the caller's own limit is taken once the token is
// verified (429 rate_limited beyond any of them).
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		rl, st, ip := s.limits, &rateState{}, ""
		if ri := infoOf(ctx); ri != nil {
			st = &ri.rate
			st.write = isWrite(r.Method, ri.route)
		}
		if rl != nil {
			ip = ipKey(clientAddr(ctx))
			if err := rl.beforeAuth(ctx, st, ip); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		p, err := s.verify(r)
		if err != nil {
			s.authFailed(err)
			if rl != nil && errIsAuthFailure(err) {
				if lerr := rl.authFailed(ctx, st, ip); lerr != nil {
					err = lerr
				}
			}
			s.writeError(w, r, err)
			return
		}
		if ri := infoOf(ctx); ri != nil {
			ri.subject = p.Subject
		}
		if rl != nil {
			if err := rl.take(ctx, st, policyPrincipal, p.Issuer+"\x00"+p.Subject,
				rl.l.Principal, policyPrincipal, rl.l.PrincipalWrites, policyPrincipalWrites); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey, p)))
	})
}

// authFailed counts a refused authentication by its reason (no token:
// ports.ReasonMissing).
func (s *server) authFailed(err error) {
	if s.authEv == nil {
		return
	}
	var te *ports.TokenError
	var ae *apiError
	switch {
	case errors.As(err, &te):
		s.authEv.AuthFailure(string(te.Reason))
	case errors.As(err, &ae) && ae.code == "unauthenticated":
		s.authEv.AuthFailure(ports.ReasonMissing)
	}
}

// verify checks the request's bearer token.
func (s *server) verify(r *http.Request) (ports.Principal, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return ports.Principal{}, newAPIError("unauthenticated", "authentication is required: send Authorization: Bearer <token>")
	}
	raw, ok := bearerToken(values)
	if !ok {
		return ports.Principal{}, &ports.TokenError{Reason: ports.ReasonMalformed,
			Detail: "the Authorization header must hold exactly one Bearer token"}
	}
	p, err := s.verifier.Verify(r.Context(), raw)
	if err != nil {
		s.log.Debug("token rejected", zap.String("request_id", requestID(r.Context())), zap.Error(err))
		return ports.Principal{}, err
	}
	return p, nil
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
