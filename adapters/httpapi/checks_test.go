package httpapi

import (
	"net/http"
	"slices"
	"testing"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner")
	orgID := e.createOrg(t, owner, "acme")
	base := "/api/v1/organizations/" + orgID
	res, body := e.do(t, http.MethodPost, base+"/permissions", owner, obj{"key": "invoices:approve"})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, base+"/roles", owner, obj{"key": "approver", "name": "Approver", "permissions": []string{"invoices:*"}})
	wantStatus(t, res, body, http.StatusCreated)
	approverID := e.addMember(t, owner, orgID, "ann", "approver")
	e.addMember(t, owner, orgID, "mo", "member")
	ann, mo := e.token("ann"), e.token("mo")

	for form, path := range forms(orgID, "/check") {
		t.Run(form, func(t *testing.T) {
			annTok, ownerTok, moTok := ann, owner, mo
			if form == "token form" {
				annTok, ownerTok, moTok = e.token("ann", withOrg(orgID)), e.token("owner", withOrg(orgID)), e.token("mo", withOrg(orgID))
			}
			tests := []struct {
				name        string
				token       string
				body        obj
				wantAllowed bool
				wantBy      []string
			}{
				{"self by wildcard", annTok, obj{"subject": "ann", "permission": "invoices:approve"}, true, []string{"approver"}},
				{"other by user_id", ownerTok, obj{"user_id": approverID, "permission": "invoices:approve"}, true, []string{"approver"}},
				{"undefined permission", ownerTok, obj{"user_id": approverID, "permission": "invoices:refund"}, false, []string{}},
				{"not a member", ownerTok, obj{"subject": "nobody", "permission": "members:read"}, false, []string{}},
				{"owner holds everything", ownerTok, obj{"subject": "owner", "permission": "organization:delete"}, true, []string{"owner"}},
			}
			for _, tt := range tests {
				res, body := e.do(t, http.MethodPost, path, tt.token, tt.body)
				wantStatus(t, res, body, http.StatusOK)
				d := data(t, body)
				if d["allowed"] != tt.wantAllowed || !slices.Equal(toStrings(d["granted_by"]), tt.wantBy) && len(tt.wantBy) > 0 {
					t.Errorf("%s: %s, want allowed=%v granted_by=%v", tt.name, body, tt.wantAllowed, tt.wantBy)
				}
			}

			res, body := e.do(t, http.MethodPost, path, ownerTok, obj{"checks": []obj{
				{"subject": "ann", "permission": "invoices:approve"},
				{"subject": "mo", "permission": "invoices:approve"},
				{"subject": "mo", "permission": "members:read"},
			}})
			wantStatus(t, res, body, http.StatusOK)
			var got []bool
			for _, r := range data(t, body)["results"].([]any) {
				got = append(got, r.(obj)["allowed"].(bool))
			}
			if !slices.Equal(got, []bool{true, false, true}) {
				t.Errorf("batch results %v, want [true false true]", got)
			}

			// A plain member may check itself but not others.
			res, body = e.do(t, http.MethodPost, path, moTok, obj{"subject": "mo", "permission": "members:read"})
			wantStatus(t, res, body, http.StatusOK)
			res, body = e.do(t, http.MethodPost, path, moTok, obj{"subject": "ann", "permission": "members:read"})
			wantProblem(t, res, body, http.StatusForbidden, "forbidden")

			errs := []struct {
				name string
				body any
				code string
			}{
				{"user_id and subject", obj{"user_id": approverID, "subject": "ann", "permission": "a:b"}, "validation_failed"},
				{"malformed permission", obj{"subject": "ann", "permission": "NOPE"}, "validation_failed"},
				{"empty batch", obj{"checks": []obj{}}, "validation_failed"},
				{"batch and single", obj{"checks": []obj{{"subject": "ann", "permission": "a:b"}}, "permission": "a:b"}, "malformed_json"},
				{"unknown field in batch item", obj{"checks": []obj{{"subject": "ann", "permission": "a:b", "org": "x"}}}, "malformed_json"},
			}
			for _, tt := range errs {
				res, body := e.do(t, http.MethodPost, path, ownerTok, tt.body)
				wantProblem(t, res, body, http.StatusBadRequest, tt.code)
			}
		})
	}
}
