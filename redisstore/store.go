// Package redisstore keeps echosess sessions in Redis or Valkey, on a single node or
// a Cluster, through a rueidis client that the application opens (addresses, TLS and
// auth are its business):
//
//	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
//	store := redisstore.New(client)
//
// A Save is a compare-and-swap on the record's version in one Lua script, and a
// record expires by Redis's own expiry. Loads are served from rueidis's client-side
// cache, which the server invalidates when any client changes the record; a Save
// through a Store is seen by that Store's next Load at once. A user's sessions are
// listed from a sorted set per user, never by scanning the keyspace.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/sessionstore"
)

// Store keeps sessions in Redis. It is a sessionstore.Store, sessionstore.Toucher,
// sessionstore.UserIndex, sessionstore.VersionLoader and sessionstore.CacheRefuser,
// safe for concurrent use.
type Store struct {
	client   rueidis.Client
	prefix   string
	now      func() time.Time
	clock    bool // now is the caller's: key lifetimes are set relative to it
	cacheTTL time.Duration
	cluster  bool
	writes   writeGuard
	// acks and ackWait are WithReplicaAcks's: acks replicas within ackWait
	// milliseconds; acks 0 waits for none.
	acks, ackWait int64
	ackTimeout    time.Duration
	// doCache is client.DoCache; a test replaces it to hold a cached reply back as
	// a late invalidation would.
	doCache func(context.Context, rueidis.Cacheable, time.Duration) rueidis.RedisResult
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of every key the store writes: records under
// prefix+"s:"+key, user indexes under prefix+"u:"+userID. Default "echosess:".
func WithPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithClock makes the store read the time from now instead of time.Now, for tests.
// Records are then given Redis lifetimes of their expiry minus now, rather than
// their expiry as an instant, so that they live as long as the clock says.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now, s.clock = now, true }
}

// WithCacheTTL bounds how long a record stays in the client-side cache without
// being read from Redis again; the record's remaining life bounds it too. Zero
// turns the cache off. Default one minute. rueidis drops a connection's cache when
// the connection ends; over a connection that stalls silently, it serves the cache
// until a PING goes unanswered for ClientOption.ConnWriteTimeout (default 10 s).
func WithCacheTTL(d time.Duration) Option { return func(s *Store) { s.cacheTTL = d } }

// WithReplicaAcks makes each write of the store (Save, Touch, Delete and, on a
// Cluster, the user index's update) succeed only once n replicas of the master that
// ran it have it, by Redis's WAIT. Redis replicates asynchronously: without the
// option, a write that a master acknowledged and then lost in a crash, before any
// replica had it, is gone once a replica takes over (a Save rolled back, a logout
// undone). With it, such a write fails with ErrNotReplicated instead. The cost is a
// wait for the replicas' confirmation on every write.
//
// The write and its WAIT go in one round trip on a connection of their own, from
// rueidis's pool for blocking commands, so that WAIT counts the replicas of that
// write; a redirect (MOVED or ASK, while a Cluster moves slots or before the client
// learns of a failover) fails the write rather than being followed. timeout, rounded
// up to a millisecond, bounds the wait, as the call's context does. Set n to at most
// the replicas each master has, or no write succeeds. n 0 turns the option off. It
// panics on a negative n, or a positive n with a timeout that is not positive, WAIT's
// own 0 meaning no bound.
func WithReplicaAcks(n int, timeout time.Duration) Option {
	if n < 0 || (n > 0 && timeout <= 0) {
		panic(fmt.Sprintf("redisstore: WithReplicaAcks(%d, %v): want n >= 0 and a positive timeout", n, timeout))
	}
	return func(s *Store) {
		s.acks, s.ackTimeout = int64(n), timeout
		s.ackWait = int64((timeout + time.Millisecond - 1) / time.Millisecond)
	}
}

// ErrNotReplicated is wrapped by the error of a write that the master ran but fewer
// replicas than WithReplicaAcks asks for confirmed within its timeout (or WAIT itself
// failed). The write is on the master and reaches its replicas in time, unless the
// master fails first, and then it may or may not survive the failover: treat it as
// neither done nor undone, as for a write whose reply was lost.
var ErrNotReplicated = errors.New("write not confirmed by enough replicas")

// New returns a Store on client. The client stays the caller's to close.
func New(client rueidis.Client, opts ...Option) *Store {
	s := &Store{client: client, prefix: "echosess:", now: time.Now, cacheTTL: time.Minute}
	for _, opt := range opts {
		opt(s)
	}
	s.cluster = client.Mode() == rueidis.ClientModeCluster
	s.doCache = client.DoCache
	s.writes.init(s.cacheTTL)
	return s
}

