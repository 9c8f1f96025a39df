package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// ProblemTypeBase is the prefix of every problem type URI: the type of the
// problem with code c is ProblemTypeBase + c.
const ProblemTypeBase = "https://orgstack.dev/problems/"

// ErrorCode is one row of the error-code table: a stable machine-readable
// code, the HTTP status it is answered with and a short human title.
type ErrorCode struct {
	Code   string
	Status int
	Title  string
}

// Type returns the problem type URI of the code.
func (c ErrorCode) Type() string { return ProblemTypeBase + c.Code }

// ErrorCodes is THE error-code table of the API: every problem response
// carries one of these codes in its "code" member, with this status, the
// type URI ProblemTypeBase+code and this title. README.md and openapi.json
// list the same table; a test keeps them in step with the domain's errors.
var ErrorCodes = []ErrorCode{
	{"malformed_json", http.StatusBadRequest, "Malformed request body"},
	{"validation_failed", http.StatusBadRequest, "Validation failed"},
	{"invalid_parameter", http.StatusBadRequest, "Invalid query parameter"},
	{"organization_context_required", http.StatusBadRequest, "Organization context required"},
	{"unauthenticated", http.StatusUnauthorized, "Authentication required"},
	{"invalid_token", http.StatusUnauthorized, "Invalid access token"},
	{"forbidden", http.StatusForbidden, "Forbidden"},
	{"owner_required", http.StatusForbidden, "Owner required"},
	{"privilege_escalation", http.StatusForbidden, "Privilege escalation"},
	{"organization_mismatch", http.StatusForbidden, "Organization mismatch"},
	{"organization_suspended", http.StatusForbidden, "Organization suspended"},
	{"platform_admin_required", http.StatusForbidden, "Platform administrator required"},
	{"not_found", http.StatusNotFound, "Not found"},
	{"method_not_allowed", http.StatusMethodNotAllowed, "Method not allowed"},
	{"slug_taken", http.StatusConflict, "Slug taken"},
	{"last_owner", http.StatusConflict, "Last owner"},
	{"already_member", http.StatusConflict, "Already a member"},
	{"user_exists", http.StatusConflict, "User exists"},
	{"user_deactivated", http.StatusConflict, "User deactivated"},
	{"user_erased", http.StatusConflict, "User erased"},
	{"role_exists", http.StatusConflict, "Role exists"},
	{"builtin_role", http.StatusConflict, "Built-in role"},
	{"role_in_use", http.StatusConflict, "Role in use"},
	{"permission_exists", http.StatusConflict, "Permission exists"},
	{"system_permission", http.StatusConflict, "System permission"},
	{"permission_in_use", http.StatusConflict, "Permission in use"},
	{"unknown_reference", http.StatusConflict, "Unknown reference"},
	{"identity_provider_conflict", http.StatusConflict, "Identity provider conflict"},
	{"idempotency_key_in_flight", http.StatusConflict, "Idempotency key in flight"},
	{"secret_key_missing", http.StatusConflict, "Secret key missing"},
	{"version_mismatch", http.StatusPreconditionFailed, "Version mismatch"},
	{"precondition_required", http.StatusPreconditionRequired, "Precondition required"},
	{"idempotency_key_reused", http.StatusUnprocessableEntity, "Idempotency key reused"},
	{"payload_too_large", http.StatusRequestEntityTooLarge, "Payload too large"},
	{"unsupported_media_type", http.StatusUnsupportedMediaType, "Unsupported media type"},
	{"rate_limited", http.StatusTooManyRequests, "Too many requests"},
	{"internal", http.StatusInternalServerError, "Internal error"},
	{"not_ready", http.StatusServiceUnavailable, "Not ready"},
	{"unavailable", http.StatusServiceUnavailable, "Service unavailable"},
}

// retryAfterUnavailable is the Retry-After, in seconds, of a 503
// unavailable: about how long the identity provider's key retries and a
// database reconnect take.
const retryAfterUnavailable = "5"

var codeIndex = func() map[string]ErrorCode {
	m := make(map[string]ErrorCode, len(ErrorCodes))
	for _, c := range ErrorCodes {
		m[c.Code] = c
	}
	return m
}()

// lookupCode returns the table row of code; a code missing from the table
// (a domain error added later) gets the status of its kind.
func lookupCode(code string, kind domain.Kind) ErrorCode {
	if c, ok := codeIndex[code]; ok {
		return c
	}
	status := map[domain.Kind]int{
		domain.KindInvalid:              http.StatusBadRequest,
		domain.KindForbidden:            http.StatusForbidden,
		domain.KindNotFound:             http.StatusNotFound,
		domain.KindConflict:             http.StatusConflict,
		domain.KindPrecondition:         http.StatusPreconditionFailed,
		domain.KindPreconditionRequired: http.StatusPreconditionRequired,
	}[kind]
	if status == 0 {
		return codeIndex["internal"]
	}
	return ErrorCode{Code: code, Status: status, Title: http.StatusText(status)}
}

