// The `redis` notifier kind (XADD of each alert to a stream): its options and its factory, for
// notifiers/registry.cpp. Each default is RedisNotifierOptions' own.
#include "notifiers/redis/redis.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const RedisNotifierOptions kDefaults;

const OptionSpec kRedisOptions[] = {
    {"url", OptionType::kString, kDefaults.url, "redis://host:port/db or unix:///path/to/redis.sock"},
    {"password", OptionType::kSecret, "", "Redis AUTH password (or password_file); overrides the URL's"},
    {"stream", OptionType::kString, kDefaults.stream, "the stream each alert is added to"},
    {"maxlen", OptionType::kCount, integer_text(kDefaults.maxlen), "the stream is trimmed to about this many entries"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "connect and reply timeout"},
};

Result<std::unique_ptr<Notifier>> make_redis(const std::string& name, const OptionValues& v) {
  RedisNotifierOptions o;
  o.name = name;
  o.url = v.string("url", o.url);
  o.password = v.string("password");
  o.stream = v.string("stream", o.stream);
  o.maxlen = v.integer("maxlen", o.maxlen);
  o.timeout = v.number("timeout", o.timeout);
  return RedisNotifier::make(std::move(o));
}

}  // namespace

extern const NotifierKind redis_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind redis_notifier_kind{"redis", "XADD each alert's JSON to a Redis stream", kRedisOptions,
                                       make_redis};

}  // namespace lodestone
