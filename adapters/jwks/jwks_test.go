package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstack/orgstack/ports"
)

const (
	testAud    = "https://api.orgstack.test"
	testLeeway = 30 * time.Second
)

var b64 = base64.RawURLEncoding

// testKeys are generated once per test binary; RSA generation is slow.
var testKeys = sync.OnceValue(func() struct {
	k1, k2, attacker *rsa.PrivateKey
	ec               *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
} {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err) // test setup only
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return struct {
		k1, k2, attacker *rsa.PrivateKey
		ec               *ecdsa.PrivateKey
		ed               ed25519.PrivateKey
	}{gen(), gen(), gen(), ec, ed}
})

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	return map[string]any{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64.EncodeToString(k.X.FillBytes(make([]byte, 32))),
		"y": b64.EncodeToString(k.Y.FillBytes(make([]byte, 32)))}
}

func edJWK(kid string, k ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "kid": kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519",
		"x": b64.EncodeToString(k)}
}

// keyServer is a JWKS endpoint whose key set a test can change, counting hits.
type keyServer struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []map[string]any
	status int
	hits   atomic.Int64
}

func newKeyServer(t *testing.T, keys ...map[string]any) *keyServer {
	t.Helper()
	ks := &keyServer{keys: keys, status: http.StatusOK}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		if ks.status != http.StatusOK {
			w.WriteHeader(ks.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": ks.keys})
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(status int, keys ...map[string]any) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.status, ks.keys = status, keys
}

// counter is a server that must never be contacted.
func counter(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "nothing here", http.StatusNotFound)
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// defaultKeys is the test JWKS: K1 (RS256), an EC and an Ed25519 key.
func defaultKeys() []map[string]any {
	k := testKeys()
	return []map[string]any{
		rsaJWK("k1", &k.k1.PublicKey),
		ecJWK("e1", &k.ec.PublicKey),
		edJWK("d1", k.ed.Public().(ed25519.PublicKey)),
	}
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func testConfig(jwksURL string) Config {
	return Config{
		JWKSURL:    jwksURL,
		Issuer:     "https://idp.test/realms/acme",
		Audience:   testAud,
		AdminClaim: "platform_roles",
		AdminValue: "admin",
	}
}

// token describes a token to build; nil maps mean the baseline.
type token struct {
	header map[string]any
	claims map[string]any
	method jwt.SigningMethod
	key    any
}

func baseHeader() map[string]any {
	return map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}
}

func baseClaims() map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": "https://idp.test/realms/acme", "aud": testAud, "sub": "u1",
		"org_id": "A", "iat": now, "nbf": now, "exp": now + 300}
}

func seg(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(raw)
}

