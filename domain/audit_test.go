package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testActor = Actor{Kind: ActorUser, Issuer: "https://issuer", Subject: "alice", UserID: "u1"}

func TestAuditCatalogue(t *testing.T) {
	seen := map[AuditAction]bool{}
	for _, a := range AuditActions() {
		if seen[a] {
			t.Errorf("%s listed twice", a)
		}
		seen[a] = true
		typ, verb, ok := strings.Cut(string(a), ".")
		if !ok || typ == "" || verb == "" || strings.Contains(verb, ".") {
			t.Errorf("%s is not <target type>.<verb>", a)
		}
		if !IsAuditAction(a) {
			t.Errorf("IsAuditAction(%s) = false", a)
		}
	}
	for _, want := range []AuditAction{"organization.created", "member.roles_changed", "webhook.secret_rotated", "webhook.disabled", "user.erased", "user.deactivated", "user.activated"} {
		if !seen[want] {
			t.Errorf("catalogue lacks %s", want)
		}
	}
	if IsAuditAction("member.") || IsAuditAction("organization.renamed") {
		t.Error("IsAuditAction accepts a name outside the catalogue")
	}
}

func TestNewAuditEventRules(t *testing.T) {
	at := time.Date(2026, 12, 15, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	e, err := NewAuditEvent("e1", at, testActor, "o1", ActionMemberRolesChanged, "u2",
		[]FieldChange{{Field: "roles", Before: []string{"member"}, After: []string{"admin"}}}, RequestInfo{RequestID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Target() != (Target{Type: "member", ID: "u2"}) || e.OrgID() != "o1" || e.Request().RequestID != "r" {
		t.Errorf("event = %+v", e)
	}
	if !e.OccurredAt().Equal(at.Truncate(time.Microsecond)) || e.OccurredAt().Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want UTC to the microsecond", e.OccurredAt())
	}
	bad := []struct {
		name   string
		id     string
		at     time.Time
		actor  Actor
		org    string
		action AuditAction
		target string
		field  string
	}{
		{"no id", "", at, testActor, "o1", ActionRoleCreated, "r", "id"},
		{"no time", "e", time.Time{}, testActor, "o1", ActionRoleCreated, "r", "occurred_at"},
		{"unknown action", "e", at, testActor, "o1", "role.renamed", "r", "action"},
		{"no target", "e", at, testActor, "o1", ActionRoleCreated, "", "target_id"},
		{"org action without org", "e", at, testActor, "", ActionRoleCreated, "r", "organization_id"},
		{"user action with org", "e", at, testActor, "o1", ActionUserCreated, "u", "organization_id"},
		{"user actor without subject", "e", at, Actor{Kind: ActorUser, Issuer: "i"}, "o1", ActionRoleCreated, "r", "actor"},
		{"system actor naming someone", "e", at, Actor{Kind: ActorSystem, UserID: "u"}, "o1", ActionRoleCreated, "r", "actor"},
		{"unknown actor kind", "e", at, Actor{Kind: "robot"}, "o1", ActionRoleCreated, "r", "actor"},
	}
	for _, c := range bad {
		_, err := NewAuditEvent(c.id, c.at, c.actor, c.org, c.action, c.target, nil, RequestInfo{})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != c.field {
			t.Errorf("%s: err = %v, want a validation error on %s", c.name, err, c.field)
		}
	}
	if _, err := NewAuditEvent("e", at, SystemActor, "o1", ActionWebhookDisabled, "w", nil, RequestInfo{}); err != nil {
		t.Errorf("system actor: %v", err)
	}
}

func TestAuditEventRedactsSecretsAndPersonalFields(t *testing.T) {
	e, err := NewAuditEvent("e", time.Now(), testActor, "", ActionUserUpdated, "u1", []FieldChange{
		{Field: "email", Before: "a@example.com", After: "b@example.com"},
		{Field: "name", Before: "Alice", After: "Alicia"},
		{Field: "metadata", Before: map[string]string{"a": "1"}, After: nil},
	}, RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := NewAuditEvent("e", time.Now(), testActor, "o", ActionWebhookSecretRotated, "w", []FieldChange{
		{Field: "secret", Before: "whsec_a", After: "whsec_b"},
		{Field: "client_secret", After: "s3"},
		{Field: "url", Before: "https://a", After: "https://b"},
	}, RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(e.Changes(), e2.Changes()...) {
		if c.Field == "url" {
			if c.Redacted || c.After != "https://b" {
				t.Errorf("url change = %+v, want kept", c)
			}
			continue
		}
		if !c.Redacted || c.Before != nil || c.After != nil {
			t.Errorf("%s change = %+v, want redacted without values", c.Field, c)
		}
	}
}

func TestDiff(t *testing.T) {
	before := map[string]any{"name": "A", "grants": []string{"x:read"}, "meta": map[string]string{"k": "v"}, "n": int64(1)}
	after := map[string]any{"name": "B", "grants": []string{"x:read"}, "meta": map[string]string{"k": "w"}, "n": int64(1)}
	got := Diff([]string{"name", "grants", "meta", "n"}, before, after)
	if len(got) != 2 || got[0].Field != "name" || got[1].Field != "meta" {
		t.Errorf("Diff = %+v, want name and meta", got)
	}
	s := Snapshot([]string{"name", "missing"}, before, true)
	if len(s) != 1 || s[0].After != "A" || s[0].Before != nil {
		t.Errorf("Snapshot = %+v", s)
	}
}
