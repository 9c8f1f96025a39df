package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/ports"
)

// Idempotency keys live in idempotency_keys, one row per completed request:
// the organization (distribution column; "" for a request that resolved
// none), the SHA-256 of the whole scope (ports.IdempotentRequest.ScopeHash),
// the request's fingerprint, the response, and created_at / expires_at in
// Unix milliseconds (one comparable integer on both databases).
//
// A key is written only with its response, in the transaction of the
// change it answers (runChange, pendingChange.Commit) or, for a response
// that changed nothing, in a transaction of its own (RecordResponse). No
// row says "in flight": a request holds its key by a transaction-scoped
// advisory lock on PostgreSQL (pg_try_advisory_xact_lock on the scope
// hash), which a crash releases with the transaction; on SQLite the
// transaction's write lock (BEGIN IMMEDIATE) serializes requests, so a
// second request with the key waits and then finds the first's response.
// The insert itself refuses to replace a live key (ON CONFLICT … DO UPDATE
// … WHERE expired), so two changes can never both commit under one key,
// whatever the locks decided.

// sweepBatch is how many expired keys one sweep statement deletes.
const sweepBatch = 500

// pendingChange is a change transaction bound to an idempotent request,
// kept open until the edge knows the response (ports.PendingChange).
type pendingChange struct {
	store *Store
	tx    bun.Tx
	req   *ports.IdempotentRequest
	orgID string
	scope [32]byte
}

var _ ports.PendingChange = (*pendingChange)(nil)

// runChange runs fn as the change of req: it begins the transaction, holds
// and looks up the key, runs fn and, when fn succeeds, binds the open
// transaction to req instead of committing it.
func (s *Store) runChange(ctx context.Context, req *ports.IdempotentRequest, fn func(ctx context.Context, r ports.Repositories) error) (err error) {
	orgID := ports.NotedOrganization(ctx)
	scope := req.ScopeHash(orgID)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	bound := false
	defer func() {
		if !bound {
			_ = tx.Rollback()
		}
	}()
	stored, err := s.holdKey(ctx, tx, req, orgID, scope)
	if err != nil {
		return err
	}
	if stored != nil {
		return req.Answered(nil, stored)
	}
	// holdKey left tx scoped to the key's organization (scopeKeys): the
	// change's repositories know it, so a change in that organization sets
	// nothing again.
	r := s.repos(tx)
	r.c.scope = &txScope{set: true, org: orgScope(orgID)}
	if err := fn(ctx, r); err != nil {
		req.Release() // rolled back: a later transaction may be the change
		return unavailable(err)
	}
	bound = true
	req.Bind(&pendingChange{store: s, tx: tx, req: req, orgID: orgID, scope: scope})
	return nil
}

// Commit writes the key with resp in the change's transaction and commits.
func (p *pendingChange) Commit(ctx context.Context, resp ports.StoredResponse) error {
	if err := p.store.insertKey(ctx, p.tx, p.req, p.orgID, p.scope, resp); err != nil {
		_ = p.tx.Rollback()
		return err
	}
	return unavailable(p.tx.Commit())
}

