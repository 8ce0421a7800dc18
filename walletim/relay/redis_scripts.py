"""The Lua scripts of the relay's Redis store (see :mod:`walletim.relay.redis_store` for the
key layout). Every store operation is one script, so each is atomic: a one-time prekey is
handed out once even when two nodes ask at the same instant, and a stranger's envelope is
admitted and stored in one step."""

# The stranger rules (ARGV[7] == '1'): without the registered delivery-token hash (ARGV[8])
# an envelope is stored only while the mailbox holds fewer than ARGV[9] strangers' envelopes
# and each bucket KEYS[8..] (rate, burst in ARGV[10..]) has a token; one of each is taken.
_ENQUEUE = """
local m, q, i, a, active, f, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local mid, env, t, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HEXISTS', m, 'ik') == 0 then return {'unknown', '0'} end
local old = redis.call('HGET', i, mid)
if old then return {'duplicate', old} end
if redis.call('ZSCORE', a, mid) then return {'duplicate', '0'} end
if redis.call('XLEN', q) >= max then return {'full', '0'} end
local stranger = false
if ARGV[7] == '1' and redis.call('HGET', m, 'dk') ~= ARGV[8] then
  stranger = true
  if redis.call('SCARD', x) >= tonumber(ARGV[9]) then return {'share_full', '0'} end
  local now = redis.call('TIME')
  local clock = tonumber(now[1]) + tonumber(now[2]) / 1000000
  local left = {}
  for k = 8, #KEYS do
    local rate, burst = tonumber(ARGV[2 * k - 6]), tonumber(ARGV[2 * k - 5])
    local row = redis.call('HMGET', KEYS[k], 'tokens', 'stamp')
    local tokens, stamp = tonumber(row[1] or burst), tonumber(row[2] or clock)
    tokens = math.min(burst, tokens + math.max(0, clock - stamp) * rate)
    if tokens < 1 then return {'limited', '0'} end
    left[k] = tokens - 1
  end
  for k = 8, #KEYS do
    local rate, burst = tonumber(ARGV[2 * k - 6]), tonumber(ARGV[2 * k - 5])
    redis.call('HSET', KEYS[k], 'tokens', tostring(left[k]), 'stamp', tostring(clock))
    local ttl = 86400000
    if rate > 0 then ttl = math.ceil(burst / rate * 1000) + 1000 end
    redis.call('PEXPIRE', KEYS[k], ttl)
  end
end
local last = redis.call('HMGET', m, 'ms', 'n')
local ms, n = tonumber(last[1] or '0'), tonumber(last[2] or '0')
if t > ms then ms, n = t, 0 else n = n + 1 end
if n >= 1048576 then ms, n = ms + 1, 0 end
local id = ms .. '-' .. n
redis.call('XADD', q, id, 'm', mid, 'e', env, 't', ARGV[3])
redis.call('HSET', m, 'ms', ms, 'n', n)
redis.call('HSET', i, mid, id)
redis.call('SADD', active, ARGV[5])
if stranger then redis.call('SADD', x, mid) end
local out = {'stored', id}
for _, node in ipairs(redis.call('SMEMBERS', f)) do
  if node ~= ARGV[6] then out[#out + 1] = node end
end
return out
"""

# One PUBLISH of many stored messages to one node; a node that hears nothing (dead) leaves
# the follower sets named in KEYS.
_NOTIFY = """
if redis.call('PUBLISH', ARGV[1], ARGV[2]) == 0 then
  for _, k in ipairs(KEYS) do redis.call('SREM', k, ARGV[3]) end
end
return 0
"""

_FOLLOW = """
if ARGV[2] == '1' then return redis.call('SADD', KEYS[1], ARGV[1]) end
return redis.call('SREM', KEYS[1], ARGV[1])
"""

_ACK = """
local q, i, a, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, n = ARGV[1], 0
for k = 2, #ARGV do
  local id = redis.call('HGET', i, ARGV[k])
  if id then
    n = n + redis.call('XDEL', q, id)
    redis.call('HDEL', i, ARGV[k])
    redis.call('SREM', x, ARGV[k])
    redis.call('ZADD', a, now, ARGV[k])
  end
end
return n
"""

