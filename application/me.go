package application

import (
	"context"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Me = (*MeService)(nil)

// MeService implements ports.Me.
type MeService struct {
	auth *authorizer
}

// Me returns the caller's user record, created on first use, with every
// membership and the grants each one gives (none while suspended).
func (s *MeService) Me(ctx context.Context, p ports.Principal) (ports.Profile, error) {
	az := s.auth
	u, err := az.callerUser(ctx, p)
	if err != nil {
		return ports.Profile{}, err
	}
	ms, err := az.store.Memberships().ListForUser(ctx, u.ID())
	if err != nil {
		return ports.Profile{}, err
	}
	out := ports.Profile{User: u, Memberships: make([]ports.MembershipSummary, 0, len(ms))}
	for _, om := range ms {
		m := om.Membership
		sum := ports.MembershipSummary{
			OrgID:       m.OrgID(),
			OrgSlug:     om.OrgSlug,
			Roles:       m.Roles(),
			Status:      m.Status(),
			Permissions: []domain.Grant{},
			Excluded:    []domain.PermissionKey{},
		}
		if m.IsActive() {
			var custom []*domain.Role
			if keys := customKeys(m.Roles()); len(keys) > 0 {
				if custom, err = az.store.Roles().GetMany(ctx, m.OrgID(), keys); err != nil {
					return ports.Profile{}, err
				}
			}
			set := grantsOf(m, custom)
			if gs := set.Grants(); gs != nil {
				sum.Permissions = gs
			}
			if ex := set.Withheld(); ex != nil {
				sum.Excluded = ex
			}
		}
		out.Memberships = append(out.Memberships, sum)
	}
	return out, nil
}

// UpdateMetadata merges changes into the caller's own metadata, in one
// transaction that locks the user row: the version precondition is
// compared under that lock, and nothing is written when nothing changes.
// Only metadata may change here; email and name come from tokens.
func (s *MeService) UpdateMetadata(ctx context.Context, p ports.Principal, changes map[string]*string, ifVersion int64) (ports.Profile, error) {
	az := s.auth
	u, err := az.callerUser(ctx, p)
	if err != nil {
		return ports.Profile{}, err
	}
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		cur, err := r.Users().GetForUpdate(ctx, u.ID())
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, cur.Version()); err != nil {
			return err
		}
		changed, err := cur.UpdateMetadata(changes, az.clock.Now())
		if err != nil || !changed {
			return err
		}
		if err := r.Users().Save(ctx, cur); err != nil {
			return err
		}
		// Metadata is personal: the event says it changed, never to what.
		return az.record(ctx, r, change{actorOf(p, cur.ID()), "", domain.ActionUserUpdated, cur.ID(),
			[]domain.FieldChange{{Field: "metadata", Redacted: true}}})
	})
	if err != nil {
		return ports.Profile{}, err
	}
	return s.Me(ctx, p)
}
