package httpapi

import (
	"net/http"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// meJSON is the caller's own record.
type meJSON struct {
	ID          string            `json:"id"`
	Issuer      string            `json:"issuer"`
	Subject     string            `json:"subject"`
	Email       *string           `json:"email"`
	Name        *string           `json:"name"`
	Status      string            `json:"status"`
	Metadata    map[string]string `json:"metadata"`
	Version     int64             `json:"version"`
	Memberships []membershipJSON  `json:"memberships"`
}

// updateMeRequest is the JSON merge patch of PATCH /api/v1/me: only the
// caller's metadata (a null value removes a key). Email and name come from
// tokens; any other member is 400 naming it.
type updateMeRequest struct {
	Metadata map[string]*string `json:"metadata"`
}

// membershipJSON is one of the caller's memberships.
type membershipJSON struct {
	OrganizationID   string   `json:"organization_id"`
	OrganizationSlug string   `json:"organization_slug"`
	Roles            []string `json:"roles"`
	Status           string   `json:"status"`
	Permissions      []string `json:"permissions"`
	Excluded         []string `json:"excluded_permissions"`
}

func toMeJSON(p ports.Profile) meJSON {
	out := meJSON{Memberships: make([]membershipJSON, 0, len(p.Memberships))}
	if p.User != nil {
		out.ID, out.Issuer, out.Subject = p.User.ID(), p.User.Issuer(), p.User.Subject()
		out.Email, out.Name = optString(p.User.Email()), optString(p.User.Name())
		out.Status, out.Metadata, out.Version = p.User.Status().String(), p.User.Metadata(), p.User.Version()
	}
	for _, m := range p.Memberships {
		out.Memberships = append(out.Memberships, membershipJSON{
			OrganizationID: m.OrgID, OrganizationSlug: m.OrgSlug,
			Roles: roleKeys(m.Roles), Status: m.Status.String(), Permissions: grantStrings(m.Permissions),
			Excluded: keyStrings(m.Excluded),
		})
	}
	return out
}

func keyStrings(ks []domain.PermissionKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

func grantStrings(gs []domain.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

// me handles GET /api/v1/me.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	p, err := s.svc.Me.Me(r.Context(), principal(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeData(w, r, http.StatusOK, toMeJSON(p))
}

// updateMe handles PATCH /api/v1/me: the caller's own metadata. If-Match,
// when given, names the user's version (the "version" member).
func (s *server) updateMe(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateMeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.svc.Me.UpdateMetadata(r.Context(), principal(r.Context()), req.Metadata, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeData(w, r, http.StatusOK, toMeJSON(p))
}
