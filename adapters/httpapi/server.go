// Package httpapi is the HTTP adapter: it drives the application's ports
// from a REST API (base /api/v1) routed by gorilla/mux.
//
// A request flows one way: outer middleware (request ID, recover, access
// log) → router → authentication (bearer token → verifier → principal in the
// context) → handler (parse and check the request's shape) → one driving
// port → the handler maps the result to JSON. Errors of every layer are
// answered as RFC 9457 problems by one writer using one table (ErrorCodes).
//
// Every tenant-scoped route exists in two forms sharing one handler:
// /api/v1/<resource>… (organization from the token's claim) and
// /api/v1/organizations/{orgId}/<resource>… (organization named in the path).
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// Services are the driving ports the API calls.
type Services struct {
	Organizations ports.Organizations
	Me            ports.Me
	Members       ports.Members
	Users         ports.Users
	Roles         ports.Roles
	Permissions   ports.Permissions
	Checks        ports.Checks
	// TokenChecks is the operator's dry run (/admin/token-check); nil
	// answers that route 404.
	TokenChecks ports.TokenChecks
	// IdentityProviders manages organizations' own identity providers.
	IdentityProviders ports.IdentityProviders
	// Audit reads the audit log.
	Audit ports.AuditLog
	// Webhooks manages organizations' webhook endpoints.
	Webhooks ports.Webhooks
}

// Options configure the handler.
type Options struct {
	// Verifier checks bearer tokens.
	Verifier ports.TokenVerifier
	// Logger receives the access log and internal errors; nil logs nothing.
	Logger *zap.Logger
	// Readiness are the checks /readyz runs, by name.
	Readiness map[string]func(context.Context) error
	// RateLimits, when set, limits requests to authenticated routes
	// (429 rate_limited beyond a quota); the same value must be the
	// application's ports.OrganizationLimiter for per-organization limits.
	RateLimits *RateLimits
	// TrustedProxies are the peers whose Forwarded / X-Forwarded-For
	// headers name the client; from any other peer they are ignored.
	TrustedProxies []netip.Prefix
	// RequestTimeout bounds each authenticated request, and so every wait
	// on a dependency it makes (a database that hangs answers 503
	// unavailable after it); default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// PublicURL is the external base URL (ORGSTACK_PUBLIC_URL), already
	// validated; "" turns off resource_metadata in WWW-Authenticate. The
	// Host header is never used instead.
	PublicURL string
	// AuthorizationServers are the operator-configured issuers, listed by
	// /.well-known/oauth-protected-resource.
	AuthorizationServers []string
	// Requests, Auth and Checks receive what the API observes, for metrics
	// (adapters/telemetry); nil reports nothing.
	Requests ports.RequestEvents
	Auth     ports.AuthEvents
	Checks   ports.CheckEvents
	// CORS, when set, answers browsers of these origins (see CORS).
	CORS *CORS
	// RequireIfMatch makes If-Match required on every PATCH, PUT and
	// DELETE of a versioned resource (ORGSTACK_REQUIRE_IF_MATCH): without
	// it the change is answered 428 precondition_required.
	RequireIfMatch bool
	// Idempotency, when set, honours Idempotency-Key on the POST routes
	// that change state; nil ignores the header.
	Idempotency *Idempotency
	// beforeCommit, in tests, runs between a keyed change and its commit
	// (to crash it there).
	beforeCommit func(*http.Request)
}

// DefaultRequestTimeout is the request deadline when Options.RequestTimeout
// is zero.
const DefaultRequestTimeout = 5 * time.Second

// BasePath is the prefix of every API route.
const BasePath = "/api/v1"

// server holds what the handlers need.
type server struct {
	svc       Services
	verifier  ports.TokenVerifier
	log       *zap.Logger
	readiness map[string]func(context.Context) error
	limits    *RateLimits
	router    *mux.Router
	// trustedProxies may name the client in forwarding headers.
	trustedProxies []netip.Prefix
	// requestTimeout bounds each authenticated request.
	requestTimeout time.Duration
	// outages counts requests refused because a dependency is unavailable.
	outages *outageLog
	// publicURL and authServers feed the protected-resource metadata.
	publicURL   string
	authServers []string
	// telemetry sinks; nil when off
	requests ports.RequestEvents
	authEv   ports.AuthEvents
	checkEv  ports.CheckEvents
	cors     *CORS
	// requireIfMatch makes If-Match required on changes (428).
	requireIfMatch bool
	// idem keeps idempotent responses (nil: keys ignored) for idemTTL.
	idem    ports.IdempotencyStore
	idemTTL time.Duration
	// idemSealer encrypts kept answers that carry a secret.
	idemSealer ports.SecretSealer
	idemClock  ports.Clock
	// beforeCommit is Options.beforeCommit.
	beforeCommit func(*http.Request)
}

