package bootstrap

import (
	"cmp"
	"context"
	"slices"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/jwks"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// DefaultProviderPoll is how often an instance asks the database for
// changed organization identity providers.
const DefaultProviderPoll = 2 * time.Second

// tenantSync is the polling state of one instance.
type tenantSync struct {
	store     ports.IdentityProviderRepository
	issuers   *jwks.Issuers
	operators []string
	log       *zap.Logger

	since     int64
	providers map[string]*domain.IdentityProvider // by organization ID
	loaded    bool                                // the first poll succeeded
	dirty     bool                                // the last apply failed: apply again
	failing   bool                                // the last poll failed (logged once)
	skipped   map[string]string                   // organization ID → why it is not served (logged once)
}

func newTenantSync(store ports.IdentityProviderRepository, issuers *jwks.Issuers, log *zap.Logger) *tenantSync {
	return &tenantSync{
		store: store, issuers: issuers, operators: issuers.OperatorIssuers(), log: log,
		providers: map[string]*domain.IdentityProvider{}, skipped: map[string]string{},
	}
}

// startTenantSync keeps the verifier's tenant issuers in step with the
// organizations' identity providers stored in the database (it runs in
// authModule, which owns the *jwks.Issuers): it loads them all at start and
// then polls for changes (ListChangedSince) every settings.ProviderPoll.
// Every instance polls the one database, so a change made through any
// instance reaches all of them within one interval.
func startTenantSync(lc fx.Lifecycle, store ports.Store, issuers *jwks.Issuers, s settings, log *zap.Logger) {
	ts := newTenantSync(store.IdentityProviders(), issuers, log.Named("tenant-issuers"))
	every := s.ProviderPoll
	if every <= 0 {
		every = DefaultProviderPoll
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(start context.Context) error {
			// The first load runs before the server serves; a database that
			// does not answer now leaves the set empty until the next poll.
			_ = ts.poll(start)
			go func() {
				defer close(done)
				ts.run(ctx, every)
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			cancel()
			<-done
			return nil
		},
	})
}

// run polls every interval until ctx ends.
func (ts *tenantSync) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		_ = ts.poll(pctx)
		cancel()
	}
}

// poll applies the changes committed since the last poll. When the
// database cannot be read, the issuers keep the last set (logged once per
// outage).
func (ts *tenantSync) poll(ctx context.Context) error {
	changes, version, err := ts.store.ListChangedSince(ctx, ts.since)
	if err != nil {
		if !ts.failing && ctx.Err() == nil {
			ts.log.Warn("cannot read organizations' identity providers; keeping the last set", zap.Error(err))
		}
		ts.failing = ctx.Err() == nil || ts.failing
		return err
	}
	if ts.failing {
		ts.log.Info("reading organizations' identity providers again")
		ts.failing = false
	}
	first := !ts.loaded
	ts.loaded, ts.since = true, version
	if len(changes) == 0 && !first && !ts.dirty {
		return nil
	}
	for _, ch := range changes {
		if ch.Provider == nil {
			delete(ts.providers, ch.OrgID)
			delete(ts.skipped, ch.OrgID)
			continue
		}
		ts.providers[ch.OrgID] = ch.Provider
	}
	return ts.apply()
}

// apply hands the current providers to the verifier. A provider whose
// issuer is an operator's is skipped (the API refuses it, but the operator
// may have configured that issuer later). When two organizations' providers
// share an issuer (with different audiences), only the earliest created is
// served: a later registration can never take an issuer away from the
// organization that had it first.
func (ts *tenantSync) apply() error {
	list := make([]*domain.IdentityProvider, 0, len(ts.providers))
	for _, p := range ts.providers {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b *domain.IdentityProvider) int {
		return cmp.Or(a.CreatedAt().Compare(b.CreatedAt()), cmp.Compare(a.OrgID(), b.OrgID()))
	})
	taken := map[string]string{}
	var out []jwks.TenantIssuer
	for _, p := range list {
		why := ""
		switch {
		case slices.Contains(ts.operators, p.Issuer()):
			why = "its issuer is an operator-configured issuer"
		case taken[p.Issuer()] != "":
			why = "another organization's provider, registered earlier, has the same issuer"
		}
		if why != "" {
			if ts.skipped[p.OrgID()] != why {
				ts.log.Warn("organization identity provider not served", zap.String("organization", p.OrgID()),
					zap.String("issuer", p.Issuer()), zap.String("reason", why))
				ts.skipped[p.OrgID()] = why
			}
			continue
		}
		delete(ts.skipped, p.OrgID())
		taken[p.Issuer()] = p.OrgID()
		out = append(out, jwks.TenantIssuer{OrgID: p.OrgID(), Config: jwks.TenantConfig(p.OrgID(), p.Spec())})
	}
	if err := ts.issuers.SetTenantIssuers(out); err != nil {
		if !ts.dirty {
			ts.log.Error("cannot apply organizations' identity providers; keeping the last set", zap.Error(err))
		}
		ts.dirty = true
		return err
	}
	ts.dirty = false
	return nil
}
