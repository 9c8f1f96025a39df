package domain

import (
	"maps"
	"time"
)

// UserStatus is where a user stands in its lifecycle. A user is created
// active; a platform administrator may deactivate it (its tokens are refused
// and checks about it answer "not allowed") and activate it again, or erase
// it: its personal fields are cleared for good, and what remains is a
// tombstone (ID, issuer and subject) that keeps the identity from being
// created again by its next token.
type UserStatus struct{ s string }

// The user statuses.
var (
	UserActive      = UserStatus{"active"}
	UserDeactivated = UserStatus{"deactivated"}
	UserErased      = UserStatus{"erased"}
)

func (s UserStatus) String() string { return s.s }

// ParseUserStatus parses "active", "deactivated" or "erased".
func ParseUserStatus(v string) (UserStatus, error) {
	switch v {
	case "active":
		return UserActive, nil
	case "deactivated":
		return UserDeactivated, nil
	case "erased":
		return UserErased, nil
	}
	return UserStatus{}, Invalid("", "must be one of active, deactivated, erased")
}

// User is the principal behind a token, identified by the token's issuer and
// subject together. Email and name are optional and not unique: machine
// clients have neither, and two identity providers may share an address.
// Metadata is the user's own small set of labels (the same rules as an
// organization's metadata, ValidateMetadata). The version grows by one with
// every change, so clients can detect concurrent updates.
type User struct {
	id        string
	issuer    string
	subject   string
	email     string
	name      string
	status    UserStatus
	metadata  map[string]string
	createdAt time.Time
	updatedAt time.Time
	version   int64
}

// Limits of a user's fields.
const (
	MaxIdentifier = 255
	MaxUserEmail  = 320
	MaxUserName   = 200
)

// NewUser creates an active user for the identity (issuer, subject):
// identifiers of 1 to 255 bytes without control characters
// (ValidateIdentifier). Email and name are optional and hold no control
// characters; "" means none. Metadata starts empty.
func NewUser(id, issuer, subject, email, name string, now time.Time) (*User, error) {
	var fe fieldErrors
	fe.add("issuer", ValidateIdentifier(issuer))
	fe.add("subject", ValidateIdentifier(subject))
	fe.add("email", validateOptionalKeyText(email, MaxUserEmail))
	fe.add("name", validateOptionalKeyText(name, MaxUserName))
	if err := fe.err(); err != nil {
		return nil, err
	}
	return &User{id: id, issuer: issuer, subject: subject, email: email, name: name, status: UserActive,
		metadata: map[string]string{}, createdAt: now, updatedAt: now, version: 1}, nil
}

// UnmarshalUserFromDatabase rebuilds an active user at version 1 without
// metadata from storage, skipping the creation rules; WithLifecycle sets the
// stored status, metadata and version. For storage adapters only.
func UnmarshalUserFromDatabase(id, issuer, subject, email, name string, createdAt, updatedAt time.Time) *User {
	return &User{id: id, issuer: issuer, subject: subject, email: email, name: name, status: UserActive,
		metadata: map[string]string{}, createdAt: createdAt, updatedAt: updatedAt, version: 1}
}

// WithLifecycle sets the stored status (an unknown one reads as
// deactivated: it never lets a token through), metadata and version on a
// user rebuilt by UnmarshalUserFromDatabase and returns u. For storage
// adapters only.
func (u *User) WithLifecycle(status string, metadata map[string]string, version int64) *User {
	st, err := ParseUserStatus(status)
	if err != nil {
		st = UserDeactivated
	}
	u.status, u.version = st, version
	u.metadata = maps.Clone(metadata)
	if u.metadata == nil {
		u.metadata = map[string]string{}
	}
	return u
}

// ID returns the user's identifier (a UUIDv7).
func (u *User) ID() string { return u.id }

// Issuer returns the identity provider that vouches for the user.
func (u *User) Issuer() string { return u.issuer }

// Subject returns the user's identifier at the issuer.
func (u *User) Subject() string { return u.subject }

// Email returns the e-mail address, or "".
func (u *User) Email() string { return u.email }