func (s *Store) recordKey(key string) string { return s.prefix + "s:" + key }
func (s *Store) userKey(user string) string  { return s.prefix + "u:" + user }

// Load returns the live record under key, or sessionstore.ErrNotFound. A value under
// the key that is no record gives an error wrapping sessionstore.ErrDecode.
func (s *Store) Load(ctx context.Context, key string) (sessionstore.Record, error) {
	return s.LoadVersion(ctx, key, 0)
}

// LoadVersion is Load of a record that the caller saw written at minVersion: a copy
// in the client-side cache that is older, because Redis's word of a later write has
// not reached this client yet, is read again from Redis. The middleware loads so with
// the version in the session's cookie, and a client reads its own writes on every
// instance.
func (s *Store) LoadVersion(ctx context.Context, key string, minVersion int64) (sessionstore.Record, error) {
	rec, err := s.load(ctx, key, minVersion)
	if err != nil {
		return sessionstore.Record{}, fmt.Errorf("redis: load session: %w", err)
	}
	return rec, nil
}

func (s *Store) load(ctx context.Context, key string, minVersion int64) (sessionstore.Record, error) {
	read := func() rueidis.RedisResult { // a command is spent once sent
		return s.client.Do(ctx, s.readRecord(key))
	}
	var res rueidis.RedisResult
	if s.cacheTTL > 0 {
		// A static TTL spares the PTTL that rueidis would otherwise send with
		// each miss, in a transaction, to cache no longer than the key lives:
		// Redis invalidates a key as it expires, and the record's expiry is
		// checked below anyway.
		// Without the transaction, reads also go on when Redis is over maxmemory,
		// where Redis 7.0 and 7.2 refuse every command of one (redis/redis#9926).
		res = s.doCache(ctx, s.client.B().Hmget().Key(s.recordKey(key)).Field(recordFields...).Cache().ToStaticTTL(), s.cacheTTL)
	} else {
		res = read()
	}
	rec, found, err := s.decode(key, res)
	if err != nil {
		return sessionstore.Record{}, err
	}
	if res.IsCacheHit() && (minVersion > 0 && (!found || rec.Version < minVersion) || s.writes.stale(key, rec.Version, found)) {
		// The record was written since it was cached (by this store, or by
		// another that the caller heard from), and the server's invalidation has
		// not arrived yet: read it from the server.
		rec, found, err = s.decode(key, read())
		if err != nil {
			return sessionstore.Record{}, err
		}
	}
	if !found || !rec.Expiry.After(s.now()) {
		return sessionstore.Record{}, sessionstore.ErrNotFound
	}
	return rec, nil
}

// recordFields are the fields of a record's hash that a load reads, by HMGET, whose
// reply is an array in this order (a map of HGETALL's would cost an allocation).
var recordFields = []string{"v", "e", "dl", "p", "u", "d", "c", "a", "ua", "ip", "lua", "lip"}

// readRecord is the command that reads the record under key.
func (s *Store) readRecord(key string) rueidis.Completed {
	return s.client.B().Hmget().Key(s.recordKey(key)).Field(recordFields...).Build()
}

// decode turns the reply of readRecord into a record; found is false when the
// key holds none of the record's fields (no key).
func (s *Store) decode(key string, res rueidis.RedisResult) (rec sessionstore.Record, found bool, err error) {
	vals, err := res.ToArray()
	if err != nil {
		if isRedisErr(err, "WRONGTYPE") {
			return rec, false, fmt.Errorf("%w: the value under %q is no session record: %v", sessionstore.ErrDecode, key, err)
		}
		return rec, false, err
	}
	if len(vals) != len(recordFields) {
		return rec, false, fmt.Errorf("%w: HMGET of the session record under %q answered %d fields", sessionstore.ErrDecode, key, len(vals))
	}
	f := make([]string, 0, 16)[:len(vals)] // on the stack
	for i := range vals {
		if !vals[i].IsNil() {
			f[i], _ = vals[i].ToString()
			found = true
		}
	}
	if !found {
		return rec, false, nil
	}
	rec, err = decodeRecord(key, f)
	return rec, err == nil, err
}

