package domain

import (
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"
)

// OrganizationStatus is the lifecycle state of an organization.
type OrganizationStatus struct{ s string }

// The organization statuses.
var (
	OrganizationActive    = OrganizationStatus{"active"}
	OrganizationSuspended = OrganizationStatus{"suspended"}
)

func (s OrganizationStatus) String() string { return s.s }

// IsZero reports whether s is the zero value (no status).
func (s OrganizationStatus) IsZero() bool { return s.s == "" }

// ParseOrganizationStatus parses "active" or "suspended".
func ParseOrganizationStatus(v string) (OrganizationStatus, error) {
	switch v {
	case "active":
		return OrganizationActive, nil
	case "suspended":
		return OrganizationSuspended, nil
	}
	return OrganizationStatus{}, Invalid("", "must be one of active, suspended")
}

// Slug is an organization's unique, human-readable handle: 3 to 63
// characters of a-z, 0-9 and '-', starting with a letter, without a trailing
// or doubled hyphen, and not shaped like a UUID (an organization reference
// of that shape is read as an ID; see OrgRef).
type Slug string

// ParseSlug validates v as a slug.
func ParseSlug(v string) (Slug, error) {
	if len(v) < 3 || len(v) > 63 {
		return "", Invalid("", "must be 3 to 63 characters long")
	}
	if v[0] < 'a' || v[0] > 'z' {
		return "", Invalid("", "must start with a lowercase letter")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == len(v)-1 {
				return "", Invalid("", "must not end with a hyphen")
			}
			if v[i+1] == '-' {
				return "", Invalid("", "must not contain a double hyphen")
			}
		default:
			return "", Invalid("", "may contain only a-z, 0-9 and '-'")
		}
	}
	if looksLikeUUID(v) {
		return "", Invalid("", "must not have the form of a UUID (organization IDs have it)")
	}
	return Slug(v), nil
}

// looksLikeUUID reports whether v has the 8-4-4-4-12 hexadecimal form of a
// UUID, in either case.
func looksLikeUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// OrgRef names one organization as requests and tokens do: by ID or by
// slug. Which of the two is decided by shape alone: IDs are UUIDs, and no
// slug may have the form of a UUID (ParseSlug refuses it), so a reference is
// never ambiguous. The zero OrgRef names no organization.
type OrgRef struct {
	id   string
	slug Slug
}

// ParseOrgRef reads v as an organization reference: an ID when v has the
// form of a UUID (lower-cased, so one organization has one ID reference),
// a slug otherwise. "" gives the zero OrgRef. A slug reference is not
// validated: text that no slug can have simply names no organization. Text
// that no key may hold (IsKeyText) gives a reference to the nil UUID, an ID
// no organization has, so it is answered as any unknown organization and
// never reaches a store that could not hold it.
func ParseOrgRef(v string) OrgRef {
	if v != "" && !IsKeyText(v) {
		return OrgRef{id: nilUUID}
	}
	if looksLikeUUID(v) {
		return OrgRef{id: strings.ToLower(v)}
	}
	return OrgRef{slug: Slug(v)}
}

// nilUUID is the nil UUID: no organization has it, since IDs are UUIDv7.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// OrgRefByID returns the reference to the organization with that ID.
func OrgRefByID(id string) OrgRef { return OrgRef{id: id} }

// IsZero reports whether r names no organization.
func (r OrgRef) IsZero() bool { return r.id == "" && r.slug == "" }

// ID returns the organization ID r names, if r is an ID reference.
func (r OrgRef) ID() (string, bool) { return r.id, r.id != "" }

// Slug returns the slug r names, if r is a slug reference.
func (r OrgRef) Slug() (Slug, bool) { return r.slug, r.id == "" && r.slug != "" }

// String returns the reference as it is written: the ID or the slug.
func (r OrgRef) String() string {
	if r.id != "" {
		return r.id
	}
	return string(r.slug)
}

// Names reports whether r names o.
func (r OrgRef) Names(o *Organization) bool {
	if o == nil || r.IsZero() {
		return false
	}
	if r.id != "" {
		return r.id == o.id
	}
	return r.slug == o.slug
}

// Limits of an organization's fields.
const (
	MaxOrganizationName = 200
	MaxMetadataKeys     = 50
	MaxMetadataKey      = 40
	MaxMetadataValue    = 500
)

