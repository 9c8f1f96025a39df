package httpapi

import (
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// claimPath is a claim mapping: a list of keys, each walking into the
// object found so far. A dotted key is one claim name, never split.
type claimPath = []string

// requiredClaimJSON is one required claim value.
type requiredClaimJSON struct {
	Claim claimPath `json:"claim"`
	Value string    `json:"value"`
}

// claimMappingsJSON says where tokens carry a user's subject, email, name.
type claimMappingsJSON struct {
	Subject claimPath `json:"subject,omitempty"`
	Email   claimPath `json:"email,omitempty"`
	Name    claimPath `json:"name,omitempty"`
}

// jitJSON is just-in-time membership.
type jitJSON struct {
	Enabled     bool                `json:"enabled"`
	RoleClaim   claimPath           `json:"role_claim,omitempty"`
	RoleMapping map[string][]string `json:"role_mapping"`
	DefaultRole string              `json:"default_role,omitempty"`
}

// identityProviderRequest is the body of PUT …/identity-provider. Without
// jwks_url the key set is found through OpenID Connect discovery. Fields
// an organization's provider cannot have (an organization claim, a
// platform-administrator mapping, introspection) are unknown fields, which
// the decoder refuses.
type identityProviderRequest struct {
	Issuer             string              `json:"issuer"`
	JWKSURL            string              `json:"jwks_url"`
	Audiences          []string            `json:"audiences"`
	Algorithms         []string            `json:"algorithms"`
	LeewaySeconds      int64               `json:"leeway_seconds"`
	RequiredTyp        string              `json:"required_typ"`
	MaxTokenAgeSeconds int64               `json:"max_token_age_seconds"`
	RequiredClaims     []requiredClaimJSON `json:"required_claims"`
	Claims             claimMappingsJSON   `json:"claims"`
	JIT                jitJSON             `json:"jit"`
}

// identityProviderJSON is the provider representation.
type identityProviderJSON struct {
	OrgID              string              `json:"org_id"`
	Issuer             string              `json:"issuer"`
	JWKSURL            *string             `json:"jwks_url"`
	Discovery          bool                `json:"discovery"`
	Audiences          []string            `json:"audiences"`
	Algorithms         []string            `json:"algorithms"`
	LeewaySeconds      int64               `json:"leeway_seconds"`
	RequiredTyp        *string             `json:"required_typ"`
	MaxTokenAgeSeconds *int64              `json:"max_token_age_seconds"`
	RequiredClaims     []requiredClaimJSON `json:"required_claims"`
	Claims             claimMappingsJSON   `json:"claims"`
	JIT                jitJSON             `json:"jit"`
	CreatedAt          time.Time           `json:"created_at"`
	UpdatedAt          time.Time           `json:"updated_at"`
	Version            int64               `json:"version"`
	Status             *providerStatusJSON `json:"status,omitempty"`
}

// maxDurationSeconds bounds the seconds fields before they become a
// time.Duration (the domain's limits are far below it), so that no value
// overflows into an accepted one.
const maxDurationSeconds = 1 << 32

func (q identityProviderRequest) spec() domain.IdentityProviderSpec {
	secs := func(v int64) time.Duration {
		if v < -maxDurationSeconds || v > maxDurationSeconds {
			v = maxDurationSeconds // out of every range: refused by the domain
		}
		return time.Duration(v) * time.Second
	}
	s := domain.IdentityProviderSpec{
		Issuer: q.Issuer, JWKSURL: q.JWKSURL, Discovery: q.JWKSURL == "", Audiences: q.Audiences, Algorithms: q.Algorithms,
		Leeway: secs(q.LeewaySeconds), RequiredTyp: q.RequiredTyp, MaxTokenAge: secs(q.MaxTokenAgeSeconds),
		Claims: domain.ClaimMappings{Subject: q.Claims.Subject, Email: q.Claims.Email, Name: q.Claims.Name},
		JIT: domain.JITMembership{
			Enabled: q.JIT.Enabled, RoleClaim: q.JIT.RoleClaim, DefaultRole: domain.RoleKey(q.JIT.DefaultRole),
		},
	}
	for _, c := range q.RequiredClaims {
		s.RequiredClaims = append(s.RequiredClaims, domain.RequiredClaim{Claim: c.Claim, Value: c.Value})
	}
	if q.JIT.RoleMapping != nil {
		s.JIT.RoleMapping = map[string][]domain.RoleKey{}
		for v, roles := range q.JIT.RoleMapping {
			keys := make([]domain.RoleKey, len(roles))
			for i, r := range roles {
				keys[i] = domain.RoleKey(r)
			}
			s.JIT.RoleMapping[v] = keys
		}
	}
	return s
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func toIdentityProviderJSON(p *domain.IdentityProvider) identityProviderJSON {
	s := p.Spec()
	out := identityProviderJSON{
		OrgID: p.OrgID(), Issuer: s.Issuer, Discovery: s.Discovery, Audiences: orEmpty(s.Audiences),
		Algorithms: orEmpty(s.Algorithms), LeewaySeconds: int64(s.Leeway / time.Second),
		RequiredClaims: []requiredClaimJSON{},
		Claims:         claimMappingsJSON{Subject: s.Claims.Subject, Email: s.Claims.Email, Name: s.Claims.Name},
		JIT: jitJSON{
			Enabled: s.JIT.Enabled, RoleClaim: s.JIT.RoleClaim, DefaultRole: string(s.JIT.DefaultRole),
			RoleMapping: map[string][]string{},
		},
		CreatedAt: p.CreatedAt().UTC(), UpdatedAt: p.UpdatedAt().UTC(), Version: p.Version(),
	}
	if s.JWKSURL != "" {
		out.JWKSURL = &s.JWKSURL
	}
	if s.RequiredTyp != "" {
		out.RequiredTyp = &s.RequiredTyp
	}
	if s.MaxTokenAge > 0 {
		v := int64(s.MaxTokenAge / time.Second)
		out.MaxTokenAgeSeconds = &v
	}
	for _, c := range s.RequiredClaims {
		out.RequiredClaims = append(out.RequiredClaims, requiredClaimJSON{Claim: c.Claim, Value: c.Value})
	}
	for v, roles := range s.JIT.RoleMapping {
		keys := make([]string, len(roles))
		for i, r := range roles {
			keys[i] = string(r)
		}
		out.JIT.RoleMapping[v] = keys
	}
	return out
}

func (s *server) writeIdentityProvider(w http.ResponseWriter, r *http.Request, status int, p *domain.IdentityProvider) {
	w.Header().Set("ETag", etag(p.Version()))
	s.writeData(w, r, status, toIdentityProviderJSON(p))
}

// getIdentityProvider handles GET …/identity-provider.
func (s *server) getIdentityProvider(w http.ResponseWriter, r *http.Request) {
	p, err := s.svc.IdentityProviders.Get(r.Context(), principal(r.Context()), orgRef(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toIdentityProviderJSON(p)
	if st, ok := s.svc.IdentityProviders.KeyStatus(p); ok {
		out.Status = toProviderStatusJSON(st)
	}
	w.Header().Set("ETag", etag(p.Version()))
	s.writeData(w, r, http.StatusOK, out)
}

// putIdentityProvider handles PUT …/identity-provider: 201 when it creates
// the provider, 200 when it replaces it.
func (s *server) putIdentityProvider(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req identityProviderRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, created, err := s.svc.IdentityProviders.Put(r.Context(), principal(r.Context()), orgRef(r), req.spec(), version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.writeIdentityProvider(w, r, status, p)
}

// deleteIdentityProvider handles DELETE …/identity-provider.
func (s *server) deleteIdentityProvider(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.IdentityProviders.Delete(r.Context(), principal(r.Context()), orgRef(r), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// providerStatusJSON is the key-set state of the provider in the instance
// that answers.
type providerStatusJSON struct {
	Active      bool       `json:"active"`
	KeysLoaded  bool       `json:"keys_loaded"`
	LastRefresh *time.Time `json:"last_refresh"`
	LastError   *string    `json:"last_error"`
}

func toProviderStatusJSON(st ports.ProviderStatus) *providerStatusJSON {
	out := &providerStatusJSON{Active: st.Active, KeysLoaded: st.KeysLoaded}
	if !st.LastRefresh.IsZero() {
		t := st.LastRefresh.UTC()
		out.LastRefresh = &t
	}
	if st.LastError != "" {
		e := st.LastError
		out.LastError = &e
	}
	return out
}

// identityProviderTestRequest is the body of POST
// …/identity-provider/test: a token, and optionally a candidate
// configuration to test before the PUT.
type identityProviderTestRequest struct {
	Token    string                   `json:"token"`
	Provider *identityProviderRequest `json:"provider"`
}

// testIdentityProvider handles POST …/identity-provider/test, the
// organization's dry run. The token is never logged, stored or echoed.
func (s *server) testIdentityProvider(w http.ResponseWriter, r *http.Request) {
	var body identityProviderTestRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Token == "" || utf8.RuneCountInString(body.Token) > maxTokenCheckChars || !domain.IsKeyText(body.Token) {
		s.writeError(w, r, domain.Invalid("token", "required: 1 to %d characters without control characters", maxTokenCheckChars))
		return
	}
	var candidate *domain.IdentityProviderSpec
	if body.Provider != nil {
		spec := body.Provider.spec()
		candidate = &spec
	}
	res, err := s.svc.IdentityProviders.TestToken(r.Context(), principal(r.Context()), orgRef(r), body.Token, candidate)
	if err != nil {
		s.writeError(w, r, prefixFields(err, "provider"))
		return
	}
	s.writeJSON(w, r, http.StatusOK, toTokenCheckJSON(res))
}

// prefixFields puts the field paths of a validation or unknown-reference
// error under prefix (the candidate is the body's provider member).
func prefixFields(err error, prefix string) error {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		out := &domain.ValidationError{}
		for _, f := range ve.Fields {
			out.Fields = append(out.Fields, domain.FieldError{Field: prefix + "/" + f.Field, Detail: f.Detail})
		}
		return out
	}
	var ue *domain.UnknownReferenceError
	if errors.As(err, &ue) {
		out := &domain.UnknownReferenceError{}
		for _, f := range ue.Fields {
			out.Fields = append(out.Fields, domain.FieldError{Field: prefix + "/" + f.Field, Detail: f.Detail})
		}
		return out
	}
	return err
}
