package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON for the hottest list, the page of members: reflection
// in encoding/json, a boxed time per timestamp and a pointer per optional
// string cost more than the JWT check on a page of 50 (see the perf
// notes). The output is byte for byte what encoding/json writes for the
// same value (TestMemberPageJSONMatchesEncodingJSON): the same escaping,
// HTML characters included, and the same time format.

// jsonAppender is a response item that can append its own JSON.
type jsonAppender interface {
	// appendJSON appends the item's JSON to b, or reports false when it
	// cannot be written exactly as encoding/json would (then the caller
	// uses encoding/json).
	appendJSON(b []byte) ([]byte, bool)
}

func (m memberJSON) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"user_id":`...)
	b = appendJSONString(b, m.UserID)
	b = append(b, `,"email":`...)
	b = appendOptString(b, m.Email)
	b = append(b, `,"name":`...)
	b = appendOptString(b, m.Name)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, m.Subject)
	b = append(b, `,"issuer":`...)
	b = appendJSONString(b, m.Issuer)
	b = append(b, `,"roles":`...)
	if m.Roles == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range m.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, ']')
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, m.Status)
	b = append(b, `,"organization_id":`...)
	b = appendJSONString(b, m.OrganizationID)
	var ok1, ok2 bool
	b = append(b, `,"joined_at":`...)
	b, ok1 = appendJSONTime(b, m.JoinedAt)
	b = append(b, `,"updated_at":`...)
	b, ok2 = appendJSONTime(b, m.UpdatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, m.Version, 10)
	return append(b, '}'), ok1 && ok2
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONTime appends t as time.Time.MarshalJSON does; false for a year
// that format refuses.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// does with HTML escaping on (its default): ", \ and control characters
// escaped, <, > and & as \u003c \u003e \u0026, U+2028 and U+2029 escaped,
// and each byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendPageJSON appends {"data":[…],"pagination":{…}} for items that can
// append their own JSON; false when one cannot.
func appendPageJSON[R any](b []byte, data []R, pg pagination) ([]byte, bool) {
	b = append(b, `{"data":[`...)
	for i := range data {
		a, ok := any(&data[i]).(jsonAppender) // a pointer: no copy boxed per item
		if !ok {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = a.appendJSON(b); !ok {
			return b, false
		}
	}
	b = append(b, `],"pagination":{"page":`...)
	b = strconv.AppendInt(b, int64(pg.Page), 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(pg.Size), 10)
	b = append(b, `,"total_items":`...)
	b = strconv.AppendInt(b, int64(pg.TotalItems), 10)
	b = append(b, `,"total_pages":`...)
	b = strconv.AppendInt(b, int64(pg.TotalPages), 10)
	return append(b, "}}"...), true
}
