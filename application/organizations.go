package application

import (
	"context"
	"errors"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Organizations = (*OrganizationService)(nil)

// OrganizationService implements ports.Organizations.
type OrganizationService struct {
	auth *authorizer
	cfg  Config
}

// Create creates an organization and makes the caller its owner: the
// organization and the owner membership are written in one transaction
// (the caller's user record, created on first use, before it). A token bound to an organization may not
// create organizations (domain.ErrOrganizationMismatch).
func (s *OrganizationService) Create(ctx context.Context, p ports.Principal, in ports.CreateOrganization) (*domain.Organization, error) {
	if s.cfg.RestrictOrgCreation && !p.PlatformAdmin {
		return nil, domain.ErrPlatformAdminRequired
	}
	if bound(p) {
		return nil, domain.ErrOrganizationMismatch
	}
	az := s.auth
	now := az.clock.Now()
	o, err := domain.NewOrganization(az.ids.NewID(), in.Slug, in.Name, in.Metadata, now)
	if err != nil {
		return nil, err
	}
	// The caller's user record first, on its own (created on first use as
	// everywhere): a unique-key race on it must not abort the transaction
	// that writes the organization.
	u, err := az.callerUser(ctx, p)
	if err != nil {
		return nil, err
	}
	m, err := domain.NewMembership(o.ID(), u.ID(), []string{string(domain.RoleOwner)}, now)
	if err != nil {
		return nil, err
	}
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.Organizations().Create(ctx, o); err != nil {
			return err
		}
		if err := r.Memberships().Create(ctx, m); err != nil {
			return err
		}
		actor := actorOf(p, u.ID())
		return az.record(ctx, r,
			change{actor, o.ID(), domain.ActionOrganizationCreated, o.ID(), domain.Snapshot(orgFields, orgRecord(o), true)},
			change{actor, o.ID(), domain.ActionMemberAdded, u.ID(), domain.Snapshot(memberFields, memberRecord(m), true)})
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Get returns the organization (organization:read).
func (s *OrganizationService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef) (*domain.Organization, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermOrganizationRead, read)
	if err != nil {
		return nil, err
	}
	return acc.org, nil
}

// List returns the organizations the caller is an active member of; for a
// token bound to an organization only that one (if the caller may see it);
// for a platform administrator every organization.
func (s *OrganizationService) List(ctx context.Context, p ports.Principal, q ports.OrganizationQuery) (ports.Page[*domain.Organization], error) {
	var none ports.Page[*domain.Organization]
	if err := ports.OrganizationList.Check(q.PageRequest, map[string]string{"q": q.Q, "status": q.Status}); err != nil {
		return none, err
	}
	az := s.auth
	u, err := az.callerUser(ctx, p)
	if err != nil {
		return none, err
	}
	f := ports.OrganizationFilter{Q: q.Q, Status: q.Status, PageRequest: normalizePage(q.PageRequest)}
	if !p.PlatformAdmin {
		f.MemberUserID = u.ID()
	}
	if bound(p) {
		o, err := az.store.Organizations().GetByRef(ctx, boundRef(p))
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return paginate([]*domain.Organization(nil), f.PageRequest), nil
		case err != nil:
			return none, err
		}
		f.IDs = []string{o.ID()}
	}
	return az.store.Organizations().List(ctx, f)
}

// Update applies changes to the organization (organization:update). Only
// platform administrators change the status. ifVersion, when non-zero, must
// be the current version. Empty changes return the organization unchanged.
func (s *OrganizationService) Update(ctx context.Context, p ports.Principal, org domain.OrgRef, c domain.OrganizationChanges, ifVersion int64) (*domain.Organization, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermOrganizationUpdate, write)
	if err != nil {
		return nil, err
	}
	if c.Status != nil && !p.PlatformAdmin {
		return nil, domain.ErrPlatformAdminRequired
	}
	var out *domain.Organization
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		o, err := r.Organizations().GetForUpdate(ctx, acc.org.ID())
		if err != nil {
			return err
		}
		prev := o.Version()
		before := orgRecord(o)
		if c.IsEmpty() {
			if err := checkVersion(ifVersion, prev); err != nil {
				return err
			}
			out = o
			return nil
		}
		if err := o.Apply(c, az.clock.Now()); err != nil {
			return err
		}
		if err := checkVersion(ifVersion, prev); err != nil {
			return err
		}
		if err := r.Organizations().Update(ctx, o, prev); err != nil {
			return err
		}
		out = o
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), o.ID(), domain.ActionOrganizationUpdated, o.ID(),
			domain.Diff(orgFields, before, orgRecord(o))})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the organization with everything it owns
// (organization:delete). ifVersion, when non-zero, must be the current
// version.
func (s *OrganizationService) Delete(ctx context.Context, p ports.Principal, org domain.OrgRef, ifVersion int64) error {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermOrganizationDelete, write)
	if err != nil {
		return err
	}
	return az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		o, err := r.Organizations().GetForUpdate(ctx, acc.org.ID())
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, o.Version()); err != nil {
			return err
		}
		if err := r.Organizations().Delete(ctx, o.ID()); err != nil {
			return err
		}
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), o.ID(), domain.ActionOrganizationDeleted, o.ID(),
			domain.Snapshot(orgFields, orgRecord(o), false)})
	})
}
