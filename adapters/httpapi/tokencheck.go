package httpapi

import (
	"net/http"
	"unicode/utf8"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// maxTokenCheckChars bounds the token of a dry run, as the Authorization
// header bounds a bearer token.
const maxTokenCheckChars = 8 << 10

// tokenCheckRequest is the body of a token dry run.
type tokenCheckRequest struct {
	Token string `json:"token"`
}

// tokenCheckPrincipalJSON is the principal a token would produce.
type tokenCheckPrincipalJSON struct {
	Issuer        string  `json:"issuer"`
	Subject       string  `json:"subject"`
	Email         *string `json:"email"`
	Name          *string `json:"name"`
	PlatformAdmin bool    `json:"platform_admin"`
	// OrganizationClaim is the organization the token names (ID or slug).
	OrganizationClaim *string `json:"organization_claim"`
}

// tokenCheckOrgJSON names the organization a token is bound to.
type tokenCheckOrgJSON struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// tokenCheckJSON is the answer of a dry run: accepted with what the token
// produces, or refused with the reason.
type tokenCheckJSON struct {
	Accepted         bool                     `json:"accepted"`
	Principal        *tokenCheckPrincipalJSON `json:"principal,omitempty"`
	Organization     *tokenCheckOrgJSON       `json:"organization"`
	MembershipStatus *string                  `json:"membership_status,omitempty"`
	Roles            []string                 `json:"roles,omitempty"`
	Reason           string                   `json:"reason,omitempty"`
	Detail           string                   `json:"detail,omitempty"`
}

func toTokenCheckJSON(res ports.TokenCheckResult) tokenCheckJSON {
	if !res.Accepted {
		return tokenCheckJSON{Reason: res.Reason, Detail: res.Detail}
	}
	p := res.Principal
	out := tokenCheckJSON{Accepted: true, Roles: roleKeys(res.Roles), Principal: &tokenCheckPrincipalJSON{
		Issuer: p.Issuer, Subject: p.Subject, Email: optString(p.Email), Name: optString(p.Name),
		PlatformAdmin: p.PlatformAdmin, OrganizationClaim: optString(p.OrgClaim),
	}}
	if o := res.Organization; o != nil {
		out.Organization = &tokenCheckOrgJSON{ID: o.ID(), Slug: string(o.Slug())}
	}
	if m := res.Membership; m != nil {
		st := m.Status().String()
		out.MembershipStatus = &st
	}
	return out
}

// tokenCheck serves POST /api/v1/admin/token-check (platform
// administrators): whether a token would be accepted, and what it would
// produce. The token is never logged, stored or echoed.
func (s *server) tokenCheck(w http.ResponseWriter, r *http.Request) {
	if s.svc.TokenChecks == nil {
		s.notFoundOrNotAllowed(w, r)
		return
	}
	var body tokenCheckRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Token == "" || utf8.RuneCountInString(body.Token) > maxTokenCheckChars || !domain.IsKeyText(body.Token) {
		s.writeError(w, r, domain.Invalid("token", "required: 1 to %d characters without control characters", maxTokenCheckChars))
		return
	}
	res, err := s.svc.TokenChecks.CheckToken(r.Context(), principal(r.Context()), body.Token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, toTokenCheckJSON(res))
}
