package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of this API. Tests validate
// every request and response of the handler suite against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns a copy of the embedded OpenAPI document.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// openapi handles GET /api/v1/openapi.json, served without authentication.
func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}
