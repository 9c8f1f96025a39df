package httpapi

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The security suites (matrix, isolation, escalation, mass assignment) share
// these fixtures: an organization populated through the API, with an owner,
// an admin, a plain member, a target member holding a custom role, custom
// permissions and roles, used and unused.

// secOrg is one populated organization. Its people are the subjects
// prefix+"-owner", "-admin", "-member" and "-target"; a user may belong to
// many organizations, so fixtures built with the same prefix share them.
type secOrg struct {
	ID, Slug                                 string
	OwnerSub, AdminSub, MemberSub, TargetSub string
	OwnerID, AdminID, MemberID, TargetID     string // user IDs; the target holds member + Role
	// Custom permissions and roles: Perm is granted by Role (held by the
	// target), SparePerm and SpareRole are used by nothing.
	Perm, SparePerm, Role, SpareRole string
	// Webhook is an endpoint subscribed to everything; Delivery is the
	// delivery of its own webhook.created event.
	Webhook, Delivery string
}

// secFixtures builds populated organizations in one environment.
type secFixtures struct {
	e   *env
	n   int
	tag string
}

func newSecFixtures(e *env, tag string) *secFixtures { return &secFixtures{e: e, tag: tag} }

// next returns a fresh suffix, unique in the environment.
func (f *secFixtures) next() string {
	f.n++
	return fmt.Sprintf("%s%d", f.tag, f.n)
}

// org creates an organization whose people have subjects prefix+"-…" and
// populates it through the API, as its owner.
func (f *secFixtures) org(t testing.TB, prefix string) *secOrg {
	t.Helper()
	e := f.e
	o := &secOrg{
		Slug:     "sec-" + f.next(),
		OwnerSub: prefix + "-owner", AdminSub: prefix + "-admin", MemberSub: prefix + "-member", TargetSub: prefix + "-target",
		Perm: "invoices:approve", SparePerm: "invoices:spare", Role: "approver", SpareRole: "spare",
	}
	ownerTok := e.token(o.OwnerSub)
	o.ID = e.createOrg(t, ownerTok, o.Slug)
	o.OwnerID = e.userID(t, ownerTok)
	for _, p := range []string{o.Perm, o.SparePerm} {
		res, body := e.do(t, http.MethodPost, o.path("/permissions"), ownerTok, obj{"key": p, "description": "custom " + p})
		wantStatus(t, res, body, http.StatusCreated)
	}
	for _, r := range []struct {
		key    string
		grants []string
	}{{o.Role, []string{o.Perm}}, {o.SpareRole, []string{}}} {
		res, body := e.do(t, http.MethodPost, o.path("/roles"), ownerTok, obj{"key": r.key, "name": "Role " + r.key, "permissions": r.grants})
		wantStatus(t, res, body, http.StatusCreated)
	}
	o.AdminID = e.addMember(t, ownerTok, o.ID, o.AdminSub, "admin")
	o.MemberID = e.addMember(t, ownerTok, o.ID, o.MemberSub, "member")
	o.TargetID = e.addMember(t, ownerTok, o.ID, o.TargetSub, "member", o.Role)
	res, body := e.do(t, http.MethodPut, o.path("/identity-provider"), ownerTok, obj{
		"issuer":    "https://idp.example.test/" + o.Slug,
		"audiences": []string{"orgstack"}, "algorithms": []string{"RS256"},
		"jit": obj{"enabled": true, "role_claim": []string{"groups"}, "role_mapping": obj{"approvers": []string{o.Role}}},
	})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, o.path("/webhooks"), ownerTok, obj{"url": "https://hooks.example.test/" + o.Slug, "event_types": []string{"*"}})
	wantStatus(t, res, body, http.StatusCreated)
	o.Webhook = data(t, body)["id"].(string)
	res, body = e.do(t, http.MethodGet, o.path("/webhooks/"+o.Webhook+"/deliveries"), ownerTok, nil)
	wantStatus(t, res, body, http.StatusOK)
	o.Delivery = listData(t, body)[0].(obj)["id"].(string)
	return o
}

// path returns the explicit form of a tenant route of o.
func (o *secOrg) path(rel string) string { return "/api/v1/organizations/" + o.ID + rel }

