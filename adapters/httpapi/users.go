package httpapi

import (
	"net/http"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// userJSON is the user profile representation.
type userJSON struct {
	ID        string    `json:"id"`
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Email     *string   `json:"email"`
	Name      *string   `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u *domain.User) userJSON {
	return userJSON{
		ID: u.ID(), Issuer: u.Issuer(), Subject: u.Subject(),
		Email: optString(u.Email()), Name: optString(u.Name()),
		CreatedAt: u.CreatedAt().UTC(), UpdatedAt: u.UpdatedAt().UTC(),
	}
}

// listUsers handles GET /api/v1/users and
// GET /api/v1/organizations/{orgId}/users.
func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.UserList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Users.List(r.Context(), principal(r.Context()), orgRef(r), ports.UserQuery{
		Q: q.filter("q"), Email: q.filter("email"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toUserJSON)
}

// getUser handles GET /api/v1/users/{userId} and
// GET /api/v1/organizations/{orgId}/users/{userId}.
func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.svc.Users.Get(r.Context(), principal(r.Context()), orgRef(r), userIDParam(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeData(w, r, http.StatusOK, toUserJSON(u))
}

// listAllUsers handles GET /api/v1/admin/users (platform admins only).
func (s *server) listAllUsers(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.UserList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Users.ListAll(r.Context(), principal(r.Context()), ports.UserQuery{
		Q: q.filter("q"), Email: q.filter("email"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toUserJSON)
}
