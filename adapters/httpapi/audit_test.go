package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/orgstack/orgstack/domain"
)

// auditEvents lists path (an audit list with its query) as tok and
// returns the events, failing unless the answer is 200.
func (e *env) auditEvents(t *testing.T, tok, path string) []obj {
	t.Helper()
	res, body := e.do(t, http.MethodGet, path, tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	var out []obj
	for _, it := range listData(t, body) {
		out = append(out, it.(obj))
	}
	return out
}

func eventActions(es []obj) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e["action"].(string)
	}
	return out
}

// Every route that changes state records exactly its actions, newest
// first, in the organization's log; and no mutating route of the router is
// left out of the table.
func TestAuditEveryMutatingRouteRecordsItsAction(t *testing.T) {
	e := newEnv(t)
	owner, root := e.token("au-owner"), e.token("au-root", withAdmin())
	org := e.createOrg(t, owner, "au-acme")
	base := "/api/v1/organizations/" + org
	bob := e.addMember(t, owner, org, "au-bob", "member")
	dave := e.addMember(t, owner, org, "au-dave", "member")
	res, body := e.do(t, http.MethodPost, base+"/webhooks", owner, obj{"url": "https://hooks.example.test/in", "event_types": []string{"*"}})
	wantStatus(t, res, body, http.StatusCreated)
	hook := data(t, body)["id"].(string)
	if got := eventActions(e.auditEvents(t, owner, base+"/audit-events?size=1")); !slices.Equal(got, []string{"webhook.created"}) {
		t.Errorf("POST webhooks: newest event %v, want webhook.created", got)
	}
	seen := len(e.auditEvents(t, owner, base+"/audit-events?size=100"))
	steps := []struct {
		method, route, path string
		tok                 string
		body                any
		want                []string // newest first
	}{
		{http.MethodPatch, "/api/v1/organizations/{orgId}", base, owner, obj{"name": "Acme 2"}, []string{"organization.updated"}},
		{http.MethodPost, "/members", base + "/members", owner, obj{"subject": "au-carol", "roles": []string{"member"}}, []string{"member.added", "user.created"}},
		{http.MethodPatch, "/members/{userId}", base + "/members/" + bob, owner, obj{"roles": []string{"admin"}}, []string{"member.roles_changed"}},
		{http.MethodPatch, "/members/{userId}", base + "/members/" + bob, owner, obj{"status": "suspended"}, []string{"member.status_changed"}},
		{http.MethodPatch, "/members/{userId}", base + "/members/" + bob, owner, obj{"status": "active", "roles": []string{"member"}}, []string{"member.updated"}},
		{http.MethodPost, "/permissions", base + "/permissions", owner, obj{"key": "invoices:pay", "description": "Pay"}, []string{"permission.created"}},
		{http.MethodPatch, "/permissions/{permissionKey}", base + "/permissions/invoices:pay", owner, obj{"description": "Pay invoices"}, []string{"permission.updated"}},
		{http.MethodPost, "/roles", base + "/roles", owner, obj{"key": "payer", "name": "Payer", "permissions": []string{"invoices:pay"}}, []string{"role.created"}},
		{http.MethodPatch, "/roles/{roleKey}", base + "/roles/payer", owner, obj{"permissions": []string{}}, []string{"role.updated"}},
		{http.MethodDelete, "/roles/{roleKey}", base + "/roles/payer", owner, nil, []string{"role.deleted"}},
		{http.MethodDelete, "/permissions/{permissionKey}", base + "/permissions/invoices:pay", owner, nil, []string{"permission.deleted"}},
		{http.MethodPut, "/identity-provider", base + "/identity-provider", owner, obj{"issuer": e.tenantIss, "jwks_url": e.tenantIss + "/jwks", "audiences": []string{"a"}, "algorithms": []string{"RS256"}}, []string{"identity_provider.created"}},
		{http.MethodPut, "/identity-provider", base + "/identity-provider", owner, obj{"issuer": e.tenantIss, "jwks_url": e.tenantIss + "/jwks", "audiences": []string{"b"}, "algorithms": []string{"RS256"}}, []string{"identity_provider.updated"}},
		{http.MethodDelete, "/identity-provider", base + "/identity-provider", owner, nil, []string{"identity_provider.deleted"}},
		{http.MethodDelete, "/members/{userId}", base + "/members/" + bob, owner, nil, []string{"member.removed"}},
		{http.MethodPatch, "/webhooks/{webhookId}", base + "/webhooks/" + hook, owner, obj{"description": "CRM"}, []string{"webhook.updated"}},
		{http.MethodPost, "/webhooks/{webhookId}/rotate-secret", base + "/webhooks/" + hook + "/rotate-secret", owner, nil, []string{"webhook.secret_rotated"}},
		{http.MethodDelete, "/webhooks/{webhookId}", base + "/webhooks/" + hook, owner, nil, []string{"webhook.deleted"}},
		// The user lifecycle: user events belong to no organization, except
		// the memberships an erasure removes.
		{http.MethodPatch, "/api/v1/me", "/api/v1/me", e.token("au-dave"), obj{"metadata": obj{"team": "payments"}}, []string{"user.updated"}},
		{http.MethodPatch, "/api/v1/admin/users/{userId}", "/api/v1/admin/users/" + dave, root, obj{"status": "deactivated"}, []string{"user.deactivated"}},
		{http.MethodPatch, "/api/v1/admin/users/{userId}", "/api/v1/admin/users/" + dave, root, obj{"status": "active"}, []string{"user.activated"}},
		{http.MethodDelete, "/api/v1/admin/users/{userId}", "/api/v1/admin/users/" + dave, root, nil, []string{"user.erased", "member.removed"}},
	}
	covered := map[string]bool{"POST /api/v1/organizations": true, "DELETE /api/v1/organizations/{orgId}": true,
		"POST /api/v1/organizations/{orgId}/webhooks": true, "POST /api/v1/webhooks": true}
	for _, s := range steps {
		res, body := e.do(t, s.method, s.path, s.tok, s.body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, res.StatusCode, body)
		}
		all := e.auditEvents(t, root, "/api/v1/admin/audit-events?size=100")
		orgEvents := e.auditEvents(t, owner, base+"/audit-events?size=100")
		fresh := len(orgEvents) - seen
		// User events belong to no organization: count them from the platform's view.
		var got []string
		for _, ev := range all {
			if ev["organization_id"] == org || strings.HasPrefix(ev["action"].(string), "user.") {
				got = append(got, ev["action"].(string))
			}
		}
		n := len(s.want)
		if len(got) < n || !slices.Equal(got[:n], s.want) {
			t.Errorf("%s %s: newest events %v, want %v", s.method, s.path, got[:min(n, len(got))], s.want)
		}
		wantOrg := n
		for _, a := range s.want {
			if strings.HasPrefix(a, "user.") {
				wantOrg--
			}
		}
		if fresh != wantOrg {
			t.Errorf("%s %s: %d new organization events, want %d", s.method, s.path, fresh, wantOrg)
		}
		seen = len(orgEvents)
		covered[s.method+" "+s.route] = true
		if !strings.HasPrefix(s.route, "/api/v1/") {
			covered[s.method+" /api/v1/organizations/{orgId}"+s.route] = true
			covered[s.method+" /api/v1"+s.route] = true
		}
	}
	// Deleting the organization: its events, the deletion last, survive.
	res, body = e.do(t, http.MethodDelete, base, owner, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	after := e.auditEvents(t, root, "/api/v1/admin/audit-events?size=100&organization_id="+org)
	if len(after) != seen+1 || after[0]["action"] != "organization.deleted" {
		t.Errorf("after deletion: %d events (newest %v), want %d with organization.deleted first", len(after), after[0]["action"], seen+1)
	}

	// Routes that change nothing: checks and dry runs.
	notChanges := map[string]bool{}
	for _, p := range []string{"/api/v1", "/api/v1/organizations/{orgId}"} {
		notChanges["POST "+p+"/check"] = true
		notChanges["POST "+p+"/identity-provider/test"] = true
		// Replays send events again; they change no configuration (their
		// deliveries are listed under the webhook).
		notChanges["POST "+p+"/webhooks/{webhookId}/replay"] = true
		notChanges["POST "+p+"/webhooks/{webhookId}/deliveries/{deliveryId}/replay"] = true
	}
	notChanges["POST /api/v1/admin/token-check"] = true
	srv := &server{}
	srv.routes()
	_ = srv.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		ms, merr := route.GetMethods()
		if err != nil || merr != nil {
			return nil
		}
		for _, m := range ms {
			if m == http.MethodGet || m == http.MethodHead {
				continue
			}
			k := m + " " + tpl
			if !covered[k] && !notChanges[k] {
				t.Errorf("mutating route %s is not in the audit table", k)
			}
		}
		return nil
	})
}