// sign builds and signs a token with full control of the header.
func sign(t testing.TB, tk token) string {
	t.Helper()
	if tk.header == nil {
		tk.header = baseHeader()
	}
	if tk.claims == nil {
		tk.claims = baseClaims()
	}
	if tk.method == nil {
		tk.method = jwt.SigningMethodRS256
	}
	if tk.key == nil {
		tk.key = testKeys().k1
	}
	input := seg(t, tk.header) + "." + seg(t, tk.claims)
	sig, err := tk.method.Sign(input, tk.key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// with returns the baseline header or claims with changes applied; a nil
// value deletes the key.
func with(base map[string]any, changes map[string]any) map[string]any {
	for k, v := range changes {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return base
}

func hdr(changes map[string]any) map[string]any { return with(baseHeader(), changes) }
func clm(changes map[string]any) map[string]any { return with(baseClaims(), changes) }

func TestVerifyVectors(t *testing.T) {
	keys := testKeys()
	ks := newKeyServer(t, defaultKeys()...)
	attackerJKU, attackerHits := counter(t)
	v := newVerifier(t, testConfig(ks.URL))
	now := time.Now().Unix()

	pubPEM := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&keys.k1.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	spki, _ := x509.MarshalPKIXPublicKey(&keys.k1.PublicKey)
	jwkJSON, _ := json.Marshal(rsaJWK("k1", &keys.k1.PublicKey))
	attackerCert := func() string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &keys.attacker.PublicKey, keys.attacker)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}()
	unsigned := func(h map[string]any) string {
		return seg(t, h) + "." + seg(t, baseClaims()) + "."
	}
	baseline := sign(t, token{})
	parts := strings.Split(baseline, ".")
	flipped := func() string {
		sig, _ := b64.DecodeString(parts[2])
		sig[len(sig)/2] ^= 0x01
		return parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)
	}()

	tests := []struct {
		name string
		give string
		want *ports.Principal // nil: rejected
	}{
		{name: "V01 baseline", give: baseline,
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "V02 alg none", give: unsigned(hdr(map[string]any{"alg": "none"}))},
		{name: "V03 alg nOnE", give: unsigned(hdr(map[string]any{"alg": "nOnE"}))},
		{name: "V03 alg NONE", give: unsigned(hdr(map[string]any{"alg": "NONE"}))},
		{name: "V04 signature removed", give: parts[0] + "." + parts[1] + "."},
		{name: "V05 signature bit flipped", give: flipped},
		{name: "V06 org_id changed after signing",
			give: parts[0] + "." + seg(t, with(mustClaims(t, parts[1]), map[string]any{"org_id": "B"})) + "." + parts[2]},
		{name: "V07 HS256 keyed with public PEM", give: sign(t, token{
			header: hdr(map[string]any{"alg": "HS256"}), method: jwt.SigningMethodHS256, key: pubPEM()})},
		{name: "V08 HS256 keyed with DER SPKI", give: sign(t, token{
			header: hdr(map[string]any{"alg": "HS256"}), method: jwt.SigningMethodHS256, key: spki})},
		{name: "V08 HS256 keyed with JWK JSON", give: sign(t, token{
			header: hdr(map[string]any{"alg": "HS256"}), method: jwt.SigningMethodHS256, key: jwkJSON})},
		{name: "V09 RS512 signed by K1", give: sign(t, token{
			header: hdr(map[string]any{"alg": "RS512"}), method: jwt.SigningMethodRS512})},
		{name: "V09 PS256 signed by K1 (JWK pins RS256)", give: sign(t, token{
			header: hdr(map[string]any{"alg": "PS256"}), method: jwt.SigningMethodPS256})},
		{name: "V10 ES256 zero signature",
			give: seg(t, hdr(map[string]any{"alg": "ES256"})) + "." + seg(t, baseClaims()) + "." + b64.EncodeToString(make([]byte, 64))},
		{name: "V10 ES256 zero signature on EC kid",
			give: seg(t, hdr(map[string]any{"alg": "ES256", "kid": "e1"})) + "." + seg(t, baseClaims()) + "." + b64.EncodeToString(make([]byte, 64))},
		{name: "V11 embedded jwk, signed by attacker", give: sign(t, token{
			header: hdr(map[string]any{"jwk": rsaJWK("k1", &keys.attacker.PublicKey)}), key: keys.attacker})},
		{name: "V11 embedded jwk without kid, signed by attacker", give: sign(t, token{
			header: hdr(map[string]any{"kid": nil, "jwk": rsaJWK("evil", &keys.attacker.PublicKey)}), key: keys.attacker})},
		{name: "V12 jku to attacker JWKS", give: sign(t, token{
			header: hdr(map[string]any{"kid": "evil", "jku": attackerJKU.URL + "/jwks"}), key: keys.attacker})},
		{name: "V13 x5u to attacker certificate", give: sign(t, token{
			header: hdr(map[string]any{"kid": nil, "x5u": attackerJKU.URL + "/cert.pem"}), key: keys.attacker})},
		{name: "V13 x5c attacker certificate", give: sign(t, token{
			header: hdr(map[string]any{"kid": nil, "x5c": []string{attackerCert}}), key: keys.attacker})},
		{name: "V14 kid path traversal with HS256 empty key", give: sign(t, token{
			header: hdr(map[string]any{"alg": "HS256", "kid": "../../../../dev/null"}),
			method: jwt.SigningMethodHS256, key: []byte{0}})},
		{name: "V15 kid SQL injection", give: sign(t, token{header: hdr(map[string]any{"kid": "x' OR '1'='1"})})},
		{name: "V16 kid number", give: sign(t, token{header: hdr(map[string]any{"kid": 42})})},
		{name: "V16 kid array", give: sign(t, token{header: hdr(map[string]any{"kid": []any{}})})},
		{name: "V21 no kid, signed by K1 (accepted: tried against every key)",
			give: sign(t, token{header: hdr(map[string]any{"kid": nil})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "V22 no kid, signed by attacker",
			give: sign(t, token{header: hdr(map[string]any{"kid": nil}), key: keys.attacker})},
		{name: "V23 expired beyond leeway",
			give: sign(t, token{claims: clm(map[string]any{"exp": now - int64(testLeeway/time.Second) - 1})})},
		{name: "V24 expired within leeway",
			give: sign(t, token{claims: clm(map[string]any{"exp": now - int64(testLeeway/time.Second) + 5})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "V25 exp missing", give: sign(t, token{claims: clm(map[string]any{"exp": nil})})},
		{name: "V26 exp as string", give: sign(t, token{claims: clm(map[string]any{"exp": "9999999999"})})},
		{name: "V27 nbf in the future", give: sign(t, token{claims: clm(map[string]any{"nbf": now + 90})})},
		{name: "V28 iat in the future", give: sign(t, token{claims: clm(map[string]any{"iat": now + 3600})})},
		{name: "V29 other issuer", give: sign(t, token{claims: clm(map[string]any{"iss": "https://idp.test/realms/other"})})},
		{name: "V29 issuer with trailing slash", give: sign(t, token{claims: clm(map[string]any{"iss": "https://idp.test/realms/acme/"})})},
		{name: "V29 issuer missing", give: sign(t, token{claims: clm(map[string]any{"iss": nil})})},
		{name: "V30 other audience", give: sign(t, token{claims: clm(map[string]any{"aud": "https://other.test"})})},
		{name: "V30 audience is a client id", give: sign(t, token{claims: clm(map[string]any{"aud": "tenant-acme"})})},
		{name: "V30 audience missing", give: sign(t, token{claims: clm(map[string]any{"aud": nil})})},
		{name: "V31 audience array", give: sign(t, token{claims: clm(map[string]any{"aud": []string{testAud, "other"}})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "V33 crit header", give: sign(t, token{header: hdr(map[string]any{"crit": []string{"x-unknown"}})})},
		{name: "V34 org_id missing (unbound token)", give: sign(t, token{claims: clm(map[string]any{"org_id": nil})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1"}},
		{name: "V34 org_id empty", give: sign(t, token{claims: clm(map[string]any{"org_id": ""})})},
		{name: "V34 org_id array", give: sign(t, token{claims: clm(map[string]any{"org_id": []string{"A", "B"}})})},
		{name: "V34 org_id number", give: sign(t, token{claims: clm(map[string]any{"org_id": 42})})},
		{name: "V36 1 MiB of dots", give: strings.Repeat(".", 1<<20)},
		{name: "V36 just over 8 KiB", give: sign(t, token{claims: clm(map[string]any{"pad": strings.Repeat("x", MaxTokenSize)})})},
		{name: "V37 two segments", give: parts[0] + "." + parts[1]},
		{name: "V37 four segments", give: baseline + "." + parts[2]},
		{name: "V37 padded base64 header", give: base64.URLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k1","typ":"at+jwt","x":1}`)) + "." + parts[1] + "." + parts[2]},
		{name: "V37 non-base64url header", give: "eyJ+/" + parts[0][5:] + "." + parts[1] + "." + parts[2]},
		{name: "empty token", give: ""},
		{name: "sub missing", give: sign(t, token{claims: clm(map[string]any{"sub": nil})})},
		{name: "sub empty", give: sign(t, token{claims: clm(map[string]any{"sub": ""})})},
		{name: "sub number", give: sign(t, token{claims: clm(map[string]any{"sub": 7})})},
		{name: "email not a string (ignored)", give: sign(t, token{claims: clm(map[string]any{"email": []string{"a@x.test"}})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "sub with NUL", give: sign(t, token{claims: clm(map[string]any{"sub": "u\x001"})})},
		{name: "sub with a C0 control", give: sign(t, token{claims: clm(map[string]any{"sub": "u\x1b[31m"})})},
		{name: "sub not valid UTF-8", give: signPayload(t, baseHeader(), rawClaims("\"sub\":\"u\xff1\""))},
		{name: "iss with NUL", give: sign(t, token{claims: clm(map[string]any{"iss": "https://idp.test/realms/acme\x00"})})},
		{name: "org_id with a newline", give: sign(t, token{claims: clm(map[string]any{"org_id": "A\nB"})})},
		{name: "org_id not valid UTF-8", give: signPayload(t, baseHeader(), rawClaims("\"sub\":\"u1\",\"org_id\":\"\xc3\x28\""))},
		{name: "email and name with control characters (ignored)",
			give: sign(t, token{claims: clm(map[string]any{"email": "a@x.test\x00", "name": "Ada\x07"})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "name not valid UTF-8 (ignored)", give: signPayload(t, baseHeader(), rawClaims("\"sub\":\"u1\",\"org_id\":\"A\",\"name\":\"Ad\xffa\"")),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "email and name", give: sign(t, token{claims: clm(map[string]any{"email": "a@x.test", "name": "Ada"})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A", Email: "a@x.test", Name: "Ada"}},
		{name: "ES256 signed by EC key", give: sign(t, token{header: hdr(map[string]any{"alg": "ES256", "kid": "e1"}),
			method: jwt.SigningMethodES256, key: keys.ec}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "EdDSA signed by Ed25519 key", give: sign(t, token{header: hdr(map[string]any{"alg": "EdDSA", "kid": "d1"}),
			method: jwt.SigningMethodEdDSA, key: keys.ed}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "RS256 token on the EC kid", give: sign(t, token{header: hdr(map[string]any{"kid": "e1"})})},
		{name: "admin claim string", give: sign(t, token{claims: clm(map[string]any{"platform_roles": "admin"})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A", PlatformAdmin: true}},
		{name: "admin claim array", give: sign(t, token{claims: clm(map[string]any{"platform_roles": []string{"viewer", "admin"}})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A", PlatformAdmin: true}},
		{name: "admin claim other value", give: sign(t, token{claims: clm(map[string]any{"platform_roles": []string{"viewer"}})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
		{name: "admin claim bool with value admin", give: sign(t, token{claims: clm(map[string]any{"platform_roles": true})}),
			want: &ports.Principal{Issuer: "https://idp.test/realms/acme", Subject: "u1", OrgClaim: "A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got, err := v.Verify(t.Context(), tt.give)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("Verify took %v, want fast", elapsed)
			}
			if tt.want == nil {
				var te *ports.TokenError
				if !errors.As(err, &te) {
					t.Fatalf("Verify error = %v, want *ports.TokenError (principal %+v)", err, got)
				}
				want, ok := vectorReasons[tt.name]
				if !ok {
					t.Fatalf("no reason listed for %q (got %s)", tt.name, te.Reason)
				}
				if te.Reason != want {
					t.Errorf("reason = %s, want %s (%v)", te.Reason, want, err)
				}
				if te.Detail == "" || strings.Contains(te.Detail, tt.give) && tt.give != "" {
					t.Errorf("detail %q: want a human detail without the token", te.Detail)
				}
				t.Logf("rejected: %v", err)
				if !reflect.DeepEqual(got, ports.Principal{}) {
					t.Errorf("Verify principal = %+v, want zero", got)
				}
				if strings.Contains(err.Error(), tt.give) && tt.give != "" {
					t.Errorf("error contains the raw token")
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify error = %v, want nil", err)
			}
			if !reflect.DeepEqual(got, *tt.want) {
				t.Errorf("Verify = %+v, want %+v", got, *tt.want)
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("attacker server got %d requests, want 0 (jku/x5u must never be fetched)", n)
	}
}

// vectorReasons is the reason each rejected vector of TestVerifyVectors
// must carry.
var vectorReasons = map[string]ports.TokenReason{
	"V02 alg none":                                     ports.ReasonBadSignature,
	"V03 alg nOnE":                                     ports.ReasonBadSignature,
	"V03 alg NONE":                                     ports.ReasonBadSignature,
	"V04 signature removed":                            ports.ReasonBadSignature,
	"V05 signature bit flipped":                        ports.ReasonBadSignature,
	"V06 org_id changed after signing":                 ports.ReasonBadSignature,
	"V07 HS256 keyed with public PEM":                  ports.ReasonBadSignature,
	"V08 HS256 keyed with DER SPKI":                    ports.ReasonBadSignature,
	"V08 HS256 keyed with JWK JSON":                    ports.ReasonBadSignature,
	"V09 RS512 signed by K1":                           ports.ReasonBadSignature,
	"V09 PS256 signed by K1 (JWK pins RS256)":          ports.ReasonBadSignature,
	"V10 ES256 zero signature":                         ports.ReasonBadSignature,
	"V10 ES256 zero signature on EC kid":               ports.ReasonBadSignature,
	"V11 embedded jwk, signed by attacker":             ports.ReasonBadSignature,
	"V11 embedded jwk without kid, signed by attacker": ports.ReasonBadSignature,
	"V12 jku to attacker JWKS":                         ports.ReasonUnknownKey,
	"V13 x5u to attacker certificate":                  ports.ReasonBadSignature,
	"V13 x5c attacker certificate":                     ports.ReasonBadSignature,
	"V14 kid path traversal with HS256 empty key":      ports.ReasonBadSignature,
	"V15 kid SQL injection":                            ports.ReasonUnknownKey,
	"V16 kid number":                                   ports.ReasonMalformed,
	"V16 kid array":                                    ports.ReasonMalformed,
	"V22 no kid, signed by attacker":                   ports.ReasonBadSignature,
	"V23 expired beyond leeway":                        ports.ReasonExpired,
	"V25 exp missing":                                  ports.ReasonMalformed,
	"V26 exp as string":                                ports.ReasonMalformed,
	"V27 nbf in the future":                            ports.ReasonNotYetValid,
	"V28 iat in the future":                            ports.ReasonNotYetValid,
	"V29 other issuer":                                 ports.ReasonWrongIssuer,
	"V29 issuer with trailing slash":                   ports.ReasonWrongIssuer,
	"V29 issuer missing":                               ports.ReasonWrongIssuer,
	"V30 other audience":                               ports.ReasonWrongAudience,
	"V30 audience is a client id":                      ports.ReasonWrongAudience,
	"V30 audience missing":                             ports.ReasonWrongAudience,
	"V33 crit header":                                  ports.ReasonMalformed,
	"V34 org_id empty":                                 ports.ReasonMalformed,
	"V34 org_id array":                                 ports.ReasonAmbiguousOrganization,
	"V34 org_id number":                                ports.ReasonAmbiguousOrganization,
	"V36 1 MiB of dots":                                ports.ReasonMalformed,
	"V36 just over 8 KiB":                              ports.ReasonMalformed,
	"V37 two segments":                                 ports.ReasonMalformed,
	"V37 four segments":                                ports.ReasonMalformed,
	"V37 padded base64 header":                         ports.ReasonMalformed,
	"V37 non-base64url header":                         ports.ReasonMalformed,
	"empty token":                                      ports.ReasonMalformed,
	"sub missing":                                      ports.ReasonMalformed,
	"sub empty":                                        ports.ReasonMalformed,
	"sub number":                                       ports.ReasonMalformed,
	"sub with NUL":                                     ports.ReasonMalformed,
	"sub with a C0 control":                            ports.ReasonMalformed,
	"sub not valid UTF-8":                              ports.ReasonMalformed,
	"iss with NUL":                                     ports.ReasonMalformed,
	"org_id with a newline":                            ports.ReasonMalformed,
	"org_id not valid UTF-8":                           ports.ReasonMalformed,
	"RS256 token on the EC kid":                        ports.ReasonBadSignature,
}

// rawClaims is the baseline claims as raw JSON bytes with extra members
// (which may hold bytes that are not UTF-8) written verbatim.
func rawClaims(extra string) []byte {
	now := time.Now().Unix()
	return []byte(fmt.Sprintf(`{"iss":"https://idp.test/realms/acme","aud":%q,"iat":%d,"nbf":%d,"exp":%d,%s}`,
		testAud, now, now, now+300, extra))
}

// signPayload signs a claims segment given as raw bytes with K1 (RS256).
func signPayload(t testing.TB, header map[string]any, payload []byte) string {
	t.Helper()
	input := seg(t, header) + "." + b64.EncodeToString(payload)
	sig, err := jwt.SigningMethodRS256.Sign(input, testKeys().k1)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func mustClaims(t testing.TB, s string) map[string]any {
	t.Helper()
	raw, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAdminFlagBool(t *testing.T) {
	ks := newKeyServer(t, defaultKeys()...)
	cfg := testConfig(ks.URL)
	cfg.AdminClaim, cfg.AdminValue = "is_admin", "true"
	v := newVerifier(t, cfg)
	tests := []struct {
		give any
		want bool
	}{
		{give: true, want: true},
		{give: "true", want: true},
		{give: []string{"true"}, want: true},
		{give: false, want: false},
		{give: "yes", want: false},
		{give: 1, want: false},
		{give: nil, want: false},
	}
	for _, tt := range tests {
		got, err := v.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"is_admin": tt.give})}))
		if err != nil {
			t.Fatalf("is_admin=%v: %v", tt.give, err)
		}
		if got.PlatformAdmin != tt.want {
			t.Errorf("is_admin=%v: PlatformAdmin = %v, want %v", tt.give, got.PlatformAdmin, tt.want)
		}
	}

	cfg.AdminClaim, cfg.AdminValue = "", ""
	off := newVerifier(t, cfg)
	got, err := off.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"is_admin": true})}))
	if err != nil || got.PlatformAdmin {
		t.Errorf("admin claim off: got %+v, %v; want not admin", got, err)
	}
}

func TestOrgClaimName(t *testing.T) {
	ks := newKeyServer(t, defaultKeys()...)
	cfg := testConfig(ks.URL)
	cfg.OrgClaim = "tenant_id"
	v := newVerifier(t, cfg)
	got, err := v.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"tenant_id": "acme"})}))
	if err != nil {
		t.Fatal(err)
	}
	if got.OrgClaim != "acme" {
		t.Errorf("OrgClaim = %q, want %q", got.OrgClaim, "acme")
	}
}

func TestUnsupportedKeysIgnored(t *testing.T) {
	// V20: an AKP key and an Ed448 key are skipped, not fatal.
	ks := newKeyServer(t,
		map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": b64.EncodeToString(make([]byte, 32))},
		map[string]any{"kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": b64.EncodeToString(make([]byte, 57))},
		rsaJWK("k1", &testKeys().k1.PublicKey),
	)
	v := newVerifier(t, testConfig(ks.URL))
	if !v.Ready() {
		t.Fatal("Ready = false, want true")
	}
	if _, err := v.Verify(t.Context(), sign(t, token{})); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// discoveryServer serves an OpenID configuration naming issuer (the server's
// own URL when issuer is "") and its JWKS.
func discoveryServer(t *testing.T, issuer string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var s *httptest.Server
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		iss := issuer
		if iss == "" {
			iss = s.URL
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": s.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": defaultKeys()})
	})
	s = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestDiscovery(t *testing.T) {
	s := discoveryServer(t, "")
	cfg := testConfig("")
	cfg.Issuer = s.URL
	v := newVerifier(t, cfg)
	if got, want := v.JWKSURL(), s.URL+"/keys"; got != want {
		t.Errorf("JWKSURL = %q, want %q", got, want)
	}
	if !v.Ready() {
		t.Error("Ready = false, want true")
	}
	got, err := v.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"iss": s.URL})}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Issuer != s.URL {
		t.Errorf("Issuer = %q, want %q", got.Issuer, s.URL)
	}
}

// TestDiscoveryErrors: a discovery document naming another issuer is a
// configuration error and fails New; a provider that cannot be reached or
// has no document yet does not (the verifier starts, not ready).
func TestDiscoveryErrors(t *testing.T) {
	mismatch := discoveryServer(t, "https://evil.test")
	missing, _ := counter(t)
	tests := []struct {
		name    string
		give    string
		wantErr string // "" = New succeeds, not ready
	}{
		{name: "issuer mismatch", give: mismatch.URL, wantErr: "does not match"},
		{name: "no discovery document", give: missing.URL},
		{name: "unreachable", give: "http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("")
			cfg.Issuer = tt.give
			v, err := New(t.Context(), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, %v; want error containing %q", v, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v; want a verifier that is not ready", err)
			}
			if v.Ready() {
				t.Error("Ready = true without a key set")
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		give func(*Config)
	}{
		{name: "HS256", give: func(c *Config) { c.Algorithms = []string{"RS256", "HS256"} }},
		{name: "none", give: func(c *Config) { c.Algorithms = []string{"none"} }},
		{name: "unknown algorithm", give: func(c *Config) { c.Algorithms = []string{"RS1"} }},
		{name: "no issuer", give: func(c *Config) { c.Issuer = "" }},
		{name: "no audience", give: func(c *Config) { c.Audience = "" }},
		{name: "negative leeway", give: func(c *Config) { c.Leeway = -time.Second }},
		{name: "admin claim without value", give: func(c *Config) { c.AdminValue = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:1/jwks")
			tt.give(&cfg)
			if v, err := New(t.Context(), cfg); err == nil {
				t.Fatalf("New = %v, nil; want error", v)
			}
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	ks := newKeyServer(t, defaultKeys()...)
	cfg := testConfig(ks.URL)
	cfg.Algorithms = []string{"ES256"}
	v := newVerifier(t, cfg)
	if _, err := v.Verify(t.Context(), sign(t, token{})); reasonOf(err) != ports.ReasonBadSignature {
		t.Errorf("RS256 with ES256-only allow-list: error = %v, want bad_signature", err)
	}
	es := sign(t, token{header: hdr(map[string]any{"alg": "ES256", "kid": "e1"}), method: jwt.SigningMethodES256, key: testKeys().ec})
	if _, err := v.Verify(t.Context(), es); err != nil {
		t.Errorf("ES256: %v", err)
	}
}

func TestHardenedClient(t *testing.T) {
	target := newKeyServer(t, defaultKeys()...)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		for range maxBodySize / 64 {
			_, _ = w.Write([]byte(strings.Repeat(" ", 64)))
		}
		_, _ = w.Write([]byte(`]}`))
	}))
	t.Cleanup(big.Close)

	t.Run("redirect not followed", func(t *testing.T) {
		before := target.hits.Load()
		v := newVerifier(t, testConfig(redirect.URL))
		if v.Ready() {
			t.Error("Ready = true through a redirect")
		}
		if got := target.hits.Load() - before; got != 0 {
			t.Errorf("redirect target got %d requests, want 0", got)
		}
	})
	t.Run("body size limited", func(t *testing.T) {
		resp, err := NewHTTPClient().Get(big.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		if !errors.Is(err, errBodyTooLarge) {
			t.Errorf("read error = %v, want errBodyTooLarge", err)
		}
		v := newVerifier(t, testConfig(big.URL))
		if v.Ready() {
			t.Error("Ready = true from an oversized key set")
		}
	})
}

// BenchmarkVerify compares Verify (keyfunc key lookup, claim mapping) with
// raw golang-jwt parsing against a static key, both RS256 with the same
// parser options.
func BenchmarkVerify(b *testing.B) {
	ks := newKeyServerB(b, defaultKeys()...)
	v := newVerifier(b, testConfig(ks.URL))
	tok := sign(b, token{claims: clm(map[string]any{"exp": time.Now().Add(time.Hour).Unix()})})
	b.Run("keyfunc", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("static", func(b *testing.B) {
		pub := crypto.PublicKey(&testKeys().k1.PublicKey)
		p := jwt.NewParser(jwt.WithValidMethods(DefaultAlgorithms), jwt.WithIssuer("https://idp.test/realms/acme"),
			jwt.WithAudience(testAud), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(testLeeway))
		for b.Loop() {
			if _, err := p.ParseWithClaims(tok, jwt.MapClaims{}, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newKeyServerB(b *testing.B, keys ...map[string]any) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	b.Cleanup(s.Close)
	return s
}
