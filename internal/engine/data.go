package engine

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

func decode[T any](key string, raw json.RawMessage) (T, error) {
	var v T
	if p, ok := any(&v).(*string); ok && plainString(raw) {
		*p = string(raw[1 : len(raw)-1])
		return v, nil
	}
	return unmarshal[T](key, raw)
}

// unmarshal decodes raw with encoding/json. Kept apart from decode so that the value
// decode returns does not escape to the heap on its fast path.
func unmarshal[T any](key string, raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%w: %q as %T: %w", ErrDecode, key, v, err)
	}
	return v, nil
}

// plainString reports whether raw is a JSON string that decodes to its own bytes
// between the quotes: no escapes, no control characters, valid UTF-8.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	body := raw[1 : len(raw)-1]
	for _, b := range body {
		if b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return utf8.Valid(body)
}

// checkKey rejects a session key that is empty (reserved for the link a renewal
// leaves), not UTF-8, or larger than a whole session may be.
func checkKey(key string, maxSize int) error {
	switch {
	case key == "" || !utf8.ValidString(key):
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	case len(key) > maxSize:
		return fmt.Errorf("%w: a key of %d bytes", ErrTooLarge, len(key))
	}
	return nil
}

// maxValueDepth is how deeply a value may nest: encoding/json decodes at most 10000
// levels, and a stored session holds each value one level down.
const maxValueDepth = 9999

// nesting is how deeply the JSON value raw nests arrays and objects.
func nesting(raw []byte) int {
	if len(raw) < 2*(maxValueDepth+1) {
		return 0 // too short to nest past the limit; not counted
	}
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// encodedSize is the length of data encoded as a JSON object.
func encodedSize(data map[string]json.RawMessage) int {
	n := 2
	for k, v := range data {
		n += entrySize(k, v)
	}
	return n
}

func entrySize(key string, value json.RawMessage) int {
	return quotedLen(key) + len(value) + 2 // colon and comma
}

// quotedLen is the length of key as encoding/json quotes it.
func quotedLen(key string) int {
	n := 2
	for _, r := range key {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			n += 6 // \u00XX
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}
