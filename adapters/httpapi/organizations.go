package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// organizationJSON is the organization representation.
type organizationJSON struct {
	ID        string            `json:"id"`
	Slug      string            `json:"slug"`
	Name      string            `json:"name"`
	Status    string            `json:"status"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Version   int64             `json:"version"`
}

func toOrganizationJSON(o *domain.Organization) organizationJSON {
	md := o.Metadata()
	if md == nil {
		md = map[string]string{}
	}
	return organizationJSON{
		ID: o.ID(), Slug: string(o.Slug()), Name: o.Name(), Status: o.Status().String(),
		Metadata: md, CreatedAt: o.CreatedAt().UTC(), UpdatedAt: o.UpdatedAt().UTC(), Version: o.Version(),
	}
}

// createOrganizationRequest is the body of POST /organizations.
type createOrganizationRequest struct {
	Slug     string            `json:"slug"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// updateOrganizationRequest is the JSON merge patch of PATCH
// /organizations/{orgId}: metadata keys merge, a null value removes a key.
type updateOrganizationRequest struct {
	Slug     *string            `json:"slug"`
	Name     *string            `json:"name"`
	Status   *string            `json:"status"`
	Metadata map[string]*string `json:"metadata"`
}

// etag returns the strong entity tag of an organization version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// maxIfMatch is the longest If-Match value the API reads, as documented.
const maxIfMatch = 64

// ifVersion turns an If-Match header into the version the application must
// find: 0 when absent or "*", the version of a single strong tag "N", and
// -1 (which no organization has, so the update fails with 412) for
// anything else: weak tags, lists, malformed values. A value longer than
// maxIfMatch is a 400 invalid_parameter naming the header.
func ifVersion(r *http.Request) (int64, error) {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 {
		return 0, nil
	}
	v := strings.TrimSpace(strings.Join(vals, ","))
	if len(v) > maxIfMatch {
		detail := fmt.Sprintf("must be at most %d characters long", maxIfMatch)
		return 0, newAPIError("invalid_parameter", "If-Match "+detail, paramProblem("If-Match", detail))
	}
	if v == "*" {
		return 0, nil
	}
	if len(v) >= 3 && v[0] == '"' && v[len(v)-1] == '"' {
		if n, ok := parseInt(v[1 : len(v)-1]); ok && n > 0 {
			return int64(n), nil
		}
	}
	return -1, nil
}

func (s *server) writeOrganization(w http.ResponseWriter, r *http.Request, status int, o *domain.Organization) {
	s.writeTagged(w, r, status, o.Version(), toOrganizationJSON(o))
}

// createOrganization handles POST /api/v1/organizations.
func (s *server) createOrganization(w http.ResponseWriter, r *http.Request) {
	var req createOrganizationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.svc.Organizations.Create(r.Context(), principal(r.Context()), ports.CreateOrganization{
		Slug: req.Slug, Name: req.Name, Metadata: req.Metadata,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", BasePath+"/organizations/"+o.ID())
	s.writeOrganization(w, r, http.StatusCreated, o)
}

// listOrganizations handles GET /api/v1/organizations.
func (s *server) listOrganizations(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.OrganizationList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Organizations.List(r.Context(), principal(r.Context()), ports.OrganizationQuery{
		Q: q.filter("q"), Status: q.filter("status"), PageRequest: q.PageRequest,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toOrganizationJSON)
}

// getOrganization handles GET /api/v1/organizations/{orgId}.
func (s *server) getOrganization(w http.ResponseWriter, r *http.Request) {
	o, err := s.svc.Organizations.Get(r.Context(), principal(r.Context()), orgRef(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrganization(w, r, http.StatusOK, o)
}

// updateOrganization handles PATCH /api/v1/organizations/{orgId}.
func (s *server) updateOrganization(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateOrganizationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.svc.Organizations.Update(r.Context(), principal(r.Context()), orgRef(r), domain.OrganizationChanges{
		Name: req.Name, Slug: req.Slug, Status: req.Status, Metadata: req.Metadata,
	}, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrganization(w, r, http.StatusOK, o)
}

// deleteOrganization handles DELETE /api/v1/organizations/{orgId}.
func (s *server) deleteOrganization(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Organizations.Delete(r.Context(), principal(r.Context()), orgRef(r), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
