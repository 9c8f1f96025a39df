// Package ports is the edge of the hexagon: the interfaces through which the
// outside world drives OrgStack (driving ports, implemented by application)
// and through which OrgStack reaches the outside world (driven ports,
// implemented by adapters). It holds interfaces, the plain values they
// exchange and the rules of those values every side shares (list.go: sort
// fields, page limits and filters of every list), nothing else. telemetry.go
// holds the telemetry ports (what the edge and the use cases report for
// metrics, with bounded values only) and RequestNote, through which the
// application tells the access log which organization a request resolved to.
//
// Errors: unless a method's comment says otherwise, methods return the
// domain's typed errors (*domain.Error sentinels compared with errors.Is, or a
// *domain.ValidationError). Any method of a driven port may also return an
// *UnavailableError when its dependency cannot be reached or does not answer
// in time; any other error is internal.
package ports
