package sqlstore

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// queryTracer is pgx's hook that records one client span per PostgreSQL
// statement, as a child of the request's span. It sits under database/sql,
// so bun's queries and the hot paths' direct statements are both traced.
//
// A span holds the operation (SELECT, INSERT …) and the database system,
// never the statement text: bun writes arguments into the SQL text as
// literals, so the text may carry user data. Statements outside a sampled
// trace (start-up, migrations, polling) record nothing.
type queryTracer struct {
	tracer trace.Tracer
}

func newQueryTracer(tp trace.TracerProvider) *queryTracer {
	return &queryTracer{tracer: tp.Tracer("github.com/orgstack/orgstack/adapters/sqlstore")}
}

type querySpanKey struct{}

var dbSystem = attribute.String("db.system.name", "postgresql")

// TraceQueryStart implements pgx.QueryTracer.
func (t *queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx
	}
	op := operation(d.SQL)
	ctx, span := t.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(dbSystem, attribute.String("db.operation.name", op)))
	return context.WithValue(ctx, querySpanKey{}, span)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span, ok := ctx.Value(querySpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if d.Err != nil {
		// The class of the failure only: a driver error may quote values.
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// operation is the statement's first keyword in upper case (SELECT,
// INSERT, WITH …), or "QUERY"; nothing of the rest of the text.
func operation(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	end := strings.IndexFunc(sql, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 || end > 16 {
		return "QUERY"
	}
	return strings.ToUpper(sql[:end])
}