// pointerToken escapes a map key for use in a field path (RFC 6901).
func pointerToken(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

// ValidateMetadata checks an organization's metadata: at most 50 keys, each
// key 1 to 40 characters without control characters, each value free text
// of at most 500 characters. Its fields are named as in an organization:
// "metadata" for the whole, "metadata/<key>" for one entry (the empty key
// is "metadata/").
func ValidateMetadata(m map[string]string) error {
	var fe fieldErrors
	if len(m) > MaxMetadataKeys {
		fe = append(fe, FieldError{Field: "metadata", Detail: fmt.Sprintf("must have at most %d keys", MaxMetadataKeys)})
	}
	for k, v := range m {
		field := "metadata/" + pointerToken(k)
		if !IsKeyText(k) {
			fe = append(fe, FieldError{Field: field, Detail: "key must be valid UTF-8 without control characters"})
		} else if n := utf8.RuneCountInString(k); n < 1 || n > MaxMetadataKey {
			fe = append(fe, FieldError{Field: field, Detail: fmt.Sprintf("key must be 1 to %d characters long", MaxMetadataKey)})
		}
		if err := validateFreeText(v, MaxMetadataValue); err != nil {
			fe = append(fe, FieldError{Field: field, Detail: "value " + err.(*ValidationError).Fields[0].Detail})
		}
	}
	return fe.err()
}

// Organization is a tenant: the unit that owns members, roles and custom
// permissions. Its slug is unique across the service; its version grows by
// one with every change, so clients can detect concurrent updates.
type Organization struct {
	id        string
	slug      Slug
	name      string
	status    OrganizationStatus
	metadata  map[string]string
	createdAt time.Time
	updatedAt time.Time
	version   int64
}

// NewOrganization creates an active organization at version 1. It returns a
// *ValidationError naming every invalid field.
func NewOrganization(id, slug, name string, metadata map[string]string, now time.Time) (*Organization, error) {
	var fe fieldErrors
	s, err := ParseSlug(slug)
	fe.add("slug", err)
	fe.add("name", validateName(name, MaxOrganizationName))
	fe.add("", ValidateMetadata(metadata))
	if err := fe.err(); err != nil {
		return nil, err
	}
	md := maps.Clone(metadata)
	if md == nil {
		md = map[string]string{}
	}
	return &Organization{
		id: id, slug: s, name: name, status: OrganizationActive, metadata: md,
		createdAt: now, updatedAt: now, version: 1,
	}, nil
}

// UnmarshalOrganizationFromDatabase rebuilds an organization from storage. It
// skips the creation rules and must be used only by storage adapters.
func UnmarshalOrganizationFromDatabase(id, slug, name, status string, metadata map[string]string, createdAt, updatedAt time.Time, version int64) *Organization {
	st, err := ParseOrganizationStatus(status)
	if err != nil {
		st = OrganizationStatus{status}
	}
	metadata = maps.Clone(metadata)
	if metadata == nil {
		metadata = map[string]string{}
	}
	return &Organization{
		id: id, slug: Slug(slug), name: name, status: st, metadata: metadata,
		createdAt: createdAt, updatedAt: updatedAt, version: version,
	}
}

// ID returns the organization's identifier (a UUIDv7).
func (o *Organization) ID() string { return o.id }

// Slug returns the organization's unique handle.
func (o *Organization) Slug() Slug { return o.slug }

// Name returns the display name.
func (o *Organization) Name() string { return o.name }

// Status returns whether the organization is active or suspended.
func (o *Organization) Status() OrganizationStatus { return o.status }

// IsActive reports whether the organization is active.
func (o *Organization) IsActive() bool { return o.status == OrganizationActive }

// Metadata returns a copy of the organization's metadata.
func (o *Organization) Metadata() map[string]string { return maps.Clone(o.metadata) }

// CreatedAt returns the creation time.
func (o *Organization) CreatedAt() time.Time { return o.createdAt }

// UpdatedAt returns the time of the last change.
func (o *Organization) UpdatedAt() time.Time { return o.updatedAt }

// Version returns the version number, which changes on every update.
func (o *Organization) Version() int64 { return o.version }

// OrganizationChanges is a partial update of an organization. Nil fields are
// left alone. Metadata is merged: a key mapped to nil is removed, any other
// key is set.
type OrganizationChanges struct {
	Name     *string
	Slug     *string
	Status   *string
	Metadata map[string]*string
}

// IsEmpty reports whether c changes nothing.
func (c OrganizationChanges) IsEmpty() bool {
	return c.Name == nil && c.Slug == nil && c.Status == nil && c.Metadata == nil
}

// Apply validates every change and, when all are valid, applies them at once
// and increments the version. It changes nothing when any field is invalid
// and returns a *ValidationError naming each one. Whether the caller may
// change the status is decided by the application, not here.
func (o *Organization) Apply(c OrganizationChanges, now time.Time) error {
	var fe fieldErrors
	next := *o
	next.metadata = maps.Clone(o.metadata)
	if c.Name != nil {
		fe.add("name", validateName(*c.Name, MaxOrganizationName))
		next.name = *c.Name
	}
	if c.Slug != nil {
		s, err := ParseSlug(*c.Slug)
		fe.add("slug", err)
		next.slug = s
	}
	if c.Status != nil {
		s, err := ParseOrganizationStatus(*c.Status)
		fe.add("status", err)
		next.status = s
	}
	for k, v := range c.Metadata {
		if v == nil {
			delete(next.metadata, k)
			continue
		}
		next.metadata[k] = *v
	}
	if c.Metadata != nil {
		fe.add("", ValidateMetadata(next.metadata))
	}
	if err := fe.err(); err != nil {
		return err
	}
	next.updatedAt = now
	next.version = o.version + 1
	*o = next
	return nil
}