func TestAuditEventsList(t *testing.T) {
	e := newEnv(t)
	owner, root := e.token("al-owner"), e.token("al-root", withAdmin())
	org := e.createOrg(t, owner, "al-acme")
	other := e.createOrg(t, e.token("al-stranger"), "al-other")
	base := "/api/v1/organizations/" + org
	ownerID := e.userID(t, owner)
	bob := e.addMember(t, owner, org, "al-bob", "member")
	memberTok := e.token("al-bob")
	for _, k := range []string{"a", "b", "c"} {
		res, body := e.do(t, http.MethodPost, base+"/roles", owner, obj{"key": "r-" + k, "name": "R " + k}, "X-Request-ID", "req-role-"+k)
		wantStatus(t, res, body, http.StatusCreated)
	}
	res, body := e.do(t, http.MethodPatch, base+"/members/"+bob, owner, obj{"roles": []string{"r-a"}})
	wantStatus(t, res, body, http.StatusOK)

	t.Run("newest first with who, what and where", func(t *testing.T) {
		es := e.auditEvents(t, owner, base+"/audit-events")
		want := []string{"member.roles_changed", "role.created", "role.created", "role.created", "member.added", "user.created", "member.added", "organization.created"}
		want = slices.DeleteFunc(want, func(s string) bool { return s == "user.created" })
		if got := eventActions(es); !slices.Equal(got, want) {
			t.Fatalf("actions = %v, want %v", got, want)
		}
		ev := es[0]
		actor := ev["actor"].(obj)
		if actor["type"] != "user" || actor["user_id"] != ownerID || actor["subject"] != "al-owner" || actor["platform_admin"] != false {
			t.Errorf("actor = %v", actor)
		}
		if tg := ev["target"].(obj); tg["type"] != "member" || tg["id"] != bob {
			t.Errorf("target = %v", tg)
		}
		ch := ev["changes"].([]any)[0].(obj)
		if ch["field"] != "roles" || !slices.Equal(toStrings(ch["before"]), []string{"member"}) || !slices.Equal(toStrings(ch["after"]), []string{"r-a"}) {
			t.Errorf("changes = %v", ev["changes"])
		}
		if rq := es[1]["request"].(obj); rq["request_id"] != "req-role-c" || rq["client_ip"] != "127.0.0.1" {
			t.Errorf("request = %v, want the request ID sent and the loopback address", rq)
		}
	})
	t.Run("token form", func(t *testing.T) {
		es := e.auditEvents(t, e.token("al-owner", withOrg(org)), "/api/v1/audit-events?action=role.created")
		if len(es) != 3 {
			t.Errorf("token form: %d role.created events, want 3", len(es))
		}
	})
	t.Run("filters", func(t *testing.T) {
		cases := map[string]int{
			"action=role.created":           3,
			"action=member.":                3,
			"target_type=member":            3,
			"target_id=" + bob:              2,
			"actor_user_id=" + ownerID:      7,
			"actor_user_id=nobody":          0,
			"target_type=role&action=role.": 3,
		}
		for q, n := range cases {
			if es := e.auditEvents(t, owner, base+"/audit-events?"+q); len(es) != n {
				t.Errorf("%s: %d events, want %d", q, len(es), n)
			}
		}
		all := e.auditEvents(t, owner, base+"/audit-events")
		mid := all[3]["occurred_at"].(string)
		older := e.auditEvents(t, owner, base+"/audit-events?occurred_before="+url.QueryEscape(mid))
		newer := e.auditEvents(t, owner, base+"/audit-events?occurred_after="+url.QueryEscape(mid))
		for _, ev := range older {
			if ev["occurred_at"].(string) >= mid {
				t.Errorf("occurred_before: %v not before %s", ev["occurred_at"], mid)
			}
		}
		for _, ev := range newer {
			if ev["occurred_at"].(string) <= mid {
				t.Errorf("occurred_after: %v not after %s", ev["occurred_at"], mid)
			}
		}
	})
	t.Run("cursor pages and Link", func(t *testing.T) {
		all := eventActionsIDs(e.auditEvents(t, owner, base+"/audit-events"))
		var got []string
		path := base + "/audit-events?size=3"
		for range 10 {
			res, body := e.do(t, http.MethodGet, path, owner, nil)
			wantStatus(t, res, body, http.StatusOK)
			page := decodeJSONBody[obj](t, body)
			for _, it := range page["data"].([]any) {
				got = append(got, it.(obj)["id"].(string))
			}
			pg := page["pagination"].(obj)
			if _, ok := pg["total_items"]; ok {
				t.Error("audit pages carry no totals")
			}
			link := res.Header.Get("Link")
			if pg["next_cursor"] == nil {
				if link != "" {
					t.Errorf("last page has Link %q", link)
				}
				break
			}
			if !strings.HasSuffix(link, `>; rel="next"`) || !strings.Contains(link, "cursor="+url.QueryEscape(pg["next_cursor"].(string))) {
				t.Fatalf("Link = %q, want rel=next with the cursor", link)
			}
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
		if !slices.Equal(got, all) {
			t.Errorf("paged IDs = %v, want %v", got, all)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for q, field := range map[string]string{
			"page=2":                      "page",
			"cursor=not-a-cursor":         "cursor",
			"cursor=bm90LWEtY3Vyc29y":     "cursor", // base64url of not-a-cursor
			"action=organization.renamed": "action",
			"action=nothing.":             "action",
			"target_type=planet":          "target_type",
			"occurred_after=yesterday":    "occurred_after",
			"size=0":                      "size",
			"size=101":                    "size",
			"organization_id=" + org:      "organization_id",
			"colour=red":                  "colour",
		} {
			res, body := e.do(t, http.MethodGet, base+"/audit-events?"+q, owner, nil)
			p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
			if got := problemFields(p); !slices.Equal(got, []string{field}) {
				t.Errorf("%s: problem names %v, want %s", q, got, field)
			}
		}
	})
	t.Run("access", func(t *testing.T) {
		res, body := e.do(t, http.MethodGet, base+"/audit-events", "", nil)
		wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		res, body = e.do(t, http.MethodGet, base+"/audit-events", memberTok, nil)
		wantProblem(t, res, body, http.StatusForbidden, "forbidden")
		res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+other+"/audit-events", owner, nil)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
		res, body = e.do(t, http.MethodGet, "/api/v1/admin/audit-events", owner, nil)
		wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
		res, body = e.do(t, http.MethodGet, "/api/v1/admin/audit-events", "", nil)
		wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		// No event of another organization ever shows.
		for _, ev := range e.auditEvents(t, owner, base+"/audit-events?size=100") {
			if ev["organization_id"] != org {
				t.Errorf("event of %v in %s's log", ev["organization_id"], org)
			}
		}
	})
	t.Run("platform view", func(t *testing.T) {
		all := e.auditEvents(t, root, "/api/v1/admin/audit-events?size=100")
		orgs := map[any]bool{}
		for _, ev := range all {
			orgs[ev["organization_id"]] = true
		}
		if !orgs[org] || !orgs[other] || !orgs[nil] {
			t.Errorf("platform view covers %v, want both organizations and user events", orgs)
		}
		one := e.auditEvents(t, root, "/api/v1/admin/audit-events?size=100&organization_id="+other)
		if len(one) != 2 || one[0]["organization_id"] != other {
			t.Errorf("organization filter: %v", eventActions(one))
		}
	})
	t.Run("ndjson export", func(t *testing.T) {
		res, body := e.do(t, http.MethodGet, base+"/audit-events?action=role.", owner, nil, "Accept", "application/x-ndjson")
		wantStatus(t, res, body, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type = %q", ct)
		}
		var lines []obj
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var ev obj
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, ev)
		}
		if got := eventActions(lines); !slices.Equal(got, []string{"role.created", "role.created", "role.created"}) {
			t.Errorf("export = %v", got)
		}
		res, body = e.do(t, http.MethodGet, base+"/audit-events", memberTok, nil, "Accept", "application/x-ndjson")
		wantProblem(t, res, body, http.StatusForbidden, "forbidden")
		res, body = e.do(t, http.MethodGet, "/api/v1/admin/audit-events?organization_id="+other, root, nil, "Accept", "application/x-ndjson")
		wantStatus(t, res, body, http.StatusOK)
		if n := bytes.Count(body, []byte("\n")); n != 2 {
			t.Errorf("admin export of one organization: %d lines, want 2", n)
		}
	})
}

