package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/orgstack/orgstack/domain"
)

// MaxBodyBytes is the largest request body the API reads (1 MiB).
const MaxBodyBytes = 1 << 20

// maxJSONDepth bounds the nesting of a request body.
const maxJSONDepth = 32

// decodeJSON is THE request-body decoder of the API. It checks, in order:
// the body size (413 payload_too_large), the media type (415
// unsupported_media_type: application/json or any */*+json type, which
// includes application/merge-patch+json), then the JSON itself (400
// malformed_json): syntax, trailing data, duplicate keys at any depth, keys
// that are not exactly a field of dst (unknown fields, and keys matching a
// field only case-insensitively), nulls and values of the wrong type. It
// checks the shape only; the application validates the content after it has
// authorized the caller. One content rule is the decoder's own, because only
// JSON can tell it: a field tagged `text:"nonempty"` may be absent but not
// "" (the ports read "" as absent), a 400 validation_failed naming it.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength > MaxBodyBytes {
		return errTooLarge()
	}
	if !jsonMediaType(r.Header.Get("Content-Type")) || len(r.Header.Values("Content-Type")) > 1 {
		return newAPIError("unsupported_media_type",
			"the request body must be application/json (or a +json media type)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge()
		}
		return newAPIError("malformed_json", "the request body could not be read")
	}
	return unmarshalStrict(body, dst)
}

func errTooLarge() error {
	return newAPIError("payload_too_large", fmt.Sprintf("the request body exceeds %d bytes", MaxBodyBytes))
}

// jsonMediaType reports whether ct is application/json or a structured
// +json type.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasSuffix(mt, "+json") && strings.Contains(mt, "/"))
}

// unmarshalStrict decodes one JSON value from body into dst after checking
// its shape against dst's type.
func unmarshalStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return newAPIError("malformed_json", "the request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := checkValue(dec, reflect.TypeOf(dst), "", false, false, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newAPIError("malformed_json", "unexpected data after the JSON value")
	}
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	if err := strict.Decode(dst); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			ptr := "/" + strings.ReplaceAll(te.Field, ".", "/")
			return shapeError(ptr, "has an invalid value")
		}
		return newAPIError("malformed_json", "the request body is not valid JSON")
	}
	return nil
}

func shapeError(ptr, detail string) error {
	if ptr == "" {
		return newAPIError("malformed_json", "the request body "+detail)
	}
	return newAPIError("malformed_json", fmt.Sprintf("%s %s", ptr, detail), bodyProblem(ptr, detail))
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return newAPIError("malformed_json", fmt.Sprintf("invalid JSON at byte %d", se.Offset))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newAPIError("malformed_json", "unexpected end of JSON input")
	}
	return newAPIError("malformed_json", "the request body is not valid JSON")
}

// escapePointer escapes one JSON-pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// jsonField is one field of a request struct: its type, and whether a
// present value must not be "" (tag text:"nonempty").
type jsonField struct {
	typ      reflect.Type
	nonEmpty bool
}

// fieldsByType caches jsonFields by struct type: request types are few
// and fixed, and every request body would otherwise build its map again.
var fieldsByType sync.Map // reflect.Type → map[string]jsonField

// jsonFields returns the exact JSON names of a struct's fields. The map is
// shared: callers must not change it.
func jsonFields(t reflect.Type) map[string]jsonField {
	if f, ok := fieldsByType.Load(t); ok {
		return f.(map[string]jsonField)
	}
	f, _ := fieldsByType.LoadOrStore(t, buildJSONFields(t))
	return f.(map[string]jsonField)
}

func buildJSONFields(t reflect.Type) map[string]jsonField {
	out := make(map[string]jsonField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = jsonField{typ: f.Type, nonEmpty: f.Tag.Get("text") == "nonempty"}
	}
	return out
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a valid value"
}

// checkValue reads the next JSON value from dec and checks it against t (nil
// or an interface type accepts any value, still checking duplicate keys).
// nullOK allows null (only map values of pointer type, where null removes a
// key in a merge patch); nonEmpty refuses "".
func checkValue(dec *json.Decoder, t reflect.Type, ptr string, nullOK, nonEmpty bool, depth int) error {
	if depth > maxJSONDepth {
		return newAPIError("malformed_json", "the request body is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	if t != nil && t == reflect.TypeFor[json.RawMessage]() {
		t = nil
	}
	switch v := tok.(type) {
	case nil:
		if !nullOK && t != nil {
			return shapeError(ptr, "must not be null")
		}
		return nil
	case string:
		if t != nil && t.Kind() != reflect.String {
			return shapeError(ptr, "must be "+kindName(t))
		}
		if nonEmpty && v == "" {
			return domain.Invalid(ptr, "must not be empty; leave it out instead")
		}
		return nil
	case bool:
		if t != nil && t.Kind() != reflect.Bool {
			return shapeError(ptr, "must be "+kindName(t))
		}
		return nil
	case json.Number:
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(v.String(), 10, t.Bits()); err != nil {
				return shapeError(ptr, "must be an integer")
			}
		case reflect.Float32, reflect.Float64:
		default:
			return shapeError(ptr, "must be "+kindName(t))
		}
		return nil
	case json.Delim:
		if v == '{' {
			return checkObject(dec, t, ptr, depth)
		}
		return checkArray(dec, t, ptr, depth)
	}
	return newAPIError("malformed_json", "the request body is not valid JSON")
}

func checkObject(dec *json.Decoder, t reflect.Type, ptr string, depth int) error {
	var fields map[string]jsonField
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
		default:
			return shapeError(ptr, "must be "+kindName(t))
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return newAPIError("malformed_json", "the request body is not valid JSON")
		}
		kp := ptr + "/" + escapePointer(key)
		if seen[key] {
			return shapeError(kp, "is a duplicate key")
		}
		seen[key] = true
		var et reflect.Type
		nullOK, nonEmpty := false, false
		switch {
		case fields != nil:
			f, ok := fields[key]
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return shapeError(kp, fmt.Sprintf("is not a known field (did you mean %q?)", name))
					}
				}
				return shapeError(kp, "is not a known field")
			}
			et, nonEmpty = f.typ, f.nonEmpty
		case t != nil: // a map
			if t.Key().Kind() != reflect.String {
				return shapeError(ptr, "has an invalid value")
			}
			et = t.Elem()
			nullOK = et.Kind() == reflect.Pointer
		}
		if err := checkValue(dec, et, kp, nullOK, nonEmpty, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return syntaxError(err)
	}
	return nil
}

func checkArray(dec *json.Decoder, t reflect.Type, ptr string, depth int) error {
	var et reflect.Type
	if t != nil {
		if t.Kind() != reflect.Slice {
			return shapeError(ptr, "must be "+kindName(t))
		}
		et = t.Elem()
	}
	for i := 0; dec.More(); i++ {
		if err := checkValue(dec, et, ptr+"/"+strconv.Itoa(i), false, false, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return syntaxError(err)
	}
	return nil
}
