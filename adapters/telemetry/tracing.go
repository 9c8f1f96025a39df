package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TraceSettings are what the standard OTEL_* variables decide for tracing.
type TraceSettings struct {
	// Enabled is true when spans are exported: OTEL_TRACES_EXPORTER=otlp, or
	// it unset and an OTLP endpoint set; never with OTEL_SDK_DISABLED=true or
	// OTEL_TRACES_EXPORTER=none.
	Enabled bool
	// Sampler is the sampler of OTEL_TRACES_SAMPLER and _ARG (default
	// parentbased_always_on).
	Sampler sdktrace.Sampler
	// SamplerName says which, for the start-up log.
	SamplerName string
}

// TraceSettingsFromEnv reads the OTEL_* variables of environ. It fails for
// an exporter or protocol this build cannot serve (only OTLP over
// http/protobuf is built in) and for an unknown sampler or a bad ratio, so
// that a typo does not silently turn tracing off.
func TraceSettingsFromEnv(environ map[string]string) (TraceSettings, error) {
	ts := TraceSettings{Sampler: sdktrace.ParentBased(sdktrace.AlwaysSample()), SamplerName: "parentbased_always_on"}
	if strings.EqualFold(strings.TrimSpace(environ["OTEL_SDK_DISABLED"]), "true") {
		return ts, nil
	}
	var errs []error
	switch exp := strings.ToLower(strings.TrimSpace(environ["OTEL_TRACES_EXPORTER"])); exp {
	case "none":
		return ts, nil
	case "otlp":
		ts.Enabled = true
	case "":
		ts.Enabled = environ["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" || environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != ""
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported: use otlp or none", exp))
	}
	proto := environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]
	if proto == "" {
		proto = environ["OTEL_EXPORTER_OTLP_PROTOCOL"]
	}
	if proto != "" && proto != "http/protobuf" {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported: only http/protobuf is built in", proto))
	}
	name := strings.ToLower(strings.TrimSpace(environ["OTEL_TRACES_SAMPLER"]))
	arg := strings.TrimSpace(environ["OTEL_TRACES_SAMPLER_ARG"])
	ratio := 1.0
	if arg != "" && (name == "traceidratio" || name == "parentbased_traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg))
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
	case "always_on":
		ts.Sampler = sdktrace.AlwaysSample()
	case "always_off":
		ts.Sampler = sdktrace.NeverSample()
	case "traceidratio":
		ts.Sampler = sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		ts.Sampler = sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		ts.Sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not a known sampler", name))
	}
	if name != "" {
		ts.SamplerName = name
		if strings.HasSuffix(name, "traceidratio") {
			ts.SamplerName += " " + strconv.FormatFloat(ratio, 'g', -1, 64)
		}
	}
	return ts, errors.Join(errs...)
}

// Tracing is the service's tracer provider: spans batched to an exporter,
// W3C trace context and baggage propagated.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// Propagator is W3C Trace Context (traceparent, tracestate) and Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// NewTracing builds the provider that exports over OTLP/HTTP; the exporter
// reads its endpoint, headers, timeout and TLS settings from the standard
// OTEL_EXPORTER_OTLP_* variables itself. The service name defaults to
// "orgstack" (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override).
func NewTracing(ctx context.Context, ts TraceSettings, version string) (*Tracing, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return NewTracingWith(ctx, ts, version, sdktrace.NewBatchSpanProcessor(exp))
}

// NewTracingWith builds the provider with the given span processor (tests
// pass a synchronous one over tracetest's in-memory exporter).
func NewTracingWith(ctx context.Context, ts TraceSettings, version string, sp sdktrace.SpanProcessor) (*Tracing, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("orgstack"), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	sampler := ts.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(sp))
	return &Tracing{provider: tp, propagator: Propagator()}, nil
}

// Provider returns the tracer provider (for the database spans).
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Middleware starts a server span for every request but the probes
// (/livez, /readyz), continuing the caller's trace from traceparent. The
// span is named by the method only; the API renames it "METHOD /route
// template" once a route matches, so a raw path never names a span.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http.server",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/livez" && r.URL.Path != "/readyz" }),
	)
}

// Shutdown exports what is buffered and stops; ctx bounds the wait.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }
