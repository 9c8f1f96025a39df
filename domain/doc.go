// Package domain is OrgStack's model of organizations and access, written in
// the language of the business and free of any technology: it imports only
// Go's standard library, and knows nothing of HTTP, SQL or tokens.
//
// # Organizations
//
// An Organization is a tenant: a customer of the product that uses OrgStack.
// It has a display name, a slug (a unique handle such as "acme-corp": 3 to 63
// lowercase letters, digits and single hyphens, starting with a letter, and
// not shaped like a UUID), a
// status (active or suspended), free-form metadata (at most 50 string keys of
// up to 40 characters, values of up to 500) and a version number that grows
// with every change. Everything else — members, roles, custom permissions —
// belongs to exactly one organization and disappears with it.
//
// Requests and tokens name an organization by ID or by slug (an OrgRef).
// Which one is meant is decided by shape: a UUID is an ID. That is why a
// slug may not look like a UUID; an organization that got such a slug before
// the rule stays reachable by its ID and can be renamed.
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
// A user is active, deactivated or erased. A platform administrator may
// deactivate a user: its tokens are refused and checks about it answer "not
// allowed", while its memberships and profile are kept, so activating it
// again restores everything. Erasing a user is final: its memberships are
// removed and its email, name and metadata cleared, and only a tombstone
// remains (ID, issuer, subject) so that the identity's next token is refused
// instead of creating the user again. A user who is the last active owner of
// an organization cannot be erased (ErrLastOwner, naming the
// organizations); that rule is enforced by the application in the
// transaction that locks each organization's owners. A user also keeps a
// small set of its own labels (metadata, under the same rules as an
// organization's) and a version that grows with every change.
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
// # Suspension
//
// Suspending pauses without forgetting: nothing is deleted, and reactivating
// restores everything as it was.
//
//   - A suspended organization can still be read by its active members, but
//     every change to it, its members, roles or permissions is refused
//     (organization_suspended), and every permission check in it answers "not
//     allowed", whoever is asked about. Only platform administrators suspend
//     or reactivate an organization, and they may still change it while it is
//     suspended.
//   - A suspended member keeps the membership and its roles but holds no
//     permission: the organization is hidden from them (as if it did not
//     exist), and a check about them answers "not allowed". A suspended owner
//     does not count as the active owner the organization must keep.
//
// # Deleting what is in use
//
// A custom role that any member holds (active or suspended), and a custom
// permission that any role grants by name, cannot be deleted (role_in_use,
// permission_in_use): first take the role from its members, or the
// permission out of its roles. Deleting them anyway would change people's
// access without anyone deciding it — members would silently lose what the
// role gave — and would leave names behind that point at nothing: a role or
// permission created later under the same key would then silently grant its
// rights to whoever still held the old name. A pattern ("invoices:*") names
// no particular permission, so it does not keep one in use. Both rules are
// checked in the transaction that writes, with the rows they read locked
// against a concurrent delete (see package application).
//
// # Permission checks
//
// A check asks whether a user may do one permission in one organization. It
// answers "allowed" only when the organization is active, the user is an
// active member of it, the permission exists there (a system permission or
// one of the organization's custom permissions) and one of the member's
// roles grants it; the answer then names those roles. A check on a
// well-formed permission the organization has not defined is not an error:
// it answers "not allowed", even for an owner whose "*" would cover it, so a
// typing mistake in an application can never grant access. A permission key
// that is not of the form "resource:action" is invalid input.
//
// # Platform administrators
//
// A platform administrator operates the OrgStack installation rather than
// belonging to any one organization: whoever presents a token carrying the
// configured administrator claim and value. In every organization they act
// as an owner without being a member — they see it, change it, and may
// grant or assign anything, since no escalation rule applies to them — and
// beyond that they alone suspend and reactivate organizations, list every
// user of the installation, and, when the installation restricts it, create
// organizations. They are not members: checks answer from memberships, so a
// check about a platform administrator who holds no membership answers "not
// allowed".
//
// # An organization's own identity provider
//
// An organization may bring its own OpenID provider (IdentityProvider, one
// per organization). Whoever controls that provider's signing keys can mint
// a token for every user of its issuer, owners included, so the model is
// strict about what a provider may say:
//
//   - its issuer and key set URL are https (an organization supplies them;
//     which network addresses may be reached is the outbound client's rule);
//   - it accepts at least one audience, only asymmetric algorithms (a
//     shared secret would have to be stored here), and at most five minutes
//     of clock leeway;
//   - it cannot name an organization claim (its tokens are bound to its
//     organization), make anyone a platform administrator, or use token
//     introspection: IdentityProviderSpec has no field for any of them;
//   - claims are named by ClaimPath, a list of keys: ["realm_access",
//     "roles"] walks into an object, ["https://example.com/org"] is one
//     claim whose name holds dots; a dotted string is never split;
//   - just-in-time membership (JITMembership) maps values of one claim to
//     role keys, with a default role; owner can never be mapped or be the
//     default. Whether the mapped roles exist and are within the grants of
//     whoever sets the mapping is checked by the application, as for role
//     assignment.
//
// The operator's own issuers can never be an organization's, and an issuer
// and audience accepted by one organization's provider cannot be accepted by
// another's: otherwise one tenant could capture another's users. The users a
// provider brings belong to its issuer and organization; no other
// organization may name them by that issuer.
//
// The identity_provider resource is reserved for the system permissions
// identity_provider:read and identity_provider:write. Owners hold both;
// admins hold everything except organization:delete and
// identity_provider:write, so an admin cannot register a provider.
//
// # Granting without escalation
//
// A member may hand out — in a role they create or edit, or in the roles they
// assign — only what their own grants cover (GrantSet.Covers): holding
// invoices:approve does not allow granting invoices:*, and an admin cannot
// grant organization:delete.
//
// # The audit log
//
// Every change writes one AuditEvent, in the same transaction as the change:
// when, who (the Actor: a user with a token, an identity provider whose
// claims made the change, or the system itself), in which organization,
// which action of the one catalogue (AuditActions: "member.roles_changed",
// ...; webhook event types are the same names), to which target, and each
// changed field before and after. Events name people by user ID only:
// NewAuditEvent redacts a user's email, name and metadata and every secret,
// so the event says the field changed but never holds the value. Events are
// never changed; they outlive the organization they describe. The audit
// resource is reserved for the system permission audit:read, which owners
// and admins hold.
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
