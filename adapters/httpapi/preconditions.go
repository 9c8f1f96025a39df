package httpapi

import (
	"net/http"
	"strings"

	"github.com/orgstack/orgstack/ports"
)

// Preconditions (RFC 9110, section 13). Organizations, members, custom
// roles, custom permissions and the identity provider carry a version; its
// entity tag is the strong tag "<version>" (built-in roles and system
// permissions: the fixed "1"). A change names the version it replaces in
// If-Match, compared by the application in the transaction that writes,
// after the authorization and existence checks (so a stale tag on another
// tenant's member is still 404 and a missing permission still 403). A read
// names the versions the client holds in If-None-Match and is answered 304
// when one matches.

// ifMatch is ifVersion for a server that may require If-Match
// (Options.RequireIfMatch): a change without the header then carries
// ports.IfMatchRequired, which the application answers 428
// precondition_required once authorization and existence are settled.
func (s *server) ifMatch(r *http.Request) (int64, error) {
	if s.requireIfMatch && len(r.Header.Values("If-Match")) == 0 {
		return ports.IfMatchRequired, nil
	}
	return ifVersion(r)
}

// notModified reports whether If-None-Match names tag, by weak comparison
// (RFC 9110, section 13.1.2): "*", or a listed entity tag whose opaque part
// equals tag's, with or without W/.
func notModified(r *http.Request, tag string) bool {
	vals := r.Header.Values("If-None-Match")
	if len(vals) == 0 {
		return false
	}
	v := strings.Join(vals, ",")
	if len(v) > 4*maxIfMatch { // a long list is read as naming nothing
		return false
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// writeTagged writes a representation with its entity tag. A successful
// GET or HEAD whose If-None-Match names the tag is answered 304 Not
// Modified: the ETag and no body.
func (s *server) writeTagged(w http.ResponseWriter, r *http.Request, status int, version int64, v any) {
	tag := etag(version)
	w.Header().Set("ETag", tag)
	if status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) && notModified(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeData(w, r, status, v)
}
