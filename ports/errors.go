package ports

import "errors"

// TokenReason says why a bearer token was not accepted. The values are a
// stable vocabulary: the HTTP API publishes them as the "reason" member of
// its 401 and 503 problems, and logs, metrics and dry runs reuse them.
type TokenReason string

// The token reasons. Every reason but ReasonKeysUnavailable and
// ReasonIntrospectionUnavailable means the token itself is not acceptable
// (HTTP 401); those two mean the verifier cannot tell right now (no usable
// key set; the introspection endpoint cannot be asked): HTTP 503, the client
// keeps the token and retries.
const (
	ReasonExpired         TokenReason = "expired"          // exp is past (beyond the leeway)
	ReasonNotYetValid     TokenReason = "not_yet_valid"    // nbf or iat is in the future
	ReasonWrongAudience   TokenReason = "wrong_audience"   // aud missing or not ours
	ReasonWrongIssuer     TokenReason = "wrong_issuer"     // iss missing or names no configured issuer
	ReasonUnknownKey      TokenReason = "unknown_key"      // kid names no key of the current key set
	ReasonBadSignature    TokenReason = "bad_signature"    // signature wrong, or algorithm not allowed for the key
	ReasonMalformed       TokenReason = "malformed"        // not a well-formed JWT, or a required claim is not acceptable
	ReasonKeysUnavailable TokenReason = "keys_unavailable" // no key set could be loaded from the identity provider
	// ReasonInactive: the identity provider's introspection endpoint
	// (RFC 7662) answered active: false (revoked, expired or unknown there).
	ReasonInactive TokenReason = "inactive"
	// ReasonIntrospectionUnavailable: an opaque token cannot be checked now:
	// the introspection endpoint is down, failing or refusing our client
	// credentials, or the bound on introspection calls is reached.
	ReasonIntrospectionUnavailable TokenReason = "introspection_unavailable"

	ReasonAmbiguousOrganization TokenReason = "ambiguous_organization" // the organization claim holds several values, or a non-string
	ReasonWrongType             TokenReason = "wrong_type"             // the typ header is not the one the issuer requires (e.g. at+jwt)
	ReasonTooOld                TokenReason = "too_old"                // iat is older than the issuer's maximum token age, or missing when one is set
	ReasonMissingClaim          TokenReason = "missing_claim"          // a claim value the issuer requires (e.g. hd, tid) is absent or different
	// ReasonIssuerMismatch is the answer of an organization's dry run for a
	// token of any issuer other than its provider's: it never says which
	// issuer the token has or whose it is.
	ReasonIssuerMismatch TokenReason = "issuer_mismatch"
	// ReasonUserDeactivated: the token is valid, but a platform
	// administrator deactivated its user (read from the database on every
	// request, so it takes effect at once, cached tokens included).
	ReasonUserDeactivated TokenReason = "user_deactivated"
	// ReasonUserErased: the token is valid, but its user was erased; the
	// identity is not created again.
	ReasonUserErased TokenReason = "user_erased"
)

// TokenReasons lists every reason, in the order above.
var TokenReasons = []TokenReason{
	ReasonExpired, ReasonNotYetValid, ReasonWrongAudience, ReasonWrongIssuer,
	ReasonUnknownKey, ReasonBadSignature, ReasonMalformed, ReasonKeysUnavailable,
	ReasonAmbiguousOrganization, ReasonWrongType, ReasonTooOld, ReasonMissingClaim,
	ReasonInactive, ReasonIntrospectionUnavailable, ReasonIssuerMismatch,
	ReasonUserDeactivated, ReasonUserErased,
}

// TokenError is the error a TokenVerifier returns for a token it does not
// accept: a reason from the fixed vocabulary, a short human detail that is
// safe to show to the caller (it never contains the token), and the
// underlying cause for logs.
type TokenError struct {
	Reason TokenReason
	Detail string
	Err    error
}

func (e *TokenError) Error() string {
	msg := "token rejected (" + string(e.Reason) + "): " + e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// UnavailableError reports that a driven dependency (the database, the
// identity provider) cannot be reached or did not answer in time. The
// caller should retry later; the request itself may be fine. Adapters
// decide it from error types and codes, never from message text.
type UnavailableError struct {
	// Dependency names what is unavailable, for logs ("database").
	Dependency string
	Err        error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return e.Dependency + " unavailable"
	}
	return e.Dependency + " unavailable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err is, or wraps, an *UnavailableError.
func IsUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue)
}
