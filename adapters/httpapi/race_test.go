package httpapi

import (
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// TestLastOwnerRaceOverHTTP sends concurrent requests that would each
// remove one of an organization's two owners (by removal, suspension or
// demotion). Exactly one may win; the other is 409 last_owner, and the
// organization keeps one active owner. It needs PostgreSQL, where the
// requests really run in parallel on separate connections.
func TestLastOwnerRaceOverHTTP(t *testing.T) {
	if os.Getenv(sqlstoretest.PostgresURLEnv) == "" {
		t.Skipf("set %s to race requests on PostgreSQL", sqlstoretest.PostgresURLEnv)
	}
	t.Parallel()
	changes := map[string]struct {
		method string
		body   any
	}{
		"remove":  {http.MethodDelete, nil},
		"suspend": {http.MethodPatch, obj{"status": "suspended"}},
		"demote":  {http.MethodPatch, obj{"roles": []string{"member"}}},
	}
	e := newEnv(t)
	root := e.token("root", withAdmin())
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			for round := range 5 {
				a := e.token("race-a-" + name)
				b := e.token("race-b-" + name)
				orgID := e.createOrg(t, a, "race-"+name+"-"+string(rune('a'+round)))
				aID := e.userID(t, a)
				bID := e.addMember(t, a, orgID, "race-b-"+name, "owner")
				base := "/api/v1/organizations/" + orgID + "/members/"

				// Each owner steps the other one down at the same moment.
				type result struct {
					status int
					body   string
				}
				results := make([]result, 2)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, req := range []struct{ tok, target string }{{a, bID}, {b, aID}} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						res, body := e.do(t, change.method, base+req.target, req.tok, change.body)
						results[i] = result{res.StatusCode, string(body)}
					}()
				}
				close(start)
				wg.Wait()

				ok, conflict := 0, 0
				for _, r := range results {
					switch r.status {
					case http.StatusOK, http.StatusNoContent:
						ok++
					case http.StatusConflict, http.StatusNotFound, http.StatusForbidden:
						// 409 last_owner when both reached the rule together; 404 or 403
						// when the winner had already removed, suspended or demoted the loser.
						conflict++
					default:
						t.Fatalf("round %d: unexpected status %d: %s", round, r.status, r.body)
					}
				}
				if ok != 1 || conflict != 1 {
					t.Fatalf("round %d: got %d successes and %d refusals, want exactly one of each: %+v", round, ok, conflict, results)
				}
				res, body := e.do(t, http.MethodGet, base[:len(base)-1]+"?role=owner&status=active", root, nil)
				wantStatus(t, res, body, http.StatusOK)
				if owners := decodeJSONBody[struct {
					Pagination struct {
						TotalItems int `json:"total_items"`
					} `json:"pagination"`
				}](t, body).Pagination.TotalItems; owners != 1 {
					t.Fatalf("round %d: %d active owners left, want 1", round, owners)
				}
			}
		})
	}
}
