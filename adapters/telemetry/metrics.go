// Package telemetry is the observability adapter: Prometheus metrics on a
// private registry (Metrics, which implements the telemetry ports of
// package ports) and OpenTelemetry tracing configured by the standard OTEL_*
// variables (Tracing). No other package imports Prometheus or the
// OpenTelemetry SDK; bootstrap wires both.
//
// Every label value comes from a closed set: route templates (or
// "unmatched"), known methods (or "other"), status codes, token reasons (or
// "other"), configured issuers ("tenant" for organizations' own, "other"
// for anything unexpected), rate-limit policies (or "other"). Organizations,
// subjects and raw paths are never labels.
package telemetry

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orgstack/orgstack/ports"
)

// Label values used for anything outside a closed set.
const (
	unmatchedRoute = "unmatched"
	otherValue     = "other"
)

// durationBuckets are the request-duration histogram's upper bounds, in
// seconds: fine below 10 ms, where the hot routes answer.
var durationBuckets = []float64{0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2, 5}

// knownMethods are the methods that get their own label value.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// rateLimitPolicies are the policies of ports.RateLimitEvents.
var rateLimitPolicies = []string{"principal", "organization", "ip", "auth_failures"}

// Options configure Metrics.
type Options struct {
	// Issuers are the operator-configured issuers, the only issuer label
	// values besides ports.TenantIssuerLabel.
	Issuers []string
	// DBStats, when set, reports the database pool (sql.DB.Stats).
	DBStats func() sql.DBStats
}

// obsKey identifies one child of the duration histogram.
type obsKey struct {
	route, method string
	status        int
}

// Metrics holds every metric of the service on its own registry. It is
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// children caches the histogram's resolved children: a copy-on-write
	// map read without locks on the hot path (misses are few: the label
	// sets are bounded).
	children atomic.Pointer[map[obsKey]prometheus.Observer]
	mu       sync.Mutex

	authFailures map[string]prometheus.Counter
	authOther    prometheus.Counter
	checks       [2]prometheus.Counter // denied, allowed
	refreshes    map[string][2]prometheus.Counter
	decisions    map[string][2]prometheus.Counter
	fallback     prometheus.Gauge
	fallbacks    prometheus.Counter
}

// NewMetrics registers every metric, the Go runtime and process collectors
// and, when given, the database pool collector on a new private registry.
func NewMetrics(o Options) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_server_request_duration_seconds",
		Help:    "Duration of HTTP requests served by the API, by route template (\"unmatched\" when no route matched), method and status.",
		Buckets: durationBuckets,
	}, []string{"http_route", "http_request_method", "http_response_status_code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "http_server_active_requests",
		Help: "HTTP requests of the API being served.",
	})
	empty := map[obsKey]prometheus.Observer{}
	m.children.Store(&empty)

	auth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgstack_auth_failures_total",
		Help: "Refused authentications by reason (the token reasons, or \"missing\" for no token).",
	}, []string{"reason"})
	m.authFailures = map[string]prometheus.Counter{ports.ReasonMissing: auth.WithLabelValues(ports.ReasonMissing)}
	for _, r := range ports.TokenReasons {
		m.authFailures[string(r)] = auth.WithLabelValues(string(r))
	}
	m.authOther = auth.WithLabelValues(otherValue)

	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgstack_check_decisions_total",
		Help: "Answered permission checks by decision (allowed or denied); each check of a batch counts.",
	}, []string{"decision"})
	m.checks = [2]prometheus.Counter{checks.WithLabelValues("denied"), checks.WithLabelValues("allowed")}

	refresh := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgstack_jwks_refreshes_total",
		Help: "Key-set fetches by issuer (operator-configured issuers; \"tenant\" for every organization's own) and result (ok or error).",
	}, []string{"issuer", "result"})
	m.refreshes = map[string][2]prometheus.Counter{}
	for _, iss := range append(append([]string{}, o.Issuers...), ports.TenantIssuerLabel, otherValue) {
		m.refreshes[iss] = [2]prometheus.Counter{refresh.WithLabelValues(iss, "error"), refresh.WithLabelValues(iss, "ok")}
	}

	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgstack_ratelimit_decisions_total",
		Help: "Rate-limit decisions by policy and decision (allowed or refused).",
	}, []string{"policy", "decision"})
	m.decisions = map[string][2]prometheus.Counter{}
	for _, p := range append(append([]string{}, rateLimitPolicies...), otherValue) {
		m.decisions[p] = [2]prometheus.Counter{decisions.WithLabelValues(p, "refused"), decisions.WithLabelValues(p, "allowed")}
	}
	m.fallback = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "orgstack_ratelimit_fallback_active",
		Help: "1 while the shared (Redis) limiter is unreachable and the in-process limiter decides instead.",
	})
	m.fallbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "orgstack_ratelimit_fallbacks_total",
		Help: "Times the shared limiter became unreachable and the in-process limiter took over.",
	})

	reg.MustRegister(m.duration, m.inFlight, auth, checks, refresh, decisions, m.fallback, m.fallbacks)
	if o.DBStats != nil {
		reg.MustRegister(newDBCollector(o.DBStats))
	}
	return m
}

