package ports

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/orgstack/orgstack/domain"
)

// The list rules are stated here once. The HTTP adapter parses query
// parameters with them, the application checks every driving query with
// them (whatever adapter built it), and the stores order by the sort fields
// they name and fall back to their default order. They live in ports, not in
// the domain: sort fields, pages and filters are how a caller reads a
// collection, not rules of the business.

// Page limits of every list: pages are numbered from 1 to MaxPage, a page
// holds 1 to MaxPageSize items, DefaultPageSize when none is asked for.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	MaxPage         = 1_000_000
	// MaxSortLength bounds a sort order as written ("-name,created_at").
	MaxSortLength = 200
	// MaxTextFilter bounds the free-text filter q.
	MaxTextFilter = 200
)

// FilterRule is what one filter of a list accepts: one of Values, or else
// text of at most MaxLen characters, free text (domain.IsText) or, when Key
// is set, text a key may hold (domain.IsKeyText). "" is no filter.
type FilterRule struct {
	Values []string
	MaxLen int
	Key    bool
}

// Check returns "" when v is acceptable, else what is wrong with it.
func (f FilterRule) Check(v string) string {
	switch {
	case v == "":
		return ""
	case f.Values != nil:
		if !slices.Contains(f.Values, v) {
			return "must be one of " + strings.Join(f.Values, ", ")
		}
	case f.Key && !domain.IsKeyText(v):
		return "must be valid UTF-8 without control characters"
	case !f.Key && !domain.IsText(v):
		return "must be valid UTF-8 without NUL characters"
	case utf8.RuneCountInString(v) > f.MaxLen:
		return fmt.Sprintf("must be at most %d characters long", f.MaxLen)
	}
	return ""
}

// ListRules are the rules of one list: the fields it may be sorted by, the
// order of the stored items when no sort is asked for, and its filters by
// parameter name.
type ListRules struct {
	Sorts       []string
	DefaultSort []SortField
	Filters     map[string]FilterRule
}

func textFilter() FilterRule { return FilterRule{MaxLen: MaxTextFilter} }

func statusFilter() FilterRule {
	return FilterRule{Values: []string{domain.OrganizationActive.String(), domain.OrganizationSuspended.String()}}
}

// The rules of every list.
var (
	// OrganizationList: Organizations.List, OrganizationRepository.List.
	OrganizationList = ListRules{
		Sorts:       []string{"name", "slug", "created_at", "updated_at", "status"},
		DefaultSort: []SortField{{Field: "created_at"}},
		Filters:     map[string]FilterRule{"q": textFilter(), "status": statusFilter()},
	}
	// MemberList: Members.List, MembershipRepository.List.
	MemberList = ListRules{
		Sorts:       []string{"joined_at", "email", "name"},
		DefaultSort: []SortField{{Field: "joined_at"}},
		Filters: map[string]FilterRule{
			"role":   {MaxLen: 63, Key: true},
			"status": {Values: []string{domain.MemberActive.String(), domain.MemberSuspended.String()}},
			"q":      textFilter(),
		},
	}
	// UserList: Users.List, Users.ListAll, UserRepository.List.
	UserList = ListRules{
		Sorts:       []string{"email", "name", "created_at"},
		DefaultSort: []SortField{{Field: "created_at"}},
		Filters:     map[string]FilterRule{"q": textFilter(), "email": {MaxLen: domain.MaxUserEmail}},
	}
	// RoleList: Roles.List, RoleRepository.List. The application lists
	// built-in roles first when no sort is asked for.
	RoleList = ListRules{
		Sorts:       []string{"key", "name", "created_at"},
		DefaultSort: []SortField{{Field: "key"}},
		Filters:     map[string]FilterRule{"q": textFilter()},
	}
	// WebhookList: Webhooks.List and Webhooks.Deliveries (newest first; no
	// other order, no filters).
	WebhookList = ListRules{
		Sorts:       []string{"created_at"},
		DefaultSort: []SortField{{Field: "created_at", Desc: true}},
		Filters:     map[string]FilterRule{},
	}
	// PermissionList: Permissions.List, PermissionRepository.List.
	PermissionList = ListRules{
		Sorts:       []string{"key", "created_at"},
		DefaultSort: []SortField{{Field: "key"}},
		Filters:     map[string]FilterRule{"type": {Values: []string{"system", "custom"}}, "q": textFilter()},
	}
)

// Check checks the sort order of a page request and filter values (by
// parameter name) against the rules; page and size are normalized, not
// refused (PageRequest.Normalized). It returns a *domain.ValidationError
// naming each offending field ("sort" or the filter's name).
func (l ListRules) Check(p PageRequest, filters map[string]string) error {
	var fe []domain.FieldError
	bad := func(field, format string, args ...any) {
		fe = append(fe, domain.FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	for _, f := range p.Sort {
		if !slices.Contains(l.Sorts, f.Field) {
			bad("sort", "unknown sort field %q; allowed: %s", f.Field, strings.Join(l.Sorts, ", "))
			break
		}
	}
	names := make([]string, 0, len(filters))
	for name := range filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rule, ok := l.Filters[name]
		if !ok {
			bad(name, "is not a filter of this list")
			continue
		}
		if d := rule.Check(filters[name]); d != "" {
			bad(name, "%s", d)
		}
	}
	if len(fe) > 0 {
		return &domain.ValidationError{Fields: fe}
	}
	return nil
}

// ParseSort parses a sort order as written ("-name,created_at": a comma
// list of fields, '-' before a field for descending) against the rules. A
// field named again is ignored: its first mention decides. It returns what
// is wrong, or "".
func (l ListRules) ParseSort(v string) ([]SortField, string) {
	if len(l.Sorts) == 0 {
		return nil, "sorting is not supported on this list"
	}
	if utf8.RuneCountInString(v) > MaxSortLength {
		return nil, fmt.Sprintf("must be at most %d characters long", MaxSortLength)
	}
	var out []SortField
	for part := range strings.SplitSeq(v, ",") {
		f := SortField{Field: part}
		if rest, ok := strings.CutPrefix(part, "-"); ok {
			f = SortField{Field: rest, Desc: true}
		}
		if !slices.Contains(l.Sorts, f.Field) {
			return nil, "must be a comma-separated list of " + strings.Join(l.Sorts, ", ") + ", each optionally prefixed with '-'"
		}
		if !slices.ContainsFunc(out, func(s SortField) bool { return s.Field == f.Field }) {
			out = append(out, f)
		}
	}
	return out, ""
}

// Normalized fills in the page defaults (page 1, DefaultPageSize) and clamps
// the size to MaxPageSize.
func (p PageRequest) Normalized() PageRequest {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.Size < 1 {
		p.Size = DefaultPageSize
	}
	p.Size = min(p.Size, MaxPageSize)
	return p
}
