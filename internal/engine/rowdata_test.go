package engine

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

// FuzzEncodeData checks encodeData against json.Marshal on data of two keys: both fail,
// or both give the same bytes.
func FuzzEncodeData(f *testing.F) {
	for _, seed := range [][4]string{
		{"user", `"alice"`, "n", `42`},
		{"a", `{"b": [1, 2]}`, "c", ` "x y" `},
		{"<k>", `"a&b"`, "k", `"\u2028"`},
		{"é", `"\u00e9"`, "dash", "\"\u2014\u2028\u2029\""},
		{"a\"b", `"\\"`, "t", `true`},
		{"", `null`, "bad", `{oops`},
		{"x", ``, "y", `1e999`},
		{"same", `1`, "same", `2`},
		{"\xff", `"\xff"`, "s", `"<script>"`},
	} {
		f.Add(seed[0], []byte(seed[1]), seed[2], []byte(seed[3]))
	}
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte) {
		data := map[string]json.RawMessage{k1: v1, k2: v2}
		want, wantErr := json.Marshal(data)
		got, err := encodeData(data)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeData(%q) = %q, %v; json.Marshal: %q, %v", data, got, err, want, wantErr)
		}
	})
}

// BenchmarkEncodeData compares encodeData with json.Marshal on a small session.
func BenchmarkEncodeData(b *testing.B) {
	data := map[string]json.RawMessage{"csrf": json.RawMessage(`"6f1d0c1e2b7a4f3e9d8c"`),
		"flash": json.RawMessage(`["saved"]`), "n": json.RawMessage(`42`), "user": json.RawMessage(`"alice"`)}
	for _, c := range []struct {
		name   string
		encode func(map[string]json.RawMessage) ([]byte, error)
	}{{"encodeData", encodeData}, {"json.Marshal", marshalData}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
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
