package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/echosess/echosess/sessionstore"
)

// UserIndex checks an sessionstore.UserIndex: that a user's live records are listed, with
// their user, expiry and version, their Created kept across saves and their
// LastActive moved by each, and no other user's, unbound, expired or deleted
// record; that a rebound record moves to its new user; that the listed records
// carry their data, the caller's to keep; and that Device round-trips. Run runs it; it skips a store that is no UserIndex.
func UserIndex(t *testing.T, newStore func(t *testing.T) sessionstore.Store) {
	ctx := context.Background()
	index := func(t *testing.T) (sessionstore.Store, sessionstore.UserIndex) {
		s := newStore(t)
		idx, ok := s.(sessionstore.UserIndex)
		if !ok {
			t.Skipf("%T does not implement sessionstore.UserIndex", s)
		}
		if _, err := idx.UserSessions(ctx, "storetest-probe"); errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("%T keeps no user index: %v", s, err)
		}
		return s, idx
	}
	bound := func(t *testing.T, s sessionstore.Store, user string) sessionstore.Record {
		t.Helper()
		rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		rec.UserID = user
		mustSave(t, s, rec)
		return mustLoad(t, s, rec.Key)
	}
	keys := func(t *testing.T, idx sessionstore.UserIndex, user string) []string {
		t.Helper()
		recs, err := idx.UserSessions(ctx, user)
		if err != nil {
			t.Fatalf("UserSessions(%q): %v", user, err)
		}
		var ks []string
		for _, rec := range recs {
			if rec.UserID != user {
				t.Errorf("UserSessions(%q) listed a record of user %q", user, rec.UserID)
			}
			ks = append(ks, rec.Key)
		}
		slices.Sort(ks)
		return ks
	}
	sorted := func(ks ...string) []string { slices.Sort(ks); return ks }

	t.Run("List", func(t *testing.T) {
		s, idx := index(t)
		a1, a2 := bound(t, s, "ada"), bound(t, s, "ada")
		bound(t, s, "bob")
		unbound := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		mustSave(t, s, unbound)
		ended := bound(t, s, "ada")
		ended.Expiry = time.Now().Add(-time.Second)
		mustSave(t, s, ended)
		if got, want := keys(t, idx, "ada"), sorted(a1.Key, a2.Key); !slices.Equal(got, want) {
			t.Fatalf("ada's records %q, want %q", got, want)
		}
		if got := keys(t, idx, "nobody"); len(got) != 0 {
			t.Errorf("an unknown user's records: %q", got)
		}
		if got := keys(t, idx, ""); len(got) != 0 {
			t.Errorf("the unbound records are listed under the empty user: %q", got)
		}
		recs, _ := idx.UserSessions(ctx, "ada")
		for _, rec := range recs {
			if rec.Version != 1 || !rec.Expiry.After(time.Now()) || rec.Created.IsZero() || rec.LastActive.IsZero() {
				t.Errorf("listed %+v: want version 1, a live expiry, Created and LastActive", rec)
			}
		}
	})

	t.Run("CreatedAndLastActive", func(t *testing.T) {
		s, _ := index(t)
		rec := bound(t, s, "ada")
		time.Sleep(5 * time.Millisecond) // the stores keep milliseconds; a later save must be later
		next := rec
		next.Data = map[string]json.RawMessage{"k": json.RawMessage(`"w"`)}
		mustSave(t, s, next)
		got := mustLoad(t, s, rec.Key)
		wantTime(t, "Created after a second save", got.Created, rec.Created)
		if !got.LastActive.After(rec.LastActive) {
			t.Errorf("LastActive after a second save %v, want after %v", got.LastActive, rec.LastActive)
		}
	})

	t.Run("Rebind", func(t *testing.T) {
		s, idx := index(t)
		rec := bound(t, s, "ada")
		rec.UserID = "bob"
		mustSave(t, s, rec)
		if got := keys(t, idx, "ada"); len(got) != 0 {
			t.Errorf("ada still lists the rebound record: %q", got)
		}
		if got := keys(t, idx, "bob"); !slices.Equal(got, []string{rec.Key}) {
			t.Errorf("bob's records %q, want the rebound one", got)
		}
		if toucher, ok := s.(sessionstore.Toucher); ok {
			touched := mustLoad(t, s, rec.Key)
			touched.Expiry = time.Now().Add(2 * time.Hour)
			if err := toucher.Touch(ctx, touched); err != nil {
				t.Fatal(err)
			}
			if got := keys(t, idx, "bob"); !slices.Equal(got, []string{rec.Key}) {
				t.Errorf("after a touch bob's records are %q, want the rebound one", got)
			}
		}
	})

	t.Run("Data", func(t *testing.T) {
		s, idx := index(t)
		rec := bound(t, s, "ada")
		recs, err := idx.UserSessions(ctx, "ada")
		if err != nil || len(recs) != 1 || string(recs[0].Data["k"]) != `"v"` {
			t.Fatalf("listed %+v, %v; want the record with its data", recs, err)
		}
		recs[0].Data["k"] = json.RawMessage(`"changed by the caller"`)
		if got := mustLoad(t, s, rec.Key); string(got.Data["k"]) != `"v"` {
			t.Errorf("changing the listed data changed the store's to %s", got.Data["k"])
		}
	})

	t.Run("Device", func(t *testing.T) {
		s, idx := index(t)
		rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		rec.UserID = "ada"
		rec.Device = sessionstore.Device{UserAgent: "Firefox ✓", IP: "192.0.2.1", LastUserAgent: "curl", LastIP: "2001:db8::1"}
		mustSave(t, s, rec)
		if got := mustLoad(t, s, rec.Key).Device; got != rec.Device {
			t.Errorf("loaded Device %+v, want %+v", got, rec.Device)
		}
		if recs, err := idx.UserSessions(ctx, "ada"); err != nil || len(recs) != 1 || recs[0].Device != rec.Device {
			t.Errorf("listed %+v, %v; want Device %+v", recs, err, rec.Device)
		}
	})
}
