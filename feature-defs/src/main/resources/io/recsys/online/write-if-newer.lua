-- Writes feature view rows of one entity into Feast's Redis layout, each unless the stored row of its view is
-- newer. One call carries one or more rows of the same key (the views of an entity that a micro-batch updated):
-- one script call instead of one per view. Rows are applied in order, each exactly as if it had its own call.
-- KEYS[1]  the entity key (Feast entity key serialization v3 + project)
-- ARGV, per row: the view's timestamp field "_ts:<view>", the serialized google.protobuf.Timestamp, its seconds,
--   its nanos, the view's key TTL in milliseconds (0: none), the number of features n, then n pairs of feature
--   field and serialized feast.types.Value.
-- Returns a bit mask of the rows written: bit i (from 0) set if row i was written, clear if it was skipped because
-- the stored _ts is later (an equal _ts is rewritten: a replayed micro-batch writes the same bytes again). The
-- key's TTL only ever grows, to the longest TTL of the rows written, because one hash holds every view of the
-- entity and a short-lived view must not expire a long-lived one.
local function timestamp(b)
  local seconds, nanos, i = 0, 0, 1
  while i <= #b do
    local tag = string.byte(b, i)
    i = i + 1
    local v, mul = 0, 1
    repeat
      local c = string.byte(b, i)
      i = i + 1
      v = v + (c % 128) * mul
      mul = mul * 128
    until c < 128
    if tag == 8 then seconds = v elseif tag == 16 then nanos = v end
  end
  return seconds, nanos
end

local key = KEYS[1]
local written, bit, ttl = 0, 1, 0
local i = 1
while i <= #ARGV do
  local field, n = ARGV[i], tonumber(ARGV[i + 5])
  local last = i + 5 + 2 * n
  local newer = true
  local stored = redis.call('HGET', key, field)
  if stored then
    local s, nano = timestamp(stored)
    local ns, nn = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    newer = not (s > ns or (s == ns and nano > nn))
  end
  if newer then
    redis.call('HSET', key, field, ARGV[i + 1], unpack(ARGV, i + 6, last))
    written = written + bit
    local t = tonumber(ARGV[i + 4])
    if t > ttl then
      ttl = t
    end
  end
  bit = bit * 2
  i = last + 1
end
if ttl > 0 then
  local left = redis.call('PTTL', key)
  if left < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return written