// decodeRecord makes the record under key of its fields f, in recordFields' order.
func decodeRecord(key string, f []string) (sessionstore.Record, error) {
	bad := func(field string) error {
		return fmt.Errorf("%w: the session record under %q has no valid %s", sessionstore.ErrDecode, key, field)
	}
	rec := sessionstore.Record{Key: key, UserID: f[4], Persistent: f[3] == "1"}
	var err error
	if rec.Version, err = strconv.ParseInt(f[0], 10, 64); err != nil || rec.Version < 1 {
		return rec, bad("version")
	}
	for _, t := range []struct {
		field int
		to    *time.Time
	}{{1, &rec.Expiry}, {2, &rec.Deadline}, {6, &rec.Created}, {7, &rec.LastActive}} {
		ms, err := strconv.ParseInt(f[t.field], 10, 64)
		if err != nil {
			return rec, bad("time " + recordFields[t.field])
		}
		*t.to = time.UnixMilli(ms)
	}
	if err := json.Unmarshal([]byte(f[5]), &rec.Data); err != nil {
		return rec, fmt.Errorf("%w: the data of the session record under %q: %v", sessionstore.ErrDecode, key, err)
	}
	if rec.Data == nil {
		rec.Data = map[string]json.RawMessage{}
	}
	rec.Device = sessionstore.Device{UserAgent: f[8], IP: f[9], LastUserAgent: f[10], LastIP: f[11]}
	return rec, nil
}

// Save writes rec with Version rec.Version+1 if the live record under rec.Key is at
// rec.Version (0: none), in one Lua script, and returns sessionstore.ErrConflict
// otherwise. A record that rec ends, being expired already, is deleted.
func (s *Store) Save(ctx context.Context, rec sessionstore.Record) error {
	if err := s.swap(ctx, rec, false); err != nil {
		return fmt.Errorf("redis: save session: %w", err)
	}
	return nil
}

// Touch writes rec's expiry, deadline, persistence and device with Version
// rec.Version+1 if the live record under rec.Key is at rec.Version, keeping the
// stored data and user, and returns sessionstore.ErrConflict otherwise.
func (s *Store) Touch(ctx context.Context, rec sessionstore.Record) error {
	if err := s.swap(ctx, rec, true); err != nil {
		return fmt.Errorf("redis: touch session: %w", err)
	}
	return nil
}

func (s *Store) swap(ctx context.Context, rec sessionstore.Record, touch bool) error {
	data := []byte("{}")
	if !touch && len(rec.Data) > 0 {
		var err error
		if data, err = json.Marshal(rec.Data); err != nil {
			return fmt.Errorf("encode data: %w", err)
		}
	}
	now := s.now()
	nowMS, expiryMS := strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(rec.Expiry.UnixMilli(), 10)
	relative := flag(s.clock)
	live := rec.Expiry.After(now)
	keys := []string{s.recordKey(rec.Key)}
	if rec.UserID != "" {
		if !s.cluster {
			keys = append(keys, s.userKey(rec.UserID))
		} else if live {
			// On a Cluster the index lives in another slot: it gets the record
			// before the record is written, so that a live record bound to the user
			// is always listed (see UserSessions).
			res, unreplicated := s.exec(ctx, indexScript, []string{s.userKey(rec.UserID)},
				[]string{rec.Key, expiryMS, nowMS, relative})
			if err := res.Error(); err != nil {
				return fmt.Errorf("index: %w", writeError(err, 0))
			}
			if unreplicated != nil {
				return fmt.Errorf("index: %w", unreplicated)
			}
		}
	}
	d := rec.Device
	res, unreplicated := s.exec(ctx, saveScript, keys, []string{
		strconv.FormatInt(rec.Version, 10), nowMS, relative, flag(touch), expiryMS,
		strconv.FormatInt(rec.Deadline.UnixMilli(), 10), flag(rec.Persistent), rec.UserID, string(data),
		d.UserAgent, d.IP, d.LastUserAgent, d.LastIP, rec.Key,
	})
	n, err := res.AsInt64()
	if err != nil {
		// The script may have run: forget what is cached of the record.
		s.writes.wrote(rec.Key, rec.Version+1)
		return writeError(err, len(data))
	}
	switch n {
	case 0:
		// The record is past rec.Version, or gone: a cached copy is stale.
		s.writes.wrote(rec.Key, rec.Version+1)
		return sessionstore.ErrConflict
	case -1:
		return fmt.Errorf("%w: the value under %q is no session record", sessionstore.ErrDecode, rec.Key)
	}
	s.writes.wrote(rec.Key, rec.Version+1)
	return unreplicated
}

