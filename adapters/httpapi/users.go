package httpapi

import (
	"net/http"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// userJSON is the user profile representation.
type userJSON struct {
	ID        string            `json:"id"`
	Issuer    string            `json:"issuer"`
	Subject   string            `json:"subject"`
	Email     *string           `json:"email"`
	Name      *string           `json:"name"`
	Status    string            `json:"status"`
	Metadata  map[string]string `json:"metadata"`
	Version   int64             `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func toUserJSON(u *domain.User) userJSON {
	return userJSON{
		ID: u.ID(), Issuer: u.Issuer(), Subject: u.Subject(),
		Email: optString(u.Email()), Name: optString(u.Name()),
		Status: u.Status().String(), Metadata: u.Metadata(), Version: u.Version(),
		CreatedAt: u.CreatedAt().UTC(), UpdatedAt: u.UpdatedAt().UTC(),
	}
}

// updateUserRequest is the body of PATCH /api/v1/admin/users/{userId}.
type updateUserRequest struct {
	Status *string `json:"status"`
}

// getAnyUser handles GET /api/v1/admin/users/{userId} (platform admins
// only): any user, an erased one's tombstone included, with its ETag.
func (s *server) getAnyUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.svc.Users.GetAny(r.Context(), principal(r.Context()), userIDParam(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, u.Version(), toUserJSON(u))
}

// updateUserStatus handles PATCH /api/v1/admin/users/{userId} (platform
// admins only): {"status": "deactivated"} or {"status": "active"}.
func (s *server) updateUserStatus(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	status := ""
	if req.Status != nil {
		status = *req.Status
	}
	u, err := s.svc.Users.SetStatus(r.Context(), principal(r.Context()), userIDParam(r), status, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, u.Version(), toUserJSON(u))
}

// eraseUser handles DELETE /api/v1/admin/users/{userId} (platform admins
// only): erasure, 204 No Content.
func (s *server) eraseUser(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Users.Erase(r.Context(), principal(r.Context()), userIDParam(r), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