// Just-in-time membership and role sync are recorded with the identity
// provider as the actor, and a user's personal fields never reach an event.
func TestAuditJustInTimeAndPersonalData(t *testing.T) {
	pe := newProviderEnv(t)
	root := pe.token("jit-root", withAdmin())
	tok := pe.tenantToken("jit-dana", map[string]any{"groups": []string{"admins"}, "email": "dana@example.test", "name": "Dana Secretname"})
	res, body := pe.do(t, http.MethodGet, "/api/v1/members", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	tok = pe.tenantToken("jit-dana", map[string]any{"groups": []string{}, "email": "dana@example.test", "name": "Dana Secretname"})
	res, body = pe.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	es := pe.auditEvents(t, root, "/api/v1/admin/audit-events?size=100")
	var jit []obj
	for _, ev := range es {
		if a := ev["actor"].(obj); a["subject"] == "jit-dana" {
			jit = append(jit, ev)
		}
	}
	if got := eventActions(jit); !slices.Equal(got, []string{"member.roles_changed", "member.added", "user.created"}) {
		t.Fatalf("events of dana's tokens = %v", got)
	}
	for _, ev := range jit {
		if a := ev["actor"].(obj); a["type"] != string(domain.ActorIdentityProvider) || a["issuer"] != pe.tenantIss {
			t.Errorf("%s: actor %v, want the identity provider", ev["action"], a)
		}
	}
	raw, _ := json.Marshal(es)
	for _, personal := range []string{"dana@example.test", "Secretname"} {
		if bytes.Contains(raw, []byte(personal)) {
			t.Errorf("an event holds personal data %q", personal)
		}
	}
}

func eventActionsIDs(es []obj) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e["id"].(string)
	}
	return out
}