// exec runs sc on keys and args, by its SHA1 or else its source. unreplicated is
// the error of WithReplicaAcks's WAIT (see write), nil without the option.
func (s *Store) exec(ctx context.Context, sc script, keys, args []string) (res rueidis.RedisResult, unreplicated error) {
	if s.acks == 0 {
		return sc.lua.Exec(ctx, s.client, keys, args), nil
	}
	b := s.client.B()
	res, unreplicated = s.write(ctx, b.Evalsha().Sha1(sc.sha1).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
		res, unreplicated = s.write(ctx, b.Eval().Script(sc.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	}
	return res, unreplicated
}

// write runs the write cmd. With WithReplicaAcks it runs cmd and then WAIT in one
// round trip on a connection of their own to the master of cmd's key, so that WAIT
// counts the replicas that have cmd, and unreplicated wraps ErrNotReplicated when
// fewer than asked confirmed it in time. A redirect of cmd is its error, never
// followed: cmd would run on one node and WAIT on another.
func (s *Store) write(ctx context.Context, cmd rueidis.Completed) (res rueidis.RedisResult, unreplicated error) {
	if s.acks == 0 {
		return s.client.Do(ctx, cmd), nil
	}
	conn, release := s.client.Dedicate()
	defer release()
	rs := conn.DoMulti(ctx, cmd, conn.B().Wait().Numreplicas(s.acks).Timeout(s.ackWait).Build())
	switch n, err := rs[1].AsInt64(); {
	case err != nil:
		unreplicated = fmt.Errorf("%w: WAIT: %v", ErrNotReplicated, err)
	case n < s.acks:
		unreplicated = fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, n, s.acks, s.ackTimeout)
	}
	return rs[0], unreplicated
}

// minArgLimit is the least that Redis's proto-max-bulk-len and
// client-query-buffer-limit (512 MB and 1 GB unless lowered) may be set to. A server
// that lowered them refuses an argument over them, and closes the connection, so
// that the client sees either Redis's error or the connection reset.
const minArgLimit = 1 << 20

// writeError explains the error of a write whose data is size bytes. Redis's OOM
// reply, at maxmemory under the noeviction policy, wraps sessionstore.ErrStoreFull;
// a script that gets it has written nothing. A write of data large enough to be
// over a lowered argument limit that fails on the connection, or on Redis's bulk
// length error, names those limits. The original error is kept.
func writeError(err error, size int) error {
	if isRedisErr(err, "OOM") {
		return fmt.Errorf("%w: %w", sessionstore.ErrStoreFull, err)
	}
	if re, ok := rueidis.IsRedisErr(err); size >= minArgLimit && (!ok || strings.Contains(re.Error(), "invalid bulk length")) {
		return fmt.Errorf("writing %d bytes of session data (a server whose proto-max-bulk-len or client-query-buffer-limit is lowered below that refuses them and closes the connection): %w", size, err)
	}
	return err
}

// isRedisErr reports whether err is an error reply of Redis with the given code, the
// reply's first word.
func isRedisErr(err error, code string) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && strings.HasPrefix(re.Error(), code+" ")
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Delete removes the record under key. Deleting a missing record is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	res, unreplicated := s.write(ctx, s.client.B().Del().Key(s.recordKey(key)).Build())
	if err := res.Error(); err != nil {
		return fmt.Errorf("redis: delete session: %w", err)
	}
	s.writes.wrote(key, endedVersion)
	if unreplicated != nil {
		return fmt.Errorf("redis: delete session: %w", unreplicated)
	}
	return nil
}

// DeleteExpired removes nothing and reports 0: Redis removes each record when it
// expires, and a user index drops its expired members whenever it is written or
// listed.
func (s *Store) DeleteExpired(context.Context) (int64, error) { return 0, nil }

// ExpiresRecords reports that Redis removes expired records by itself, so that
// storetest does not expect DeleteExpired to count them.
func (s *Store) ExpiresRecords() bool { return true }

// RefuseCache reports why the middleware takes no Config.Cache in front of the store:
// its loads already come from the client-side cache, which Redis keeps coherent
// across app instances, and a cache in front of it would not hear of other
// instances' writes. WithCacheTTL sets how long the client's cache keeps a record.
func (s *Store) RefuseCache() error {
	return errors.New("the Redis store caches records in the client, coherently across instances; a cache in front of it would serve other instances' stale writes (see redisstore.WithCacheTTL)")
}

var _ interface {
	sessionstore.Store
	sessionstore.Toucher
	sessionstore.UserIndex
	sessionstore.CacheRefuser
	sessionstore.VersionLoader
} = (*Store)(nil)
