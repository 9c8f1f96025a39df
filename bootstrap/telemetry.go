package bootstrap

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/telemetry"
	"github.com/orgstack/orgstack/ports"
)

// traceFlushTimeout bounds how long shutdown waits for buffered spans to be
// exported.
const traceFlushTimeout = 5 * time.Second

// telemetryModule builds the metrics (when ORGSTACK_METRICS_ADDR is set) and
// the tracer provider (when the OTEL_* variables name an exporter), serves
// /metrics on its own listener, and flushes spans at shutdown. Either may
// be nil: every consumer treats nil as off.
var telemetryModule = fx.Module("telemetry",
	fx.Provide(newMetrics, newTracing,
		func(m *telemetry.Metrics) ports.RateLimitEvents {
			if m == nil {
				return nil
			}
			return m
		}),
	fx.Invoke(startMetricsServer),
)

// poolStats is what a store offers for the pool metrics (sqlstore does).
type poolStats interface{ Stats() sql.DBStats }

func newMetrics(s settings, store ports.Store) *telemetry.Metrics {
	if s.MetricsAddr == "" {
		return nil
	}
	o := telemetry.Options{Issuers: s.issuerNames()}
	if ps, ok := store.(poolStats); ok {
		o.DBStats = ps.Stats
	}
	return telemetry.NewMetrics(o)
}

// newTracing returns nil when tracing is off; otherwise the provider, with
// a stop hook that exports what is buffered within traceFlushTimeout.
func newTracing(lc fx.Lifecycle, s settings, log *zap.Logger) (*telemetry.Tracing, error) {
	if !s.Trace.Enabled {
		return nil, nil
	}
	t, err := telemetry.NewTracing(context.Background(), s.Trace, versionLine())
	if err != nil {
		return nil, err
	}
	log.Info("tracing on (OTLP over HTTP)", zap.String("sampler", s.Trace.SamplerName))
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, traceFlushTimeout)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			log.Warn("traces not flushed", zap.Error(err))
		}
		return nil
	}))
	return t, nil
}

// startMetricsServer serves /metrics on ORGSTACK_METRICS_ADDR, as
// startDebugServer serves the profiler: never on the API's address, off by
// default; bind it to a private address.
func startMetricsServer(lc fx.Lifecycle, s settings, m *telemetry.Metrics, log *zap.Logger) {
	if m == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Addr: s.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", s.MetricsAddr)
			if err != nil {
				return fmt.Errorf("listen on %s (metrics): %w", s.MetricsAddr, err)
			}
			log.Info("metrics listener", zap.String("addr", ln.Addr().String()))
			go func() { _ = srv.Serve(ln) }()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}
