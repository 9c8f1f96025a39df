package domain

import (
	"errors"
	"testing"
	"time"
)

func TestEventTypePatterns(t *testing.T) {
	for _, ok := range []string{"*", "member.*", "member.added", "webhook.disabled"} {
		if err := ValidateEventTypePattern(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".*", "nope.*", "member", "member.added.*", "Member.added", "**"} {
		if err := ValidateEventTypePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if !EventTypeMatches("member.*", "member.added") || EventTypeMatches("member.*", "members.added") || !EventTypeMatches("*", "role.created") {
		t.Error("EventTypeMatches")
	}
}

// The Standard Webhooks reference vector (standard-webhooks/standard-webhooks
// libraries' tests).
func TestSignWebhookStandardVector(t *testing.T) {
	got, err := SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if _, err := SignWebhook("nope", "id", 1, nil); err == nil {
		t.Fatal("a secret without whsec_ signed")
	}
}

func TestWebhookRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := NewWebhook("id", "org", WebhookSpec{URL: "https://x.test/a#f", EventTypes: []string{"member.*", "member.*"}}, SealedSecret{Sealed: "s"}, now)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "url" || ve.Fields[1].Field != "event_types/1" {
		t.Fatalf("err = %v", err)
	}
	w, err := NewWebhook("id", "org", WebhookSpec{URL: "https://x.test/a", EventTypes: []string{"member.*"}}, SealedSecret{Sealed: "s1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Subscribes("member.added") || w.Subscribes("role.created") {
		t.Fatal("Subscribes")
	}
	w.RotateSecret(SealedSecret{Sealed: "s2"}, time.Hour, now)
	if s := w.SigningSecrets(now.Add(time.Minute)); len(s) != 2 || s[0].Sealed != "s2" {
		t.Fatalf("during the overlap: %+v", s)
	}
	if s := w.SigningSecrets(now.Add(2 * time.Hour)); len(s) != 1 || s[0].Sealed != "s2" {
		t.Fatalf("after the overlap: %+v", s)
	}
	w.RotateSecret(SealedSecret{Sealed: "s3"}, time.Hour, now)
	if s := w.Secrets(); len(s) != 2 || s[1].Sealed != "s2" {
		t.Fatalf("a second rotation keeps only the last replaced secret: %+v", s)
	}
	off := false
	if err := w.Apply(WebhookChange{Enabled: &off}, now); err != nil || w.Enabled() || w.DisabledReason() != WebhookDisabledByUser {
		t.Fatalf("disable: %v %v %q", err, w.Enabled(), w.DisabledReason())
	}
	v := w.Version()
	bad := []string{}
	if err := w.Apply(WebhookChange{EventTypes: &bad}, now); err == nil || w.Version() != v {
		t.Fatal("an invalid change was applied")
	}
	w.DisableForFailures(now)
	if w.DisabledReason() != WebhookDisabledByFailures {
		t.Fatal("DisableForFailures")
	}
}
