// Package application implements OrgStack's use cases: the driving ports
// declared in package ports. It owns transactions and every authorization
// decision, and depends only on the domain and the ports.
//
// Every tenant-scoped use case starts in the authorizer (authorizer.go),
// which resolves the organization named by the request path or the token,
// loads the caller's access to it in one store round trip, makes sure the
// caller's user record exists, and answers "may this principal do P in this
// organization". The checks run in the order the API documents: the
// organization (not visible: domain.ErrNotFound; bound to another one:
// domain.ErrOrganizationMismatch; suspended: domain.ErrOrganizationSuspended
// for writes), then the permission (domain.ErrForbidden), then the input
// (*domain.ValidationError), then conflicts with the stored state.
//
// Platform administrators act as owners in every organization. Rules that
// read then write run in one transaction that locks what it reads:
//
//   - the last-owner rule locks the organization's active owners, then the
//     membership (lockForOwnerRule);
//   - assigning roles (adding a member, changing its roles) reads the custom
//     roles named FOR SHARE (RoleRepository.GetManyForShare), and deleting a
//     role locks it FOR UPDATE before counting its holders ("role in use"),
//     so a membership never names a deleted role;
//   - granting permissions (creating or changing a role) reads the custom
//     permissions named FOR SHARE (PermissionRepository.ExistingForShare),
//     and deleting a permission locks it FOR UPDATE before counting the
//     roles granting it ("permission in use"). Pattern grants name no row
//     and lock nothing.
//
// Adding a member by identity provisions the user inside that transaction
// (UserRepository.CreateIfAbsent), so a refused add leaves no user behind.
package application