// The catalogue of actions is published in the document (the AuditAction
// enum, the x-audit-actions table and the target_type filter) exactly as
// the domain defines it.
func TestOpenAPIAuditCatalogue(t *testing.T) {
	s := mustSpec(t)
	var want, wantTypes []string
	for _, a := range domain.AuditActions() {
		want = append(want, string(a))
		if !slices.Contains(wantTypes, a.TargetType()) {
			wantTypes = append(wantTypes, a.TargetType())
		}
	}
	var enum []string
	for _, v := range s.doc.Components.Schemas["AuditAction"].Value.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, want) {
		t.Errorf("AuditAction enum = %v, domain catalogue %v", enum, want)
	}
	raw, _ := json.Marshal(s.doc.Extensions["x-audit-actions"])
	var rows []map[string]string
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatalf("x-audit-actions: %v", err)
	}
	var listed []string
	for _, r := range rows {
		listed = append(listed, r["action"])
		if r["target_type"] != domain.AuditAction(r["action"]).TargetType() || r["description"] == "" {
			t.Errorf("x-audit-actions row %v", r)
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("x-audit-actions = %v, domain catalogue %v", listed, want)
	}
	var types []string
	for _, v := range s.doc.Components.Parameters["TargetTypeFilter"].Value.Schema.Value.Enum {
		types = append(types, v.(string))
	}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("target_type enum = %v, want %v", types, wantTypes)
	}

	// Webhook event types are the same catalogue: the document lists
	// exactly the domain's types, and its pattern accepts each of them, each
	// prefix and "*", and nothing else of the audit catalogue.
	wh := s.doc.Components.Schemas["WebhookEventType"].Value
	raw, _ = json.Marshal(wh.Extensions["x-event-types"])
	var evTypes []string
	if err := json.Unmarshal(raw, &evTypes); err != nil {
		t.Fatalf("x-event-types: %v", err)
	}
	if !slices.Equal(evTypes, domain.WebhookEventTypes()) {
		t.Errorf("x-event-types = %v, domain %v", evTypes, domain.WebhookEventTypes())
	}
	re := regexp.MustCompile(wh.Pattern)
	for _, a := range domain.AuditActions() {
		deliverable := slices.Contains(domain.WebhookEventTypes(), string(a))
		if re.MatchString(string(a)) != deliverable {
			t.Errorf("WebhookEventType pattern on %q: %v, want %v", a, !deliverable, deliverable)
		}
		if domain.ValidateEventTypePattern(string(a)) == nil != deliverable {
			t.Errorf("the domain accepts %q: %v, want %v", a, !deliverable, deliverable)
		}
	}
}
