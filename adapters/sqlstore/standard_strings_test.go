package sqlstore_test

import (
	"context"
	"database/sql"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

func showStandardStrings(t *testing.T, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), "SHOW standard_conforming_strings").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPostgresForcesStandardStrings opens a store on a database whose
// sessions default to standard_conforming_strings=off: every connection of
// the store's pool uses on, and a backslash before a quote stays data.
func TestPostgresForcesStandardStrings(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.NonConformingDatabase(t)

	plain, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if got := showStandardStrings(t, plain); got != "off" {
		t.Fatalf("the test database without the store's setting: got standard_conforming_strings=%s, want off", got)
	}

	s := sqlstoretest.NewPostgresAt(t, dbURL)
	ctx := context.Background()
	// Hold several connections at once, so the check covers more than one.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := s.DB().DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		if got := showStandardStrings(t, c); got != "on" {
			t.Errorf("connection %d: got standard_conforming_strings=%s, want on", i, got)
		}
	}
	const hostile = `a\'; SELECT 1; --\`
	var back string
	if err := s.DB().NewSelect().ColumnExpr("?", hostile).Scan(ctx, &back); err != nil {
		t.Fatalf("bun literal with a backslash: %v", err)
	}
	if back != hostile {
		t.Errorf("bun literal: got %q, want %q", back, hostile)
	}
}

// TestPostgresRefusesNonStandardStrings opens a store through a connection
// pooler that drops startup parameters (simulated by a proxy in front of
// the real server) on a database defaulting to
// standard_conforming_strings=off: Open refuses it with an error that names
// the setting.
func TestPostgresRefusesNonStandardStrings(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.NonConformingDatabase(t)
	proxied := startParamDroppingProxy(t, dbURL, "standard_conforming_strings")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, proxied)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open through a pooler that drops standard_conforming_strings: got no error")
	}
	if !strings.Contains(err.Error(), "standard_conforming_strings=off") {
		t.Errorf("Open: got %q, want an error naming standard_conforming_strings=off", err)
	}
}

// startParamDroppingProxy listens on a loopback port and forwards each
// connection to the server of dbURL, deleting param from the client's
// startup message, as PgBouncer's ignore_startup_parameters does. It
// returns dbURL pointed at the proxy (sslmode=disable).
func startParamDroppingProxy(t *testing.T, dbURL, param string) string {
	t.Helper()
	target, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	serverAddr := target.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				proxyOne(client, serverAddr, param)
			}()
		}
	}()
	target.Host = ln.Addr().String()
	q := target.Query()
	q.Set("sslmode", "disable")
	target.RawQuery = q.Encode()
	return target.String()
}

func proxyOne(client net.Conn, serverAddr, param string) {
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(20 * time.Second))
	msg, err := pgproto3.NewBackend(client, client).ReceiveStartupMessage()
	if err != nil {
		return
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		return
	}
	delete(sm.Parameters, param)
	server, err := net.Dial("tcp", serverAddr)
	if err != nil {
		return
	}
	defer server.Close()
	_ = server.SetDeadline(time.Now().Add(20 * time.Second))
	buf, err := sm.Encode(nil)
	if err != nil {
		return
	}
	if _, err := server.Write(buf); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
}
