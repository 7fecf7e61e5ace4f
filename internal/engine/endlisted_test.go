package engine_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sessionstore"
	"github.com/echosess/echosess/sqlitestore"
	"github.com/echosess/echosess/sqlstore"
)

// TestEndListed checks the one-statement end of a revocation on each store of this
// module: it ends a listed record that is still at its listed version, and leaves
// one changed, ended or expired since, so that the revocation follows it one by
// one. SQLite's statement runs in batches padded to a power of two (70 records: 64,
// then 6 padded to 8).
func TestEndListed(t *testing.T) {
	stores := map[string]func(t *testing.T, now func() time.Time) sessionstore.Store{
		"memory": func(t *testing.T, now func() time.Time) sessionstore.Store {
			return memstore.New(memstore.WithClock(now))
		},
		"sqlite": func(t *testing.T, now func() time.Time) sessionstore.Store {
			return sqlitestore.New(allstores.NewSQLiteDB(t), sqlstore.WithClock(now))
		},
		"postgres": func(t *testing.T, now func() time.Time) sessionstore.Store {
			return pgstore.New(allstores.NewPostgresPool(t), sqlstore.WithClock(now))
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			now := func() time.Time { return clock }
			store := newStore(t, now)
			var listed []sessionstore.Record
			for i := range 70 {
				expiry := clock.Add(time.Hour)
				if i == 2 {
					expiry = clock.Add(time.Minute) // expires before the end
				}
				rec := sessionstore.Record{Key: "key-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Data: map[string]json.RawMessage{"k": json.RawMessage(`"v"`)},
					Expiry: expiry, Deadline: expiry, UserID: "ada"}
				if err := store.Save(ctx, rec); err != nil {
					t.Fatal(err)
				}
				rec.Version = 1
				listed = append(listed, rec)
			}
			changed := listed[0]
			changed.Data = map[string]json.RawMessage{"k": json.RawMessage(`"changed"`)}
			if err := store.Save(ctx, changed); err != nil {
				t.Fatal(err)
			}
			if err := store.Delete(ctx, listed[1].Key); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(2 * time.Minute)

			keys, err := engine.EndListed(ctx, store, listed)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, rec := range listed[3:] {
				want = append(want, rec.Key)
			}
			slices.Sort(keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Errorf("ended %d keys %q, want the %d unchanged live ones", len(keys), keys, len(want))
			}
			for _, rec := range listed[3:] {
				if _, err := store.Load(ctx, rec.Key); err != sessionstore.ErrNotFound {
					t.Errorf("Load of an ended record: %v, want sessionstore.ErrNotFound", err)
				}
				if err := store.Save(ctx, rec); err != sessionstore.ErrConflict {
					t.Errorf("Save at the ended record's listed version: %v, want sessionstore.ErrConflict", err)
				}
			}
			if got, err := store.Load(ctx, changed.Key); err != nil || string(got.Data["k"]) != `"changed"` {
				t.Errorf("the record changed since the listing: %+v, %v; want it kept", got, err)
			}
		})
	}
}
