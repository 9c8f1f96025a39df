package ports

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Idempotency keys (draft-ietf-httpapi-idempotency-key-header): a client
// sends a POST with a key of its choosing; the first request with the key
// runs, its response is kept until the key expires, and a retry with the
// same key gets that response back instead of changing anything again.
//
// The edge (the HTTP adapter) makes an *IdempotentRequest for each request
// that carries a key and puts it in the request context
// (WithIdempotentRequest). The store sees it in RunInTx: the first
// transaction of the request is the change the request asked for, and the
// key is written in that same transaction, once the response is known
// (see TxRunner and PendingChange). A response that changed nothing (a 4xx
// decided before any change) is stored on its own (IdempotencyStore).

// Errors of an idempotent request. The HTTP adapter answers
// ErrIdempotencyKeyInFlight 409 idempotency_key_in_flight and
// ErrIdempotencyKeyReused 422 idempotency_key_reused; neither is stored.
var (
	// ErrIdempotencyKeyInFlight: another request with the same key (in the
	// same scope) is being served; the client retries later and gets its
	// response.
	ErrIdempotencyKeyInFlight = errors.New("a request with this idempotency key is still being served")
	// ErrIdempotencyKeyReused: the key was used for another request (a
	// different method, path or body) in the same scope.
	ErrIdempotencyKeyReused = errors.New("the idempotency key was used for a different request")
	// ErrIdempotentReplay: RunInTx found the response of an earlier
	// request with the key (IdempotentRequest.Replay) and ran nothing; the
	// use case returns it unchanged and the edge answers the stored
	// response.
	ErrIdempotentReplay = errors.New("the request was answered before: replay the stored response")
)

// StoredResponse is the response kept under an idempotency key: what a
// replay answers.
type StoredResponse struct {
	Status      int
	ContentType string
	Location    string // "" when the response had none
	ETag        string // "" when the response had none
	Body        []byte
}

// IdempotencyScope names who sent a key, for which operation. Keys of
// different scopes never meet: the same key sent by another caller, to
// another organization or to another route runs independently.
type IdempotencyScope struct {
	Issuer, Subject string // the caller
	Method, Route   string // the operation: method and route template
	Key             string // the client's key, as sent
}

// IdempotentRequest is one request sent with an idempotency key: its
// scope (completed by the organization the application resolves), its
// fingerprint, and what the store decided about it while it was served.
// It is used by one request at a time.
type IdempotentRequest struct {
	scope       IdempotencyScope
	fingerprint [32]byte
	now         time.Time
	expiresAt   time.Time

	mu       sync.Mutex
	pending  PendingChange
	replay   *StoredResponse
	answered error // ErrIdempotencyKeyInFlight or ErrIdempotencyKeyReused, once decided
	claimed  bool
}

// NewIdempotentRequest returns the request with scope s and fingerprint
// fp (the hash of its method, path and body), served at now; a response
// stored for it expires at expiresAt.
func NewIdempotentRequest(s IdempotencyScope, fp [32]byte, now, expiresAt time.Time) *IdempotentRequest {
	return &IdempotentRequest{scope: s, fingerprint: fp, now: now, expiresAt: expiresAt}
}

// Fingerprint is the hash of the request's method, path and body.
func (r *IdempotentRequest) Fingerprint() [32]byte { return r.fingerprint }

// Now is when the request began: a key that expired by then is gone.
func (r *IdempotentRequest) Now() time.Time { return r.now }

// ExpiresAt is when a response stored for the request expires.
func (r *IdempotentRequest) ExpiresAt() time.Time { return r.expiresAt }

// ScopeHash returns the SHA-256 of the scope in organization orgID ("" for
// a request that resolved none): the key's identity in a store. Every
// part is length-prefixed, so different scopes never hash alike by
// concatenation.
func (r *IdempotentRequest) ScopeHash(orgID string) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, part := range []string{r.scope.Issuer, r.scope.Subject, orgID, r.scope.Method, r.scope.Route, r.scope.Key} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Claim reports whether the caller (a store's RunInTx) may bind this
// request's key to the transaction it is about to begin: true exactly once,
// for the first transaction of the request.
func (r *IdempotentRequest) Claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claimed {
		return false
	}
	r.claimed = true
	return true
}

