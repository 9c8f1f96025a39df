package secretbox

import (
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Seal("whsec_abc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "whsec_abc") {
		t.Fatal("sealed text holds the secret")
	}
	if got, err := b.Open(s); err != nil || got != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New(strings.Repeat("x", 32))
	if _, err := other.Open(s); err == nil {
		t.Fatal("another key opened the secret")
	}
	if s2, _ := b.Seal("whsec_abc"); s2 == s {
		t.Fatal("two seals of one secret are equal (nonce reused)")
	}
	if _, err := New("short"); err == nil {
		t.Fatal("a short key was accepted")
	}
}
