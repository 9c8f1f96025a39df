package jwks

import (
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings and mutated real tokens to the
// verifier (catalogue J-22). It must never panic, and nothing but the one
// genuine token may verify: any change to a signed token is a rejection.
func FuzzVerify(f *testing.F) {
	ks := newKeyServer(&testing.T{}, defaultKeys()...)
	defer ks.Close()
	good := sign(&testing.T{}, token{})
	f.Add(good, 0, byte(0))
	f.Add("", 0, byte(0))
	f.Add(strings.Repeat(".", 100), 0, byte(0))
	f.Add("e30.e30.", 0, byte(0))
	f.Add(good, 10, byte('A'))
	f.Add(good, len(good)-1, byte('x'))

	v, err := New(f.Context(), testConfig(ks.URL))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, at int, b byte) {
		if raw == good && at > 0 && at < len(raw) && raw[at] != b {
			raw = raw[:at] + string(b) + raw[at+1:]
		}
		p, err := v.Verify(t.Context(), raw)
		if err == nil && raw != good {
			t.Fatalf("verified a token that is not the genuine one: %q (principal %+v)", raw, p)
		}
	})
}
