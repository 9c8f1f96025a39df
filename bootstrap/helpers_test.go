package bootstrap

import (
	"net/http/httptest"
	"testing"

	"github.com/orgstack/orgstack/adapters/devissuer"
)

func newJWKSServer(t *testing.T, s *devissuer.Signer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.JWKSHandler())
	t.Cleanup(srv.Close)
	return srv
}
