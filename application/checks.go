package application

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Checks = (*CheckService)(nil)

// MaxBatchChecks is the largest number of checks one batch may ask.
const MaxBatchChecks = 100

// CheckService implements ports.Checks.
type CheckService struct {
	auth *authorizer
}

// Check answers whether a user may do something in the organization.
// Anyone who may see the organization may check themselves; checking
// someone else needs authz:check. A valid request costs one store round
// trip: the caller's access and the check's facts are read together.
func (s *CheckService) Check(ctx context.Context, p ports.Principal, org domain.OrgRef, r ports.CheckRequest) (ports.CheckResult, error) {
	ref, err := s.auth.scopeRef(ctx, p, org)
	if err != nil {
		return ports.CheckResult{}, err
	}
	q, invalid := parseCheck(p, r, "")
	if invalid != nil {
		// Not found and forbidden come before a validation error.
		acc, err := s.auth.resolveRef(ctx, p, ref)
		if err != nil {
			return ports.CheckResult{}, err
		}
		if !mayCheck(acc, r) {
			return ports.CheckResult{}, domain.ErrForbidden
		}
		return ports.CheckResult{}, invalid
	}
	acc, facts, err := s.accessAndFacts(ctx, p, ref, q)
	if err != nil {
		return ports.CheckResult{}, err
	}
	if !mayCheck(acc, r) {
		return ports.CheckResult{}, domain.ErrForbidden
	}
	if err := s.checkIssuers(ctx, acc, []checkQuery{q}, ""); err != nil {
		return ports.CheckResult{}, err
	}
	return verdict(acc, q, facts), nil
}