// NewHandler returns the whole HTTP API: /livez, /readyz, the unauthenticated
// /api/v1/openapi.json and every authenticated /api/v1 route.
func NewHandler(s Services, o Options) http.Handler {
	srv := &server{svc: s, verifier: o.Verifier, log: o.Logger, readiness: o.Readiness, limits: o.RateLimits,
		trustedProxies: append([]netip.Prefix{}, o.TrustedProxies...),
		requestTimeout: o.RequestTimeout, publicURL: strings.TrimSuffix(o.PublicURL, "/"),
		authServers: append([]string{}, o.AuthorizationServers...),
		requests:    o.Requests, authEv: o.Auth, checkEv: o.Checks, cors: o.CORS,
		requireIfMatch: o.RequireIfMatch, beforeCommit: o.beforeCommit}
	if srv.log == nil {
		srv.log = zap.NewNop()
	}
	if srv.requestTimeout <= 0 {
		srv.requestTimeout = DefaultRequestTimeout
	}
	if o.Idempotency != nil && o.Idempotency.Store != nil {
		srv.idem, srv.idemTTL, srv.idemClock = o.Idempotency.Store, o.Idempotency.TTL, o.Idempotency.Clock
		srv.idemSealer = o.Idempotency.Sealer
		if srv.idemTTL <= 0 {
			srv.idemTTL = DefaultIdempotencyTTL
		}
		if srv.idemClock == nil {
			srv.idemClock = wallClock{}
		}
	}
	srv.outages = newOutageLog(srv.log, outageLogEvery)
	srv.routes()
	return srv.outer(srv.router)
}

// methodsProbed are the methods tried when building an Allow header.
var methodsProbed = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// getAndHead are the methods of every read route: RFC 9110 (section 9.3.2)
// has a server answer HEAD wherever it answers GET, with the same status
// and headers and no body. The handler runs as for GET; net/http discards
// the body it writes and still computes Content-Length.
var getAndHead = []string{http.MethodGet, http.MethodHead}

