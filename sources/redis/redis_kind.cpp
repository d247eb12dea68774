// The `redis` source kind (one consumer of a group on a Redis Stream): its options and its
// factory, for sources/registry.cpp. Each default is RedisSourceOptions' own.
#include "sources/redis/redis.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

const RedisSourceOptions kDefaults;

const OptionSpec kRedisOptions[] = {
    {"url", OptionType::kString, kDefaults.url, "redis://host:port/db or unix:///path/to/redis.sock"},
    {"password", OptionType::kSecret, "", "Redis AUTH password (or password_file); overrides the URL's"},
    {"stream", OptionType::kString, kDefaults.stream, "the stream to read"},
    {"group", OptionType::kString, kDefaults.group, "the consumer group (created with MKSTREAM when missing)"},
    {"consumer", OptionType::kString, "", "this consumer's name in the group (default: host name-pid)"},
    {"batch", OptionType::kCount, integer_text(static_cast<int64_t>(kDefaults.batch)), "entries per read"},
    {"block", OptionType::kDuration, duration_text(kDefaults.block), "how long a read waits for new entries"},
    {"claim_idle", OptionType::kDuration, duration_text(kDefaults.claim_idle),
     "take over entries pending this long with another consumer"},
    {"claim_interval", OptionType::kDuration, duration_text(kDefaults.claim_interval),
     "how often to look for such entries"},
    {"max_deliveries", OptionType::kCount, integer_text(kDefaults.max_deliveries),
     "an entry delivered more often goes to the dead-letter stream"},
    {"dead_letter", OptionType::kString, "", "the dead-letter stream (default: <stream>:dead)"},
    {"retention", OptionType::kDuration, duration_text(kDefaults.retention),
     "how long the shared seen-key of a post lives (0: no shared dedup)"},
    {"max_text_bytes", OptionType::kCount, integer_text(static_cast<int64_t>(kDefaults.max_text_bytes)),
     "text per post beyond which it is cut"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "connect and reply timeout"},
};

Result<std::unique_ptr<Source>> make_redis(const std::string& name, const OptionValues& v, const std::string&,
                                           Store* store) {
  RedisSourceOptions o;
  o.name = name;
  o.url = v.string("url", o.url);
  o.password = v.string("password");
  o.stream = v.string("stream", o.stream);
  o.group = v.string("group", o.group);
  o.consumer = v.string("consumer");
  o.batch = static_cast<size_t>(v.integer("batch", static_cast<int64_t>(o.batch)));
  o.block = v.number("block", o.block);
  o.claim_idle = v.number("claim_idle", o.claim_idle);
  o.claim_interval = v.number("claim_interval", o.claim_interval);
  o.max_deliveries = v.integer("max_deliveries", o.max_deliveries);
  o.dead_letter = v.string("dead_letter");
  o.retention = v.number("retention", o.retention);
  o.max_text_bytes = static_cast<size_t>(v.integer("max_text_bytes", static_cast<int64_t>(o.max_text_bytes)));
  o.timeout = v.number("timeout", o.timeout);
  if (Result<void> valid = check_redis_source_options(o); !valid) return Failure{valid.error()};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<RedisSource>(std::move(o)));
}

}  // namespace

extern const SourceKind redis_source_kind;  // listed in sources/registry.cpp
const SourceKind redis_source_kind{"redis", "one consumer of a group on a Redis Stream (scale-out)", kRedisOptions,
                                   make_redis};

}  // namespace lodestone