// CheckBatch answers 1 to MaxBatchChecks checks in order. Checking anyone
// but the caller needs authz:check; a validation error names the index of
// the offending check ("checks/3/permission"). The first check's facts are
// read with the caller's access, each further check costs one round trip.
func (s *CheckService) CheckBatch(ctx context.Context, p ports.Principal, org domain.OrgRef, rs []ports.CheckRequest) ([]ports.CheckResult, error) {
	ref, err := s.auth.scopeRef(ctx, p, org)
	if err != nil {
		return nil, err
	}
	qs, invalid := parseBatch(p, rs)
	if invalid != nil {
		// Not found and forbidden come before a validation error.
		acc, err := s.auth.resolveRef(ctx, p, ref)
		if err != nil {
			return nil, err
		}
		if !mayCheckAll(acc, rs) {
			return nil, domain.ErrForbidden
		}
		return nil, invalid
	}
	acc, facts, err := s.accessAndFacts(ctx, p, ref, qs[0])
	if err != nil {
		return nil, err
	}
	if !mayCheckAll(acc, rs) {
		return nil, domain.ErrForbidden
	}
	if err := s.checkIssuers(ctx, acc, qs, "checks/"); err != nil {
		return nil, err
	}
	out := make([]ports.CheckResult, len(qs))
	out[0] = verdict(acc, qs[0], facts)
	for i := 1; i < len(qs); i++ {
		if out[i], err = s.decide(ctx, acc, qs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkIssuers refuses checks that name, by subject and issuer, a user of
// another organization's own identity provider: those users belong to that
// organization. The field is prefix + "<i>/issuer" for a batch, "issuer"
// for one check. Each issuer costs one lookup.
func (s *CheckService) checkIssuers(ctx context.Context, acc *access, qs []checkQuery, prefix string) error {
	seen := map[string]bool{}
	var fe []domain.FieldError
	for i, q := range qs {
		if q.who.Issuer == "" {
			continue
		}
		foreign, ok := seen[q.who.Issuer]
		if !ok {
			var err error
			if foreign, err = s.auth.foreignIssuer(ctx, acc.org.ID(), q.who.Issuer); err != nil {
				return err
			}
			seen[q.who.Issuer] = foreign
		}
		if foreign {
			field := "issuer"
			if prefix != "" {
				field = prefix + strconv.Itoa(i) + "/issuer"
			}
			fe = append(fe, errForeignIssuer(field).(*domain.ValidationError).Fields...)
		}
	}
	if len(fe) > 0 {
		return &domain.ValidationError{Fields: fe}
	}
	return nil
}

// accessAndFacts resolves the caller's access to the organization ref, as
// authorizer.resolve does, and reads the facts of q in the same round trip.
func (s *CheckService) accessAndFacts(ctx context.Context, p ports.Principal, ref domain.OrgRef, q checkQuery) (*access, ports.CheckFacts, error) {
	a, facts, err := s.auth.store.AccessAndCheckFacts(ctx, ref, p.Issuer, p.Subject, q.who, q.perm)
	if err != nil {
		return nil, ports.CheckFacts{}, err
	}
	acc, err := s.auth.accessFrom(ctx, p, a)
	if err != nil {
		return nil, ports.CheckFacts{}, err
	}
	return acc, facts, nil
}

// mayCheck reports whether the caller may ask r: about themselves, or
// about anyone with authz:check.
func mayCheck(acc *access, r ports.CheckRequest) bool {
	return acc.can(domain.PermAuthzCheck) || isSelf(acc, r)
}

// mayCheckAll reports whether the caller may ask every request of rs.
func mayCheckAll(acc *access, rs []ports.CheckRequest) bool {
	for _, r := range rs {
		if !mayCheck(acc, r) {
			return false
		}
	}
	return true
}

// parseBatch validates a batch: its size, then every check.
func parseBatch(p ports.Principal, rs []ports.CheckRequest) ([]checkQuery, error) {
	if len(rs) < 1 || len(rs) > MaxBatchChecks {
		return nil, domain.Invalid("checks", "must hold 1 to %d checks", MaxBatchChecks)
	}
	qs := make([]checkQuery, len(rs))
	var fe []domain.FieldError
	for i, r := range rs {
		q, err := parseCheck(p, r, "checks/"+strconv.Itoa(i)+"/")
		var v *domain.ValidationError
		if errors.As(err, &v) {
			fe = append(fe, v.Fields...)
			continue
		}
		qs[i] = q
	}
	if len(fe) > 0 {
		return nil, &domain.ValidationError{Fields: fe}
	}
	return qs, nil
}

// checkQuery is a validated check.
type checkQuery struct {
	who  ports.CheckSubject
	perm domain.PermissionKey
}

// parseCheck validates r; field names are prefixed with prefix. An identity
// without an issuer takes the caller's.
func parseCheck(p ports.Principal, r ports.CheckRequest, prefix string) (checkQuery, error) {
	var fe []domain.FieldError
	if (r.UserID == "") == (r.Subject == "") {
		fe = append(fe, domain.FieldError{Field: prefix + "user_id", Detail: "give exactly one of user_id and subject"})
	}
	if !domain.IsKeyText(r.UserID) {
		fe = append(fe, domain.FieldError{Field: prefix + "user_id", Detail: "must be valid UTF-8 without control characters"})
	}
	for _, id := range []struct{ field, v string }{{"subject", r.Subject}, {"issuer", r.Issuer}} {
		if id.v == "" {
			continue // absent; an empty issuer means the caller's
		}
		var v *domain.ValidationError
		if errors.As(domain.ValidateIdentifier(id.v), &v) {
			for _, f := range v.Fields {
				fe = append(fe, domain.FieldError{Field: prefix + id.field, Detail: f.Detail})
			}
		}
	}
	k, err := domain.ParsePermissionKey(r.Permission)
	if err != nil {
		fe = append(fe, domain.FieldError{Field: prefix + "permission", Detail: "must be a permission key resource:action"})
	}
	if len(fe) > 0 {
		return checkQuery{}, &domain.ValidationError{Fields: fe}
	}
	who := ports.CheckSubject{UserID: r.UserID}
	if r.Subject != "" {
		who = ports.CheckSubject{Issuer: r.Issuer, Subject: r.Subject}
		if who.Issuer == "" {
			who.Issuer = p.Issuer
		}
	}
	return checkQuery{who: who, perm: k}, nil
}

// isSelf reports whether r asks about the caller: by the caller's user ID,
// or by the caller's own subject and issuer.
func isSelf(acc *access, r ports.CheckRequest) bool {
	switch {
	case r.UserID != "" && r.Subject == "":
		return r.UserID == acc.user.ID()
	case r.Subject != "" && r.UserID == "":
		issuer := r.Issuer
		if issuer == "" {
			issuer = acc.principal.Issuer
		}
		return r.Subject == acc.principal.Subject && issuer == acc.principal.Issuer
	}
	return false
}

// decide answers one check with one store round trip (none when the
// organization is suspended).
func (s *CheckService) decide(ctx context.Context, acc *access, q checkQuery) (ports.CheckResult, error) {
	if !acc.org.IsActive() {
		return denied(), nil
	}
	facts, err := s.auth.store.CheckFacts(ctx, acc.org.ID(), q.who, q.perm)
	if err != nil {
		return ports.CheckResult{}, err
	}
	return verdict(acc, q, facts), nil
}

// verdict answers one check from its facts: allowed when the organization
// is active, the subject's membership is an active one in this
// organization, the subject's user is active (not deactivated or erased),
// the permission is defined there and one of the subject's roles gives it.
func verdict(acc *access, q checkQuery, facts ports.CheckFacts) ports.CheckResult {
	if !acc.org.IsActive() {
		return denied()
	}
	m := facts.Membership
	if m == nil || !m.IsActive() || m.OrgID() != acc.org.ID() || !facts.PermissionDefined ||
		facts.UserStatus != domain.UserActive {
		return denied()
	}
	by := grantsOf(m, facts.Roles).GrantedBy(q.perm)
	if len(by) == 0 {
		return denied()
	}
	slices.Sort(by)
	return ports.CheckResult{Allowed: true, GrantedBy: slices.Compact(by)}
}

// denied is the answer "not allowed".
func denied() ports.CheckResult {
	return ports.CheckResult{Allowed: false, GrantedBy: []domain.RoleKey{}}
}
