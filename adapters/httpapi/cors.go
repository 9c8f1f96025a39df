package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// CORS answers browser applications of configured origins
// (ORGSTACK_CORS_ORIGINS). Requests carry their token in the Authorization
// header, never in cookies, so credentials mode is never allowed
// (Access-Control-Allow-Credentials is never sent); "*" alone allows every
// origin and is answered as "*". An Origin not configured gets no CORS
// header at all, and every response says Vary: Origin.
type CORS struct {
	any     bool
	origins map[string]struct{}
}

// CORS response values.
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID, traceparent, tracestate, baggage"
	corsExposeHeaders = "ETag, Idempotent-Replayed, Location, Link, RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate, X-Request-ID"
	corsMaxAge        = "600"
)

// NewCORS checks the configured origins: each an exact origin
// (scheme://host[:port], http or https, no path, query or trailing slash),
// or "*" alone. None gives nil (CORS off).
func NewCORS(origins []string) (*CORS, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	c := &CORS{origins: map[string]struct{}{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			if len(origins) > 1 {
				return nil, errors.New(`"*" cannot be combined with other origins`)
			}
			c.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "/") || o != strings.ToLower(o) {
			return nil, errors.New("\"" + o + "\" is not an origin: want scheme://host[:port] in lower case, without path or trailing slash")
		}
		c.origins[o] = struct{}{}
	}
	return c, nil
}

// handle adds the CORS fields to w for an allowed origin, and answers a
// preflight (OPTIONS with Access-Control-Request-Method) itself with 204,
// reporting true. Other requests continue, whatever their origin: CORS is
// enforced by browsers, not by the server.
func (c *CORS) handle(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	allow := origin
	if c.any {
		allow = "*"
	} else if _, ok := c.origins[origin]; !ok {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h.Set("Access-Control-Allow-Origin", allow)
	if !preflight {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