# With a byte budget (ARGV[3] > 0) the rows stop at the first one past it (kept as the
# sign that there is more; take_page leaves it out), so a page never carries much more.
_PENDING = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local budget = tonumber(ARGV[3])
if budget <= 0 then return rows end
local out, used = {}, 0
for _, row in ipairs(rows) do
  local f, size = row[2], 0
  for k = 1, #f, 2 do
    if f[k] == 'e' then size = #f[k + 1] end
  end
  out[#out + 1] = row
  if #out > 1 and used + size > budget then break end
  used = used + size
end
return out
"""

# The last stream id handed out in the mailbox (kept in its hash: entries may be gone).
_HIGH_WATER = """
local last = redis.call('HMGET', KEYS[1], 'ms', 'n')
if not last[1] then return '0-0' end
return last[1] .. '-' .. last[2]
"""

_EXPIRE = """
local m, q, i, a, active, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local rows = redis.call('XRANGE', q, '-', '(' .. ARGV[1] .. '-0', 'COUNT', ARGV[3])
if #rows > 0 then
  redis.call('HINCRBY', KEYS[7], 'n', #rows)
  redis.call('HSET', KEYS[7], 'at', ARGV[5])
end
for _, row in ipairs(rows) do
  redis.call('XDEL', q, row[1])
  local f = row[2]
  for k = 1, #f, 2 do
    if f[k] == 'm' then
      redis.call('HDEL', i, f[k + 1])
      redis.call('SREM', x, f[k + 1])
    end
  end
end
redis.call('ZREMRANGEBYSCORE', a, '-inf', '(' .. ARGV[2])
if redis.call('XLEN', q) == 0 and redis.call('ZCARD', a) == 0 then
  redis.call('SREM', active, ARGV[4])
end
return #rows
"""

_TAKE_EXPIRED = """
local v = redis.call('HMGET', KEYS[1], 'n', 'at')
redis.call('DEL', KEYS[1])
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0}
"""

_PUT_BUNDLE = """
local b, o, used, m = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local dir, mailbox, ik, created = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local replace, cap = ARGV[7] == '1', tonumber(ARGV[8])
local cur = redis.call('HMGET', b, 'ik', 'created')
if cur[1] and cur[1] ~= ik and tonumber(cur[2]) > created then return -1 end
if replace or cur[1] ~= ik then redis.call('DEL', o) end
redis.call('HSETNX', m, 'ik', ik)
redis.call('HSET', m, 'dir', dir)
redis.call('HSET', b, 'mailbox', mailbox, 'ik', ik, 'created', ARGV[4], 'binding', ARGV[5],
  'spk', ARGV[6])
local listed = redis.call('LLEN', o)
for k = 11, #ARGV do
  if listed >= cap then break end
  local key = ARGV[k]
  if redis.call('SISMEMBER', used, key) == 0 and not redis.call('LPOS', o, key) then
    redis.call('RPUSH', o, key)
    listed = listed + 1
  end
end
redis.call('PUBLISH', ARGV[9], ARGV[10])
return listed
"""

_TAKE_BUNDLE = """
local b, o, used = KEYS[1], KEYS[2], KEYS[3]
local row = redis.call('HMGET', b, 'ik', 'binding', 'spk')
if not row[1] then return false end
if ARGV[1] == '1' then
  local opk = redis.call('LPOP', o)
  if opk then
    redis.call('SADD', used, opk)
    row[4] = opk
  end
end
return row
"""

_PREKEY_COUNT = """
local dir = redis.call('HGET', KEYS[1], 'dir')
if not dir then return 0 end
local b = ARGV[1] .. '{' .. dir .. '}:b'
if redis.call('HGET', b, 'mailbox') ~= ARGV[2] then return 0 end
return redis.call('LLEN', ARGV[1] .. '{' .. dir .. '}:o')
"""

_RATE_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local row = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(row[1] or burst), tonumber(row[2] or t)
tokens = math.min(burst, tokens + math.max(0, t - stamp) * rate)
local ok = 0
if tokens >= 1 then tokens, ok = tokens - 1, 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(t))
local ttl = 1000
if rate > 0 then ttl = math.ceil(burst / rate * 1000) + 1000 else ttl = 86400000 end
redis.call('PEXPIRE', KEYS[1], ttl)
return ok
"""

SCRIPTS = {
    "enqueue": _ENQUEUE,
    "ack": _ACK,
    "pending": _PENDING,
    "high_water": _HIGH_WATER,
    "expire": _EXPIRE,
    "take_expired": _TAKE_EXPIRED,
    "put_bundle": _PUT_BUNDLE,
    "take_bundle": _TAKE_BUNDLE,
    "prekey_count": _PREKEY_COUNT,
    "take_token": _RATE_BUCKET,
    "follow": _FOLLOW,
    "notify": _NOTIFY,
}
