package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// t0 and t1 are fixed instants used as "now" in the tests.
var (
	t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

// ptr returns a pointer to v, for the optional fields of change structs.
func ptr[T any](v T) *T { return &v }

// fieldsOf returns the sorted field names of a *domain.ValidationError in
// err's chain. It fails the test when err is not a validation error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error = %v (%T), want a *domain.ValidationError", err, err)
	}
	out := make([]string, 0, len(v.Fields))
	for _, f := range v.Fields {
		if f.Detail == "" {
			t.Errorf("field %q has an empty detail", f.Field)
		}
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

// checkFields asserts that err is nil when want is empty, and otherwise a
// *domain.ValidationError naming exactly the fields in want (any order,
// duplicates collapsed).
func checkFields(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("error = nil, want a *domain.ValidationError naming %v", want)
	}
	if got := domain.KindOf(err); got != domain.KindInvalid {
		t.Errorf("KindOf(error) = %v, want KindInvalid", got)
	}
	got := slices.Compact(fieldsOf(t, err))
	w := slices.Clone(want)
	slices.Sort(w)
	w = slices.Compact(w)
	if !slices.Equal(got, w) {
		t.Errorf("invalid fields = %q, want %q (error: %v)", got, w, err)
	}
}
