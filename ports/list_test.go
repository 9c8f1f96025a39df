package ports_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestParseSort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    []ports.SortField
		wantBad bool
	}{
		{give: "name", want: []ports.SortField{{Field: "name"}}},
		{give: "-name,created_at", want: []ports.SortField{{Field: "name", Desc: true}, {Field: "created_at"}}},
		{give: "name,-name", want: []ports.SortField{{Field: "name"}}},
		{give: "-slug,name,slug,-name", want: []ports.SortField{{Field: "slug", Desc: true}, {Field: "name"}}},
		{give: "name" + strings.Repeat(",name", 39), want: []ports.SortField{{Field: "name"}}}, // 199 characters
		{give: "name" + strings.Repeat(",name", 40), wantBad: true},                            // 204 characters
		{give: "", wantBad: true},
		{give: "name,", wantBad: true},
		{give: "--name", wantBad: true},
		{give: "password", wantBad: true},
		{give: "na\x00me", wantBad: true},
	}
	for _, tt := range tests {
		got, detail := ports.OrganizationList.ParseSort(tt.give)
		if (detail != "") != tt.wantBad {
			t.Errorf("ParseSort(%q): detail %q, want bad %v", tt.give, detail, tt.wantBad)
			continue
		}
		if !tt.wantBad && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSort(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestFilterRuleCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule    ports.FilterRule
		give    string
		wantBad bool
	}{
		{rule: ports.MemberList.Filters["status"], give: ""},
		{rule: ports.MemberList.Filters["status"], give: "active"},
		{rule: ports.MemberList.Filters["status"], give: "deleted", wantBad: true},
		{rule: ports.MemberList.Filters["role"], give: "approver"},
		{rule: ports.MemberList.Filters["role"], give: "ap\x01prover", wantBad: true},
		{rule: ports.MemberList.Filters["role"], give: strings.Repeat("r", 64), wantBad: true},
		{rule: ports.MemberList.Filters["q"], give: "tab\there"}, // free text
		{rule: ports.MemberList.Filters["q"], give: "a\x00b", wantBad: true},
		{rule: ports.MemberList.Filters["q"], give: "\xff", wantBad: true},
		{rule: ports.MemberList.Filters["q"], give: strings.Repeat("日", 200)},
		{rule: ports.MemberList.Filters["q"], give: strings.Repeat("日", 201), wantBad: true},
	}
	for _, tt := range tests {
		if got := tt.rule.Check(tt.give); (got != "") != tt.wantBad {
			t.Errorf("%+v.Check(%q) = %q, want bad %v", tt.rule, tt.give, got, tt.wantBad)
		}
	}
}

// TestListRulesCheck is what the application asks of every driving query,
// whatever adapter built it.
func TestListRulesCheck(t *testing.T) {
	t.Parallel()
	err := ports.UserList.Check(ports.PageRequest{Sort: []ports.SortField{{Field: "slug"}}},
		map[string]string{"q": "a\x00", "email": "ok@example.com"})
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error %v, want a validation error", err)
	}
	var fields []string
	for _, f := range v.Fields {
		fields = append(fields, f.Field)
	}
	if want := []string{"sort", "q"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if err := ports.UserList.Check(ports.PageRequest{}, map[string]string{"q": "", "email": ""}); err != nil {
		t.Errorf("empty filters: %v", err)
	}
	if got := (ports.PageRequest{Size: 1000}).Normalized(); got.Page != 1 || got.Size != ports.MaxPageSize {
		t.Errorf("Normalized() = %+v", got)
	}
}
