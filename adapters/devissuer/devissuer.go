// Package devissuer is a development-only token issuer: one RSA signing key
// persisted as a PEM file, its public half published as a JSON Web Key Set,
// and RS256 access tokens minted with it.
//
// It lets `orgstack dev` and `orgstack token` produce tokens that go through
// the normal JWKS verification path (no bypass). The issuer and audience are
// fixed constants that do not depend on the listen address. It must never be
// enabled by `orgstack serve`.
package devissuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The development issuer's fixed token parameters. A verifier for development
// tokens is configured with Issuer and Audience, and with AdminClaim and
// AdminValue as its platform-administrator claim.
const (
	Issuer     = "https://dev.orgstack.invalid"
	Audience   = "orgstack"
	AdminClaim = "orgstack_platform_admin"
	AdminValue = "true"
)

// OrgClaim is the claim that carries TokenRequest.Org.
const OrgClaim = "org_id"

// DefaultTTL is a minted token's lifetime when TokenRequest.TTL is zero.
const DefaultTTL = time.Hour

// keyBits is the size of a generated signing key.
const keyBits = 2048

// pemType is the PEM block type of a PKCS #8 private key.
const pemType = "PRIVATE KEY"

// Signer holds the development signing key. (It is not called Issuer because
// that name is the issuer constant.) It is safe for concurrent use.
type Signer struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
}

// Load loads the RSA private key (PKCS #8 PEM) at path. When no file exists
// there, the error wraps fs.ErrNotExist: callers that must not invent a key
// (minting tokens for a server that already has one) say so instead.
func Load(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devissuer: read key: %w", err)
	}
	return load(path, data)
}

// LoadOrCreate loads the RSA private key (PKCS #8 PEM) at path, or, when no
// file exists there, generates an RSA-2048 key and writes it with mode 0600,
// creating the directory (0700) if needed.
func LoadOrCreate(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return load(path, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("devissuer: read key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it meanwhile: use that key.
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("devissuer: read key: %w", err)
		}
		return load(path, data)
	}
	if err != nil {
		return nil, fmt.Errorf("devissuer: create key file: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("devissuer: write key file: %w", werr)
	}
	return newSigner(key)
}

// load parses a PKCS #8 PEM RSA private key.
func load(path string, data []byte) (*Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemType {
		return nil, fmt.Errorf("devissuer: %s: no %q PEM block", path, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %s: %w", path, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("devissuer: %s: key is %T, want an RSA key", path, k)
	}
	if key.N.BitLen() < keyBits {
		return nil, fmt.Errorf("devissuer: %s: RSA key has %d bits, want at least %d", path, key.N.BitLen(), keyBits)
	}
	return newSigner(key)
}

// publicJWK is the JSON form of an RSA public key in a JWK Set.
type publicJWK struct {
	KTY string `json:"kty"`
	KID string `json:"kid"`
	ALG string `json:"alg"`
	USE string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func newSigner(key *rsa.PrivateKey) (*Signer, error) {
	b64 := base64.RawURLEncoding
	n := b64.EncodeToString(key.N.Bytes())
	e := b64.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	// RFC 7638 thumbprint: SHA-256 of the required members in lexicographic
	// order, without whitespace. n and e are base64url, so need no escaping.
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	kid := b64.EncodeToString(sum[:])
	set := struct {
		Keys []publicJWK `json:"keys"`
	}{Keys: []publicJWK{{KTY: "RSA", KID: kid, ALG: "RS256", USE: "sig", N: n, E: e}}}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode JWKS: %w", err)
	}
	return &Signer{key: key, kid: kid, jwks: body}, nil
}

// KeyID returns the signing key's ID, its RFC 7638 thumbprint.
func (s *Signer) KeyID() string { return s.kid }

// JWKSHandler serves the public JWK Set ({"keys": [...]}) for GET and HEAD;
// it is mounted at /.well-known/jwks.json.
func (s *Signer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(s.jwks)
	})
}

// TokenRequest describes a token to mint.
type TokenRequest struct {
	// Subject is the sub claim; required.
	Subject string
	// Org, when set, binds the token to an organization (ID or slug) through
	// the org_id claim.
	Org string
	// Email and Name are set as claims when non-empty.
	Email string
	Name  string
	// Admin sets AdminClaim to AdminValue.
	Admin bool
	// TTL is the token's lifetime; DefaultTTL when zero.
	TTL time.Duration
}

// Mint signs an RS256 access token for r, issued at now, with the key ID in
// its header and iss, aud, sub, iat, nbf, exp and a random jti.
func (s *Signer) Mint(r TokenRequest, now time.Time) (string, error) {
	if r.Subject == "" {
		return "", errors.New("devissuer: subject is required")
	}
	ttl := r.TTL
	switch {
	case ttl < 0:
		return "", errors.New("devissuer: TTL must not be negative")
	case ttl == 0:
		ttl = DefaultTTL
	}
	claims := jwt.MapClaims{
		"iss": Issuer,
		"aud": Audience,
		"sub": r.Subject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": rand.Text(),
	}
	if r.Email != "" {
		claims["email"] = r.Email
	}
	if r.Name != "" {
		claims["name"] = r.Name
	}
	if r.Org != "" {
		claims[OrgClaim] = r.Org
	}
	if r.Admin {
		claims[AdminClaim] = AdminValue
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return signed, nil
}

// DerivedSecret returns a secret derived from the signing key and label
// (HMAC-SHA256 of label keyed with the key's private exponent, hex): stable
// for as long as the key file is kept, for development settings that need
// a key without set-up (the webhook secret key of `orgstack dev`).
func (s *Signer) DerivedSecret(label string) string {
	m := hmac.New(sha256.New, s.key.D.Bytes())
	m.Write([]byte(label))
	return hex.EncodeToString(m.Sum(nil))
}
