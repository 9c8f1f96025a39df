// Package sqlstoretest gives tests a migrated, isolated sqlstore.Store on a
// real database: SQLite in memory, or a fresh PostgreSQL schema when
// ORGSTACK_TEST_POSTGRES_URL is set. Every store is closed, and every
// schema dropped, by t.Cleanup, so tests may run in parallel.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for schema setup

	"github.com/orgstack/orgstack/adapters/sqlstore"
)

// PostgresURLEnv names the environment variable holding the URL of a
// PostgreSQL database where tests may create and drop schemas.
const PostgresURLEnv = "ORGSTACK_TEST_POSTGRES_URL"

// RLSEnv names the environment variable that, set to 1 with
// ORGSTACK_TEST_POSTGRES_URL, makes New return the runtime role's store of
// NewPostgresRLS (a role that owns nothing, under row-level security), so
// that a whole test suite (e.g. adapters/httpapi) runs through the policies.
const RLSEnv = "ORGSTACK_TEST_POSTGRES_RLS"

// New returns a migrated store: on PostgreSQL (a fresh schema) when
// ORGSTACK_TEST_POSTGRES_URL is set (through the runtime role of
// NewPostgresRLS when ORGSTACK_TEST_POSTGRES_RLS=1), else on SQLite in
// memory.
func New(t testing.TB) *sqlstore.Store {
	t.Helper()
	if os.Getenv(PostgresURLEnv) != "" {
		if os.Getenv(RLSEnv) == "1" {
			return NewPostgresRLS(t).Runtime
		}
		return NewPostgres(t)
	}
	return NewSQLite(t)
}

// NewSQLite returns a migrated store on a private in-memory SQLite database.
func NewSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, "sqlite::memory:")
}

// NewSQLiteFile returns a migrated store on an SQLite file in a temporary
// directory (WAL, several connections), for tests that need real
// concurrency between connections.
func NewSQLiteFile(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, "sqlite:"+t.TempDir()+"/orgstack-test.db")
}

// NewPostgres returns a migrated store whose connections use a new schema
// with a random name in the ORGSTACK_TEST_POSTGRES_URL database; the schema
// is dropped when the test ends. It skips the test when the variable is
// unset.
func NewPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, PostgresSchemaURL(t)) // registered after the drop, so it runs first
}

// PostgresSchemaURL creates a new schema with a random name in the
// ORGSTACK_TEST_POSTGRES_URL database and returns the URL of that database
// with search_path set to it; the schema is dropped when the test ends. It
// skips the test when the variable is unset. Open and migrate a store on it
// with Open, e.g. through a proxy.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	return schemaURL(t, base)
}

// NewPostgresAt is NewPostgres in the database named by base (a postgres://
// URL) instead of ORGSTACK_TEST_POSTGRES_URL's.
func NewPostgresAt(t testing.TB, base string) *sqlstore.Store {
	t.Helper()
	return open(t, schemaURL(t, base)) // registered after the drop, so it runs first
}

// schemaURL creates a new schema with a random name in the database named by
// base, dropped when the test ends, and returns base with search_path set to
// it.
func schemaURL(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqlstoretest: open %s: %v", PostgresURLEnv, err)
	}
	schema := "orgstack_test_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("sqlstoretest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("sqlstoretest: drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("sqlstoretest: parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated store on rawURL, closed when the test ends.
func Open(t testing.TB, rawURL string) *sqlstore.Store {
	t.Helper()
	return open(t, rawURL)
}

// NonConformingDatabase creates a PostgreSQL database of its own (random
// name, in the server of ORGSTACK_TEST_POSTGRES_URL) whose sessions default
// to standard_conforming_strings=off, as old installations do, and returns
// its URL; the database is dropped when the test ends. The shared database
// and the server configuration are left alone. It skips the test when the
// variable is unset.
func NonConformingDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqlstoretest: open %s: %v", PostgresURLEnv, err)
	}
	name := "orgstack_test_scs_" + randomHex(t, 8)
	for _, stmt := range []string{
		"CREATE DATABASE " + name,
		"ALTER DATABASE " + name + " SET standard_conforming_strings = off",
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			_ = admin.Close()
			t.Fatalf("sqlstoretest: %s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("sqlstoretest: drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("sqlstoretest: parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

func open(t testing.TB, rawURL string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("sqlstoretest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqlstoretest: close: %v", err)
		}
	})
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("sqlstoretest: migrate: %v", err)
	}
	return s
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("sqlstoretest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
