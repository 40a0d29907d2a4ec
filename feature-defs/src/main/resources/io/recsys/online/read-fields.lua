-- Reads the given fields of one entity hash: HMGET KEYS[1] ARGV... (Feast's layout has
-- binary keys, which Redisson's object API cannot name; a script takes them as they are).
return redis.call('HMGET', KEYS[1], unpack(ARGV))
