package domain_test

import (
	"strings"
	"testing"

	"github.com/orgstack/orgstack/domain"
)

func TestNewUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		issuer  string
		subject string
		email   string
		uname   string
		want    []string
	}{
		{name: "person", issuer: "https://idp.example", subject: "alice", email: "alice@example.com", uname: "Alice"},
		{name: "machine client without email or name", issuer: "https://idp.example", subject: "svc-1"},
		{name: "identifiers of 255 bytes", issuer: strings.Repeat("i", 255), subject: strings.Repeat("s", 255)},
		{name: "email 320 and name 200 chars", issuer: "iss", subject: "sub", email: strings.Repeat("e", 320), uname: strings.Repeat("ñ", 200)},
		{name: "no issuer", subject: "alice", want: []string{"issuer"}},
		{name: "no subject", issuer: "iss", want: []string{"subject"}},
		{name: "neither", want: []string{"issuer", "subject"}},
		{name: "issuer 256 bytes", issuer: strings.Repeat("i", 256), subject: "s", want: []string{"issuer"}},
		{name: "subject invalid utf-8", issuer: "iss", subject: "\xff", want: []string{"subject"}},
		{name: "email 321 chars", issuer: "iss", subject: "sub", email: strings.Repeat("e", 321), want: []string{"email"}},
		{name: "name 201 chars", issuer: "iss", subject: "sub", uname: strings.Repeat("n", 201), want: []string{"name"}},
		{
			name: "every field bad", email: strings.Repeat("e", 321), uname: strings.Repeat("n", 201),
			want: []string{"issuer", "subject", "email", "name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := domain.NewUser("user-1", tt.issuer, tt.subject, tt.email, tt.uname, t0)
			checkFields(t, err, tt.want)
			if len(tt.want) > 0 {
				if u != nil {
					t.Errorf("NewUser returned %v with an error, want nil", u)
				}
				return
			}
			if u.ID() != "user-1" || u.Issuer() != tt.issuer || u.Subject() != tt.subject || u.Email() != tt.email ||
				u.Name() != tt.uname || !u.CreatedAt().Equal(t0) || !u.UpdatedAt().Equal(t0) {
				t.Errorf("NewUser = {%q %q %q %q %q %v %v}, want {user-1 %q %q %q %q %v %v}",
					u.ID(), u.Issuer(), u.Subject(), u.Email(), u.Name(), u.CreatedAt(), u.UpdatedAt(),
					tt.issuer, tt.subject, tt.email, tt.uname, t0, t0)
			}
		})
	}
}

func TestUserRefreshClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		email       string
		uname       string
		wantChanged bool
		wantEmail   string
		wantName    string
	}{
		{name: "same claims", email: "alice@example.com", uname: "Alice", wantEmail: "alice@example.com", wantName: "Alice"},
		{name: "no claims", wantEmail: "alice@example.com", wantName: "Alice"},
		{name: "new email", email: "alice@new.example", uname: "Alice", wantChanged: true, wantEmail: "alice@new.example", wantName: "Alice"},
		{name: "new name", email: "alice@example.com", uname: "Alice B.", wantChanged: true, wantEmail: "alice@example.com", wantName: "Alice B."},
		{name: "both new", email: "a@b.example", uname: "A", wantChanged: true, wantEmail: "a@b.example", wantName: "A"},
		{name: "empty email ignored", email: "", uname: "Alicia", wantChanged: true, wantEmail: "alice@example.com", wantName: "Alicia"},
		{name: "empty name ignored", email: "x@y.example", uname: "", wantChanged: true, wantEmail: "x@y.example", wantName: "Alice"},
		{name: "too long email ignored", email: strings.Repeat("e", 321), uname: "Alice", wantEmail: "alice@example.com", wantName: "Alice"},
		{name: "too long name ignored", email: "alice@example.com", uname: strings.Repeat("n", 201), wantEmail: "alice@example.com", wantName: "Alice"},
		{name: "case change is a change", email: "Alice@Example.com", uname: "Alice", wantChanged: true, wantEmail: "Alice@Example.com", wantName: "Alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := domain.NewUser("user-1", "iss", "sub", "alice@example.com", "Alice", t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.RefreshClaims(tt.email, tt.uname, t1); got != tt.wantChanged {
				t.Errorf("RefreshClaims(%q, %q) = %v, want %v", tt.email, tt.uname, got, tt.wantChanged)
			}
			if u.Email() != tt.wantEmail || u.Name() != tt.wantName {
				t.Errorf("after RefreshClaims: email, name = %q, %q, want %q, %q", u.Email(), u.Name(), tt.wantEmail, tt.wantName)
			}
			wantUpdated := t0
			if tt.wantChanged {
				wantUpdated = t1
			}
			if !u.UpdatedAt().Equal(wantUpdated) {
				t.Errorf("UpdatedAt() = %v, want %v", u.UpdatedAt(), wantUpdated)
			}
			if !u.CreatedAt().Equal(t0) || u.Issuer() != "iss" || u.Subject() != "sub" {
				t.Errorf("RefreshClaims changed the identity or creation time")
			}
		})
	}
}

func TestUserRefreshClaimsMachineClient(t *testing.T) {
	t.Parallel()
	u, err := domain.NewUser("user-1", "iss", "svc", "", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if u.RefreshClaims("", "", t1) {
		t.Errorf("RefreshClaims with no claims = true, want false")
	}
	if !u.RefreshClaims("bot@example.com", "", t1) || u.Email() != "bot@example.com" || !u.UpdatedAt().Equal(t1) {
		t.Errorf("RefreshClaims with a first email: email %q updated %v, want bot@example.com %v", u.Email(), u.UpdatedAt(), t1)
	}
}

func TestUnmarshalUserFromDatabase(t *testing.T) {
	t.Parallel()
	u := domain.UnmarshalUserFromDatabase("user-1", "iss", "sub", "e@x.example", "E", t0, t1)
	if u.ID() != "user-1" || u.Issuer() != "iss" || u.Subject() != "sub" || u.Email() != "e@x.example" ||
		u.Name() != "E" || !u.CreatedAt().Equal(t0) || !u.UpdatedAt().Equal(t1) {
		t.Errorf("UnmarshalUserFromDatabase = {%q %q %q %q %q %v %v}", u.ID(), u.Issuer(), u.Subject(), u.Email(), u.Name(), u.CreatedAt(), u.UpdatedAt())
	}
}
