// Package domain is OrgStack's model of organizations and access, written in
// the language of the business and free of any technology: it imports only
// Go's standard library, and knows nothing of HTTP, SQL or tokens.
//
// # Organizations
//
// An Organization is a tenant: a customer of the product that uses OrgStack.
// It has a display name, a slug (a unique handle such as "acme-corp": 3 to 63
// lowercase letters, digits and single hyphens, starting with a letter), a
// status (active or suspended), free-form metadata (at most 50 string keys of
// up to 40 characters, values of up to 500) and a version number that grows
// with every change. Everything else — members, roles, custom permissions —
// belongs to exactly one organization and disappears with it.
//
// # Users
//
// A User is whoever presents a token: a person signing in through their
// company's single sign-on, or a machine client. A user is identified by the
// pair (issuer, subject): the identity provider and the identifier it gives.
// Email and name are kept when the token carries them, but they are optional
// and not unique. A user may be provisioned before their first sign-in so
// that roles can be assigned in advance.
//
// # Permissions
//
// A Permission is one thing a user may do, named "resource:action"
// ("invoices:approve"). The API's own actions are the system permissions
// (organization:read, organization:update, organization:delete, members:read,
// members:write, roles:read, roles:write, permissions:read,
// permissions:write, authz:check); they exist in every organization. An
// organization defines custom permissions for its own applications; those may
// not use a system resource name (organization, members, roles, permissions,
// authz).
//
// A Grant is what a role gives: one permission ("invoices:approve"), every
// action of a resource ("invoices:*") or everything ("*").
//
// # Roles
//
// A Role is a named set of grants. Its key ("approver") is unique in the
// organization and never changes. Three built-in roles exist in every
// organization and cannot be changed or deleted:
//
//   - owner: everything, custom permissions included;
//   - admin: everything except deleting the organization;
//   - member: reading the organization, its members, roles and permissions.
//
// # Memberships
//
// A Membership places a user in an organization with one or more roles. It is
// active or suspended; a suspended member keeps the record but holds no
// permission. Two rules span memberships and are checked in the same
// transaction that locks the organization's owners (CheckMembershipChange):
//
//   - an organization always keeps at least one active owner, so the last one
//     cannot be removed, suspended or demoted;
//   - only owners may make, unmake, suspend or remove owners.
//
// # Granting without escalation
//
// A member may hand out — in a role they create or edit, or in the roles they
// assign — only what their own grants cover (GrantSet.Covers): holding
// invoices:approve does not allow granting invoices:*, and an admin cannot
// grant organization:delete.
//
// # Text
//
// Every text OrgStack keeps is valid UTF-8 without NUL. Names, keys and
// identifiers (an organization's name and slug, role keys and names,
// permission keys, a user's name, metadata keys, issuers and subjects) hold
// no control character; free text (descriptions, metadata values, email
// addresses) may hold tabs and line breaks. The display name of an
// organization or a role must hold something besides whitespace, and
// "whitespace" is one explicit list of characters (WhitespaceClass). The
// rules are stated once, in text.go, and every constructor applies them.
//
// # Errors
//
// Every rule that refuses an action returns a typed error: a
// *ValidationError naming each invalid field, or one of the sentinel *Error
// values (ErrLastOwner, ErrBuiltinRole, ...) with a stable code that the API
// publishes.
package domain
