package domain_test

import (
	"errors"
	"regexp"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/orgstack/orgstack/domain"
)

// TestWhitespaceIsExactlyTheDocumentedSet checks the whitespace set against
// the list the domain documentation and the API document give, and that the
// character class built from it means the same to Go's regular expressions
// for every code point.
func TestWhitespaceIsExactlyTheDocumentedSet(t *testing.T) {
	t.Parallel()
	want := map[rune]bool{0x20: true, 0x85: true, 0xA0: true, 0x1680: true, 0x2028: true, 0x2029: true,
		0x202F: true, 0x205F: true, 0x3000: true, 0xFEFF: true}
	for r := rune(0x09); r <= 0x0D; r++ {
		want[r] = true
	}
	for r := rune(0x2000); r <= 0x200A; r++ {
		want[r] = true
	}
	class := regexp.MustCompile("^[" + domain.WhitespaceClass() + "]$")
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates are not characters
		}
		if got := domain.IsWhitespace(r); got != want[r] {
			t.Errorf("IsWhitespace(%U) = %v, want %v", r, got, want[r])
		}
		if got := class.MatchString(string(r)); got != want[r] {
			t.Errorf("class matches %U: %v, want %v", r, got, want[r])
		}
	}
}

func TestTextPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give              string
		wantText, wantKey bool
		wantBlank         bool
	}{
		{give: "", wantText: true, wantKey: true, wantBlank: true},
		{give: "Acme Corp", wantText: true, wantKey: true},
		{give: "Ünïcødé 名前 🙂", wantText: true, wantKey: true},
		{give: "a\x00b", wantText: false, wantKey: false},
		{give: "\x00", wantText: false, wantKey: false},
		{give: "a\x01b", wantText: true, wantKey: false},
		{give: "a\x1fb", wantText: true, wantKey: false},
		{give: "a\x7fb", wantText: true, wantKey: false},
		{give: "line\nbreak", wantText: true, wantKey: false},
		{give: "tab\there", wantText: true, wantKey: false},
		{give: "\xff\xfe", wantText: false, wantKey: false},
		{give: "a\xc3", wantText: false, wantKey: false},
		{give: "\u0085", wantText: true, wantKey: true, wantBlank: true}, // a C1 control, but whitespace
		{give: " \u00a0\u3000\ufeff\u2007", wantText: true, wantKey: true, wantBlank: true},
		{give: "\ufeffx", wantText: true, wantKey: true},
		{give: "\u200b", wantText: true, wantKey: true}, // zero width space is not in the set
	}
	for _, tt := range tests {
		if got := domain.IsText(tt.give); got != tt.wantText {
			t.Errorf("IsText(%q) = %v, want %v", tt.give, got, tt.wantText)
		}
		if got := domain.IsKeyText(tt.give); got != tt.wantKey {
			t.Errorf("IsKeyText(%q) = %v, want %v", tt.give, got, tt.wantKey)
		}
		if got := domain.IsBlank(tt.give); got != tt.wantBlank {
			t.Errorf("IsBlank(%q) = %v, want %v", tt.give, got, tt.wantBlank)
		}
	}
}

// wantInvalidField fails unless err is a *ValidationError naming field.
func wantInvalidField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Errorf("%s: error %v, want a validation error on %s", what, err, field)
		return
	}
	for _, f := range v.Fields {
		if f.Field == field {
			return
		}
	}
	t.Errorf("%s: fields %v, want one named %s", what, v.Fields, field)
}

// TestTextRulesInConstructors drives every text field of every constructor
// and change method with text the rules refuse, and with free text they
// accept.
func TestTextRulesInConstructors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	notKey := []string{"a\x00b", "a\x01b", "a\x1fb", "a\x7fb", "a\nb", "\xffab"}
	notText := []string{"a\x00b", "\xffab", "ab\xc3"}
	blank := []string{" ", "\u3000", "\ufeff", "\u00a0\u2028", "\t"}
	okFree := []string{"line one\nline two\ttabbed", "a\x01b"}
	str := func(s string) *string { return &s }

	type check struct {
		name  string
		field string
		err   func(v string) error
	}
	org := func() *domain.Organization {
		o, err := domain.NewOrganization("o1", "acme", "Acme", nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	role := func() *domain.Role {
		r, err := domain.NewRole("r1", "o1", "approver", "Approver", "", nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	perm := func() *domain.Permission {
		p, err := domain.NewCustomPermission("p1", "o1", "invoices:approve", "", now)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nameChecks := []check{
		{"NewOrganization name", "name", func(v string) error {
			_, err := domain.NewOrganization("o1", "acme", v, nil, now)
			return err
		}},
		{"Organization.Apply name", "name", func(v string) error {
			return org().Apply(domain.OrganizationChanges{Name: &v}, now)
		}},
		{"NewRole name", "name", func(v string) error {
			_, err := domain.NewRole("r1", "o1", "approver", v, "", nil, now)
			return err
		}},
		{"Role.Apply name", "name", func(v string) error { return role().Apply(domain.RoleChanges{Name: &v}, now) }},
	}
	keyChecks := append([]check{
		{"NewUser issuer", "issuer", func(v string) error {
			_, err := domain.NewUser("u1", v, "sub", "", "", now)
			return err
		}},
		{"NewUser subject", "subject", func(v string) error {
			_, err := domain.NewUser("u1", "iss", v, "", "", now)
			return err
		}},
		{"NewUser name", "name", func(v string) error {
			_, err := domain.NewUser("u1", "iss", "sub", "", v, now)
			return err
		}},
		{"NewUser email", "email", func(v string) error {
			_, err := domain.NewUser("u1", "iss", "sub", v, "", now)
			return err
		}},
	}, nameChecks...)
	freeChecks := []check{
		{"NewOrganization metadata value", "metadata/k", func(v string) error {
			_, err := domain.NewOrganization("o1", "acme", "Acme", map[string]string{"k": v}, now)
			return err
		}},
		{"Organization.Apply metadata value", "metadata/k", func(v string) error {
			return org().Apply(domain.OrganizationChanges{Metadata: map[string]*string{"k": &v}}, now)
		}},
		{"NewRole description", "description", func(v string) error {
			_, err := domain.NewRole("r1", "o1", "approver", "Approver", v, nil, now)
			return err
		}},
		{"Role.Apply description", "description", func(v string) error {
			return role().Apply(domain.RoleChanges{Description: &v}, now)
		}},
		{"NewCustomPermission description", "description", func(v string) error {
			_, err := domain.NewCustomPermission("p1", "o1", "invoices:approve", v, now)
			return err
		}},
		{"Permission.Describe", "description", func(v string) error { return perm().Describe(v, now) }},
	}

	for _, c := range keyChecks {
		for _, v := range notKey {
			wantInvalidField(t, c.name+" "+v, c.err(v), c.field)
		}
	}
	for _, c := range nameChecks {
		for _, v := range blank {
			wantInvalidField(t, c.name+" blank "+v, c.err(v), c.field)
		}
		if err := c.err("\u3000x\u3000"); err != nil {
			t.Errorf("%s: a name with content around whitespace: %v", c.name, err)
		}
	}
	for _, c := range freeChecks {
		for _, v := range notText {
			wantInvalidField(t, c.name+" "+v, c.err(v), c.field)
		}
		for _, v := range okFree {
			if err := c.err(v); err != nil {
				t.Errorf("%s: free text %q refused: %v", c.name, v, err)
			}
		}
	}
	// Metadata keys are keys: no control characters, on create and on merge.
	for _, k := range notKey {
		_, err := domain.NewOrganization("o1", "acme", "Acme", map[string]string{k: "v"}, now)
		wantInvalidField(t, "NewOrganization metadata key "+k, err, "metadata/"+k)
		err = org().Apply(domain.OrganizationChanges{Metadata: map[string]*string{k: str("v")}}, now)
		wantInvalidField(t, "Organization.Apply metadata key "+k, err, "metadata/"+k)
	}
}

// TestRefreshClaimsIgnoresBadText keeps the stored email and name when a
// token carries values the rules refuse.
func TestRefreshClaimsIgnoresBadText(t *testing.T) {
	t.Parallel()
	now := time.Now()
	u, err := domain.NewUser("u1", "iss", "sub", "a@example.com", "Alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if u.RefreshClaims("b\x00@example.com", "Bob\x01", now) {
		t.Error("RefreshClaims kept refused values")
	}
	if u.Email() != "a@example.com" || u.Name() != "Alice" {
		t.Errorf("email %q, name %q, want the kept values", u.Email(), u.Name())
	}
}
