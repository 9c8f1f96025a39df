package telemetry

import (
	"database/sql"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTraceSettingsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		give        map[string]string
		wantOn      bool
		wantSampler string
		wantErr     string
	}{
		{"nothing set: off", map[string]string{}, false, "parentbased_always_on", ""},
		{"endpoint set: on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, "parentbased_always_on", ""},
		{"traces endpoint set: on", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true, "parentbased_always_on", ""},
		{"exporter otlp: on", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, "parentbased_always_on", ""},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, false, "parentbased_always_on", ""},
		{"SDK disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, "parentbased_always_on", ""},
		{"ratio sampler", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}, true, "parentbased_traceidratio 0.01", ""},
		{"always_off", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "always_off"}, true, "always_off", ""},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "", "OTEL_TRACES_EXPORTER"},
		{"grpc protocol", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, "", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"unknown sampler", map[string]string{"OTEL_TRACES_SAMPLER": "sometimes"}, false, "", "OTEL_TRACES_SAMPLER"},
		{"bad ratio", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, false, "", "OTEL_TRACES_SAMPLER_ARG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TraceSettingsFromEnv(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Enabled != tt.wantOn || got.SamplerName != tt.wantSampler || got.Sampler == nil {
				t.Errorf("got enabled=%v sampler=%q, want %v %q", got.Enabled, got.SamplerName, tt.wantOn, tt.wantSampler)
			}
		})
	}
}

// TestMetricsClosedSets: values outside the closed sets land under "other"
// and unknown methods under "other"; the pool collector reports the stats.
func TestMetricsClosedSets(t *testing.T) {
	t.Parallel()
	m := NewMetrics(Options{Issuers: []string{"https://idp.example"}, DBStats: func() sql.DBStats {
		return sql.DBStats{MaxOpenConnections: 8, OpenConnections: 3, InUse: 2, Idle: 1, WaitCount: 5, WaitDuration: 1500 * time.Millisecond}
	}})
	m.KeyRefresh("https://idp.example", true)
	m.KeyRefresh("https://tenant-secret.example", false)
	m.KeyRefresh("tenant", false)
	m.AuthFailure("made-up-reason")
	m.Decision("secret-policy", false)
	m.Decision("ip", true)
	m.Fallback(true)
	m.RequestStarted()
	m.RequestDone("", "PROPFIND", 405, time.Millisecond)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	for _, want := range []string{
		`orgstack_jwks_refreshes_total{issuer="https://idp.example",result="ok"} 1`,
		`orgstack_jwks_refreshes_total{issuer="other",result="error"} 1`,
		`orgstack_jwks_refreshes_total{issuer="tenant",result="error"} 1`,
		`orgstack_auth_failures_total{reason="other"} 1`,
		`orgstack_ratelimit_decisions_total{decision="refused",policy="other"} 1`,
		`orgstack_ratelimit_decisions_total{decision="allowed",policy="ip"} 1`,
		`orgstack_ratelimit_fallback_active 1`,
		`orgstack_ratelimit_fallbacks_total 1`,
		`http_server_request_duration_seconds_count{http_request_method="other",http_response_status_code="405",http_route="unmatched"} 1`,
		`http_server_active_requests 0`,
		`orgstack_db_pool_max_open_connections 8`,
		`orgstack_db_pool_in_use_connections 2`,
		`orgstack_db_pool_wait_duration_seconds_total 1.5`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	for _, never := range []string{"tenant-secret", "secret-policy", "made-up-reason", "PROPFIND"} {
		if strings.Contains(text, never) {
			t.Errorf("the scrape holds %q", never)
		}
	}
}

// BenchmarkRequestDone is the per-request cost of the HTTP metrics once a
// label set has been seen: no allocation.
func BenchmarkRequestDone(b *testing.B) {
	m := NewMetrics(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestStarted()
			m.RequestDone("/api/v1/organizations/{orgId}/check", "POST", 200, 700*time.Microsecond)
		}
	})
}
