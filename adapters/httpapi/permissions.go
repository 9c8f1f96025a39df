package httpapi

import (
	"net/http"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// permissionJSON is the permission representation; system permissions have
// no id and no creation time.
type permissionJSON struct {
	Key         string     `json:"key"`
	Description string     `json:"description"`
	ID          *string    `json:"id"`
	Type        string     `json:"type"`
	CreatedAt   *time.Time `json:"created_at"`
	Version     int64      `json:"version"`
}

func toPermissionJSON(p *domain.Permission) permissionJSON {
	typ := "custom"
	if p.IsSystem() {
		typ = "system"
	}
	return permissionJSON{
		Key: p.Key().String(), Description: p.Description(), ID: optString(p.ID()),
		Type: typ, CreatedAt: optTime(p.CreatedAt()), Version: p.Version(),
	}
}

// createPermissionRequest is the body of POST …/permissions.
type createPermissionRequest struct {
	Key         string `json:"key"`
	Description string `json:"description"`
}

// updatePermissionRequest is the body of PATCH …/permissions/{permissionKey}.
type updatePermissionRequest struct {
	Description *string `json:"description"`
}

// listPermissions handles GET /api/v1/permissions and
// GET /api/v1/organizations/{orgId}/permissions.
func (s *server) listPermissions(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.PermissionList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Permissions.List(r.Context(), principal(r.Context()), orgRef(r), ports.PermissionQuery{
		Type: q.filter("type"), Q: q.filter("q"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toPermissionJSON)
}

// createPermission handles POST /api/v1/permissions and
// POST /api/v1/organizations/{orgId}/permissions.
func (s *server) createPermission(w http.ResponseWriter, r *http.Request) {
	var req createPermissionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.svc.Permissions.Create(r.Context(), principal(r.Context()), orgRef(r), ports.CreatePermission{
		Key: req.Key, Description: req.Description,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.EscapedPath()+"/"+p.Key().String())
	s.writeTagged(w, r, http.StatusCreated, p.Version(), toPermissionJSON(p))
}

// getPermission handles GET /api/v1/permissions/{permissionKey} and
// GET /api/v1/organizations/{orgId}/permissions/{permissionKey}.
func (s *server) getPermission(w http.ResponseWriter, r *http.Request) {
	p, err := s.svc.Permissions.Get(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "permissionKey"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, p.Version(), toPermissionJSON(p))
}

// updatePermission handles PATCH /api/v1/permissions/{permissionKey} and
// PATCH /api/v1/organizations/{orgId}/permissions/{permissionKey}. The
// description is the only changeable field, so the body must carry it.
func (s *server) updatePermission(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updatePermissionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Description == nil {
		s.writeError(w, r, domain.Invalid("description", "is required"))
		return
	}
	p, err := s.svc.Permissions.Update(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "permissionKey"), *req.Description, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, p.Version(), toPermissionJSON(p))
}

// deletePermission handles DELETE /api/v1/permissions/{permissionKey} and
// DELETE /api/v1/organizations/{orgId}/permissions/{permissionKey}.
func (s *server) deletePermission(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Permissions.Delete(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "permissionKey"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
