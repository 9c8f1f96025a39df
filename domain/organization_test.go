package domain_test

import (
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

func TestParseSlug(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{name: "empty", give: "", wantErr: true},
		{name: "2 chars", give: "ab", wantErr: true},
		{name: "3 chars", give: "abc"},
		{name: "63 chars", give: "a" + strings.Repeat("b", 62)},
		{name: "64 chars", give: "a" + strings.Repeat("b", 63), wantErr: true},
		{name: "letters digits hyphens", give: "acme-corp-2"},
		{name: "single hyphens", give: "a-b-c"},
		{name: "digit after letter", give: "a12"},
		{name: "starts with digit", give: "1abc", wantErr: true},
		{name: "starts with hyphen", give: "-abc", wantErr: true},
		{name: "trailing hyphen", give: "abc-", wantErr: true},
		{name: "trailing hyphen at 3 chars", give: "ab-", wantErr: true},
		{name: "double hyphen", give: "ab--cd", wantErr: true},
		{name: "triple hyphen", give: "ab---cd", wantErr: true},
		{name: "uppercase first", give: "Acme", wantErr: true},
		{name: "uppercase inside", give: "acMe", wantErr: true},
		{name: "underscore", give: "acme_corp", wantErr: true},
		{name: "dot", give: "acme.corp", wantErr: true},
		{name: "space", give: "acme corp", wantErr: true},
		{name: "colon", give: "acme:corp", wantErr: true},
		{name: "unicode letter inside", give: "café", wantErr: true},
		{name: "unicode first letter", give: "ébc", wantErr: true},
		{name: "fullwidth letters", give: "ａｂｃ", wantErr: true},
		{name: "invalid utf-8", give: "ab\xff", wantErr: true},
		{name: "leading space", give: " abc", wantErr: true},
		{name: "shaped like a UUID", give: "abcdef01-2345-7678-9abc-def012345678", wantErr: true},
		{name: "UUID shape, one hex digit short", give: "abcdef01-2345-7678-9abc-def01234567"},
		{name: "UUID shape with a non-hex letter", give: "abcdef01-2345-7678-9abc-def01234567g"},
		{name: "UUID shape, hyphens moved", give: "abcdef012-345-7678-9abc-def012345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseSlug(tt.give)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSlug(%q) = %q, nil; want an error", tt.give, got)
				}
				checkFields(t, err, []string{""})
				if got != "" {
					t.Errorf("ParseSlug(%q) slug = %q, want empty on error", tt.give, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSlug(%q) error = %v, want nil", tt.give, err)
			}
			if string(got) != tt.give {
				t.Errorf("ParseSlug(%q) = %q, want %q", tt.give, got, tt.give)
			}
		})
	}
}

func TestOrganizationName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{name: "empty", give: "", wantErr: true},
		{name: "blank spaces", give: "   ", wantErr: true},
		{name: "blank mixed whitespace", give: " \t\r\n", wantErr: true},
		{name: "one char", give: "A"},
		{name: "padded", give: "  Acme  "},
		{name: "200 ascii", give: strings.Repeat("a", 200)},
		{name: "201 ascii", give: strings.Repeat("a", 201), wantErr: true},
		{name: "200 two-byte runes", give: strings.Repeat("é", 200)},
		{name: "201 two-byte runes", give: strings.Repeat("é", 201), wantErr: true},
		{name: "200 three-byte runes", give: strings.Repeat("日", 200)},
		{name: "200 four-byte runes", give: strings.Repeat("😀", 200)},
		{name: "201 four-byte runes", give: strings.Repeat("😀", 201), wantErr: true},
		{name: "invalid utf-8", give: "Acme\xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := domain.NewOrganization("id", "acme", tt.give, nil, t0)
			if tt.wantErr {
				checkFields(t, err, []string{"name"})
				if o != nil {
					t.Errorf("NewOrganization returned %v with an error, want nil", o)
				}
			} else {
				checkFields(t, err, nil)
				if got := o.Name(); got != tt.give {
					t.Errorf("Name() = %q, want %q", got, tt.give)
				}
			}

			// The same rule applies to a rename.
			org := mustOrganization(t, nil)
			err = org.Apply(domain.OrganizationChanges{Name: ptr(tt.give)}, t1)
			if tt.wantErr {
				checkFields(t, err, []string{"name"})
			} else {
				checkFields(t, err, nil)
			}
		})
	}
}

