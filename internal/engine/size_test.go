package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTrackedSize: the encoded size that Set keeps as the data changes (rule 11 of
// issue 11: constant time per Set) equals the size that encodedSize counts afresh,
// after any sequence of Set, Delete, Pop, Clear, RenewID, Destroy and Save, over
// requests that start from a stored session; and Set rejects with ErrTooLarge exactly
// the values that a recount puts over MaxSize.
func TestTrackedSize(t *testing.T) {
	keys := []string{"a", "b", "a longer key", `quo"te`, `back\slash`, "<tag>&", "é", "\u2028", "\x01", "😀"}
	values := []any{1, "x", strings.Repeat("v", 60), []int{1, 2, 3}, map[string]any{"n": nil}, "<&>\u2029", true, json.RawMessage(`{ "spaced" : [ 1 , 2 ] }`)}
	const maxSize = 400
	store := NewMemoryStore()
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 11))
		var token string
		var history []string
		for range 6 { // requests of one session
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if token != "" {
				req.AddCookie(&http.Cookie{Name: "session", Value: token})
			}
			cfg := testConfig{Store: store, MaxSize: maxSize, Logger: slog.New(slog.DiscardHandler)}
			x := newTestExchange(t, cfg, req)
			s := &x.Session
			if token != "" && r.IntN(3) == 0 {
				// Another request of the session commits after this one loaded it, so
				// that this one's next commit replays its changes on other data.
				if err := s.load(); err != nil {
					t.Fatal(err)
				}
				rival := newTestExchange(t, cfg, req)
				key := keys[r.IntN(len(keys))]
				history = append(history, fmt.Sprintf("another request: Set(%q, 0)", key))
				if err := rival.Set(key, 0); err != nil && !errors.Is(err, ErrTooLarge) {
					t.Fatal(err)
				}
				if err := rival.Finish(); err != nil {
					t.Fatal(err)
				}
			}
			for range 30 {
				key := keys[r.IntN(len(keys))]
				var err error
				switch op := r.IntN(20); {
				case op < 10:
					var value any = strings.Repeat("v", r.IntN(80)) // sizes that meet MaxSize exactly
					if r.IntN(2) == 0 {
						value = values[r.IntN(len(values))]
					}
					history = append(history, fmt.Sprintf("Set(%q, %v)", key, value))
					tooLarge := s.load() == nil && recountWithSet(t, s.data, key, value) > maxSize
					err = s.Set(key, value)
					if got := errors.Is(err, ErrTooLarge); got != tooLarge {
						t.Fatalf("seed %d: after %s: ErrTooLarge %v, a recount says %v (err %v)", seed, last(history), got, tooLarge, err)
					}
					if tooLarge {
						err = nil
					}
				case op < 14:
					history = append(history, fmt.Sprintf("Delete(%q)", key))
					err = s.Delete(key)
				case op < 17:
					history = append(history, fmt.Sprintf("Pop(%q)", key))
					_, _, err = Pop[any](s, key)
				case op == 17:
					history = append(history, "Clear")
					err = s.Clear()
				case op == 18:
					history = append(history, "RenewID")
					err = s.RenewID()
				default:
					history = append(history, "Save")
					err = s.Save()
					if errors.Is(err, ErrConflict) || errors.Is(err, ErrTooLarge) {
						err = nil // the other request's changes and this one's do not merge
					}
				}
				if err != nil {
					t.Fatalf("seed %d: %s: %v", seed, last(history), err)
				}
				if s.encoded != 0 && s.encoded != encodedSize(s.data) {
					t.Fatalf("seed %d: after %s: tracked size %d, counted %d", seed, last(history), s.encoded, encodedSize(s.data))
				}
			}
			if r.IntN(8) == 0 {
				history = append(history, "Destroy")
				if err := s.Destroy(); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.Finish(); err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("seed %d: commit after %s: %v", seed, last(history), err)
			}
			for _, ck := range x.rec.Result().Cookies() {
				if ck.Name == "session" {
					token = ck.Value
				}
			}
			history = append(history, "-- next request")
		}
	}
}

// recountWithSet is the encoded size of data with key set to value, counted afresh.
func recountWithSet(t *testing.T, data map[string]json.RawMessage, key string, value any) int {
	t.Helper()
	raw, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	next := cloneData(data)
	next[key] = raw
	return encodedSize(next)
}

// last spells the last steps of history, for a failure message.
func last(history []string) string {
	return strings.Join(history[max(0, len(history)-12):], "; ")
}
