package application

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// Config holds the policy switches of the use cases.
type Config struct {
	// RestrictOrgCreation, when true, lets only platform administrators
	// create organizations.
	RestrictOrgCreation bool
	// OperatorIssuers are the issuers the operator configured. No
	// organization's own identity provider may use one of them.
	OperatorIssuers []string
}

// Deps are the driven ports and settings the use cases need.
type Deps struct {
	Store  ports.Store
	Clock  ports.Clock
	IDs    ports.IDGenerator
	Config Config
	// Verifier is the operator's token verifier, for the dry run
	// (TokenChecks); nil leaves TokenChecks nil.
	Verifier ports.TokenVerifier
	// URLPolicy decides which tenant-supplied URLs may be stored (the
	// guarded outbound client: https, or http on the operator's
	// allow-list); nil allows https only.
	URLPolicy ports.URLPolicy
	// ProviderStatuses reports the key-set state of organizations'
	// providers for their GET; nil reports none.
	ProviderStatuses ports.ProviderStatuses
	// ProviderTokens verifies tokens for organizations' dry runs; nil
	// answers every dry run as keys_unavailable.
	ProviderTokens ports.ProviderTokenTester
	// Sealer encrypts webhook secrets with the operator's key; nil refuses
	// to create webhooks (domain.ErrSecretKeyMissing).
	Sealer ports.SecretSealer
	// SecretOverlap is how long a replaced webhook secret keeps signing
	// (default DefaultSecretOverlap).
	SecretOverlap time.Duration
	// OrgLimiter, when set, limits requests per organization once the
	// organization is resolved; nil limits nothing.
	OrgLimiter ports.OrganizationLimiter
}

// App holds one service per driving port.
type App struct {
	Organizations *OrganizationService
	Me            *MeService
	Members       *MemberService
	Users         *UserService
	Roles         *RoleService
	Permissions   *PermissionService
	Checks        *CheckService
	TokenChecks   *TokenCheckService // nil without Deps.Verifier
	// IdentityProviders manages organizations' own identity providers and
	// runs just-in-time membership for their users.
	IdentityProviders *IdentityProviderService
	// Audit reads the audit log every change writes.
	Audit *AuditService
	// Webhooks manages organizations' webhook endpoints.
	Webhooks *WebhookService
}

// New builds every use case on d.
func New(d Deps) *App {
	a := &authorizer{store: d.Store, clock: d.Clock, ids: d.IDs, limiter: d.OrgLimiter}
	idps := &IdentityProviderService{auth: a, cfg: d.Config, urls: d.URLPolicy, statuses: d.ProviderStatuses, tester: d.ProviderTokens}
	a.jit = idps
	var tc *TokenCheckService
	if d.Verifier != nil {
		tc = NewTokenCheckService(d.Store, d.Verifier)
	}
	return &App{
		TokenChecks:       tc,
		Organizations:     &OrganizationService{auth: a, cfg: d.Config},
		Me:                &MeService{auth: a},
		Members:           &MemberService{auth: a},
		Users:             &UserService{auth: a},
		Roles:             &RoleService{auth: a},
		Permissions:       &PermissionService{auth: a},
		Checks:            &CheckService{auth: a},
		IdentityProviders: idps,
		Audit:             &AuditService{auth: a},
		Webhooks:          &WebhookService{auth: a, urls: d.URLPolicy, sealer: d.Sealer, overlap: cmp.Or(d.SecretOverlap, DefaultSecretOverlap)},
	}
}

// normalizePage fills in the page defaults and clamps the size.
func normalizePage(r ports.PageRequest) ports.PageRequest { return r.Normalized() }

// paginate cuts one page out of items, which are already filtered and sorted.
func paginate[T any](items []T, r ports.PageRequest) ports.Page[T] {
	r = normalizePage(r)
	total := len(items)
	start := min(r.Offset(), total)
	end := min(start+r.Size, total)
	out := make([]T, 0, end-start)
	out = append(out, items[start:end]...)
	return ports.Page[T]{Items: out, Total: total, Page: r.Page, Size: r.Size}
}

// containsFold reports whether any of fields contains q, ignoring case.
func containsFold(q string, fields ...string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	return slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(strings.ToLower(f), q) })
}

// compareTimes orders times ascending (or descending), zero times (no value)
// last either way.
func compareTimes(a, b time.Time, desc bool) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	c := a.Compare(b)
	if desc {
		c = -c
	}
	return c
}

// compareFold orders strings case-insensitively, empty strings (no value)
// last either way.
func compareFold(a, b string, desc bool) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	c := strings.Compare(strings.ToLower(a), strings.ToLower(b))
	if desc {
		c = -c
	}
	return c
}

// checkVersion is the precondition of a change: ifVersion (0: none given,
// ports.IfMatchRequired: one was required and none given) against the
// current version, read in the transaction that writes.
func checkVersion(ifVersion, current int64) error {
	switch {
	case ifVersion == 0 || ifVersion == current:
		return nil
	case ifVersion == ports.IfMatchRequired:
		return domain.ErrPreconditionRequired
	}
	return domain.ErrVersionMismatch
}
