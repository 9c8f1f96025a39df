package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// identityProviders implements ports.IdentityProviderRepository. The
// configuration is one JSON column (providerJSON); the issuer is a column of
// its own for lookups, and each accepted audience is a row of
// identity_provider_audiences, whose primary key (issuer, audience) keeps
// the pair unique across organizations.
type identityProviders struct{ c conn }

var _ ports.IdentityProviderRepository = identityProviders{}

// providerJSON is the stored form of domain.IdentityProviderSpec.
type providerJSON struct {
	Issuer         string              `json:"issuer"`
	JWKSURL        string              `json:"jwks_url,omitempty"`
	Discovery      bool                `json:"discovery,omitempty"`
	Audiences      []string            `json:"audiences"`
	Algorithms     []string            `json:"algorithms"`
	LeewaySeconds  int64               `json:"leeway_seconds"`
	RequiredTyp    string              `json:"required_typ,omitempty"`
	MaxAgeSeconds  int64               `json:"max_token_age_seconds,omitempty"`
	RequiredClaims []requiredClaimJSON `json:"required_claims,omitempty"`
	Subject        []string            `json:"subject,omitempty"`
	Email          []string            `json:"email,omitempty"`
	Name           []string            `json:"name,omitempty"`
	JITEnabled     bool                `json:"jit_enabled,omitempty"`
	RoleClaim      []string            `json:"role_claim,omitempty"`
	RoleMapping    map[string][]string `json:"role_mapping,omitempty"`
	DefaultRole    string              `json:"default_role,omitempty"`
}

type requiredClaimJSON struct {
	Claim []string `json:"claim"`
	Value string   `json:"value"`
}

func specToJSON(s domain.IdentityProviderSpec) (string, error) {
	j := providerJSON{
		Issuer: s.Issuer, JWKSURL: s.JWKSURL, Discovery: s.Discovery, Audiences: s.Audiences, Algorithms: s.Algorithms,
		LeewaySeconds: int64(s.Leeway / time.Second), RequiredTyp: s.RequiredTyp, MaxAgeSeconds: int64(s.MaxTokenAge / time.Second),
		Subject: s.Claims.Subject, Email: s.Claims.Email, Name: s.Claims.Name,
		JITEnabled: s.JIT.Enabled, RoleClaim: s.JIT.RoleClaim, DefaultRole: string(s.JIT.DefaultRole),
	}
	for _, c := range s.RequiredClaims {
		j.RequiredClaims = append(j.RequiredClaims, requiredClaimJSON{Claim: c.Claim, Value: c.Value})
	}
	if len(s.JIT.RoleMapping) > 0 {
		j.RoleMapping = map[string][]string{}
		for v, roles := range s.JIT.RoleMapping {
			for _, r := range roles {
				j.RoleMapping[v] = append(j.RoleMapping[v], string(r))
			}
		}
	}
	b, err := json.Marshal(j)
	return string(b), err
}

func specFromJSON(v string) (domain.IdentityProviderSpec, error) {
	var j providerJSON
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		return domain.IdentityProviderSpec{}, fmt.Errorf("sqlstore: bad stored identity provider: %w", err)
	}
	s := domain.IdentityProviderSpec{
		Issuer: j.Issuer, JWKSURL: j.JWKSURL, Discovery: j.Discovery, Audiences: j.Audiences, Algorithms: j.Algorithms,
		Leeway: time.Duration(j.LeewaySeconds) * time.Second, RequiredTyp: j.RequiredTyp,
		MaxTokenAge: time.Duration(j.MaxAgeSeconds) * time.Second,
		Claims:      domain.ClaimMappings{Subject: j.Subject, Email: j.Email, Name: j.Name},
		JIT:         domain.JITMembership{Enabled: j.JITEnabled, RoleClaim: j.RoleClaim, DefaultRole: domain.RoleKey(j.DefaultRole)},
	}
	for _, c := range j.RequiredClaims {
		s.RequiredClaims = append(s.RequiredClaims, domain.RequiredClaim{Claim: c.Claim, Value: c.Value})
	}
	if len(j.RoleMapping) > 0 {
		s.JIT.RoleMapping = map[string][]domain.RoleKey{}
		for v, roles := range j.RoleMapping {
			for _, r := range roles {
				s.JIT.RoleMapping[v] = append(s.JIT.RoleMapping[v], domain.RoleKey(r))
			}
		}
	}
	return s, nil
}

