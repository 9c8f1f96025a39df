package httpapi

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// auditEventJSON is an audit event as the API shows it. Its shape maps
// one to one onto a CloudEvents-style webhook body: id, time
// (occurred_at), type (action), subject (target) and the rest as data.
type auditEventJSON struct {
	ID             string            `json:"id"`
	OccurredAt     time.Time         `json:"occurred_at"`
	OrganizationID *string           `json:"organization_id"`
	Action         string            `json:"action"`
	Actor          auditActorJSON    `json:"actor"`
	Target         auditTargetJSON   `json:"target"`
	Changes        []auditChangeJSON `json:"changes"`
	Request        auditRequestJSON  `json:"request"`
}

type auditActorJSON struct {
	Type          string  `json:"type"`
	Issuer        *string `json:"issuer"`
	Subject       *string `json:"subject"`
	UserID        *string `json:"user_id"`
	PlatformAdmin bool    `json:"platform_admin"`
}

type auditTargetJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type auditChangeJSON struct {
	Field    string `json:"field"`
	Before   any    `json:"before"`
	After    any    `json:"after"`
	Redacted bool   `json:"redacted"`
}

type auditRequestJSON struct {
	RequestID *string `json:"request_id"`
	TraceID   *string `json:"trace_id"`
	ClientIP  *string `json:"client_ip"`
}

func toAuditEventJSON(e *domain.AuditEvent) auditEventJSON {
	a, t, req := e.Actor(), e.Target(), e.Request()
	cs := e.Changes()
	changes := make([]auditChangeJSON, len(cs))
	for i, c := range cs {
		changes[i] = auditChangeJSON{Field: c.Field, Before: c.Before, After: c.After, Redacted: c.Redacted}
	}
	return auditEventJSON{
		ID: e.ID(), OccurredAt: e.OccurredAt().UTC(), OrganizationID: optString(e.OrgID()), Action: string(e.Action()),
		Actor: auditActorJSON{Type: string(a.Kind), Issuer: optString(a.Issuer), Subject: optString(a.Subject),
			UserID: optString(a.UserID), PlatformAdmin: a.PlatformAdmin},
		Target:  auditTargetJSON{Type: t.Type, ID: t.ID},
		Changes: changes,
		Request: auditRequestJSON{RequestID: optString(req.RequestID), TraceID: optString(req.TraceID), ClientIP: optString(req.ClientIP)},
	}
}

// auditParams are the query parameters of the audit lists; the platform's
// list also takes organization_id.
var auditParams = []string{"occurred_after", "occurred_before", "actor_user_id", "action", "target_type", "target_id", "size", "cursor"}

// parseAuditQuery reads the query of an audit list. Unknown, repeated or
// malformed parameters, and page (these lists are cursor-paged), are a 400
// invalid_parameter naming each one.
func parseAuditQuery(r *http.Request, admin bool) (ports.AuditQuery, error) {
	var q ports.AuditQuery
	values, problems := parseQuery(r.URL.RawQuery)
	bad := func(name, detail string) { problems = append(problems, paramProblem(name, detail)) }
	known := auditParams
	if admin {
		known = append(slices.Clone(auditParams), "organization_id")
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		if name == "page" {
			bad(name, "is not supported here: this list is paged by cursor (use next_cursor or the Link rel=\"next\")")
			continue
		}
		if !slices.Contains(known, name) {
			bad(name, "is not a known parameter")
			continue
		}
		if len(vs) != 1 {
			bad(name, "must be given at most once")
			continue
		}
		v := vs[0]
		switch name {
		case "occurred_after", "occurred_before":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(name, "must be an RFC 3339 date-time")
				continue
			}
			if name == "occurred_after" {
				q.OccurredAfter = t
			} else {
				q.OccurredBefore = t
			}
		case "size":
			n, ok := parseInt(v)
			if !ok || n < 1 || n > ports.MaxPageSize {
				bad(name, "must be an integer from 1 to "+strconv.Itoa(ports.MaxPageSize))
				continue
			}
			q.Size = n
		case "cursor":
			q.Cursor = v
		case "actor_user_id":
			q.ActorUserID = v
		case "action":
			q.Action = v
		case "target_type":
			q.TargetType = v
		case "target_id":
			q.TargetID = v
		case "organization_id":
			q.OrgID = v
		}
	}
	if len(problems) > 0 {
		return q, paramError(problems)
	}
	return q, nil
}

