package httpapi

import "net/http"

// resourceMetadataPath is where the protected-resource metadata is served
// (RFC 9728 section 3, for a resource identifier without a path).
const resourceMetadataPath = "/.well-known/oauth-protected-resource"

// protectedResourceJSON is the OAuth 2.0 Protected Resource Metadata
// (RFC 9728 section 2).
type protectedResourceJSON struct {
	Resource               string   `json:"resource,omitempty"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

// protectedResource serves GET /.well-known/oauth-protected-resource:
// unauthenticated and not rate-limited. The resource identifier is
// ORGSTACK_PUBLIC_URL (omitted when that is not set), never derived from the
// Host header; the authorization servers are the operator-configured
// issuers. Tokens are accepted only in the Authorization header.
func (s *server) protectedResource(w http.ResponseWriter, r *http.Request) {
	servers := s.authServers
	if servers == nil {
		servers = []string{}
	}
	body := protectedResourceJSON{Resource: s.publicURL, AuthorizationServers: servers,
		BearerMethodsSupported: []string{"header"}}
	s.writeJSON(w, r, http.StatusOK, body)
}

// resourceMetadataParam is the resource_metadata parameter of
// WWW-Authenticate (RFC 9728 section 5.1), or "" when no public URL is
// configured.
func (s *server) resourceMetadataParam() string {
	if s.publicURL == "" {
		return ""
	}
	return `, resource_metadata="` + s.publicURL + resourceMetadataPath + `"`
}