// metadataOf returns n distinct keys mapped to "v".
func metadataOf(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["k"+strconv.Itoa(i)] = "v"
	}
	return m
}

func TestValidateMetadata(t *testing.T) {
	t.Parallel()
	key40 := strings.Repeat("k", 40)
	key41 := strings.Repeat("k", 41)
	tests := []struct {
		name string
		give map[string]string
		want []string // invalid fields, relative to the metadata ("/" is the empty key)
	}{
		{name: "nil", give: nil},
		{name: "empty", give: map[string]string{}},
		{name: "50 keys", give: metadataOf(50)},
		{name: "51 keys", give: metadataOf(51), want: []string{""}},
		{name: "key 40 chars", give: map[string]string{key40: "v"}},
		{name: "key 41 chars", give: map[string]string{key41: "v"}, want: []string{key41}},
		{name: "key 40 multibyte runes", give: map[string]string{strings.Repeat("ü", 40): "v"}},
		{name: "key 41 multibyte runes", give: map[string]string{strings.Repeat("ü", 41): "v"}, want: []string{strings.Repeat("ü", 41)}},
		{name: "empty key", give: map[string]string{"": "v"}, want: []string{"/"}},
		{name: "empty value", give: map[string]string{"color": ""}},
		{name: "value 500 chars", give: map[string]string{"k": strings.Repeat("v", 500)}},
		{name: "value 501 chars", give: map[string]string{"k": strings.Repeat("v", 501)}, want: []string{"k"}},
		{name: "value 500 multibyte runes", give: map[string]string{"k": strings.Repeat("日", 500)}},
		{name: "value 501 multibyte runes", give: map[string]string{"k": strings.Repeat("日", 501)}, want: []string{"k"}},
		{
			name: "every bad entry named",
			give: map[string]string{key41: "v", "ok": "v", "long": strings.Repeat("v", 501)},
			want: []string{key41, "long"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Both name the entries as in an organization, under "metadata".
			want := make([]string, len(tt.want))
			for i, f := range tt.want {
				want[i] = "metadata"
				switch {
				case f == "/":
					want[i] += "/"
				case f != "":
					want[i] += "/" + f
				}
			}
			checkFields(t, domain.ValidateMetadata(tt.give), want)
			_, err := domain.NewOrganization("id", "acme", "Acme", tt.give, t0)
			checkFields(t, err, want)
		})
	}
}

func TestParseOrganizationStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    domain.OrganizationStatus
		wantErr bool
	}{
		{give: "active", want: domain.OrganizationActive},
		{give: "suspended", want: domain.OrganizationSuspended},
		{give: "", wantErr: true},
		{give: "Active", wantErr: true},
		{give: "archived", wantErr: true},
		{give: " active", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseOrganizationStatus(tt.give)
			if tt.wantErr {
				checkFields(t, err, []string{""})
				if !got.IsZero() {
					t.Errorf("ParseOrganizationStatus(%q) = %v, want the zero status", tt.give, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOrganizationStatus(%q) error = %v, want nil", tt.give, err)
			}
			if got != tt.want || got.String() != tt.give {
				t.Errorf("ParseOrganizationStatus(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func mustOrganization(t *testing.T, metadata map[string]string) *domain.Organization {
	t.Helper()
	o, err := domain.NewOrganization("0190-org", "acme", "Acme", metadata, t0)
	if err != nil {
		t.Fatalf("NewOrganization: %v", err)
	}
	return o
}

func TestNewOrganization(t *testing.T) {
	t.Parallel()
	give := map[string]string{"plan": "pro", "region": "eu"}
	o, err := domain.NewOrganization("0190-org", "acme-corp", "Acme Corp", give, t0)
	if err != nil {
		t.Fatalf("NewOrganization error = %v, want nil", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "ID", got: o.ID(), want: "0190-org"},
		{name: "Slug", got: o.Slug(), want: domain.Slug("acme-corp")},
		{name: "Name", got: o.Name(), want: "Acme Corp"},
		{name: "Status", got: o.Status(), want: domain.OrganizationActive},
		{name: "IsActive", got: o.IsActive(), want: true},
		{name: "Version", got: o.Version(), want: int64(1)},
		{name: "CreatedAt", got: o.CreatedAt(), want: t0},
		{name: "UpdatedAt", got: o.UpdatedAt(), want: t0},
		{name: "Metadata", got: o.Metadata(), want: map[string]string{"plan": "pro", "region": "eu"}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s() = %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	// The input map is copied: changing it later does not change the organization.
	give["plan"] = "free"
	give["extra"] = "x"
	if got, want := o.Metadata(), map[string]string{"plan": "pro", "region": "eu"}; !maps.Equal(got, want) {
		t.Errorf("after changing the input map, Metadata() = %v, want %v", got, want)
	}
	// The returned map is a copy too.
	md := o.Metadata()
	md["plan"] = "hacked"
	delete(md, "region")
	if got, want := o.Metadata(), map[string]string{"plan": "pro", "region": "eu"}; !maps.Equal(got, want) {
		t.Errorf("after changing the returned map, Metadata() = %v, want %v", got, want)
	}
}

func TestNewOrganizationNilMetadata(t *testing.T) {
	t.Parallel()
	o := mustOrganization(t, nil)
	md := o.Metadata()
	if md == nil || len(md) != 0 {
		t.Errorf("Metadata() = %#v, want an empty, non-nil map", md)
	}
}

func TestNewOrganizationInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		slug     string
		orgName  string
		metadata map[string]string
		want     []string
	}{
		{name: "bad slug", slug: "A", orgName: "Acme", want: []string{"slug"}},
		{name: "bad name", slug: "acme", orgName: " ", want: []string{"name"}},
		{name: "bad metadata", slug: "acme", orgName: "Acme", metadata: map[string]string{"": "x"}, want: []string{"metadata/"}},
		{
			name: "every field bad", slug: "ab--", orgName: "",
			metadata: map[string]string{"k": strings.Repeat("v", 501)},
			want:     []string{"slug", "name", "metadata/k"},
		},
		{
			name: "too many keys and a long key", slug: "-", orgName: strings.Repeat("n", 201),
			metadata: func() map[string]string {
				m := metadataOf(50)
				m[strings.Repeat("x", 41)] = "v"
				return m
			}(),
			want: []string{"slug", "name", "metadata", "metadata/" + strings.Repeat("x", 41)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := domain.NewOrganization("id", tt.slug, tt.orgName, tt.metadata, t0)
			checkFields(t, err, tt.want)
			if o != nil {
				t.Errorf("NewOrganization returned %v with an error, want nil", o)
			}
		})
	}
}

// orgState is everything observable about an organization.
type orgState struct {
	ID, Name             string
	Slug                 domain.Slug
	Status               domain.OrganizationStatus
	Metadata             map[string]string
	CreatedAt, UpdatedAt time.Time
	Version              int64
}

func stateOf(o *domain.Organization) orgState {
	return orgState{
		ID: o.ID(), Name: o.Name(), Slug: o.Slug(), Status: o.Status(), Metadata: o.Metadata(),
		CreatedAt: o.CreatedAt(), UpdatedAt: o.UpdatedAt(), Version: o.Version(),
	}
}

func TestOrganizationApply(t *testing.T) {
	t.Parallel()
	base := map[string]string{"plan": "pro", "region": "eu"}
	tests := []struct {
		name string
		give domain.OrganizationChanges
		want func(s *orgState) // edits the state before the change into the expected one
	}{
		{
			name: "rename",
			give: domain.OrganizationChanges{Name: ptr("Acme Inc")},
			want: func(s *orgState) { s.Name = "Acme Inc" },
		},
		{
			name: "new slug",
			give: domain.OrganizationChanges{Slug: ptr("acme-inc")},
			want: func(s *orgState) { s.Slug = "acme-inc" },
		},
		{
			name: "suspend",
			give: domain.OrganizationChanges{Status: ptr("suspended")},
			want: func(s *orgState) { s.Status = domain.OrganizationSuspended },
		},
		{
			name: "status active again",
			give: domain.OrganizationChanges{Status: ptr("active")},
			want: func(*orgState) {},
		},
		{
			name: "metadata set a new key",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"color": ptr("blue")}},
			want: func(s *orgState) { s.Metadata["color"] = "blue" },
		},
		{
			name: "metadata overwrite a key",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"plan": ptr("free")}},
			want: func(s *orgState) { s.Metadata["plan"] = "free" },
		},
		{
			name: "metadata remove a key with null",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"plan": nil}},
			want: func(s *orgState) { delete(s.Metadata, "plan") },
		},
		{
			name: "metadata remove an absent key",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"nope": nil}},
			want: func(*orgState) {},
		},
		{
			name: "metadata set, overwrite and remove at once",
			give: domain.OrganizationChanges{Metadata: map[string]*string{
				"plan": nil, "region": ptr("us"), "tier": ptr("gold"),
			}},
			want: func(s *orgState) { s.Metadata = map[string]string{"region": "us", "tier": "gold"} },
		},
		{
			name: "metadata removing one key makes room for another at the limit",
			give: domain.OrganizationChanges{Metadata: func() map[string]*string {
				m := map[string]*string{"plan": nil}
				for i := range 49 {
					m["k"+strconv.Itoa(i)] = ptr("v")
				}
				return m
			}()},
			want: func(s *orgState) {
				delete(s.Metadata, "plan")
				maps.Copy(s.Metadata, metadataOf(49))
			},
		},
		{
			name: "everything at once",
			give: domain.OrganizationChanges{
				Name: ptr("Globex"), Slug: ptr("globex"), Status: ptr("suspended"),
				Metadata: map[string]*string{"region": nil},
			},
			want: func(s *orgState) {
				s.Name, s.Slug, s.Status = "Globex", "globex", domain.OrganizationSuspended
				delete(s.Metadata, "region")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := mustOrganization(t, base)
			want := stateOf(o)
			tt.want(&want)
			want.Version = 2 // exactly one more, however many fields change
			want.UpdatedAt = t1
			if err := o.Apply(tt.give, t1); err != nil {
				t.Fatalf("Apply error = %v, want nil", err)
			}
			if got := stateOf(o); !reflect.DeepEqual(got, want) {
				t.Errorf("after Apply:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func TestOrganizationApplyVersionGrowsEveryTime(t *testing.T) {
	t.Parallel()
	o := mustOrganization(t, nil)
	for i, name := range []string{"One", "Two", "Three"} {
		if err := o.Apply(domain.OrganizationChanges{Name: ptr(name)}, t1); err != nil {
			t.Fatalf("Apply #%d error = %v, want nil", i, err)
		}
		if got, want := o.Version(), int64(i+2); got != want {
			t.Errorf("Version() after %d changes = %d, want %d", i+1, got, want)
		}
	}
}

func TestOrganizationApplyInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give domain.OrganizationChanges
		want []string
	}{
		{name: "blank name", give: domain.OrganizationChanges{Name: ptr("  ")}, want: []string{"name"}},
		{name: "bad slug", give: domain.OrganizationChanges{Slug: ptr("acme--inc")}, want: []string{"slug"}},
		{name: "slug shaped like a UUID", give: domain.OrganizationChanges{Slug: ptr("deadbeef-0000-7000-8000-000000000001")}, want: []string{"slug"}},
		{name: "unknown status", give: domain.OrganizationChanges{Status: ptr("archived")}, want: []string{"status"}},
		{name: "empty status", give: domain.OrganizationChanges{Status: ptr("")}, want: []string{"status"}},
		{
			name: "metadata value too long",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"plan": ptr(strings.Repeat("v", 501))}},
			want: []string{"metadata/plan"},
		},
		{
			name: "metadata empty key",
			give: domain.OrganizationChanges{Metadata: map[string]*string{"": ptr("v")}},
			want: []string{"metadata/"},
		},
		{
			name: "metadata over 50 keys after merge",
			give: domain.OrganizationChanges{Metadata: func() map[string]*string {
				m := map[string]*string{}
				for i := range 49 {
					m["k"+strconv.Itoa(i)] = ptr("v")
				}
				return m
			}()},
			want: []string{"metadata"},
		},
		{
			name: "valid name with invalid slug",
			give: domain.OrganizationChanges{Name: ptr("Globex"), Slug: ptr("Globex")},
			want: []string{"slug"},
		},
		{
			name: "valid metadata removal with invalid status",
			give: domain.OrganizationChanges{Status: ptr("gone"), Metadata: map[string]*string{"plan": nil, "x": ptr("y")}},
			want: []string{"status"},
		},
		{
			name: "every field bad",
			give: domain.OrganizationChanges{
				Name: ptr(""), Slug: ptr("1abc"), Status: ptr("deleted"),
				Metadata: map[string]*string{strings.Repeat("k", 41): ptr("v")},
			},
			want: []string{"name", "slug", "status", "metadata/" + strings.Repeat("k", 41)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := mustOrganization(t, map[string]string{"plan": "pro", "region": "eu"})
			want := stateOf(o)
			checkFields(t, o.Apply(tt.give, t1), tt.want)
			if got := stateOf(o); !reflect.DeepEqual(got, want) {
				t.Errorf("a refused Apply changed the organization:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func TestOrganizationChangesIsEmpty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give domain.OrganizationChanges
		want bool
	}{
		{name: "zero", give: domain.OrganizationChanges{}, want: true},
		{name: "name", give: domain.OrganizationChanges{Name: ptr("")}},
		{name: "slug", give: domain.OrganizationChanges{Slug: ptr("x")}},
		{name: "status", give: domain.OrganizationChanges{Status: ptr("active")}},
		{name: "empty metadata map", give: domain.OrganizationChanges{Metadata: map[string]*string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.give.IsEmpty(); got != tt.want {
				t.Errorf("IsEmpty() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnmarshalOrganizationFromDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		giveStatus string
		giveMeta   map[string]string
		wantStatus domain.OrganizationStatus
		wantActive bool
	}{
		{name: "active", giveStatus: "active", giveMeta: map[string]string{"a": "b"}, wantStatus: domain.OrganizationActive, wantActive: true},
		{name: "suspended nil metadata", giveStatus: "suspended", wantStatus: domain.OrganizationSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := domain.UnmarshalOrganizationFromDatabase("id", "acme", "Acme", tt.giveStatus, tt.giveMeta, t0, t1, 7)
			got := stateOf(o)
			wantMeta := tt.giveMeta
			if wantMeta == nil {
				wantMeta = map[string]string{}
			}
			want := orgState{ID: "id", Name: "Acme", Slug: "acme", Status: tt.wantStatus, Metadata: wantMeta, CreatedAt: t0, UpdatedAt: t1, Version: 7}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("UnmarshalOrganizationFromDatabase:\n got  %+v\n want %+v", got, want)
			}
			if o.IsActive() != tt.wantActive {
				t.Errorf("IsActive() = %v, want %v", o.IsActive(), tt.wantActive)
			}
		})
	}
}

func TestNewOrganizationRefusesUUIDSlug(t *testing.T) {
	t.Parallel()
	_, err := domain.NewOrganization("id", "deadbeef-0000-7000-8000-000000000001", "Acme", nil, t0)
	checkFields(t, err, []string{"slug"})
}

func TestParseOrgRef(t *testing.T) {
	t.Parallel()
	const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		name     string
		give     string
		wantID   string
		wantSlug domain.Slug
		wantZero bool
	}{
		{name: "empty", give: "", wantZero: true},
		{name: "ID", give: id, wantID: id},
		{name: "ID in upper case", give: strings.ToUpper(id), wantID: id},
		{name: "slug", give: "acme-corp", wantSlug: "acme-corp"},
		{name: "slug-like text that is no slug", give: "Acme Corp", wantSlug: "Acme Corp"},
		{name: "UUID without hyphens is a slug", give: strings.ReplaceAll(id, "-", ""), wantSlug: domain.Slug(strings.ReplaceAll(id, "-", ""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := domain.ParseOrgRef(tt.give)
			if r.IsZero() != tt.wantZero {
				t.Fatalf("ParseOrgRef(%q).IsZero() = %v, want %v", tt.give, r.IsZero(), tt.wantZero)
			}
			gotID, byID := r.ID()
			gotSlug, bySlug := r.Slug()
			if byID != (tt.wantID != "") || gotID != tt.wantID {
				t.Errorf("ParseOrgRef(%q).ID() = %q, %v; want %q", tt.give, gotID, byID, tt.wantID)
			}
			if bySlug != (tt.wantSlug != "") || (bySlug && gotSlug != tt.wantSlug) {
				t.Errorf("ParseOrgRef(%q).Slug() = %q, %v; want %q", tt.give, gotSlug, bySlug, tt.wantSlug)
			}
			if !tt.wantZero && r.String() != string(tt.wantSlug)+tt.wantID {
				t.Errorf("ParseOrgRef(%q).String() = %q", tt.give, r.String())
			}
		})
	}
	o, err := domain.NewOrganization(id, "acme-corp", "Acme", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, give := range []string{id, strings.ToUpper(id), "acme-corp"} {
		if !domain.ParseOrgRef(give).Names(o) {
			t.Errorf("ParseOrgRef(%q).Names(acme-corp) = false, want true", give)
		}
	}
	for _, give := range []string{"", "acme", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"} {
		if domain.ParseOrgRef(give).Names(o) {
			t.Errorf("ParseOrgRef(%q).Names(acme-corp) = true, want false", give)
		}
	}
	if got, _ := domain.OrgRefByID(id).ID(); got != id {
		t.Errorf("OrgRefByID(%q).ID() = %q", id, got)
	}
}