// fieldProblem names one invalid part of a request: a JSON pointer into the
// body ("" is the whole body), or a parameter (a query parameter, or a
// header such as If-Match; "" is a parameter without a name, as in "?=x").
// Exactly one of the two is always written.
type fieldProblem struct {
	Pointer   string
	Parameter string
	InParam   bool // Parameter names the part, not Pointer
	Detail    string
}

// bodyProblem names a part of the body by its JSON pointer.
func bodyProblem(ptr, detail string) fieldProblem {
	return fieldProblem{Pointer: ptr, Detail: detail}
}

// paramProblem names a parameter.
func paramProblem(name, detail string) fieldProblem {
	return fieldProblem{Parameter: name, InParam: true, Detail: detail}
}

// MarshalJSON writes {"pointer": …, "detail": …} or {"parameter": …,
// "detail": …}, the member present even when empty.
func (f fieldProblem) MarshalJSON() ([]byte, error) {
	if f.InParam {
		return json.Marshal(struct {
			Parameter string `json:"parameter"`
			Detail    string `json:"detail"`
		}{f.Parameter, f.Detail})
	}
	return json.Marshal(struct {
		Pointer string `json:"pointer"`
		Detail  string `json:"detail"`
	}{f.Pointer, f.Detail})
}

// problem is an RFC 9457 problem details body with the API's extensions.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      string         `json:"code"`
	Reason    string         `json:"reason,omitempty"`
	RequestID string         `json:"request_id"`
	TraceID   string         `json:"trace_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
	Checks    []checkStatus  `json:"checks,omitempty"`
	// Organizations names, on 409 last_owner from an erasure, every
	// organization whose last active owner the user is.
	Organizations []organizationNameJSON `json:"organizations,omitempty"`
}

// organizationNameJSON names an organization in a problem.
type organizationNameJSON struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// apiError is an error the adapter decides itself (malformed body, bad query
// parameter, unknown route), before or instead of calling the application.
type apiError struct {
	code   string
	detail string
	fields []fieldProblem
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

func newAPIError(code, detail string, fields ...fieldProblem) *apiError {
	return &apiError{code: code, detail: detail, fields: fields}
}

// pointerOf converts a domain field path ("metadata/color") to a JSON
// pointer ("/metadata/color"); "" stays the whole document.
func pointerOf(field string) string {
	if field == "" || strings.HasPrefix(field, "/") {
		return field
	}
	return "/" + field
}

// errOrgContextRequired is ports.ErrOrgContextRequired told in terms of this
// API's routes.
var errOrgContextRequired = newAPIError("organization_context_required",
	"the token carries no organization; use the /organizations/{orgId}/ form of this route")

// errIdempotencyKeyInFlight and errIdempotencyKeyReused are the key's own
// refusals, told in terms of the header.
var (
	errIdempotencyKeyInFlight = newAPIError("idempotency_key_in_flight",
		"a request with this Idempotency-Key is still being served; retry later to get its response",
		paramProblem(IdempotencyKeyHeader, "in use by a request being served"))
	errIdempotencyKeyReused = newAPIError("idempotency_key_reused",
		"this Idempotency-Key was used for a different request (method, path or body); use a new key",
		paramProblem(IdempotencyKeyHeader, "used for a different request"))
)

// writeError answers err as a problem. It is the only place that maps errors
// to statuses. Internal errors are logged once, with the request ID, and the
// caller sees only "internal error".
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ports.ErrIdempotentReplay):
		return // the idempotency middleware sends the stored response
	case errors.Is(err, ports.ErrOrgContextRequired):
		err = errOrgContextRequired
	case errors.Is(err, ports.ErrIdempotencyKeyInFlight):
		err = errIdempotencyKeyInFlight
	case errors.Is(err, ports.ErrIdempotencyKeyReused):
		err = errIdempotencyKeyReused
	}
	var (
		ae *apiError
		ve *domain.ValidationError
		re *domain.UnknownReferenceError
		de *domain.Error
		te *ports.TokenError
		ue *ports.UnavailableError
		le *ports.RateLimitedError
		lo *domain.LastOwnerError
	)
	var p problem
	switch {
	case errors.As(err, &le):
		// The RateLimit fields and Retry-After come from what the limits
		// decided for this request (statusRecorder); Retry-After is set here
		// too for a refusal decided elsewhere.
		c := codeIndex["rate_limited"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: rateLimitedDetail(le.Policy)}
		w.Header().Set("Retry-After", strconv.Itoa(max(ceilSeconds(le.Decision.RetryAfter), 1)))
	case errors.As(err, &ue):
		// A dependency cannot be reached, or did not answer in time: the
		// request may be fine, so 503 and Retry-After. Logged once per
		// outage, then counted.
		c := codeIndex["unavailable"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status,
			Detail: "a service OrgStack depends on is unavailable; retry later"}
		if errors.As(err, &te) {
			p.Reason, p.Detail = string(te.Reason), te.Detail
		}
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.outages.refused(ue.Dependency, err)
	case errors.As(err, &te):
		c := codeIndex["invalid_token"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: te.Detail, Reason: string(te.Reason)}
	case errors.Is(err, context.DeadlineExceeded) && errors.Is(r.Context().Err(), context.DeadlineExceeded):
		// The request deadline passed while waiting on something other
		// than a dependency that reports itself unavailable.
		c := codeIndex["unavailable"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "the request did not complete in time; retry later"}
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.outages.refused("request deadline", err)
	case errors.As(err, &ae):
		c := lookupCode(ae.code, domain.KindInternal)
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: ae.detail, Errors: ae.fields}
	case errors.As(err, &ve):
		c := codeIndex["validation_failed"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "the request is invalid"}
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, bodyProblem(pointerOf(f.Field), f.Detail))
		}
	case errors.As(err, &re):
		c := codeIndex["unknown_reference"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "the request names something that does not exist"}
		for _, f := range re.Fields {
			p.Errors = append(p.Errors, bodyProblem(pointerOf(f.Field), f.Detail))
		}
	case errors.As(err, &lo):
		c := codeIndex["last_owner"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: lo.Error()}
		for _, o := range lo.Organizations {
			p.Organizations = append(p.Organizations, organizationNameJSON{ID: o.ID, Slug: o.Slug})
		}
	case errors.As(err, &de) && de.Kind != domain.KindInternal:
		c := lookupCode(de.Code, de.Kind)
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: de.Message}
	case errors.Is(r.Context().Err(), context.Canceled) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// The client went away: nothing broke on our side, and nobody reads
		// the answer. Not logged as an internal error.
		c := codeIndex["internal"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "the request was cancelled"}
		s.log.Debug("request cancelled by the client",
			zap.String("request_id", requestID(r.Context())),
			zap.String("route", routeTemplate(r)))
	default:
		c := codeIndex["internal"]
		p = problem{Code: c.Code, Title: c.Title, Status: c.Status, Detail: "internal error"}
		s.log.Error("internal error",
			zap.String("request_id", requestID(r.Context())),
			zap.String("method", r.Method),
			zap.String("route", routeTemplate(r)),
			zap.Error(err))
	}
	s.writeProblem(w, r, p)
}

// quoteAuthParam returns v as an RFC 9110 quoted-string holding only the
// characters RFC 6750 allows in error_description (%x20-21 / %x23-5B /
// %x5D-7E): a quote, a backslash or any other character becomes a space.
func quoteAuthParam(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = ' '
		}
	}
	return `"` + string(b) + `"`
}

// writeProblem fills the common members and writes p.
func (s *server) writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	p.Type = ProblemTypeBase + p.Code
	p.RequestID = requestID(r.Context())
	if ri := infoOf(r.Context()); ri != nil {
		p.TraceID = ri.traceID
	}
	switch p.Code {
	case "unauthenticated":
		w.Header().Set("WWW-Authenticate", `Bearer realm="orgstack"`+s.resourceMetadataParam())
	case "invalid_token":
		w.Header().Set("WWW-Authenticate", `Bearer realm="orgstack", error="invalid_token", error_description=`+
			quoteAuthParam(p.Detail)+s.resourceMetadataParam())
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: problem holds only strings and ints
		body = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Internal error","status":500,"detail":"internal error","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("ETag")
	w.Header().Del("Location")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// rateLimitedDetail says, in words, which quota a 429 is about.
func rateLimitedDetail(policy string) string {
	what := map[string]string{
		policyPrincipal:          "the request quota of this caller",
		policyPrincipalWrites:    "the write quota of this caller",
		policyOrganization:       "the request quota of this organization",
		policyOrganizationWrites: "the write quota of this organization",
		policyIP:                 "the request quota of this client address",
		policyAuthFailures:       "the failed-authentication quota of this client address",
	}[policy]
	if what == "" {
		what = "a request quota"
	}
	return what + " is spent; retry after the time in Retry-After"
}