// nextChange takes the next store-wide change version and records it as
// the last change of orgID's provider. It must run in the transaction of
// the change: the counter row stays locked until it ends.
func nextChange(ctx context.Context, c conn, orgID string, deleted bool) (int64, error) {
	var v int64
	if err := c.db.NewRaw("UPDATE identity_provider_counter SET value = value + 1 WHERE id = 1 RETURNING value").Scan(ctx, &v); err != nil {
		return 0, translate(err, "next identity provider change", nil)
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO identity_provider_changes (org_id, change_version, deleted) VALUES (?, ?, ?)
ON CONFLICT (org_id) DO UPDATE SET change_version = excluded.change_version, deleted = excluded.deleted`, orgID, v, deleted)
	return v, translate(err, "record identity provider change", nil)
}

func (r identityProviders) writeAudiences(ctx context.Context, c conn, p *domain.IdentityProvider) error {
	if err := deleteAudiences(ctx, c, p.OrgID()); err != nil {
		return err
	}
	for _, a := range p.Audiences() {
		_, err := c.db.ExecContext(ctx, "INSERT INTO identity_provider_audiences (issuer, audience, org_id) VALUES (?, ?, ?)", p.Issuer(), a, p.OrgID())
		if err != nil {
			return translate(err, "store identity provider audience", domain.ErrIdentityProviderConflict)
		}
	}
	return nil
}

// createScoped is the body of Create, which scopes it. Create stores the provider of an organization that has none.
func (r identityProviders) createScoped(ctx context.Context, p *domain.IdentityProvider) error {
	cfg, err := specToJSON(p.Spec())
	if err != nil {
		return err
	}
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		v, err := nextChange(ctx, c, p.OrgID(), false)
		if err != nil {
			return err
		}
		_, err = c.db.ExecContext(ctx, `INSERT INTO identity_providers (org_id, issuer, config, created_at, updated_at, version, change_version)
VALUES (?, ?, ?, ?, ?, ?, ?)`, p.OrgID(), p.Issuer(), cfg, newDBTime(p.CreatedAt()), newDBTime(p.UpdatedAt()), p.Version(), v)
		if err != nil {
			// A foreign key violation (no such organization) is ErrNotFound.
			return translate(err, "create identity provider", domain.ErrVersionMismatch)
		}
		return r.writeAudiences(ctx, c, p)
	})
}

const providerColumns = "org_id, config, created_at, updated_at, version"

func scanProvider(sc interface{ Scan(...any) error }) (*domain.IdentityProvider, error) {
	var (
		orgID, cfg string
		created    dbTime
		updated    dbTime
		version    int64
	)
	if err := sc.Scan(&orgID, &cfg, &created, &updated, &version); err != nil {
		return nil, err
	}
	spec, err := specFromJSON(cfg)
	if err != nil {
		return nil, err
	}
	return domain.UnmarshalIdentityProviderFromDatabase(orgID, spec, created.Time(), updated.Time(), version), nil
}

func (r identityProviders) get(ctx context.Context, orgID string, lock bool) (*domain.IdentityProvider, error) {
	q := "SELECT " + providerColumns + " FROM identity_providers WHERE org_id = ?"
	if lock && r.c.pg {
		q += " FOR UPDATE"
	}
	rows, err := r.c.db.QueryContext(ctx, q, orgID)
	if err != nil {
		return nil, translate(err, "get identity provider", nil)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, translate(err, "get identity provider", nil)
		}
		return nil, domain.ErrNotFound
	}
	p, err := scanProvider(rows)
	if err != nil {
		return nil, translate(err, "get identity provider", nil)
	}
	return p, translate(rows.Close(), "get identity provider", nil)
}

// getScoped is the body of Get, which scopes it. Get returns an organization's provider. Errors: domain.ErrNotFound.
func (r identityProviders) getScoped(ctx context.Context, orgID string) (*domain.IdentityProvider, error) {
	return r.get(ctx, orgID, false)
}

// getForUpdateScoped is the body of GetForUpdate, which scopes it. GetForUpdate is Get that locks the row until the transaction ends.
func (r identityProviders) getForUpdateScoped(ctx context.Context, orgID string) (*domain.IdentityProvider, error) {
	return r.get(ctx, orgID, true)
}

// updateScoped is the body of Update, which scopes it. Update stores p if the stored version is still prevVersion.
func (r identityProviders) updateScoped(ctx context.Context, p *domain.IdentityProvider, prevVersion int64) error {
	cfg, err := specToJSON(p.Spec())
	if err != nil {
		return err
	}
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		var cur int64
		err := c.db.NewRaw("SELECT version FROM identity_providers WHERE org_id = ?"+map[bool]string{true: " FOR UPDATE"}[c.pg], p.OrgID()).Scan(ctx, &cur)
		if err != nil {
			return translate(err, "update identity provider", nil)
		}
		if cur != prevVersion {
			return domain.ErrVersionMismatch
		}
		v, err := nextChange(ctx, c, p.OrgID(), false)
		if err != nil {
			return err
		}
		_, err = c.db.ExecContext(ctx, `UPDATE identity_providers SET issuer = ?, config = ?, updated_at = ?, version = ?, change_version = ?
WHERE org_id = ?`, p.Issuer(), cfg, newDBTime(p.UpdatedAt()), p.Version(), v, p.OrgID())
		if err != nil {
			return translate(err, "update identity provider", nil)
		}
		return r.writeAudiences(ctx, c, p)
	})
}

// deleteScoped is the body of Delete, which scopes it. Delete removes an organization's provider. Errors: domain.ErrNotFound.
func (r identityProviders) deleteScoped(ctx context.Context, orgID string) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.db.ExecContext(ctx, "DELETE FROM identity_providers WHERE org_id = ?", orgID)
		if err := affectedOne(res, err, "delete identity provider"); err != nil {
			return err
		}
		if err := deleteAudiences(ctx, c, orgID); err != nil {
			return err
		}
		_, err = nextChange(ctx, c, orgID, true)
		return err
	})
}

// recordOrgDeletion records the deletion of orgID's provider, if it has
// one, before the organization's rows cascade away.
func recordOrgDeletion(ctx context.Context, c conn, orgID string) error {
	var n int
	if err := c.db.NewRaw("SELECT count(*) FROM identity_providers WHERE org_id = ?", orgID).Scan(ctx, &n); err != nil {
		return translate(err, "delete organization", nil)
	}
	if n == 0 {
		return nil
	}
	if err := deleteAudiences(ctx, c, orgID); err != nil {
		return err
	}
	_, err := nextChange(ctx, c, orgID, true)
	return err
}

// deleteAudiences removes the audiences of orgID's provider. The audiences
// table is global ((issuer, audience) is unique across organizations), so no
// foreign key to the provider removes them: a global table cannot reference
// a sharded one.
func deleteAudiences(ctx context.Context, c conn, orgID string) error {
	_, err := c.db.ExecContext(ctx, "DELETE FROM identity_provider_audiences WHERE org_id = ?", orgID)
	return translate(err, "delete identity provider audiences", nil)
}

// orgIDsByIssuerScoped is the body of OrgIDsByIssuer, which scopes it. OrgIDsByIssuer returns the organizations whose provider has that issuer.
func (r identityProviders) orgIDsByIssuerScoped(ctx context.Context, issuer string) ([]string, error) {
	out := []string{}
	err := r.c.db.NewRaw("SELECT org_id FROM identity_providers WHERE issuer = ? ORDER BY org_id", issuer).Scan(ctx, &out)
	if errors.Is(err, sql.ErrNoRows) {
		return []string{}, nil
	}
	return out, translate(err, "find identity providers by issuer", nil)
}

// ListChangedSince returns the last change of every provider changed after
// since, in change order, and the current change version.
func (r identityProviders) ListChangedSince(ctx context.Context, since int64) ([]ports.IdentityProviderChange, int64, error) {
	var (
		out []ports.IdentityProviderChange
		cur int64
	)
	err := r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		return c.crossTenant(ctx, func(ctx context.Context, c conn) error {
			out = nil
			if err := c.db.NewRaw("SELECT value FROM identity_provider_counter WHERE id = 1").Scan(ctx, &cur); err != nil {
				return translate(err, "list identity provider changes", nil)
			}
			rows, err := c.db.QueryContext(ctx, `SELECT ch.org_id, ch.change_version, p.org_id, p.config, p.created_at, p.updated_at, p.version
FROM identity_provider_changes AS ch LEFT JOIN identity_providers AS p ON p.org_id = ch.org_id
WHERE ch.change_version > ? AND ch.change_version <= ? ORDER BY ch.change_version`, since, cur)
			if err != nil {
				return translate(err, "list identity provider changes", nil)
			}
			defer rows.Close()
			for rows.Next() {
				var (
					ch               ports.IdentityProviderChange
					pOrg, cfg        sql.NullString
					created, updated dbTime
					version          sql.NullInt64
				)
				if err := rows.Scan(&ch.OrgID, &ch.ChangeVersion, &pOrg, &cfg, &created, &updated, &version); err != nil {
					return translate(err, "list identity provider changes", nil)
				}
				if pOrg.Valid {
					spec, err := specFromJSON(cfg.String)
					if err != nil {
						return err
					}
					ch.Provider = domain.UnmarshalIdentityProviderFromDatabase(pOrg.String, spec, created.Time(), updated.Time(), version.Int64)
				}
				out = append(out, ch)
			}
			return translate(rows.Err(), "list identity provider changes", nil)
		})
	})
	return out, cur, err
}

// Create runs createScoped in a transaction scoped to its organization (see tenancy.go).
func (r identityProviders) Create(ctx context.Context, p *domain.IdentityProvider) error {
	return r.c.tenant(ctx, p.OrgID(), func(ctx context.Context, c conn) error {
		return identityProviders{c}.createScoped(ctx, p)
	})
}

// Get runs getScoped in a transaction scoped to its organization (see tenancy.go).
func (r identityProviders) Get(ctx context.Context, orgID string) (*domain.IdentityProvider, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.IdentityProvider, error) {
		return identityProviders{c}.getScoped(ctx, orgID)
	})
}

// GetForUpdate runs getForUpdateScoped in a transaction scoped to its organization (see tenancy.go).
func (r identityProviders) GetForUpdate(ctx context.Context, orgID string) (*domain.IdentityProvider, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.IdentityProvider, error) {
		return identityProviders{c}.getForUpdateScoped(ctx, orgID)
	})
}

// Update runs updateScoped in a transaction scoped to its organization (see tenancy.go).
func (r identityProviders) Update(ctx context.Context, p *domain.IdentityProvider, prevVersion int64) error {
	return r.c.tenant(ctx, p.OrgID(), func(ctx context.Context, c conn) error {
		return identityProviders{c}.updateScoped(ctx, p, prevVersion)
	})
}

// Delete runs deleteScoped in a transaction scoped to its organization (see tenancy.go).
func (r identityProviders) Delete(ctx context.Context, orgID string) error {
	return r.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		return identityProviders{c}.deleteScoped(ctx, orgID)
	})
}

// OrgIDsByIssuer runs orgIDsByIssuerScoped across organizations (read only) (see tenancy.go).
func (r identityProviders) OrgIDsByIssuer(ctx context.Context, issuer string) ([]string, error) {
	return crossValue(ctx, r.c, func(ctx context.Context, c conn) ([]string, error) {
		return identityProviders{c}.orgIDsByIssuerScoped(ctx, issuer)
	})
}
