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
// someone else needs authz:check.
func (s *CheckService) Check(ctx context.Context, p ports.Principal, orgRef string, r ports.CheckRequest) (ports.CheckResult, error) {
	acc, err := s.auth.resolve(ctx, p, orgRef)
	if err != nil {
		return ports.CheckResult{}, err
	}
	if !acc.can(domain.PermAuthzCheck) && !isSelf(acc, r) {
		return ports.CheckResult{}, domain.ErrForbidden
	}
	q, err := parseCheck(acc, r, "")
	if err != nil {
		return ports.CheckResult{}, err
	}
	return s.decide(ctx, acc, q)
}

// CheckBatch answers 1 to MaxBatchChecks checks in order. Checking anyone
// but the caller needs authz:check; a validation error names the index of
// the offending check ("checks/3/permission").
func (s *CheckService) CheckBatch(ctx context.Context, p ports.Principal, orgRef string, rs []ports.CheckRequest) ([]ports.CheckResult, error) {
	acc, err := s.auth.resolve(ctx, p, orgRef)
	if err != nil {
		return nil, err
	}
	if !acc.can(domain.PermAuthzCheck) {
		for _, r := range rs {
			if !isSelf(acc, r) {
				return nil, domain.ErrForbidden
			}
		}
	}
	if len(rs) < 1 || len(rs) > MaxBatchChecks {
		return nil, domain.Invalid("checks", "must hold 1 to %d checks", MaxBatchChecks)
	}
	qs := make([]checkQuery, len(rs))
	var fe []domain.FieldError
	for i, r := range rs {
		q, err := parseCheck(acc, r, "checks/"+strconv.Itoa(i)+"/")
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
	out := make([]ports.CheckResult, len(qs))
	for i, q := range qs {
		if out[i], err = s.decide(ctx, acc, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkQuery is a validated check.
type checkQuery struct {
	who  ports.CheckSubject
	perm domain.PermissionKey
}

// parseCheck validates r; field names are prefixed with prefix. An identity
// without an issuer takes the caller's.
func parseCheck(acc *access, r ports.CheckRequest, prefix string) (checkQuery, error) {
	var fe []domain.FieldError
	if (r.UserID == "") == (r.Subject == "") {
		fe = append(fe, domain.FieldError{Field: prefix + "user_id", Detail: "give exactly one of user_id and subject"})
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
			who.Issuer = acc.principal.Issuer
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

// decide answers one check with one store round trip: allowed when the
// organization is active, the subject's membership is active, the
// permission is defined there and one of the subject's roles gives it.
func (s *CheckService) decide(ctx context.Context, acc *access, q checkQuery) (ports.CheckResult, error) {
	denied := ports.CheckResult{Allowed: false, GrantedBy: []domain.RoleKey{}}
	if !acc.org.IsActive() {
		return denied, nil
	}
	facts, err := s.auth.store.CheckFacts(ctx, acc.org.ID(), q.who, q.perm)
	if err != nil {
		return ports.CheckResult{}, err
	}
	m := facts.Membership
	if m == nil || !m.IsActive() || m.OrgID() != acc.org.ID() || !facts.PermissionDefined {
		return denied, nil
	}
	by := grantsOf(m, facts.Roles).GrantedBy(q.perm)
	if len(by) == 0 {
		return denied, nil
	}
	slices.Sort(by)
	return ports.CheckResult{Allowed: true, GrantedBy: slices.Compact(by)}, nil
}
