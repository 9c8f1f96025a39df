package sqlstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// openUnmigrated opens a store on rawURL without migrating it.
func openUnmigrated(t *testing.T, rawURL string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConcurrentMigrateUpOnEmptyDatabase: several instances (stores with
// pools of their own) asking for their status and migrating at the same
// moment on an empty PostgreSQL schema never race: every call succeeds,
// the migrations are applied exactly once, by one of them, and bun's
// Init (CREATE TABLE IF NOT EXISTS, itself racy) runs under the lock too.
func TestConcurrentMigrateUpOnEmptyDatabase(t *testing.T) {
	for round := range 3 {
		url := sqlstoretest.PostgresSchemaURL(t)
		const n = 4
		stores := make([]*sqlstore.Store, n)
		for i := range stores {
			stores[i] = openUnmigrated(t, url)
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			applied = make([][]string, n)
			errs    = make([]error, n)
		)
		for i, s := range stores {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, _, err := s.MigrationStatus(ctx); err != nil {
					errs[i] = err
					return
				}
				applied[i], errs[i] = s.MigrateUp(ctx)
			})
		}
		close(start)
		wg.Wait()
		var by []int
		for i := range stores {
			if errs[i] != nil {
				t.Fatalf("round %d, instance %d: %v", round, i, errs[i])
			}
			if len(applied[i]) > 0 {
				by = append(by, i)
			}
		}
		if len(by) != 1 {
			t.Fatalf("round %d: migrations applied by instances %v, want exactly one", round, by)
		}
		all, pending, err := stores[0].MigrationStatus(t.Context())
		if err != nil || len(pending) != 0 || !slices.Equal(all, applied[by[0]]) {
			t.Fatalf("round %d: status %v pending %v (%v), want %v applied", round, all, pending, err, applied[by[0]])
		}
		var rows int
		if err := stores[0].DB().NewRaw("SELECT count(*) FROM bun_migrations").Scan(t.Context(), &rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(all) {
			t.Errorf("round %d: %d rows in bun_migrations, want %d", round, rows, len(all))
		}
	}
}

// TestStaleBunMigrationLockDoesNotBlock: a row left in bun_migration_locks
// by a process that died while migrating (bun's own lock, which earlier
// versions took) neither blocks nor fails a later migration.
func TestStaleBunMigrationLockDoesNotBlock(t *testing.T) {
	url := sqlstoretest.PostgresSchemaURL(t)
	s := openUnmigrated(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, stmt := range []string{
		`CREATE TABLE bun_migration_locks (id bigserial PRIMARY KEY, table_name varchar UNIQUE)`,
		`INSERT INTO bun_migration_locks (table_name) VALUES ('bun_migrations')`,
	} {
		if _, err := s.DB().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	applied, err := s.MigrateUp(ctx)
	if err != nil || len(applied) == 0 {
		t.Fatalf("MigrateUp with a stale bun lock: got %v, %v", applied, err)
	}
	var left int
	if err := s.DB().NewRaw("SELECT count(*) FROM bun_migration_locks").Scan(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d stale lock rows left, want them cleared", left)
	}
}

// TestMigrationWaitsForTheAdvisoryLock: while another session holds the
// migration lock, MigrateUp waits (it does not fail, as bun's lock would),
// gives up when its context ends, and proceeds once the lock is released.
func TestMigrationWaitsForTheAdvisoryLock(t *testing.T) {
	url := sqlstoretest.PostgresSchemaURL(t)
	holder := openUnmigrated(t, url)
	s := openUnmigrated(t, url)
	conn, err := holder.DB().DB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_lock($1)", sqlstore.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := s.MigrateUp(short); err == nil {
		t.Fatal("MigrateUp ran while another session held the migration lock")
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.MigrateUp(context.WithoutCancel(t.Context()))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_unlock($1)", sqlstore.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("MigrateUp after the lock was released: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("MigrateUp still waiting after the lock was released")
	}
	var held int
	key := sqlstore.MigrationLockKey
	err = s.DB().NewRaw("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ?::oid AND objid = ?::oid",
		int64(uint32(key>>32)), int64(uint32(key))).Scan(t.Context(), &held)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("the migration lock is still held %d time(s) after MigrateUp returned", held)
	}
}
