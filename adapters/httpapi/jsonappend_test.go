package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestMemberPageJSONMatchesEncodingJSON: the hand-written JSON of a page
// of members is byte for byte what encoding/json writes for the same
// value, for any text (control characters, quotes, HTML characters,
// U+2028, invalid UTF-8), missing optional fields, nil and empty role
// lists, and any time; a page encoding/json refuses is refused too.
func TestMemberPageJSONMatchesEncodingJSON(t *testing.T) {
	text := rapid.OneOf(
		rapid.String(),
		rapid.StringOf(rapid.SampledFrom([]rune{'a', '"', '\\', '<', '>', '&', '\n', '\t', 0, 0x1f, 0x7f, '\u2028', '\u2029', 'é', '😀'})),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }), // any bytes, invalid UTF-8 included
	)
	optText := rapid.Ptr(text, true)
	when := rapid.Custom(func(t *rapid.T) time.Time {
		tt := time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec"))
		if rapid.Bool().Draw(t, "utc") {
			return tt.UTC()
		}
		return tt.In(time.FixedZone("z", rapid.IntRange(-23*60, 23*60).Draw(t, "min")*60))
	})
	member := rapid.Custom(func(t *rapid.T) memberJSON {
		return memberJSON{
			UserID: text.Draw(t, "user_id"), Email: optText.Draw(t, "email"), Name: optText.Draw(t, "name"),
			Subject: text.Draw(t, "subject"), Issuer: text.Draw(t, "issuer"),
			Roles:  rapid.OneOf(rapid.Just[[]string](nil), rapid.SliceOf(text)).Draw(t, "roles"),
			Status: text.Draw(t, "status"), OrganizationID: text.Draw(t, "org"),
			JoinedAt: when.Draw(t, "joined"), UpdatedAt: when.Draw(t, "updated"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOfN(member, 0, 5).Draw(t, "data")
		pg := pagination{Page: rapid.IntRange(1, 1000).Draw(t, "page"), Size: rapid.IntRange(1, 100).Draw(t, "size"),
			TotalItems: rapid.IntRange(0, 1<<30).Draw(t, "total"), TotalPages: rapid.IntRange(0, 1<<30).Draw(t, "pages")}
		want, err := json.Marshal(listBody[memberJSON]{Data: data, Pagination: pg})
		got, ok := appendPageJSON(nil, data, pg)
		if err != nil { // a time outside the years RFC 3339 can write
			if ok {
				t.Fatalf("appendPageJSON wrote a page encoding/json refuses (%v): %s", err, got)
			}
			return
		}
		if !ok {
			t.Fatal("appendPageJSON refused a page encoding/json writes")
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("hand-written JSON differs:\n got %s\nwant %s", got, want)
		}
	})
}

// TestPageJSONFallsBack: items that cannot append their own JSON, and
// times encoding/json refuses, are left to encoding/json.
func TestPageJSONFallsBack(t *testing.T) {
	if _, ok := appendPageJSON(nil, []checkResultJSON{{}}, pagination{}); ok {
		t.Error("an item without appendJSON was accepted")
	}
	bad := memberJSON{JoinedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, ok := appendPageJSON(nil, []memberJSON{bad}, pagination{}); ok {
		t.Error("a year encoding/json refuses was accepted")
	}
}
