package domain

import (
	"strings"
	"unicode/utf8"
)

// The text OrgStack accepts, decided once here for every field of every
// adapter (HTTP bodies, query parameters, path segments, token claims):
//
//   - Every string is valid UTF-8 and contains no NUL (U+0000). PostgreSQL
//     cannot store either, and no business value needs them.
//   - Names, keys and identifiers — organization names and slugs, role keys
//     and names, permission keys, a user's name and e-mail address, metadata
//     keys, issuer and subject identifiers, user IDs and organization
//     references — contain no
//     control character at all: none of U+0000 to U+001F, and not U+007F.
//     They are shown on one line, compared exactly and used in lookups, where
//     an invisible character only deceives.
//   - Free text — descriptions, metadata values, search text — may hold any character but NUL: a tab or a line break in a
//     description is legitimate, so free text allows every control
//     character except U+0000.
//   - A display name (of an organization or a role) must say something: it
//     holds at least one character that is not whitespace, where whitespace
//     is exactly the set WhitespaceClass lists. Go's and other languages'
//     notions of "space" differ (\s is ASCII-only in Go's regular
//     expressions and Unicode-wide in ECMAScript); this set is the one the
//     API document spells out as a character class.
//
// Lengths are counted in characters (Unicode code points), except for
// identifiers issued by other systems (issuer, subject), which are bounded in
// bytes.

// whitespace is THE set of characters that do not count towards a name's
// content: U+0009 to U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000 to
// U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 and U+FEFF.
var whitespace = []struct{ lo, hi rune }{
	{0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0},
	{0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
	{0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF},
}

// IsWhitespace reports whether r is one of the whitespace characters (see
// WhitespaceClass).
func IsWhitespace(r rune) bool {
	for _, w := range whitespace {
		if r >= w.lo && r <= w.hi {
			return true
		}
	}
	return false
}

// WhitespaceClass returns the whitespace characters as the body of a
// regular-expression character class: the characters themselves (not
// escapes), with ranges written lo-hi, so that the class means the same in
// Go's RE2 and in ECMAScript. A name matches "[^" + WhitespaceClass() + "]"
// somewhere.
func WhitespaceClass() string {
	var b strings.Builder
	for _, w := range whitespace {
		b.WriteRune(w.lo)
		if w.hi != w.lo {
			b.WriteByte('-')
			b.WriteRune(w.hi)
		}
	}
	return b.String()
}

// IsBlank reports whether v has no character outside WhitespaceClass (the empty
// string is blank).
func IsBlank(v string) bool {
	for _, r := range v {
		if !IsWhitespace(r) {
			return false
		}
	}
	return true
}

// IsText reports whether v is text OrgStack stores at all: valid UTF-8
// without NUL. Free text must be IsText.
func IsText(v string) bool {
	return utf8.ValidString(v) && strings.IndexByte(v, 0) < 0
}

// IsKeyText reports whether v is text a name, key or identifier may hold:
// valid UTF-8 without any control character (U+0000 to U+001F, U+007F).
func IsKeyText(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7F {
			return false
		}
	}
	return true
}

// validateName checks a display name: 1 to max characters of key text, not
// blank.
func validateName(v string, max int) error {
	if !IsKeyText(v) {
		return Invalid("", "must be valid UTF-8 without control characters")
	}
	if n := utf8.RuneCountInString(v); n < 1 || n > max {
		return Invalid("", "must be 1 to %d characters long", max)
	}
	if IsBlank(v) {
		return Invalid("", "must contain a character that is not whitespace")
	}
	return nil
}

// validateFreeText checks free text: valid UTF-8 without NUL, at most max
// characters ("" allowed).
func validateFreeText(v string, max int) error {
	if !IsText(v) {
		return Invalid("", "must be valid UTF-8 without NUL characters")
	}
	if utf8.RuneCountInString(v) > max {
		return Invalid("", "must be at most %d characters long", max)
	}
	return nil
}

// validateOptionalKeyText checks an optional name or key: key text of at
// most max characters ("" allowed, meaning none).
func validateOptionalKeyText(v string, max int) error {
	if !IsKeyText(v) {
		return Invalid("", "must be valid UTF-8 without control characters")
	}
	if utf8.RuneCountInString(v) > max {
		return Invalid("", "must be at most %d characters long", max)
	}
	return nil
}

// ValidateIdentifier checks an identifier issued by another system (a
// token's issuer or subject): 1 to MaxIdentifier bytes of key text.
func ValidateIdentifier(v string) error {
	if !IsKeyText(v) {
		return Invalid("", "must be valid UTF-8 without control characters")
	}
	if len(v) < 1 || len(v) > MaxIdentifier {
		return Invalid("", "must be 1 to %d bytes long", MaxIdentifier)
	}
	return nil
}
