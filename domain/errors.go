package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a domain error by what the caller can do about it. The
// HTTP adapter maps each kind to one status code, in one table.
type Kind int

// The error kinds. KindInternal is never constructed by the domain; it is the
// kind of every error that is not a *domain.Error.
const (
	KindInternal             Kind = iota // something broke; the caller cannot fix it
	KindInvalid                          // the input breaks a rule of the model (400)
	KindForbidden                        // authenticated, but not allowed (403)
	KindNotFound                         // no such thing, or not visible to the caller (404)
	KindConflict                         // the request clashes with the current state (409)
	KindPrecondition                     // a version precondition failed (412)
	KindPreconditionRequired             // the write must name the version it changes (428)
)

// Error is a domain error: a kind, a stable machine-readable code and a
// message that is safe to show to the caller. Fixed cases are sentinels
// compared with errors.Is.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func newError(kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// Sentinel errors. Their codes are the stable codes published in the API.
var (
	ErrForbidden                = newError(KindForbidden, "forbidden", "the caller lacks the permission this action needs")
	ErrOwnerRequired            = newError(KindForbidden, "owner_required", "only owners may make, unmake, suspend or remove owners")
	ErrEscalation               = newError(KindForbidden, "privilege_escalation", "the caller cannot grant permissions it does not hold")
	ErrOrganizationMismatch     = newError(KindForbidden, "organization_mismatch", "the token is bound to another organization")
	ErrOrganizationSuspended    = newError(KindForbidden, "organization_suspended", "the organization is suspended")
	ErrPlatformAdminRequired    = newError(KindForbidden, "platform_admin_required", "only platform administrators may do this")
	ErrNotFound                 = newError(KindNotFound, "not_found", "the resource does not exist")
	ErrSlugTaken                = newError(KindConflict, "slug_taken", "an organization with this slug already exists")
	ErrLastOwner                = newError(KindConflict, "last_owner", "an organization must keep at least one active owner")
	ErrAlreadyMember            = newError(KindConflict, "already_member", "the user is already a member of the organization")
	ErrUserExists               = newError(KindConflict, "user_exists", "a user with this issuer and subject already exists")
	ErrUserDeactivated          = newError(KindConflict, "user_deactivated", "the user is deactivated")
	ErrUserErased               = newError(KindConflict, "user_erased", "the user was erased; erasure is final")
	ErrRoleExists               = newError(KindConflict, "role_exists", "a role with this key already exists")
	ErrBuiltinRole              = newError(KindConflict, "builtin_role", "built-in roles cannot be changed or deleted")
	ErrRoleInUse                = newError(KindConflict, "role_in_use", "the role is held by members")
	ErrPermissionExists         = newError(KindConflict, "permission_exists", "a permission with this key already exists")
	ErrSystemPermission         = newError(KindConflict, "system_permission", "system permissions cannot be changed or deleted")
	ErrPermissionInUse          = newError(KindConflict, "permission_in_use", "the permission is granted by a role")
	ErrIdentityProviderConflict = newError(KindConflict, "identity_provider_conflict", "the issuer is configured by the operator, or another organization's provider accepts this issuer and audience")
	ErrSecretKeyMissing         = newError(KindConflict, "secret_key_missing", "the server has no secret key (ORGSTACK_SECRET_KEY), so it cannot keep webhook secrets")
	ErrVersionMismatch          = newError(KindPrecondition, "version_mismatch", "the resource was changed by someone else")
	ErrPreconditionRequired     = newError(KindPreconditionRequired, "precondition_required", "this change must name the version it replaces (If-Match)")
)

// KindOf returns the kind of err: the kind of the first *Error in its chain,
// or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return KindInvalid
	}
	var u *UnknownReferenceError
	if errors.As(err, &u) {
		return KindConflict
	}
	return KindInternal
}

// FieldError names one invalid input field. Field is a JSON-pointer-like
// path relative to the input ("slug", "metadata/color", "roles/1").
type FieldError struct {
	Field  string
	Detail string
}

// ValidationError lists every invalid field of one input. It is the error the
// constructors and change methods return when input breaks a rule.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string { return fieldsMessage("invalid input", e.Fields) }

// fieldsMessage is prefix followed by each field and its detail.
func fieldsMessage(prefix string, fields []FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return prefix + ": " + strings.Join(parts, "; ")
}

// LastOwnerError is ErrLastOwner naming the organizations whose last active
// owner a change would remove (erasing a user who is the last active owner
// of several organizations names them all).
type LastOwnerError struct {
	Organizations []OrganizationName
}

// OrganizationName names an organization in an error: its ID and slug.
type OrganizationName struct {
	ID   string
	Slug string
}

func (e *LastOwnerError) Error() string {
	parts := make([]string, len(e.Organizations))
	for i, o := range e.Organizations {
		parts[i] = o.Slug
	}
	return ErrLastOwner.Message + ": " + strings.Join(parts, ", ")
}

// Unwrap returns ErrLastOwner, so errors.Is(err, ErrLastOwner) holds.
func (e *LastOwnerError) Unwrap() error { return ErrLastOwner }

// UnknownReferenceError lists the fields of a well-formed input that name
// something the organization does not hold: a role key no role has, a
// permission key no permission has, a user ID no user has. The input breaks
// no rule of its own; it clashes with the current state (a conflict, not a
// validation error), and the same input succeeds once what it names exists.
type UnknownReferenceError struct {
	Fields []FieldError
}

func (e *UnknownReferenceError) Error() string { return fieldsMessage("unknown reference", e.Fields) }

// UnknownReference returns an unknown-reference error for one field.
func UnknownReference(field, format string, args ...any) *UnknownReferenceError {
	return &UnknownReferenceError{Fields: []FieldError{{Field: field, Detail: fmt.Sprintf(format, args...)}}}
}

// Invalid returns a validation error for one field.
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Detail: fmt.Sprintf(format, args...)}}}
}

// fieldErrors collects field errors while a constructor checks its input.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field string, err error) {
	if err == nil {
		return
	}
	var v *ValidationError
	if errors.As(err, &v) {
		for _, f := range v.Fields {
			name := field
			switch {
			case f.Field != "" && field != "":
				name = field + "/" + f.Field
			case f.Field != "":
				name = f.Field
			}
			*fe = append(*fe, FieldError{Field: name, Detail: f.Detail})
		}
		return
	}
	*fe = append(*fe, FieldError{Field: field, Detail: err.Error()})
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}
