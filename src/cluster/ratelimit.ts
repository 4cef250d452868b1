// Rate-limit buckets in Redis (spec/scaling.md "Rate limits"): one hash per bucket
// (`rl:<action>\0<key>`: level and time), read, drained and updated in one script, so a limit is per
// user (or address, or server) whatever process the requests reach. The bucket expires once it would
// have drained completely.
import type { RateLimit } from '../config.js';
import type { BucketMode, RateLimitBuckets } from '../core/ratelimit.js';
import type { Cluster } from './bus.js';

const USE = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local mode = ARGV[4]
local v = redis.call('HMGET', KEYS[1], 'l', 't')
local level = 0
if v[1] then level = math.max(0, tonumber(v[1]) - (now - tonumber(v[2])) / 1000 * rate) end
if mode ~= 'add' then
  local over = level + 1 - burst
  if over > 0 then
    if rate > 0 then return tostring(over / rate * 1000) end
    return '60000'
  end
  if mode == 'peek' then return '0' end
end
redis.call('HSET', KEYS[1], 'l', tostring(level + 1), 't', tostring(now))
local ttl = 86400000
if rate > 0 then ttl = math.ceil((level + 1) / rate * 1000) + 1000 end
redis.call('PEXPIRE', KEYS[1], ttl)
return '0'`;

export class RedisBuckets implements RateLimitBuckets {
  constructor(private readonly cluster: Cluster) {}

  async use(id: string, limit: RateLimit, now: number, mode: BucketMode): Promise<number> {
    const wait = await this.cluster.eval<string>(USE, [`${this.cluster.prefix}rl:${id}`], [now, limit.per_second, limit.burst, mode]);
    return Number(wait);
  }
}
