package httpapi

import (
	"net/http"

	"github.com/orgstack/orgstack/ports"
)

// checkItem is one permission check: user_id, or subject with an optional
// issuer (default the caller's), and the permission.
type checkItem struct {
	UserID     string `json:"user_id" text:"nonempty"`
	Subject    string `json:"subject" text:"nonempty"`
	Issuer     string `json:"issuer" text:"nonempty"`
	Permission string `json:"permission"`
}

func (c checkItem) request() ports.CheckRequest {
	return ports.CheckRequest{UserID: c.UserID, Subject: c.Subject, Issuer: c.Issuer, Permission: c.Permission}
}

func (c checkItem) isZero() bool { return c == checkItem{} }

// checkRequest is the body of POST …/check: a single check, or a batch in
// "checks" (never both).
type checkRequest struct {
	UserID     string       `json:"user_id" text:"nonempty"`
	Subject    string       `json:"subject" text:"nonempty"`
	Issuer     string       `json:"issuer" text:"nonempty"`
	Permission string       `json:"permission"`
	Checks     *[]checkItem `json:"checks"`
}

func (c checkRequest) single() checkItem {
	return checkItem{UserID: c.UserID, Subject: c.Subject, Issuer: c.Issuer, Permission: c.Permission}
}

// checkResultJSON answers one check.
type checkResultJSON struct {
	Allowed   bool     `json:"allowed"`
	GrantedBy []string `json:"granted_by"`
}

type batchResultJSON struct {
	Results []checkResultJSON `json:"results"`
}

func toCheckResultJSON(r ports.CheckResult) checkResultJSON {
	return checkResultJSON{Allowed: r.Allowed, GrantedBy: roleKeys(r.GrantedBy)}
}

// check handles POST /api/v1/check and
// POST /api/v1/organizations/{orgId}/check.
func (s *server) check(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, p, org := r.Context(), principal(r.Context()), orgRef(r)
	if req.Checks == nil {
		res, err := s.svc.Checks.Check(ctx, p, org, req.single().request())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.checkEv != nil {
			s.checkEv.CheckDecision(res.Allowed)
		}
		s.writeData(w, r, http.StatusOK, toCheckResultJSON(res))
		return
	}
	if !req.single().isZero() {
		s.writeError(w, r, shapeError("/checks", "cannot be combined with the fields of a single check"))
		return
	}
	reqs := make([]ports.CheckRequest, len(*req.Checks))
	for i, c := range *req.Checks {
		reqs[i] = c.request()
	}
	res, err := s.svc.Checks.CheckBatch(ctx, p, org, reqs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := batchResultJSON{Results: make([]checkResultJSON, len(res))}
	for i, c := range res {
		out.Results[i] = toCheckResultJSON(c)
		if s.checkEv != nil {
			s.checkEv.CheckDecision(c.Allowed)
		}
	}
	s.writeData(w, r, http.StatusOK, out)
}
