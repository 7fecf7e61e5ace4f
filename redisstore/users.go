package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/sessionstore"
)

// UserSessions returns the live records bound to userID, with their data. It reads
// the user's index, a sorted set of record keys scored by an upper bound of their
// expiry, and then each listed record; what is listed but ended, expired or bound to
// another user since is left out, and drops from the index once its score passes.
// It costs the user's own sessions, never a scan of the keyspace.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Record, error) {
	if userID == "" {
		return nil, nil
	}
	now := s.now()
	members, err := s.client.Do(ctx, s.client.B().Zrange().Key(s.userKey(userID)).
		Min("("+strconv.FormatInt(now.UnixMilli(), 10)).Max("+inf").Byscore().Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: list user sessions: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]rueidis.Completed, len(members))
	for i, key := range members {
		cmds[i] = s.readRecord(key)
	}
	var recs []sessionstore.Record
	for i, res := range s.client.DoMulti(ctx, cmds...) {
		rec, found, err := s.decode(members[i], res)
		if errors.Is(err, sessionstore.ErrDecode) {
			continue // a value that is no record is bound to no user
		}
		if err != nil {
			return nil, fmt.Errorf("redis: list user sessions: %w", err)
		}
		if found && rec.UserID == userID && rec.Expiry.After(now) {
			recs = append(recs, rec)
		}
	}
	return recs, nil
}
