package sqlstore

import (
	"maps"
	"slices"
	"testing"

	"github.com/orgstack/orgstack/ports"
)

// TestSortColumnsFollowListRules keeps the store's sort columns in step with
// the one statement of each list's rules: every sort field has a column,
// and there is no column for a field the rules do not offer.
func TestSortColumnsFollowListRules(t *testing.T) {
	tests := []struct {
		name    string
		rules   ports.ListRules
		columns map[string]sortColumn
	}{
		{"organizations", ports.OrganizationList, orgSorts},
		{"members", ports.MemberList, memberSorts},
		{"users", ports.UserList, userSorts},
		{"roles", ports.RoleList, roleSorts},
	}
	for _, tt := range tests {
		got := slices.Sorted(maps.Keys(tt.columns))
		want := slices.Sorted(slices.Values(tt.rules.Sorts))
		if !slices.Equal(got, want) {
			t.Errorf("%s: sort columns %v, want the rules' fields %v", tt.name, got, want)
		}
		for _, f := range tt.rules.DefaultSort {
			if _, ok := tt.columns[f.Field]; !ok {
				t.Errorf("%s: default sort field %s has no column", tt.name, f.Field)
			}
		}
	}
}
