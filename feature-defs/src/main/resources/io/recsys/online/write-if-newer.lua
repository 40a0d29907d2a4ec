-- Writes one feature view row of one entity into Feast's Redis layout, unless the stored row is newer.
-- KEYS[1]  the entity key (Feast entity key serialization v3 + project)
-- ARGV[1]  the view's timestamp field "_ts:<view>"     ARGV[2]  the serialized google.protobuf.Timestamp
-- ARGV[3]  its seconds   ARGV[4]  its nanos            ARGV[5]  key TTL in milliseconds (0: none)
-- ARGV[6..] feature field, serialized feast.types.Value, ...
-- Returns 1 if written, 0 if skipped because the stored _ts is later (an equal _ts is rewritten: a replayed
-- micro-batch writes the same bytes again). The key's TTL only ever grows, because one hash holds every view
-- of the entity and a short-lived view must not expire a long-lived one.
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

local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local s, n = timestamp(stored)
  local ns, nn = tonumber(ARGV[3]), tonumber(ARGV[4])
  if s > ns or (s == ns and n > nn) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 6))
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  local left = redis.call('PTTL', KEYS[1])
  if left < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return 1
