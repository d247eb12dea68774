// The `feed` source kind (an RSS 2.0 or Atom feed): its options and its factory, for sources/registry.cpp.
#include "sources/feed/feed.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

constexpr OptionSpec kFeedOptions[] = {
    {"url", OptionType::kString, "", "the RSS 2.0 or Atom feed, http:// or https://", true},
    {"interval", OptionType::kDuration, "5m", "time between polls"},
    {"jitter", OptionType::kNumber, "0.1", "each wait is interval × (1 ± jitter)"},
    {"timeout", OptionType::kDuration, "30s", "per request, connecting included"},
    {"max_bytes", OptionType::kInteger, "10485760", "a larger feed is refused"},
    {"max_backoff", OptionType::kDuration, "1h", "after errors the wait doubles up to this"},
    {"user_agent", OptionType::kString, "lodestone/<version>", "User-Agent header"},
    {"headers", OptionType::kHeaders, "", "extra request headers"},
};

std::unique_ptr<Source> make_feed(const std::string& name, const OptionValues& v, const std::string&, Store* store,
                                  std::string& error) {
  FeedOptions o;
  o.name = name;
  o.url = v.string("url");
  o.interval = v.number("interval", o.interval);
  o.jitter = v.number("jitter", o.jitter);
  o.timeout = v.number("timeout", o.timeout);
  o.max_bytes = positive_option(v, "max_bytes", o.max_bytes, error);
  o.max_backoff = v.number("max_backoff", o.max_backoff);
  o.user_agent = v.string("user_agent");
  o.headers = v.headers("headers");
  if (error.empty()) error = check_feed_options(o);
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<FeedSource>(std::move(o), *store);
}

}  // namespace

extern const SourceKind feed_source_kind;  // listed in sources/registry.cpp
const SourceKind feed_source_kind{"feed", "an RSS 2.0 or Atom feed polled over HTTP(S)", kFeedOptions, make_feed};

}  // namespace lodestone
