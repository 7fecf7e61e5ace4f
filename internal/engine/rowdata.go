package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The data column of the SQL stores holds a session's data as one JSON object.

// encodeData encodes a session's data as one JSON object, byte for byte as
// json.Marshal does: keys sorted, values compacted, with <, > and & escaped. It checks
// each value, so that a value that is not JSON never reaches the database. It is
// faster where keys and values are already in that form, as Set makes them: it copies
// them as they are; other data goes through json.Marshal.
func encodeData(data map[string]json.RawMessage) ([]byte, error) {
	if len(data) == 0 {
		return []byte("{}"), nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := append(make([]byte, 0, encodedSize(data)), '{')
	for i, k := range keys {
		v := data[k]
		if !plainKey(k) || !marshaled(v) {
			return marshalData(data)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), k...), '"', ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// marshalData encodes data with encoding/json.
func marshalData(data map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: session value: %w", ErrDecode, err)
	}
	return b, nil
}

// plainKey reports whether json.Marshal writes key as it is between quotes: printable
// ASCII that needs no escape.
func plainKey(key string) bool {
	for i := range len(key) {
		if c := key[i]; c < 0x20 || c > 0x7e || strings.IndexByte(`"\<>&`, c) >= 0 {
			return false
		}
	}
	return true
}

// marshaled reports whether v is valid JSON that json.Marshal copies as it is: no
// white space outside strings, and nothing it escapes (<, >, &, U+2028, U+2029).
func marshaled(v json.RawMessage) bool {
	inString := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xe2 && i+2 < len(v) && v[i+1] == 0x80 && (v[i+2] == 0xa8 || v[i+2] == 0xa9):
			return false // U+2028 or U+2029
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c <= ' ':
			return false
		}
	}
	return json.Valid(v)
}

// decodeData decodes a data column, b, as json.Unmarshal into the data map would, and
// null as no data. It is faster: after one pass that checks the syntax, one more cuts
// the members out of b, so the values are slices of b, which the caller must not
// change afterwards; each is capped at its end, so that an append to one never writes
// into the next. Data that is not an object, or has a key with escapes or that is not
// UTF-8, goes through json.Unmarshal instead.
func decodeData(b []byte) (map[string]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if !json.Valid(b) || b[i] != '{' {
		return unmarshalData(b)
	}
	data := map[string]json.RawMessage{}
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		end := valueEnd(b, i) // b[i] is the opening quote of a key
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return unmarshalData(b)
		}
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		end = valueEnd(b, i)
		data[string(key)] = b[i:end:end]
		if i = skipSpace(b, end); b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return data, nil
}

// unmarshalData decodes b with encoding/json, null as no data.
func unmarshalData(b []byte) (map[string]json.RawMessage, error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]json.RawMessage{}
	}
	return data, nil
}

// skipSpace returns the index of the first byte of b from i on that is not JSON
// white space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value that starts at b[i], in b
// known to be valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = valueEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number, true, false or null, up to what follows it
		for i < len(b) && strings.IndexByte(",}] \t\n\r", b[i]) < 0 {
			i++
		}
		return i
	}
}
