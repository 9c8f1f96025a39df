package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// tokenCheckBody is the answer of /admin/token-check as a test reads it.
type tokenCheckBody struct {
	Accepted  bool `json:"accepted"`
	Principal *struct {
		Issuer            string  `json:"issuer"`
		Subject           string  `json:"subject"`
		Email             *string `json:"email"`
		PlatformAdmin     bool    `json:"platform_admin"`
		OrganizationClaim *string `json:"organization_claim"`
	} `json:"principal"`
	Organization *struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	} `json:"organization"`
	MembershipStatus *string  `json:"membership_status"`
	Roles            []string `json:"roles"`
	Reason           string   `json:"reason"`
	Detail           string   `json:"detail"`
}

func TestTokenCheck(t *testing.T) {
	var fetches atomic.Int64
	e := newEnv(t, withIdP(func(keySet []byte) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fetches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(keySet)
		})
	}))
	admin := e.token("root", withAdmin())
	owner := e.token("alice")
	orgID := e.createOrg(t, owner, "acme")
	e.addMember(t, owner, orgID, "bob", "admin")

	check := func(t *testing.T, caller, tok string) (int, tokenCheckBody, []byte) {
		t.Helper()
		res, body := e.do(t, http.MethodPost, "/api/v1/admin/token-check", caller, map[string]string{"token": tok})
		var out tokenCheckBody
		if res.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode, out, body
	}
	var checked []string // every token sent for checking, to search the logs for

	t.Run("member of the bound organization", func(t *testing.T) {
		tok := e.token("bob", withOrg("acme"), withEmail("bob@example.com"))
		checked = append(checked, tok)
		status, got, body := check(t, admin, tok)
		if status != http.StatusOK || !got.Accepted || got.Principal == nil || got.Organization == nil {
			t.Fatalf("got %d %s, want 200 accepted with an organization", status, body)
		}
		if got.Principal.Subject != "bob" || got.Principal.Issuer != testIssuer || got.Principal.PlatformAdmin ||
			got.Principal.OrganizationClaim == nil || *got.Principal.OrganizationClaim != "acme" {
			t.Errorf("got principal %+v, want bob of the test issuer bound to acme", *got.Principal)
		}
		if got.Organization.ID != orgID || got.Organization.Slug != "acme" {
			t.Errorf("got organization %+v, want %s/acme", *got.Organization, orgID)
		}
		if !slices.Equal(got.Roles, []string{"admin"}) || got.MembershipStatus == nil || *got.MembershipStatus != "active" {
			t.Errorf("got roles %v status %v, want [admin] active", got.Roles, got.MembershipStatus)
		}
		if strings.Contains(string(body), tok) {
			t.Error("the token is echoed in the answer")
		}
	})

	t.Run("unknown user creates nothing", func(t *testing.T) {
		tok := e.token("carol", withOrg(orgID))
		checked = append(checked, tok)
		status, got, body := check(t, admin, tok)
		if status != http.StatusOK || !got.Accepted || got.Organization == nil || len(got.Roles) != 0 || got.MembershipStatus != nil {
			t.Fatalf("got %d %s, want accepted, organization, no roles, no membership", status, body)
		}
		if _, err := e.Store.Users().GetByIdentity(context.Background(), testIssuer, "carol"); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("got %v for carol's user, want ErrNotFound (no user created)", err)
		}
	})

	t.Run("unbound token has no organization", func(t *testing.T) {
		tok := e.token("dave")
		checked = append(checked, tok)
		status, got, body := check(t, admin, tok)
		if status != http.StatusOK || !got.Accepted || got.Organization != nil || string(body) == "" ||
			!strings.Contains(string(body), `"organization":null`) {
			t.Fatalf("got %d %s, want accepted with organization null", status, body)
		}
		if _, err := e.Store.Users().GetByIdentity(context.Background(), testIssuer, "dave"); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("got %v for dave's user, want ErrNotFound", err)
		}
	})

	t.Run("refused tokens give the Stage 3 reason", func(t *testing.T) {
		before := fetches.Load()
		tests := []struct {
			give string
			want string
		}{
			{e.token("erin", withClaim("exp", time.Now().Add(-time.Hour).Unix())), "expired"},
			{e.token("erin", withClaim("aud", "someone-else")), "wrong_audience"},
			{e.token("erin", withClaim("iss", "https://unknown.example")), "wrong_issuer"},
			// An unknown issuer with a key ID nobody has: still no fetch.
			{e.sign(claimsFor("erin", withClaim("iss", "https://unknown.example")), "no-such-kid", e.key), "wrong_issuer"},
			{"not-a-jwt", "malformed"},
		}
		for _, tt := range tests {
			checked = append(checked, tt.give)
			status, got, body := check(t, admin, tt.give)
			if status != http.StatusOK || got.Accepted || got.Reason != tt.want || got.Detail == "" || got.Principal != nil {
				t.Errorf("got %d %s, want accepted false with reason %s", status, body, tt.want)
			}
		}
		if n := fetches.Load() - before; n != 0 {
			t.Errorf("got %d key-set fetches, want none (an unknown issuer triggers no fetch)", n)
		}
	})

	t.Run("platform administrators only", func(t *testing.T) {
		tok := e.token("bob")
		checked = append(checked, tok)
		if status, _, body := check(t, owner, tok); status != http.StatusForbidden || !strings.Contains(string(body), "platform_admin_required") {
			t.Errorf("got %d %s, want 403 platform_admin_required", status, body)
		}
		if status, _, _ := check(t, "", tok); status != http.StatusUnauthorized {
			t.Errorf("got %d without a token, want 401", status)
		}
		res, body := e.do(t, http.MethodPost, "/api/v1/admin/token-check", admin, map[string]string{})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "validation_failed") {
			t.Errorf("got %d %s without a token in the body, want 400 validation_failed", res.StatusCode, body)
		}
	})

	t.Run("the token is never logged", func(t *testing.T) {
		for _, entry := range e.Logs.All() {
			line, _ := json.Marshal(entry.ContextMap())
			for _, tok := range checked {
				sig := tok[strings.LastIndex(tok, ".")+1:]
				if strings.Contains(entry.Message, sig) || strings.Contains(string(line), sig) {
					t.Errorf("log entry %q %s holds a checked token", entry.Message, line)
				}
			}
		}
	})
}

// TestTokenCheckWritesNothing asserts against the store that a dry run of
// a token bound to an organization creates neither its user nor a
// membership, even for a platform administrator's token.
func TestTokenCheckWritesNothing(t *testing.T) {
	e := newEnv(t)
	admin := e.token("root", withAdmin())
	owner := e.token("alice")
	orgID := e.createOrg(t, owner, "acme")
	res, body := e.do(t, http.MethodPost, "/api/v1/admin/token-check", admin, map[string]string{
		"token": e.token("newcomer", withOrg(orgID), withEmail("new@example.com"), withAdmin()),
	})
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"platform_admin":true`) {
		t.Fatalf("got %d %s, want 200 with platform_admin true", res.StatusCode, body)
	}
	if _, err := e.Store.Users().GetByIdentity(context.Background(), testIssuer, "newcomer"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("got %v for the checked token's user, want ErrNotFound", err)
	}
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/members", owner, nil)
	var page struct {
		Total int `json:"total"`
	}
	_ = json.Unmarshal(body, &page)
	if res.StatusCode != http.StatusOK || strings.Contains(string(body), "newcomer") {
		t.Errorf("got %d %s, want the members without the checked token's user", res.StatusCode, body)
	}
}
