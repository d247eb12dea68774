// The `feed` source kind (an RSS 2.0 or Atom feed): its options and its factory, for
// sources/registry.cpp. Each default is FeedOptions' own.
#include "sources/feed/feed.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

const FeedOptions kDefaults;

const OptionSpec kFeedOptions[] = {
    {"url", OptionType::kString, "", "the RSS 2.0 or Atom feed, http:// or https://", true},
    {"interval", OptionType::kDuration, duration_text(kDefaults.interval), "time between polls"},
    {"jitter", OptionType::kNumber, number_text(kDefaults.jitter), "each wait is interval × (1 ± jitter)"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per request, connecting included"},
    {"max_bytes", OptionType::kCount, integer_text(kDefaults.max_bytes), "a larger feed is refused"},
    {"max_backoff", OptionType::kDuration, duration_text(kDefaults.max_backoff),
     "after errors the wait doubles up to this"},
    {"user_agent", OptionType::kString, "lodestone/<version>", "User-Agent header"},
    {"headers", OptionType::kHeaders, "", "extra request headers"},
};

Result<std::unique_ptr<Source>> make_feed(const std::string& name, const OptionValues& v, const std::string&,
                                          Store* store) {
  FeedOptions o;
  o.name = name;
  o.url = v.string("url");
  o.interval = v.number("interval", o.interval);
  o.jitter = v.number("jitter", o.jitter);
  o.timeout = v.number("timeout", o.timeout);
  o.max_bytes = static_cast<size_t>(v.integer("max_bytes", static_cast<int64_t>(o.max_bytes)));
  o.max_backoff = v.number("max_backoff", o.max_backoff);
  o.user_agent = v.string("user_agent");
  o.headers = v.headers("headers");
  if (Result<void> valid = check_feed_options(o); !valid) return Failure{valid.error()};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<FeedSource>(std::move(o), *store));
}

}  // namespace

extern const SourceKind feed_source_kind;  // listed in sources/registry.cpp
const SourceKind feed_source_kind{"feed", "an RSS 2.0 or Atom feed polled over HTTP(S)", kFeedOptions, make_feed};

}  // namespace lodestone
