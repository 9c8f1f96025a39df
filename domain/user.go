package domain

import (
	"time"
)

// User is the principal behind a token, identified by the token's issuer and
// subject together. Email and name are optional and not unique: machine
// clients have neither, and two identity providers may share an address.
type User struct {
	id        string
	issuer    string
	subject   string
	email     string
	name      string
	createdAt time.Time
	updatedAt time.Time
}

// Limits of a user's fields.
const (
	MaxIdentifier = 255
	MaxUserEmail  = 320
	MaxUserName   = 200
)

// NewUser creates a user for the identity (issuer, subject): identifiers of
// 1 to 255 bytes without control characters (ValidateIdentifier). Email and
// name are optional and hold no control characters; "" means none.
func NewUser(id, issuer, subject, email, name string, now time.Time) (*User, error) {
	var fe fieldErrors
	fe.add("issuer", ValidateIdentifier(issuer))
	fe.add("subject", ValidateIdentifier(subject))
	fe.add("email", validateOptionalKeyText(email, MaxUserEmail))
	fe.add("name", validateOptionalKeyText(name, MaxUserName))
	if err := fe.err(); err != nil {
		return nil, err
	}
	return &User{id: id, issuer: issuer, subject: subject, email: email, name: name, createdAt: now, updatedAt: now}, nil
}

// UnmarshalUserFromDatabase rebuilds a user from storage, skipping the
// creation rules. For storage adapters only.
func UnmarshalUserFromDatabase(id, issuer, subject, email, name string, createdAt, updatedAt time.Time) *User {
	return &User{id: id, issuer: issuer, subject: subject, email: email, name: name, createdAt: createdAt, updatedAt: updatedAt}
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

// CreatedAt returns when the user was first seen or provisioned.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// UpdatedAt returns when a kept claim last changed.
func (u *User) UpdatedAt() time.Time { return u.updatedAt }

// RefreshClaims keeps the email and name a newer token carries. It reports
// whether anything changed, so that callers write only then. Empty or
// invalid values in the token leave the kept value alone.
func (u *User) RefreshClaims(email, name string, now time.Time) bool {
	changed := false
	if email != "" && email != u.email && validateOptionalKeyText(email, MaxUserEmail) == nil {
		u.email, changed = email, true
	}
	if name != "" && name != u.name && validateOptionalKeyText(name, MaxUserName) == nil {
		u.name, changed = name, true
	}
	if changed {
		u.updatedAt = now
	}
	return changed
}
