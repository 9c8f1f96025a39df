package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/ports"
)

// closableStore is what a store adapter hands to bootstrap: the port, and a
// way to release its connections at shutdown. Migrations are optional: a
// store that manages a schema also implements ports.Migrator.
type closableStore interface {
	ports.Store
	Close() error
}

// storeAdapter is one implementation of ports.Store and the database URL
// schemes it serves.
type storeAdapter struct {
	name    string   // for messages: "sqlstore"
	schemes []string // lower case, without the colon
	open    func(ctx context.Context, rawURL string, s settings) (closableStore, error)
}

// storeAdapters is the one place where a database URL's scheme chooses the
// store. A new store adapter adds one entry here (see ARCHITECTURE.md).
var storeAdapters = []storeAdapter{
	{name: "sqlstore", schemes: sqlstore.Schemes(), open: openSQLStore},
}

// openSQLStore opens the bun store for PostgreSQL or SQLite.
func openSQLStore(ctx context.Context, rawURL string, s settings) (closableStore, error) {
	store, err := sqlstore.OpenWith(ctx, rawURL, sqlstore.Options{TracerProvider: s.tracerProvider})
	if err != nil {
		return nil, err
	}
	store.SetMaxConns(s.MaxConns)
	return store, nil
}

// openStore opens the store adapter that serves rawURL's scheme.
func openStore(ctx context.Context, rawURL string, s settings) (closableStore, error) {
	scheme, _ := urlScheme(rawURL)
	for _, a := range storeAdapters {
		if slices.Contains(a.schemes, scheme) {
			return a.open(ctx, rawURL, s)
		}
	}
	if scheme == "" {
		return nil, fmt.Errorf("ORGSTACK_DATABASE_URL: not a URL: want %s", schemesHint())
	}
	return nil, fmt.Errorf("ORGSTACK_DATABASE_URL: no store serves %q: want %s", scheme+":", schemesHint())
}

// urlScheme splits a URL at its scheme ("sqlite:x.db" → "sqlite", "x.db"),
// lower-casing the scheme; scheme is "" when raw does not start with one.
func urlScheme(raw string) (scheme, rest string) {
	s, rest, ok := strings.Cut(raw, ":")
	if !ok || s == "" {
		return "", raw
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", raw
		}
	}
	return strings.ToLower(s), rest
}

// schemesHint says which database URLs are accepted.
func schemesHint() string {
	var schemes []string
	for _, a := range storeAdapters {
		schemes = append(schemes, a.schemes...)
	}
	return "a URL whose scheme is one of: " + strings.Join(schemes, ", ")
}

// migratorOf returns the store's migrations, or an error naming the store
// when it offers none.
func migratorOf(s ports.Store, rawURL string) (ports.Migrator, error) {
	m, ok := s.(ports.Migrator)
	if !ok {
		scheme, _ := urlScheme(rawURL)
		return nil, fmt.Errorf("the %q store does not offer migrations (it manages its own schema, if any)", scheme+":")
	}
	return m, nil
}