// Rollback undoes the change.
func (p *pendingChange) Rollback() error {
	err := p.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// RecordResponse stores a response that changed nothing (see
// ports.IdempotencyStore).
func (s *Store) RecordResponse(ctx context.Context, req *ports.IdempotentRequest, orgID string, resp ports.StoredResponse) (*ports.StoredResponse, error) {
	scope := req.ScopeHash(orgID)
	var stored *ports.StoredResponse
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if stored, err = s.holdKey(ctx, tx, req, orgID, scope); err != nil || stored != nil {
			return err
		}
		return s.insertKey(ctx, tx, req, orgID, scope, resp)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return stored, nil
}

// holdKey takes the key's advisory lock (PostgreSQL) and reads its live
// response: nil when there is none. Errors: ErrIdempotencyKeyInFlight (the
// lock is held), ErrIdempotencyKeyReused (the stored response answered
// another fingerprint); both recorded on req.
func (s *Store) holdKey(ctx context.Context, tx bun.Tx, req *ports.IdempotentRequest, orgID string, scope [32]byte) (*ports.StoredResponse, error) {
	if err := s.scopeKeys(ctx, tx, orgID); err != nil {
		return nil, err
	}
	lock := "SELECT true AS locked"
	args := []any{}
	if s.dialect == Postgres {
		// The advisory lock's key: the scope hash's first 8 bytes, XOR
		// a hash of the schema (advisory locks are database-wide: two
		// OrgStack schemas in one database, as the tests' parallel
		// schemas, must not hold each other's keys). Two scopes sharing
		// a key only answer 409 for each other while both are in flight.
		lock = "SELECT pg_try_advisory_xact_lock(? # hashtextextended(current_schema(), 0)) AS locked"
		args = append(args, int64(binary.BigEndian.Uint64(scope[:8])))
	}
	args = append(args, orgID, scope[:], req.Now().UnixMilli())
	var (
		locked      bool
		fingerprint []byte
		status      sql.NullInt64
		contentType sql.NullString
		location    sql.NullString
		etag        sql.NullString
		body        []byte
	)
	err := tx.QueryRowContext(ctx, tx.NewRaw(`SELECT l.locked, k.fingerprint, k.status, k.content_type, k.location, k.etag, k.body
FROM (`+lock+`) AS l
LEFT JOIN idempotency_keys AS k ON k.org_id = ? AND k.scope = ? AND k.expires_at > ?`, args...).String()).
		Scan(&locked, &fingerprint, &status, &contentType, &location, &etag, &body)
	if err != nil {
		return nil, translate(err, "read idempotency key", nil)
	}
	if !locked {
		return nil, req.Answered(ports.ErrIdempotencyKeyInFlight, nil)
	}
	if !status.Valid {
		return nil, nil
	}
	fp := req.Fingerprint()
	if !bytes.Equal(fingerprint, fp[:]) {
		return nil, req.Answered(ports.ErrIdempotencyKeyReused, nil)
	}
	if body == nil {
		body = []byte{}
	}
	return &ports.StoredResponse{Status: int(status.Int64), ContentType: contentType.String,
		Location: location.String, ETag: etag.String, Body: body}, nil
}

// insertKey writes the key with resp; a live key already there (another
// request finished first) is ErrIdempotencyKeyInFlight, recorded on req.
func (s *Store) insertKey(ctx context.Context, tx bun.Tx, req *ports.IdempotentRequest, orgID string, scope [32]byte, resp ports.StoredResponse) error {
	if err := s.scopeKeys(ctx, tx, orgID); err != nil {
		return err
	}
	fp := req.Fingerprint()
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	res, err := tx.NewRaw(`INSERT INTO idempotency_keys
  (org_id, scope, fingerprint, status, content_type, location, etag, body, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (org_id, scope) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
  content_type = excluded.content_type, location = excluded.location, etag = excluded.etag,
  body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at`,
		orgID, scope[:], fp[:], resp.Status, resp.ContentType, resp.Location, resp.ETag, body,
		req.Now().UnixMilli(), req.ExpiresAt().UnixMilli()).Exec(ctx)
	if err != nil {
		return translate(err, "write idempotency key", nil)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, "write idempotency key", nil)
	} else if n != 1 {
		return req.Answered(ports.ErrIdempotencyKeyInFlight, nil)
	}
	return nil
}

// scopeKeys scopes tx to the organization orgID for the idempotency_keys
// row-level security (PostgreSQL): orgID, or for "" (a request that
// resolved no organization) the no-organization sentinel. It is set before
// every statement on the table, since the change between holdKey and
// insertKey may have scoped tx to another organization.
func (s *Store) scopeKeys(ctx context.Context, tx bun.Tx, orgID string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT set_config('orgstack.org_id', ?, true), set_config('orgstack.cross_tenant', '', true)", orgScope(orgID))
	return translate(err, "set the organization of the transaction", nil)
}

// SweepIdempotencyKeys deletes expired keys in batches (see
// ports.IdempotencyStore). It is a cross-tenant path: under row-level
// security a cross-tenant DELETE deletes nothing, so it reads the
// organizations with expired keys cross-tenant (those of no organization
// included, org_id ”), then deletes each organization's expired keys in
// batches scoped to it. On PostgreSQL each batch skips rows another
// instance's sweep has locked, so instances never wait on each other.
func (s *Store) SweepIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	c := s.repos(s.db).c
	orgs, err := crossValue(ctx, c, func(ctx context.Context, c conn) ([]string, error) {
		var orgs []string
		err := c.db.NewRaw("SELECT DISTINCT org_id FROM idempotency_keys WHERE expires_at <= ? ORDER BY org_id", now.UnixMilli()).Scan(ctx, &orgs)
		return orgs, translate(err, "sweep idempotency keys", nil)
	})
	if err != nil {
		return 0, err
	}
	skip := ""
	if s.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	total := 0
	for _, org := range orgs {
		for {
			var n int64
			err := c.tenant(ctx, orgScope(org), func(ctx context.Context, c conn) error {
				res, err := c.db.NewRaw(`DELETE FROM idempotency_keys WHERE org_id = ? AND scope IN
  (SELECT scope FROM idempotency_keys WHERE org_id = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?`+skip+`)`,
					org, org, now.UnixMilli(), sweepBatch).Exec(ctx)
				if err != nil {
					return translate(err, "sweep idempotency keys", nil)
				}
				if n, err = res.RowsAffected(); err != nil {
					return fmt.Errorf("sqlstore: sweep idempotency keys: %w", err)
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			total += int(n)
			if n < sweepBatch {
				break
			}
		}
	}
	return total, nil
}
