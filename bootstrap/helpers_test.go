package bootstrap

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for schema setup

	"github.com/orgstack/orgstack/adapters/devissuer"
)

func newJWKSServer(t *testing.T, s *devissuer.Signer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.JWKSHandler())
	t.Cleanup(srv.Close)
	return srv
}

// emptyPostgresSchema creates an empty schema in the database at base and
// returns a URL whose connections use it; the schema is dropped at the end.
func emptyPostgresSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "orgstack_bootstrap_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
