package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"
)

// readinessTimeout bounds each readiness check.
const readinessTimeout = 2 * time.Second

// checkStatus is the outcome of one readiness check.
type checkStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "ok" or "failed"
}

type healthJSON struct {
	Status string        `json:"status"`
	Checks []checkStatus `json:"checks,omitempty"`
}

// livez handles GET /livez: the process can answer. It checks no
// dependency, so a database blip never restarts the process.
func (s *server) livez(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, healthJSON{Status: "ok"})
}

// readyz handles GET /readyz: it runs every readiness check and answers 503
// with a problem when one fails; ?verbose lists the checks. The cause of a
// failure is logged, never shown. A malformed query string (a ';', a bad
// percent-escape) is 400, as on every route that reads its query.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	query, problems := parseQuery(r.URL.RawQuery)
	if len(problems) > 0 {
		s.writeError(w, r, newAPIError("invalid_parameter", "the query string is malformed", problems...))
		return
	}
	names := make([]string, 0, len(s.readiness))
	for name := range s.readiness {
		names = append(names, name)
	}
	slices.Sort(names)
	checks := make([]checkStatus, 0, len(names))
	failed := 0
	for _, name := range names {
		ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
		err := s.readiness[name](ctx)
		cancel()
		st := checkStatus{Name: name, Status: "ok"}
		if err != nil {
			failed++
			st.Status = "failed"
			s.log.Warn("readiness check failed", zap.String("check", name),
				zap.String("request_id", requestID(r.Context())), zap.Error(err))
		}
		checks = append(checks, st)
	}
	_, verbose := query["verbose"]
	if !verbose {
		checks = nil
	}
	if failed > 0 {
		c := codeIndex["not_ready"]
		s.writeProblem(w, r, problem{Code: c.Code, Title: c.Title, Status: c.Status,
			Detail: "a readiness check failed", Checks: checks})
		return
	}
	s.writeJSON(w, r, http.StatusOK, healthJSON{Status: "ready", Checks: checks})
}
