package domain_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/domain"
)

// sentinels are every sentinel error with the kind it must have.
var sentinels = []struct {
	err  *domain.Error
	kind domain.Kind
}{
	{domain.ErrForbidden, domain.KindForbidden},
	{domain.ErrOwnerRequired, domain.KindForbidden},
	{domain.ErrEscalation, domain.KindForbidden},
	{domain.ErrOrganizationMismatch, domain.KindForbidden},
	{domain.ErrOrganizationSuspended, domain.KindForbidden},
	{domain.ErrPlatformAdminRequired, domain.KindForbidden},
	{domain.ErrNotFound, domain.KindNotFound},
	{domain.ErrSlugTaken, domain.KindConflict},
	{domain.ErrLastOwner, domain.KindConflict},
	{domain.ErrAlreadyMember, domain.KindConflict},
	{domain.ErrUserExists, domain.KindConflict},
	{domain.ErrUserDeactivated, domain.KindConflict},
	{domain.ErrUserErased, domain.KindConflict},
	{domain.ErrRoleExists, domain.KindConflict},
	{domain.ErrBuiltinRole, domain.KindConflict},
	{domain.ErrRoleInUse, domain.KindConflict},
	{domain.ErrPermissionExists, domain.KindConflict},
	{domain.ErrSystemPermission, domain.KindConflict},
	{domain.ErrPermissionInUse, domain.KindConflict},
	{domain.ErrVersionMismatch, domain.KindPrecondition},
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give error
		want domain.Kind
	}{
		{name: "nil", give: nil, want: domain.KindInternal},
		{name: "plain error", give: errors.New("disk on fire"), want: domain.KindInternal},
		{name: "validation error", give: domain.Invalid("slug", "bad"), want: domain.KindInvalid},
		{name: "wrapped validation error", give: fmt.Errorf("create: %w", domain.Invalid("slug", "bad")), want: domain.KindInvalid},
		{name: "wrapped sentinel", give: fmt.Errorf("remove: %w", domain.ErrLastOwner), want: domain.KindConflict},
		{name: "joined with a plain error", give: errors.Join(errors.New("x"), domain.ErrNotFound), want: domain.KindNotFound},
		{name: "custom *Error", give: &domain.Error{Kind: domain.KindForbidden, Code: "c", Message: "m"}, want: domain.KindForbidden},
	}
	for _, s := range sentinels {
		tests = append(tests, struct {
			name string
			give error
			want domain.Kind
		}{name: s.err.Code, give: s.err, want: s.kind})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.KindOf(tt.give); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestSentinelErrors(t *testing.T) {
	t.Parallel()
	codes := map[string]bool{}
	for _, s := range sentinels {
		if s.err.Code == "" || s.err.Message == "" {
			t.Errorf("sentinel %#v has an empty code or message", s.err)
		}
		if codes[s.err.Code] {
			t.Errorf("code %q is used twice", s.err.Code)
		}
		codes[s.err.Code] = true
		if got := s.err.Error(); got != s.err.Message {
			t.Errorf("%s.Error() = %q, want %q", s.err.Code, got, s.err.Message)
		}
		wrapped := fmt.Errorf("ctx: %w", s.err)
		if !errors.Is(wrapped, s.err) {
			t.Errorf("errors.Is(wrapped %s, itself) = false, want true", s.err.Code)
		}
		var e *domain.Error
		if !errors.As(wrapped, &e) || e.Code != s.err.Code {
			t.Errorf("errors.As(wrapped %s) = %v, want the sentinel", s.err.Code, e)
		}
	}
	if errors.Is(domain.ErrLastOwner, domain.ErrOwnerRequired) {
		t.Errorf("errors.Is(ErrLastOwner, ErrOwnerRequired) = true, want false")
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give *domain.ValidationError
		want string
	}{
		{
			name: "one field",
			give: domain.Invalid("slug", "must be %d to %d characters long", 3, 63),
			want: "invalid input: slug: must be 3 to 63 characters long",
		},
		{
			name: "several fields in order",
			give: &domain.ValidationError{Fields: []domain.FieldError{
				{Field: "slug", Detail: "bad slug"}, {Field: "metadata/color", Detail: "too long"},
			}},
			want: "invalid input: slug: bad slug; metadata/color: too long",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.give.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidationErrorFromConstructor(t *testing.T) {
	t.Parallel()
	_, err := domain.NewOrganization("id", "A", "", nil, t0)
	var v *domain.ValidationError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &v) {
		t.Fatalf("errors.As(%v, *ValidationError) = false, want true", err)
	}
	want := "invalid input: slug: must be 3 to 63 characters long; name: must be 1 to 200 characters long"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestErrorsSpeakTheDomain keeps the transport out of the domain's errors:
// no message names a route, a method or a path; those belong to the
// adapter that has them (the HTTP adapter words ports.ErrOrgContextRequired
// in terms of its routes).
func TestErrorsSpeakTheDomain(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("errors.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"route", "/organizations/", "{orgId}", "HTTP", "method"} {
		for i, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "newError(") && strings.Contains(line, word) {
				t.Errorf("errors.go:%d: a domain error mentions %q: %s", i+1, word, strings.TrimSpace(line))
			}
		}
	}
}
