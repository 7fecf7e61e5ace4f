package redisstore

import (
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script with its source and SHA1 at hand, for the writes that
// WithReplicaAcks sends with a WAIT on a connection of their own (see Store.exec),
// which rueidis.Lua cannot take.
type script struct {
	lua       *rueidis.Lua
	src, sha1 string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{lua: rueidis.NewLuaScript(src), src: src, sha1: hex.EncodeToString(sum[:])}
}

// The record is a hash: v version, e expiry, dl deadline (Unix milliseconds), p
// persistent ("1" or "0"), u user, d data (a JSON object), c created and a last
// active (Unix milliseconds, from the store's clock), ua/ip/lua/lip the device.

// indexLua adds a member to a user's index (a sorted set scored by expiry), keeping
// the highest score a member ever had, drops the members whose score has passed, and
// lets the index expire with its latest member. Its score is an upper bound of the
// member's expiry (every write that extends a record raises it first), so dropping by
// score never drops a live record.
const indexLua = `
local function index(ukey, member, score, now, relative)
	redis.call('ZADD', ukey, 'GT', score, member)
	redis.call('ZREMRANGEBYSCORE', ukey, '-inf', now)
	local top = redis.call('ZRANGE', ukey, -1, -1, 'WITHSCORES')
	if top[2] then
		local last = tonumber(top[2])
		if relative then
			redis.call('PEXPIRE', ukey, math.max(last - now, 1))
		else
			redis.call('PEXPIREAT', ukey, last)
		end
	end
end
`

// indexScript is indexLua on its own, for a Cluster, where the index and the record
// live in different slots: KEYS[1] the index; ARGV member, score, now, relative.
var indexScript = newScript(indexLua + `
index(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1')
return 1
`)

// saveScript is the compare-and-swap of Save and Touch in one step. KEYS[1] is the
// record, KEYS[2] (optional, when it shares the record's node) the user's index.
// ARGV: 1 expected version, 2 now, 3 relative ("1": expire after expiry-now
// milliseconds, for a store with its own clock; else at expiry), 4 touch ("1": keep
// data and user), 5 expiry, 6 deadline, 7 persistent, 8 user, 9 data, 10-13 device,
// 14 member (the record's key in the index).
// It returns 1 when it wrote, 0 on a conflict, -1 when the key holds a value that
// is no record.
var saveScript = newScript(indexLua + `
local key = KEYS[1]
local now = tonumber(ARGV[2])
local relative = ARGV[3] == '1'
local kind = redis.call('TYPE', key)['ok']
local cur, created = 0, now
if kind == 'hash' then
	local f = redis.call('HMGET', key, 'v', 'e', 'c')
	local v, e = tonumber(f[1]), tonumber(f[2])
	if not v or not e then return -1 end
	if e > now then cur, created = v, (tonumber(f[3]) or now) end
elseif kind ~= 'none' then
	return -1
end
local touch = ARGV[4] == '1'
if cur ~= tonumber(ARGV[1]) or (touch and cur == 0) then return 0 end
local expiry = tonumber(ARGV[5])
if expiry <= now then
	-- The end of a session, or a record saved already over: nothing live stays.
	if kind ~= 'none' then redis.call('DEL', key) end
	if cur > 0 and KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[14]) end
	return 1
end
if cur == 0 and kind ~= 'none' then redis.call('DEL', key) end
redis.call('HSET', key, 'v', cur + 1, 'e', ARGV[5], 'dl', ARGV[6], 'p', ARGV[7],
	'c', created, 'a', now, 'ua', ARGV[10], 'ip', ARGV[11], 'lua', ARGV[12], 'lip', ARGV[13])
if not touch then redis.call('HSET', key, 'u', ARGV[8], 'd', ARGV[9]) end
if relative then
	redis.call('PEXPIRE', key, expiry - now)
else
	redis.call('PEXPIREAT', key, expiry)
end
if KEYS[2] then index(KEYS[2], ARGV[14], expiry, now, relative) end
return 1
`)
