package httpapi

import (
	"net/http"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// roleJSON is the role representation; built-in roles have no id and no
// times.
type roleJSON struct {
	Key         string     `json:"key"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Permissions []string   `json:"permissions"`
	Excluded    []string   `json:"excluded_permissions"`
	ID          *string    `json:"id"`
	Builtin     bool       `json:"builtin"`
	CreatedAt   *time.Time `json:"created_at"`
	UpdatedAt   *time.Time `json:"updated_at"`
	Version     int64      `json:"version"`
}

func toRoleJSON(r *domain.Role) roleJSON {
	return roleJSON{
		Key: string(r.Key()), Name: r.Name(), Description: r.Description(),
		Permissions: grantStrings(r.Grants()), Excluded: keyStrings(r.Except()), ID: optString(r.ID()), Builtin: r.IsBuiltin(),
		CreatedAt: optTime(r.CreatedAt()), UpdatedAt: optTime(r.UpdatedAt()), Version: r.Version(),
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// createRoleRequest is the body of POST …/roles.
type createRoleRequest struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// updateRoleRequest is the body of PATCH …/roles/{roleKey}.
type updateRoleRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Permissions *[]string `json:"permissions"`
}

// listRoles handles GET /api/v1/roles and
// GET /api/v1/organizations/{orgId}/roles.
func (s *server) listRoles(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.RoleList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Roles.List(r.Context(), principal(r.Context()), orgRef(r), ports.RoleQuery{
		Q: q.filter("q"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toRoleJSON)
}

// createRole handles POST /api/v1/roles and
// POST /api/v1/organizations/{orgId}/roles.
func (s *server) createRole(w http.ResponseWriter, r *http.Request) {
	var req createRoleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	perms := req.Permissions
	if perms == nil {
		perms = []string{}
	}
	role, err := s.svc.Roles.Create(r.Context(), principal(r.Context()), orgRef(r), ports.CreateRole{
		Key: req.Key, Name: req.Name, Description: req.Description, Permissions: perms,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.EscapedPath()+"/"+string(role.Key()))
	s.writeTagged(w, r, http.StatusCreated, role.Version(), toRoleJSON(role))
}

// getRole handles GET /api/v1/roles/{roleKey} and
// GET /api/v1/organizations/{orgId}/roles/{roleKey}.
func (s *server) getRole(w http.ResponseWriter, r *http.Request) {
	role, err := s.svc.Roles.Get(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "roleKey"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, role.Version(), toRoleJSON(role))
}

// updateRole handles PATCH /api/v1/roles/{roleKey} and
// PATCH /api/v1/organizations/{orgId}/roles/{roleKey}.
func (s *server) updateRole(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateRoleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	role, err := s.svc.Roles.Update(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "roleKey"),
		domain.RoleChanges{Name: req.Name, Description: req.Description, Grants: req.Permissions}, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, role.Version(), toRoleJSON(role))
}

// deleteRole handles DELETE /api/v1/roles/{roleKey} and
// DELETE /api/v1/organizations/{orgId}/roles/{roleKey}.
func (s *server) deleteRole(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Roles.Delete(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "roleKey"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