// routes builds the route table. Hot routes (check, lists) come first
// because mux tries routes in order.
func (s *server) routes() {
	r := mux.NewRouter()
	r.SkipClean(true) // never redirect; an unclean path is simply not found
	r.Use(matched)
	s.router = r

	r.HandleFunc("/livez", s.livez).Methods(getAndHead...)
	r.HandleFunc("/readyz", s.readyz).Methods(getAndHead...)
	r.HandleFunc(resourceMetadataPath, s.protectedResource).Methods(getAndHead...)

	api := r.PathPrefix(BasePath).Subrouter()
	api.HandleFunc("/openapi.json", s.openapi).Methods(getAndHead...)

	authed := func(h http.HandlerFunc) http.Handler { return s.authenticate(h) }
	// changes registers a POST that changes state: it honours
	// Idempotency-Key (see idempotent). POSTs that only read or test
	// (checks, dry runs) are registered with authed and ignore the header.
	changes := func(h http.HandlerFunc) http.Handler { return s.authenticate(s.idempotent(h, false)) }
	// changesSecret: a change whose answer carries a secret (kept encrypted).
	changesSecret := func(h http.HandlerFunc) http.Handler { return s.authenticate(s.idempotent(h, true)) }

	// Tenant routes in the token form, then in the explicit form; the check
	// routes come first of each.
	tenant := func(sr *mux.Router) {
		sr.Handle("/check", authed(s.check)).Methods(http.MethodPost)
		sr.Handle("/members", authed(s.listMembers)).Methods(getAndHead...)
		sr.Handle("/members", changes(s.addMember)).Methods(http.MethodPost)
		sr.Handle("/members/{userId}", authed(s.getMember)).Methods(getAndHead...)
		sr.Handle("/members/{userId}", authed(s.updateMember)).Methods(http.MethodPatch)
		sr.Handle("/members/{userId}", authed(s.removeMember)).Methods(http.MethodDelete)
		sr.Handle("/users", authed(s.listUsers)).Methods(getAndHead...)
		sr.Handle("/users/{userId}", authed(s.getUser)).Methods(getAndHead...)
		sr.Handle("/roles", authed(s.listRoles)).Methods(getAndHead...)
		sr.Handle("/roles", changes(s.createRole)).Methods(http.MethodPost)
		sr.Handle("/roles/{roleKey}", authed(s.getRole)).Methods(getAndHead...)
		sr.Handle("/roles/{roleKey}", authed(s.updateRole)).Methods(http.MethodPatch)
		sr.Handle("/roles/{roleKey}", authed(s.deleteRole)).Methods(http.MethodDelete)
		sr.Handle("/permissions", authed(s.listPermissions)).Methods(getAndHead...)
		sr.Handle("/permissions", changes(s.createPermission)).Methods(http.MethodPost)
		sr.Handle("/permissions/{permissionKey}", authed(s.getPermission)).Methods(getAndHead...)
		sr.Handle("/permissions/{permissionKey}", authed(s.updatePermission)).Methods(http.MethodPatch)
		sr.Handle("/permissions/{permissionKey}", authed(s.deletePermission)).Methods(http.MethodDelete)
		sr.Handle("/identity-provider", authed(s.getIdentityProvider)).Methods(getAndHead...)
		sr.Handle("/identity-provider", authed(s.putIdentityProvider)).Methods(http.MethodPut)
		sr.Handle("/identity-provider", authed(s.deleteIdentityProvider)).Methods(http.MethodDelete)
		sr.Handle("/identity-provider/test", authed(s.testIdentityProvider)).Methods(http.MethodPost)
		sr.Handle("/audit-events", authed(s.listAuditEvents)).Methods(getAndHead...)
		sr.Handle("/webhooks", authed(s.listWebhooks)).Methods(getAndHead...)
		sr.Handle("/webhooks", changesSecret(s.createWebhook)).Methods(http.MethodPost)
		sr.Handle("/webhooks/{webhookId}", authed(s.getWebhook)).Methods(getAndHead...)
		sr.Handle("/webhooks/{webhookId}", authed(s.updateWebhook)).Methods(http.MethodPatch)
		sr.Handle("/webhooks/{webhookId}", authed(s.deleteWebhook)).Methods(http.MethodDelete)
		sr.Handle("/webhooks/{webhookId}/rotate-secret", changesSecret(s.rotateWebhookSecret)).Methods(http.MethodPost)
		sr.Handle("/webhooks/{webhookId}/replay", changes(s.replayWebhook)).Methods(http.MethodPost)
		sr.Handle("/webhooks/{webhookId}/deliveries", authed(s.listWebhookDeliveries)).Methods(getAndHead...)
		sr.Handle("/webhooks/{webhookId}/deliveries/{deliveryId}/replay", changes(s.replayWebhookDelivery)).Methods(http.MethodPost)
	}
	// The explicit form first: it is the form integrations use most, and the
	// check route is the hottest of all.
	tenant(api.PathPrefix("/organizations/{orgId}").Subrouter())
	tenant(api)

	api.Handle("/organizations", authed(s.listOrganizations)).Methods(getAndHead...)
	api.Handle("/organizations", changes(s.createOrganization)).Methods(http.MethodPost)
	api.Handle("/organizations/{orgId}", authed(s.getOrganization)).Methods(getAndHead...)
	api.Handle("/organizations/{orgId}", authed(s.updateOrganization)).Methods(http.MethodPatch)
	api.Handle("/organizations/{orgId}", authed(s.deleteOrganization)).Methods(http.MethodDelete)

	api.Handle("/me", authed(s.me)).Methods(getAndHead...)
	api.Handle("/me", authed(s.updateMe)).Methods(http.MethodPatch)
	api.Handle("/admin/users", authed(s.listAllUsers)).Methods(getAndHead...)
	api.Handle("/admin/users/{userId}", authed(s.getAnyUser)).Methods(getAndHead...)
	api.Handle("/admin/users/{userId}", authed(s.updateUserStatus)).Methods(http.MethodPatch)
	api.Handle("/admin/users/{userId}", authed(s.eraseUser)).Methods(http.MethodDelete)
	api.Handle("/admin/token-check", authed(s.tokenCheck)).Methods(http.MethodPost)
	api.Handle("/admin/audit-events", authed(s.listAllAuditEvents)).Methods(getAndHead...)

	r.NotFoundHandler = http.HandlerFunc(s.notFoundOrNotAllowed)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.notFoundOrNotAllowed)
}

// allowedMethods returns the methods some route serves at r's path.
func (s *server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range methodsProbed {
		probe := r.Clone(r.Context())
		probe.Method = m
		var rm mux.RouteMatch
		if s.router.Match(probe, &rm) && rm.MatchErr == nil && rm.Route != nil {
			out = append(out, m)
		}
	}
	return out
}

// notFoundOrNotAllowed answers a request no route serves: 405 with Allow
// when the path exists for other methods, 404 otherwise.
func (s *server) notFoundOrNotAllowed(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); len(allow) > 0 && !slices.Contains(allow, r.Method) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, newAPIError("method_not_allowed",
			"the method "+r.Method+" is not allowed here; allowed: "+strings.Join(allow, ", ")))
		return
	}
	s.writeError(w, r, newAPIError("not_found", "no route matches "+r.URL.EscapedPath()))
}

// dataBody is the envelope of every successful single-resource response.
type dataBody struct {
	Data any `json:"data"`
}

// writeJSON writes v as the JSON body of a successful response.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeBody(w, status, append(body, '\n'))
}

// writeBody writes body, JSON already encoded, as a successful response.
func (s *server) writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeData writes {"data": v}.
func (s *server) writeData(w http.ResponseWriter, r *http.Request, status int, v any) {
	s.writeJSON(w, r, status, dataBody{Data: v})
}

// orgRef returns the organization named in the path (an ID or a slug, as
// the domain reads it), or the zero reference for the token form of a
// tenant route.
func orgRef(r *http.Request) domain.OrgRef { return domain.ParseOrgRef(mux.Vars(r)["orgId"]) }

// wallClock is the clock when none is given.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// pathVar returns a path variable.
func pathVar(r *http.Request, name string) string { return mux.Vars(r)[name] }