// Release undoes Claim after the claimed transaction rolled back without a
// change, so that a later transaction of the request may be its change.
func (r *IdempotentRequest) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.claimed = false
}

// Bind hands the request the change's open transaction: the edge commits
// it with the response (PendingChange.Commit) or rolls it back.
func (r *IdempotentRequest) Bind(p PendingChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = p
}

// Pending returns the change bound to the request, or nil.
func (r *IdempotentRequest) Pending() PendingChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending
}

// TakePending returns the change bound to the request, or nil, and
// forgets it: the caller now commits or rolls it back.
func (r *IdempotentRequest) TakePending() PendingChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}

// Answered records how the store answered the request instead of running
// it: a stored response to replay (ErrIdempotentReplay), or
// ErrIdempotencyKeyInFlight or ErrIdempotencyKeyReused. It returns that
// error, for RunInTx to return.
func (r *IdempotentRequest) Answered(err error, replay *StoredResponse) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if replay != nil {
		r.replay = replay
		return ErrIdempotentReplay
	}
	r.answered = err
	return err
}

// Replay returns the stored response the store found for the request, or
// nil.
func (r *IdempotentRequest) Replay() *StoredResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replay
}

// Refused returns ErrIdempotencyKeyInFlight or ErrIdempotencyKeyReused
// when the store refused the request for its key, or nil.
func (r *IdempotentRequest) Refused() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered
}

// PendingChange is a change transaction kept open until its response is
// known. Exactly one of Commit and Rollback ends it.
type PendingChange interface {
	// Commit stores resp under the request's key in the change's
	// transaction and commits both. When a live key is found there after
	// all (another request with the key finished first), it rolls back and
	// returns ErrIdempotencyKeyInFlight; a database that cannot be reached
	// is a *UnavailableError. On any error nothing is committed.
	Commit(ctx context.Context, resp StoredResponse) error
	// Rollback undoes the change; the key stays unused.
	Rollback() error
}

// IdempotencyStore keeps the responses of idempotent requests beyond the
// ones bound to a change (see TxRunner.RunInTx), and removes expired keys.
// A store that offers it honours the RunInTx contract for requests in the
// context.
type IdempotencyStore interface {
	// RecordResponse stores resp, a response that changed nothing, for
	// req in organization orgID, unless a live response is stored there
	// already: then it returns that one (a replay) and stores nothing.
	// Errors: ErrIdempotencyKeyReused (the stored one answered a
	// different request), ErrIdempotencyKeyInFlight (a request with the key
	// is being served), *UnavailableError.
	RecordResponse(ctx context.Context, req *IdempotentRequest, orgID string, resp StoredResponse) (*StoredResponse, error)
	// SweepIdempotencyKeys deletes keys that expired by now and returns how
	// many. Safe to run on several instances at once.
	SweepIdempotencyKeys(ctx context.Context, now time.Time) (int, error)
}

type idempotentRequestKey struct{}

// WithIdempotentRequest returns ctx carrying r.
func WithIdempotentRequest(ctx context.Context, r *IdempotentRequest) context.Context {
	return context.WithValue(ctx, idempotentRequestKey{}, r)
}

// IdempotentRequestFrom returns the idempotent request ctx belongs to, or
// nil (no key sent, or ctx marked AsideFromChange).
func IdempotentRequestFrom(ctx context.Context) *IdempotentRequest {
	r, _ := ctx.Value(idempotentRequestKey{}).(*IdempotentRequest)
	return r
}

// AsideFromChange returns ctx for work the application does on the
// caller's behalf beside the change the request asked for (just-in-time
// membership before the caller's access is read): a transaction run with
// it is never bound to the request's idempotency key.
func AsideFromChange(ctx context.Context) context.Context {
	if IdempotentRequestFrom(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, idempotentRequestKey{}, (*IdempotentRequest)(nil))
}

// NotedOrganization returns the organization ID noted for the request ctx
// belongs to (NoteOrganization), or "".
func NotedOrganization(ctx context.Context) string {
	if n, _ := ctx.Value(requestNoteKey{}).(*RequestNote); n != nil {
		return n.OrgID()
	}
	return ""
}
