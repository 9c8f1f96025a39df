package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

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

func TestUserLifecycleTransitions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	newUser := func(t *testing.T) *domain.User {
		u, err := domain.NewUser("u1", "iss", "sub", "a@example.com", "A", t0)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name        string
		give        func(*domain.User) error
		wantStatus  domain.UserStatus
		wantVersion int64
		wantErr     error
	}{
		{"deactivate", func(u *domain.User) error { _, err := u.Deactivate(t0); return err }, domain.UserDeactivated, 2, nil},
		{"deactivate twice changes nothing", func(u *domain.User) error {
			_, _ = u.Deactivate(t0)
			changed, err := u.Deactivate(t0)
			if changed {
				t.Error("second Deactivate reported a change")
			}
			return err
		}, domain.UserDeactivated, 2, nil},
		{"activate an active user changes nothing", func(u *domain.User) error { _, err := u.Activate(t0); return err }, domain.UserActive, 1, nil},
		{"reactivate", func(u *domain.User) error { _, _ = u.Deactivate(t0); _, err := u.Activate(t0); return err }, domain.UserActive, 3, nil},
		{"erase", func(u *domain.User) error { return u.Erase(t0) }, domain.UserErased, 2, nil},
		{"erase a deactivated user", func(u *domain.User) error { _, _ = u.Deactivate(t0); return u.Erase(t0) }, domain.UserErased, 3, nil},
		{"erase twice", func(u *domain.User) error { _ = u.Erase(t0); return u.Erase(t0) }, domain.UserErased, 2, domain.ErrUserErased},
		{"activate an erased user", func(u *domain.User) error { _ = u.Erase(t0); _, err := u.Activate(t0); return err }, domain.UserErased, 2, domain.ErrUserErased},
		{"deactivate an erased user", func(u *domain.User) error { _ = u.Erase(t0); _, err := u.Deactivate(t0); return err }, domain.UserErased, 2, domain.ErrUserErased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(t)
			if err := tt.give(u); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if u.Status() != tt.wantStatus || u.Version() != tt.wantVersion {
				t.Errorf("got %s v%d, want %s v%d", u.Status(), u.Version(), tt.wantStatus, tt.wantVersion)
			}
		})
	}
}

func TestUserEraseClearsPersonalFields(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	u, err := domain.NewUser("u1", "iss", "sub", "a@example.com", "A", t0)
	if err != nil {
		t.Fatal(err)
	}
	v := "payments"
	if _, err := u.UpdateMetadata(map[string]*string{"team": &v}, t0); err != nil {
		t.Fatal(err)
	}
	if err := u.Erase(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u.Email() != "" || u.Name() != "" || len(u.Metadata()) != 0 || u.ID() != "u1" || u.Issuer() != "iss" || u.Subject() != "sub" {
		t.Errorf("erased: %q %q %v %s %s %s", u.Email(), u.Name(), u.Metadata(), u.ID(), u.Issuer(), u.Subject())
	}
	if !errors.Is(u.CheckSignIn(), domain.ErrUserErased) {
		t.Errorf("CheckSignIn of an erased user: %v", u.CheckSignIn())
	}
	if u.RefreshClaims("b@example.com", "B", t0) || u.Email() != "" {
		t.Error("RefreshClaims brought an erased user's email back")
	}
	if _, err := u.UpdateMetadata(map[string]*string{"team": &v}, t0); !errors.Is(err, domain.ErrUserErased) {
		t.Errorf("UpdateMetadata of an erased user: %v", err)
	}
}

func TestUserUpdateMetadata(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := func(v string) *string { return &v }
	long := strings.Repeat("k", domain.MaxMetadataKey+1)
	tests := []struct {
		name      string
		give      map[string]*string
		wantField string // "" when valid
	}{
		{"set", map[string]*string{"team": s("payments")}, ""},
		{"remove a missing key", map[string]*string{"gone": nil}, ""},
		{"empty key", map[string]*string{"": s("x")}, "metadata/"},
		{"long key", map[string]*string{long: s("x")}, "metadata/" + long},
		{"long value", map[string]*string{"k": s(strings.Repeat("v", domain.MaxMetadataValue+1))}, "metadata/k"},
		{"NUL in value", map[string]*string{"k": s("a\x00b")}, "metadata/k"},
		{"slash in key", map[string]*string{"a/b": s("a\x00b")}, "metadata/a~1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := domain.NewUser("u1", "iss", "sub", "", "", t0)
			_, err := u.UpdateMetadata(tt.give, t0)
			var v *domain.ValidationError
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.wantField != "" && (!errors.As(err, &v) || v.Fields[0].Field != tt.wantField):
				t.Fatalf("got %v, want a validation error on %s", err, tt.wantField)
			}
			if tt.wantField != "" && (len(u.Metadata()) != 0 || u.Version() != 1) {
				t.Errorf("a refused change changed the user: %v v%d", u.Metadata(), u.Version())
			}
		})
	}
	u, _ := domain.NewUser("u1", "iss", "sub", "", "", t0)
	many := map[string]*string{}
	for i := range domain.MaxMetadataKeys + 1 {
		many[strings.Repeat("k", i%10+1)+string(rune('a'+i%26))+string(rune('a'+i/26))] = s("v")
	}
	if _, err := u.UpdateMetadata(many, t0); err == nil {
		t.Error("more than the maximum number of keys accepted")
	}
	d, _ := domain.NewUser("u2", "iss", "sub2", "", "", t0)
	_, _ = d.Deactivate(t0)
	if _, err := d.UpdateMetadata(map[string]*string{"k": s("v")}, t0); !errors.Is(err, domain.ErrUserDeactivated) {
		t.Errorf("UpdateMetadata of a deactivated user: %v", err)
	}
}

func TestParseUserStatusAndWithLifecycle(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"active", "deactivated", "erased"} {
		st, err := domain.ParseUserStatus(v)
		if err != nil || st.String() != v {
			t.Errorf("ParseUserStatus(%q) = %v, %v", v, st, err)
		}
	}
	if _, err := domain.ParseUserStatus("suspended"); err == nil {
		t.Error("ParseUserStatus(suspended) accepted")
	}
	u := domain.UnmarshalUserFromDatabase("u", "i", "s", "", "", time.Time{}, time.Time{}).WithLifecycle("bogus", nil, 7)
	if u.IsActive() || u.Version() != 7 || u.Metadata() == nil {
		t.Errorf("an unknown stored status must not let a token through: %s v%d", u.Status(), u.Version())
	}
}