// snapshot reads everything a caller can see of o, as its owner: the
// organization and full listings of its members, users, roles and
// permissions, its identity provider and its latest audit events.
func (o *secOrg) snapshot(t testing.TB, e *env) map[string][]any {
	t.Helper()
	tok := e.token(o.OwnerSub)
	out := map[string][]any{}
	res, body := e.do(t, http.MethodGet, o.path(""), tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	out["organization"] = []any{data(t, body)}
	for _, list := range []string{"members", "users", "roles", "permissions", "webhooks"} {
		res, body := e.do(t, http.MethodGet, o.path("/"+list+"?size=100"), tok, nil)
		wantStatus(t, res, body, http.StatusOK)
		out[list] = listData(t, body)
	}
	res, body = e.do(t, http.MethodGet, o.path("/identity-provider"), tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	out["identity-provider"] = []any{data(t, body)}
	// The audit log too: a refused request records nothing.
	res, body = e.do(t, http.MethodGet, o.path("/audit-events?size=100"), tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	out["audit-events"] = listData(t, body)
	return out
}

// wantUnchanged compares two snapshots row by row.
func wantUnchanged(t testing.TB, before, after map[string][]any) {
	t.Helper()
	for _, k := range sortedKeys(before) {
		b, a := before[k], after[k]
		if len(b) != len(a) {
			t.Errorf("%s: %d rows before, %d after", k, len(b), len(a))
		}
		for i := range min(len(a), len(b)) {
			if !reflect.DeepEqual(b[i], a[i]) {
				t.Errorf("%s row %d changed:\n before %v\n after  %v", k, i, b[i], a[i])
			}
		}
	}
}

// The principals of the authorization matrix, in column order.
const (
	pAnon = iota
	pOther
	pMember
	pAdmin
	pOwner
	pRoot
	nPrincipals
)

var principalNames = [nPrincipals]string{"anonymous", "other-org-member", "member", "admin", "owner", "platform-admin"}

// principalToken returns the token of principal p for organization o:
// unbound for the explicit path form, bound to o for the token form.
func principalToken(e *env, p int, o *secOrg, bound bool) string {
	var opts []tokenOpt
	if bound {
		opts = append(opts, withOrg(o.ID))
	}
	switch p {
	case pOther:
		return e.token(subOutsider, opts...)
	case pMember:
		return e.token(o.MemberSub, opts...)
	case pAdmin:
		return e.token(o.AdminSub, opts...)
	case pOwner:
		return e.token(o.OwnerSub, opts...)
	case pRoot:
		return e.token(subRoot, append(opts, withAdmin())...)
	}
	return ""
}

// The subjects of the matrix principals that are not people of the
// organization under test: the owner of another organization and a
// platform administrator who is a member of none.
const (
	subOutsider = "other-owner"
	subRoot     = "platform-root"
)

// matrixRow is one route of the authorization matrix. Tenant rows are run in
// both path forms; path is then relative to the tenant prefix. Placeholders:
// {org}, {target}, {member}, {role}, {spareRole}, {perm}, {sparePerm},
// {webhook}, {delivery}, {n}.
type matrixRow struct {
	method string
	path   string
	tenant bool
	body   string // JSON with the same placeholders; "" sends none
	// want is the expected status per principal: anonymous, member of
	// another organization, member, admin, owner, platform admin.
	want [nPrincipals]int
}

// The authorization matrix: THE table. Every documented operation appears,
// tenant routes once for both forms.
var matrix = []matrixRow{
	{"GET", "/livez", false, "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/readyz", false, "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/api/v1/openapi.json", false, "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/api/v1/me", false, "", [6]int{401, 200, 200, 200, 200, 200}},
	{"PATCH", "/api/v1/me", false, `{"metadata":{"team":"t-{n}"}}`, [6]int{401, 200, 200, 200, 200, 200}},
	{"GET", "/api/v1/admin/users", false, "", [6]int{401, 403, 403, 403, 403, 200}},
	{"GET", "/api/v1/admin/audit-events", false, "", [6]int{401, 403, 403, 403, 403, 200}},
	{"GET", "/api/v1/admin/users/{target}", false, "", [6]int{401, 403, 403, 403, 403, 200}},
	{"PATCH", "/api/v1/admin/users/{spareUser}", false, `{"status":"deactivated"}`, [6]int{401, 403, 403, 403, 403, 200}},
	{"DELETE", "/api/v1/admin/users/{spareUser}", false, "", [6]int{401, 403, 403, 403, 403, 204}},
	{"POST", "/api/v1/admin/token-check", false, `{"token":"not-a-jwt"}`, [6]int{401, 403, 403, 403, 403, 200}},
	{"GET", "/.well-known/oauth-protected-resource", false, "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/api/v1/organizations", false, "", [6]int{401, 200, 200, 200, 200, 200}},
	{"POST", "/api/v1/organizations", false, `{"slug":"made-{n}","name":"Made"}`, [6]int{401, 201, 201, 201, 201, 201}},
	{"GET", "/api/v1/organizations/{org}", false, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"PATCH", "/api/v1/organizations/{org}", false, `{"name":"Renamed"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"DELETE", "/api/v1/organizations/{org}", false, "", [6]int{401, 404, 403, 403, 204, 204}},

	{"GET", "/members", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"POST", "/members", true, `{"subject":"new-{n}","roles":["member"]}`, [6]int{401, 404, 403, 201, 201, 201}},
	{"GET", "/members/{target}", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"PATCH", "/members/{target}", true, `{"status":"suspended"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"DELETE", "/members/{target}", true, "", [6]int{401, 404, 403, 204, 204, 204}},
	{"GET", "/users", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"GET", "/users/{target}", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"GET", "/roles", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"POST", "/roles", true, `{"key":"made-{n}","name":"Made","permissions":["members:read"]}`, [6]int{401, 404, 403, 201, 201, 201}},
	{"GET", "/roles/{role}", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"PATCH", "/roles/{role}", true, `{"name":"Renamed"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"DELETE", "/roles/{spareRole}", true, "", [6]int{401, 404, 403, 204, 204, 204}},
	{"GET", "/permissions", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"POST", "/permissions", true, `{"key":"reports:run-{n}"}`, [6]int{401, 404, 403, 201, 201, 201}},
	{"GET", "/permissions/{perm}", true, "", [6]int{401, 404, 200, 200, 200, 200}},
	{"PATCH", "/permissions/{perm}", true, `{"description":"changed"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"DELETE", "/permissions/{sparePerm}", true, "", [6]int{401, 404, 403, 204, 204, 204}},
	{"POST", "/check", true, `{"user_id":"{target}","permission":"{perm}"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"GET", "/identity-provider", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"PUT", "/identity-provider", true, `{"issuer":"https://idp-{n}.example.test","audiences":["orgstack"],"algorithms":["ES256"]}`, [6]int{401, 404, 403, 403, 200, 200}},
	{"POST", "/identity-provider/test", true, `{"token":"not-a-jwt"}`, [6]int{401, 404, 403, 403, 200, 200}},
	{"DELETE", "/identity-provider", true, "", [6]int{401, 404, 403, 403, 204, 204}},
	{"GET", "/audit-events", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"GET", "/webhooks", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"POST", "/webhooks", true, `{"url":"https://hooks-{n}.example.test/in","event_types":["member.*"]}`, [6]int{401, 404, 403, 201, 201, 201}},
	{"GET", "/webhooks/{webhook}", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"PATCH", "/webhooks/{webhook}", true, `{"description":"changed"}`, [6]int{401, 404, 403, 200, 200, 200}},
	{"DELETE", "/webhooks/{webhook}", true, "", [6]int{401, 404, 403, 204, 204, 204}},
	{"POST", "/webhooks/{webhook}/rotate-secret", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"GET", "/webhooks/{webhook}/deliveries", true, "", [6]int{401, 404, 403, 200, 200, 200}},
	{"POST", "/webhooks/{webhook}/deliveries/{delivery}/replay", true, "", [6]int{401, 404, 403, 202, 202, 202}},
	{"POST", "/webhooks/{webhook}/replay", true, `{"since":"2020-01-01T00:00:00Z"}`, [6]int{401, 404, 403, 202, 202, 202}},
}

// fill replaces the placeholders of s.
func (o *secOrg) fill(s, n string) string {
	return strings.NewReplacer(
		"{org}", o.ID, "{target}", o.TargetID, "{member}", o.MemberID,
		"{role}", o.Role, "{spareRole}", o.SpareRole, "{webhook}", o.Webhook, "{delivery}", o.Delivery,
		"{perm}", o.Perm, "{sparePerm}", o.SparePerm, "{n}", n,
	).Replace(s)
}

// matrixCodes are the problem codes each refusal of the matrix may carry.
var matrixCodes = map[int][]string{
	401: {"unauthenticated"},
	403: {"forbidden", "platform_admin_required"},
	404: {"not_found"},
}

func TestMatrixAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newSecFixtures(e, "m")
	// The outsider is an owner elsewhere: a member of another organization.
	f.org(t, "other")
	shared := f.org(t, "m")

	cells := 0
	for _, row := range matrix {
		forms := []struct {
			name, prefix string
			bound        bool
		}{{"", "", false}}
		if row.tenant {
			forms = []struct {
				name, prefix string
				bound        bool
			}{
				{"explicit", "/api/v1/organizations/{org}", false},
				{"token", "/api/v1", true},
			}
		}
		for _, form := range forms {
			for p := range nPrincipals {
				cells++
				name := fmt.Sprintf("%s %s %s/%s", row.method, form.prefix+row.path, form.name, principalNames[p])
				want := row.want[p]
				t.Run(name, func(t *testing.T) {
					// A request that changes something gets an organization of its own.
					o := shared
					if row.method != http.MethodGet && row.path != "/check" {
						o = f.org(t, "m")
					}
					n := f.next()
					path := o.fill(form.prefix+row.path, n)
					if strings.Contains(path, "{spareUser}") {
						// A user of its own: deactivating or erasing it
						// leaves the organization's people alone.
						spare := e.addMember(t, e.token(o.OwnerSub), o.ID, "spare-"+n, "member")
						path = strings.ReplaceAll(path, "{spareUser}", spare)
					}
					var body any
					if row.body != "" {
						body = o.fill(row.body, n)
					}
					res, resBody := e.do(t, row.method, path, principalToken(e, p, o, form.bound), body)
					if res.StatusCode != want {
						t.Fatalf("%s %s as %s: status %d, want %d: %s", row.method, path, principalNames[p], res.StatusCode, want, resBody)
					}
					if codes, ok := matrixCodes[want]; ok {
						code, _ := decodeJSONBody[obj](t, resBody)["code"].(string)
						found := false
						for _, c := range codes {
							found = found || c == code
						}
						if !found {
							t.Errorf("code %q, want one of %v", code, codes)
						}
					}
				})
			}
		}
	}
	t.Logf("authorization matrix: %d routes × %d principals = %d cells", cells/nPrincipals, nPrincipals, cells)
}

// TestMatrixCoversEveryOperation keeps the matrix table complete: every
// documented operation has a row (tenant rows count for both forms).
func TestMatrixCoversEveryOperation(t *testing.T) {
	s := mustSpec(t)
	inMatrix := map[string]bool{}
	norm := strings.NewReplacer("{org}", "{orgId}", "{target}", "{userId}", "{member}", "{userId}", "{spareUser}", "{userId}",
		"{role}", "{roleKey}", "{spareRole}", "{roleKey}", "{perm}", "{permissionKey}", "{sparePerm}", "{permissionKey}",
		"{webhook}", "{webhookId}", "{delivery}", "{deliveryId}")
	for _, row := range matrix {
		if row.tenant {
			inMatrix[row.method+" "+norm.Replace("/api/v1"+row.path)] = true
			inMatrix[row.method+" "+norm.Replace("/api/v1/organizations/{org}"+row.path)] = true
			continue
		}
		inMatrix[row.method+" "+norm.Replace(row.path)] = true
	}
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			if !inMatrix[method+" "+path] {
				t.Errorf("operation %s %s has no row in the authorization matrix", method, path)
			}
		}
	}
}

// TestMatrixSuspendedOrganization runs the matrix's organization routes
// against a suspended organization. Its statuses are derived from the same
// table: reads are unchanged, every write by its members (owner included)
// is 403 organization_suspended, platform admins still act, and checks in
// it answer allowed: false.
func TestMatrixSuspendedOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newSecFixtures(e, "s")
	f.org(t, "other")
	suspended := func(t *testing.T) *secOrg {
		o := f.org(t, "s")
		res, body := e.do(t, http.MethodPatch, "/api/v1/organizations/"+o.ID, e.token(subRoot, withAdmin()), obj{"status": "suspended"})
		wantStatus(t, res, body, http.StatusOK)
		return o
	}
	shared := suspended(t)
	cells := 0
	for _, row := range matrix {
		if !row.tenant && !strings.Contains(row.path, "{org}") {
			continue
		}
		forms := []struct {
			prefix string
			bound  bool
		}{{"", false}}
		if row.tenant {
			forms = []struct {
				prefix string
				bound  bool
			}{{"/api/v1/organizations/{org}", false}, {"/api/v1", true}}
		}
		write := row.method != http.MethodGet && row.path != "/check" // a check only reads
		for _, form := range forms {
			for p := range nPrincipals {
				want, code := row.want[p], ""
				if write && (p == pMember || p == pAdmin || p == pOwner) {
					want, code = http.StatusForbidden, "organization_suspended"
				}
				if row.path == "/check" && (p == pMember) {
					want, code = http.StatusForbidden, "" // checking others needs authz:check
				}
				cells++
				t.Run(fmt.Sprintf("%s %s %s", row.method, form.prefix+row.path, principalNames[p]), func(t *testing.T) {
					o := shared
					if write {
						o = suspended(t)
					}
					n := f.next()
					var body any
					if row.body != "" {
						body = o.fill(row.body, n)
					}
					path := o.fill(form.prefix+row.path, n)
					res, resBody := e.do(t, row.method, path, principalToken(e, p, o, form.bound), body)
					if res.StatusCode != want {
						t.Fatalf("status %d, want %d: %s", res.StatusCode, want, resBody)
					}
					if code != "" {
						wantProblem(t, res, resBody, want, code)
					}
					if row.path == "/check" && want == http.StatusOK {
						if d := data(t, resBody); d["allowed"] != false {
							t.Errorf("a check in a suspended organization is allowed: %s", resBody)
						}
					}
				})
			}
		}
	}
	t.Logf("suspended-organization matrix: %d cells", cells)
}

// TestMatrixSuspendedMember: a suspended member keeps its record but holds
// no permissions: to it the organization is as good as invisible (404), in
// both forms, and /me lists the membership as suspended with no grants.
func TestMatrixSuspendedMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := newSecFixtures(e, "sm").org(t, "sm")
	res, body := e.do(t, http.MethodPatch, o.path("/members/"+o.AdminID), e.token(o.OwnerSub), obj{"status": "suspended"})
	wantStatus(t, res, body, http.StatusOK)
	before := o.snapshot(t, e)
	for _, row := range matrix {
		if !row.tenant && !strings.Contains(row.path, "{org}") {
			continue
		}
		for _, form := range []struct {
			prefix string
			bound  bool
		}{{"/api/v1/organizations/{org}", false}, {"/api/v1", true}} {
			if !row.tenant {
				if form.bound {
					continue
				}
				form.prefix = ""
			}
			path := o.fill(form.prefix+row.path, "x")
			t.Run(row.method+" "+path, func(t *testing.T) {
				var b any
				if row.body != "" {
					b = o.fill(row.body, "x")
				}
				res, resBody := e.do(t, row.method, path, principalToken(e, pAdmin, o, form.bound), b)
				wantProblem(t, res, resBody, http.StatusNotFound, "not_found")
			})
		}
	}
	wantUnchanged(t, before, o.snapshot(t, e))
	res, body = e.do(t, http.MethodGet, "/api/v1/me", e.token(o.AdminSub), nil)
	wantStatus(t, res, body, http.StatusOK)
	ms, _ := data(t, body)["memberships"].([]any)
	if len(ms) != 1 {
		t.Fatalf("memberships %v, want 1", ms)
	}
	m := ms[0].(obj)
	if perms, _ := m["permissions"].([]any); m["status"] != "suspended" || len(perms) != 0 {
		t.Errorf("suspended membership %v, want status suspended and no permissions", m)
	}
}
