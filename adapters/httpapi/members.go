package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// memberJSON is the member representation.
type memberJSON struct {
	UserID         string    `json:"user_id"`
	Email          *string   `json:"email"`
	Name           *string   `json:"name"`
	Subject        string    `json:"subject"`
	Issuer         string    `json:"issuer"`
	Roles          []string  `json:"roles"`
	Status         string    `json:"status"`
	OrganizationID string    `json:"organization_id"`
	JoinedAt       time.Time `json:"joined_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
}

func toMemberJSON(m ports.Member) memberJSON {
	out := memberJSON{
		UserID:         m.Membership.UserID(),
		Roles:          roleKeys(m.Membership.Roles()),
		Status:         m.Membership.Status().String(),
		OrganizationID: m.Membership.OrgID(),
		JoinedAt:       m.Membership.JoinedAt().UTC(),
		UpdatedAt:      m.Membership.UpdatedAt().UTC(),
		Version:        m.Membership.Version(),
	}
	if m.User != nil {
		out.Email, out.Name = optString(m.User.Email()), optString(m.User.Name())
		out.Subject, out.Issuer = m.User.Subject(), m.User.Issuer()
	}
	return out
}

// addMemberRequest is the body of POST …/members: user_id, or subject (with
// optional issuer, email and name) to pre-provision the user.
type addMemberRequest struct {
	UserID  string   `json:"user_id" text:"nonempty"`
	Subject string   `json:"subject" text:"nonempty"`
	Issuer  string   `json:"issuer" text:"nonempty"`
	Email   string   `json:"email"`
	Name    string   `json:"name"`
	Roles   []string `json:"roles"`
}

// updateMemberRequest is the body of PATCH …/members/{userId}.
type updateMemberRequest struct {
	Roles  *[]string `json:"roles"`
	Status *string   `json:"status"`
}

// nilUUID names no user: user IDs are UUIDv7.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// userIDParam returns the {userId} path variable in canonical form. A value
// that is not a UUID names no user; it becomes the nil UUID, so that the
// application answers exactly as for an unknown user (404), after its
// organization and permission checks.
func userIDParam(r *http.Request) string {
	v := pathVar(r, "userId")
	u, err := uuid.Parse(v)
	if err != nil || len(v) != 36 {
		return nilUUID
	}
	return u.String()
}

func optString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func roleKeys(ks []domain.RoleKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// listMembers handles GET /api/v1/members and
// GET /api/v1/organizations/{orgId}/members.
func (s *server) listMembers(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.MemberList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Members.List(r.Context(), principal(r.Context()), orgRef(r), ports.MemberQuery{
		Role: q.filter("role"), Status: q.filter("status"), Q: q.filter("q"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toMemberJSON)
}

// addMember handles POST /api/v1/members and
// POST /api/v1/organizations/{orgId}/members.
func (s *server) addMember(w http.ResponseWriter, r *http.Request) {
	var req addMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.Members.Add(r.Context(), principal(r.Context()), orgRef(r), ports.AddMember{
		UserID: req.UserID, Subject: req.Subject, Issuer: req.Issuer,
		Email: req.Email, Name: req.Name, Roles: req.Roles,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.EscapedPath()+"/"+m.Membership.UserID())
	s.writeTagged(w, r, http.StatusCreated, m.Membership.Version(), toMemberJSON(m))
}

// getMember handles GET /api/v1/members/{userId} and
// GET /api/v1/organizations/{orgId}/members/{userId}.
func (s *server) getMember(w http.ResponseWriter, r *http.Request) {
	m, err := s.svc.Members.Get(r.Context(), principal(r.Context()), orgRef(r), userIDParam(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, m.Membership.Version(), toMemberJSON(m))
}

// updateMember handles PATCH /api/v1/members/{userId} and
// PATCH /api/v1/organizations/{orgId}/members/{userId}.
func (s *server) updateMember(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.Members.Update(r.Context(), principal(r.Context()), orgRef(r), userIDParam(r),
		domain.MembershipChanges{Roles: req.Roles, Status: req.Status}, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, m.Membership.Version(), toMemberJSON(m))
}

// removeMember handles DELETE /api/v1/members/{userId} and
// DELETE /api/v1/organizations/{orgId}/members/{userId}.
func (s *server) removeMember(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Members.Remove(r.Context(), principal(r.Context()), orgRef(r), userIDParam(r), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