var (
	_ ports.RequestEvents    = (*Metrics)(nil)
	_ ports.AuthEvents       = (*Metrics)(nil)
	_ ports.CheckEvents      = (*Metrics)(nil)
	_ ports.KeyRefreshEvents = (*Metrics)(nil)
	_ ports.RateLimitEvents  = (*Metrics)(nil)
)

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the private registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RequestStarted implements ports.RequestEvents.
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// RequestDone implements ports.RequestEvents. The route must be a route
// template or "" (no route matched); an unknown method is "other".
func (m *Metrics) RequestDone(route, method string, status int, elapsed time.Duration) {
	m.inFlight.Dec()
	m.observer(route, method, status).Observe(elapsed.Seconds())
}

// observer returns the histogram child of the labels, resolving it once.
func (m *Metrics) observer(route, method string, status int) prometheus.Observer {
	if route == "" {
		route = unmatchedRoute
	}
	if known, ok := knownMethods[method]; ok {
		method = known
	} else {
		method = otherValue
	}
	k := obsKey{route, method, status}
	if o, ok := (*m.children.Load())[k]; ok {
		return o
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.children.Load()
	if o, ok := cur[k]; ok {
		return o
	}
	o := m.duration.WithLabelValues(route, method, strconv.Itoa(status))
	next := make(map[obsKey]prometheus.Observer, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = o
	m.children.Store(&next)
	return o
}

// AuthFailure implements ports.AuthEvents.
func (m *Metrics) AuthFailure(reason string) {
	if c, ok := m.authFailures[reason]; ok {
		c.Inc()
		return
	}
	m.authOther.Inc()
}

// CheckDecision implements ports.CheckEvents.
func (m *Metrics) CheckDecision(allowed bool) { m.checks[b2i(allowed)].Inc() }

// KeyRefresh implements ports.KeyRefreshEvents; an issuer that is neither
// configured nor "tenant" counts under "other".
func (m *Metrics) KeyRefresh(issuer string, ok bool) {
	c, found := m.refreshes[issuer]
	if !found {
		c = m.refreshes[otherValue]
	}
	c[b2i(ok)].Inc()
}

// Decision implements ports.RateLimitEvents.
func (m *Metrics) Decision(policy string, allowed bool) {
	c, ok := m.decisions[policy]
	if !ok {
		c = m.decisions[otherValue]
	}
	c[b2i(allowed)].Inc()
}

// Fallback implements ports.RateLimitEvents.
func (m *Metrics) Fallback(active bool) {
	if active {
		m.fallback.Set(1)
		m.fallbacks.Inc()
		return
	}
	m.fallback.Set(0)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dbCollector reports the database pool from sql.DBStats at each scrape.
type dbCollector struct {
	stats                                         func() sql.DBStats
	maxOpen, open, inUse, idle                    *prometheus.Desc
	waitCount, waitSeconds, idleClosed, lifeClose *prometheus.Desc
}

func newDBCollector(stats func() sql.DBStats) *dbCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("orgstack_db_pool_"+name, help, nil, nil)
	}
	return &dbCollector{
		stats:       stats,
		maxOpen:     d("max_open_connections", "Maximum number of open connections to the database."),
		open:        d("open_connections", "Open connections (in use and idle)."),
		inUse:       d("in_use_connections", "Connections in use."),
		idle:        d("idle_connections", "Idle connections."),
		waitCount:   d("wait_count_total", "Times a request waited for a free connection."),
		waitSeconds: d("wait_duration_seconds_total", "Total time spent waiting for a free connection."),
		idleClosed:  d("max_idle_time_closed_total", "Connections closed because they stayed idle too long."),
		lifeClose:   d("max_lifetime_closed_total", "Connections closed because they reached their maximum lifetime."),
	}
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waitCount, c.waitSeconds, c.idleClosed, c.lifeClose} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g, ct := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.maxOpen, g, float64(s.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(c.open, g, float64(s.OpenConnections))
	ch <- prometheus.MustNewConstMetric(c.inUse, g, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(c.idle, g, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(c.waitCount, ct, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, ct, s.WaitDuration.Seconds())
	ch <- prometheus.MustNewConstMetric(c.idleClosed, ct, float64(s.MaxIdleTimeClosed))
	ch <- prometheus.MustNewConstMetric(c.lifeClose, ct, float64(s.MaxLifetimeClosed))
}
