package core

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeData checks decodeData against json.Unmarshal into the data map: both
// fail, or both give the same keys and the same bytes for each value; and an append
// to one value never changes another.
func FuzzDecodeData(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, ` null `, `{"a":"1","b":{"c":[1,2,3]}}`, `{"a":1,"a":2}`, `[]`, `"str"`, `1`, ``,
		` { "a" : [ 1 , {"b":"}]\"" } ] , "c" : -1.5e3 , "d":true,"e":null } `,
		`{"a":`, `{"a":1}x`, `{"a":1} `, "{\"\xff\":1}", `{"a\u00e9":1}`, `{"a\"b":1}`, `{"a":"\ud800"}`,
		`{"a":1e999}`, "{\"é\":\"\xff\"}", "{\"a\":\"\t\"}", `{"__proto__":{}}`, "\x00\x01\x02",
		`{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := unmarshalData(bytes.Clone(b))
		got, err := decodeData(bytes.Clone(b))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeData(%q) = %v, %v; json.Unmarshal: %v", b, got, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("decodeData(%q) = %q, want %q", b, got, want)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("decodeData(%q)[%q] = %q, want %q", b, k, got[k], v)
			}
		}
		for k := range got {
			got[k] = append(got[k], "!!"...)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], append(bytes.Clone(v), "!!"...)) {
				t.Fatalf("decodeData(%q): after appending to every value, %q = %q", b, k, got[k])
			}
		}
	})
}

// BenchmarkDecodeData compares decodeData with json.Unmarshal on a small session.
func BenchmarkDecodeData(b *testing.B) {
	data := []byte(`{"csrf":"6f1d0c1e2b7a4f3e9d8c","flash":["saved"],"n":42,"user":"alice"}`)
	for _, c := range []struct {
		name   string
		decode func([]byte) (map[string]json.RawMessage, error)
	}{{"decodeData", decodeData}, {"json.Unmarshal", unmarshalData}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m, err := c.decode(data); err != nil || len(m) != 4 {
					b.Fatal(m, err)
				}
			}
		})
	}
}