// Name returns the display name, or "".
func (u *User) Name() string { return u.name }

// Status returns where the user stands in its lifecycle.
func (u *User) Status() UserStatus { return u.status }

// IsActive reports whether the user's tokens are accepted.
func (u *User) IsActive() bool { return u.status == UserActive }

// Metadata returns a copy of the user's metadata.
func (u *User) Metadata() map[string]string { return maps.Clone(u.metadata) }

// Version returns the version, 1 when created, incremented by every change.
func (u *User) Version() int64 { return u.version }

// CreatedAt returns when the user was first seen or provisioned.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// UpdatedAt returns when the user last changed.
func (u *User) UpdatedAt() time.Time { return u.updatedAt }

// CheckSignIn says whether a token of the user may be accepted:
// ErrUserDeactivated or ErrUserErased when not.
func (u *User) CheckSignIn() error {
	switch u.status {
	case UserActive:
		return nil
	case UserErased:
		return ErrUserErased
	}
	return ErrUserDeactivated
}

// touch records a change made at now.
func (u *User) touch(now time.Time) {
	u.updatedAt = now
	u.version++
}

// RefreshClaims keeps the email and name a newer token carries. It reports
// whether anything changed, so that callers write only then. Empty or
// invalid values in the token leave the kept value alone, and a user that
// is not active keeps what it has (an erased user has nothing to refresh).
func (u *User) RefreshClaims(email, name string, now time.Time) bool {
	if !u.IsActive() {
		return false
	}
	changed := false
	if email != "" && email != u.email && validateOptionalKeyText(email, MaxUserEmail) == nil {
		u.email, changed = email, true
	}
	if name != "" && name != u.name && validateOptionalKeyText(name, MaxUserName) == nil {
		u.name, changed = name, true
	}
	if changed {
		u.touch(now)
	}
	return changed
}

// Deactivate stops the user's tokens from being accepted; its memberships
// and fields are kept. It reports whether anything changed (deactivating a
// deactivated user changes nothing). An erased user is ErrUserErased.
func (u *User) Deactivate(now time.Time) (bool, error) {
	switch u.status {
	case UserErased:
		return false, ErrUserErased
	case UserDeactivated:
		return false, nil
	}
	u.status = UserDeactivated
	u.touch(now)
	return true, nil
}

// Activate lets a deactivated user's tokens be accepted again. It reports
// whether anything changed. An erased user is ErrUserErased: erasure is
// final.
func (u *User) Activate(now time.Time) (bool, error) {
	switch u.status {
	case UserErased:
		return false, ErrUserErased
	case UserActive:
		return false, nil
	}
	u.status = UserActive
	u.touch(now)
	return true, nil
}

// Erase clears the user's personal fields (email, name, metadata) for good
// and leaves a tombstone: the ID, issuer and subject with the status erased,
// so that the identity's next token is refused instead of creating a new
// user. Removing the user's memberships, and the rule that an organization
// keeps an owner, are the application's (in the same transaction). Erasing
// an erased user is ErrUserErased.
func (u *User) Erase(now time.Time) error {
	if u.status == UserErased {
		return ErrUserErased
	}
	u.email, u.name, u.metadata = "", "", map[string]string{}
	u.status = UserErased
	u.touch(now)
	return nil
}

// UpdateMetadata merges changes into the user's metadata: a key mapped to
// nil is removed, any other is set. The result must pass ValidateMetadata
// (fields "metadata/<key>"). It reports whether anything changed. Only an
// active user changes its metadata (ErrUserDeactivated, ErrUserErased).
func (u *User) UpdateMetadata(changes map[string]*string, now time.Time) (bool, error) {
	if err := u.CheckSignIn(); err != nil {
		return false, err
	}
	next := maps.Clone(u.metadata)
	for k, v := range changes {
		if v == nil {
			delete(next, k)
			continue
		}
		next[k] = *v
	}
	if err := ValidateMetadata(next); err != nil {
		return false, err
	}
	if maps.Equal(next, u.metadata) {
		return false, nil
	}
	u.metadata = next
	u.touch(now)
	return true, nil
}