func paramError(problems []fieldProblem) error {
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = strconv.Quote(p.Parameter)
	}
	return newAPIError("invalid_parameter", "invalid query parameter: "+strings.Join(names, ", "), problems...)
}

// asParamError turns the use case's validation of the query (a cursor it
// did not issue, an action outside the catalogue) into the same 400 as the
// parser's, naming the parameters.
func asParamError(err error) error {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	ps := make([]fieldProblem, len(ve.Fields))
	for i, f := range ve.Fields {
		ps[i] = paramProblem(f.Field, f.Detail)
	}
	return paramError(ps)
}

type auditPagination struct {
	Size       int     `json:"size"`
	NextCursor *string `json:"next_cursor"`
}

type auditListBody struct {
	Data       []auditEventJSON `json:"data"`
	Pagination auditPagination  `json:"pagination"`
}

// wantsNDJSON reports whether the client asked for the NDJSON export.
func wantsNDJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), ndjson) {
				return true
			}
		}
	}
	return false
}

const ndjson = "application/x-ndjson"

// listAuditEvents handles GET /api/v1/audit-events and
// GET /api/v1/organizations/{orgId}/audit-events (audit:read).
func (s *server) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	s.auditList(w, r, false)
}

// listAllAuditEvents handles GET /api/v1/admin/audit-events (platform
// administrators).
func (s *server) listAllAuditEvents(w http.ResponseWriter, r *http.Request) {
	s.auditList(w, r, true)
}

func (s *server) auditList(w http.ResponseWriter, r *http.Request, admin bool) {
	q, err := parseAuditQuery(r, admin)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, p := r.Context(), principal(r.Context())
	if wantsNDJSON(r) {
		s.exportAudit(w, r, q, admin)
		return
	}
	var page ports.AuditPage
	if admin {
		page, err = s.svc.Audit.ListAll(ctx, p, q)
	} else {
		page, err = s.svc.Audit.List(ctx, p, orgRef(r), q)
	}
	if err != nil {
		s.writeError(w, r, asParamError(err))
		return
	}
	body := auditListBody{Data: make([]auditEventJSON, 0, len(page.Items)), Pagination: auditPagination{Size: page.Size}}
	for _, e := range page.Items {
		body.Data = append(body.Data, toAuditEventJSON(e))
	}
	if page.NextCursor != "" {
		body.Pagination.NextCursor = &page.NextCursor
		w.Header().Set("Link", "<"+nextCursorURL(r.URL, page.NextCursor, page.Size)+`>; rel="next"`)
	}
	s.writeJSON(w, r, http.StatusOK, body)
}

func nextCursorURL(u *url.URL, cursor string, size int) string {
	v := u.Query()
	v.Set("cursor", cursor)
	v.Set("size", strconv.Itoa(size))
	return u.EscapedPath() + "?" + v.Encode()
}

// exportAudit streams every matching event as NDJSON, one JSON object per
// line, newest first. The use case reads them in bounded batches and each
// line is written as it comes, so memory stays bounded. Errors found before
// the first line (authorization, a bad parameter) are problems as usual; a
// failure after it ends the stream early (and is logged).
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request, q ports.AuditQuery, admin bool) {
	ctx, p := r.Context(), principal(r.Context())
	started := false
	flusher, _ := w.(http.Flusher)
	n := 0
	start := func() {
		started = true
		w.Header().Set("Content-Type", ndjson)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
	emit := func(e *domain.AuditEvent) error {
		if !started {
			start()
		}
		b, err := json.Marshal(toAuditEventJSON(e))
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		if n++; n%100 == 0 && flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	var err error
	if admin {
		err = s.svc.Audit.ExportAll(ctx, p, q, emit)
	} else {
		err = s.svc.Audit.Export(ctx, p, orgRef(r), q, emit)
	}
	switch {
	case err != nil && !started:
		s.writeError(w, r, asParamError(err))
	case err != nil:
		s.log.Warn("audit export ended early", zap.String("request_id", requestID(ctx)), zap.Error(err))
	case !started:
		start()
	}
}
