// The `ptt` source kind (PTT boards read through their web pages): its options and its factory,
// for sources/registry.cpp. Each default is PttOptions' own.
#include "sources/ptt/ptt.h"
#include "sources/registry.h"

#include <algorithm>

namespace lodestone {
namespace {

const PttOptions kDefaults;

const OptionSpec kPttOptions[] = {
    {"boards", OptionType::kStrings, "", "board names as PTT writes them (\"Stock\")", true},
    {"base_url", OptionType::kString, kDefaults.base_url, "the site, http:// or https://, without a path"},
    {"interval", OptionType::kDuration, duration_text(kDefaults.interval), "time between polls"},
    {"pages", OptionType::kCount, integer_text(kDefaults.pages),
     "index pages read per board and poll (the newest, then older ones)"},
    {"request_interval", OptionType::kDuration, duration_text(kDefaults.request_interval),
     "pause between two requests of this source"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per request, connecting included"},
    {"max_backoff", OptionType::kDuration, duration_text(kDefaults.max_backoff),
     "after errors the wait doubles up to this; caps Retry-After"},
    {"user_agent", OptionType::kString, "lodestone/<version>", "User-Agent header"},
    {"fetch_articles", OptionType::kBool, bool_text(kDefaults.fetch_articles),
     "read each new article's page; false: posts from the index alone"},
};

Result<std::unique_ptr<Source>> make_ptt(const std::string& name, const OptionValues& v, const std::string&,
                                         Store* store) {
  PttOptions o;
  o.name = name;
  o.boards = v.strings("boards");
  o.base_url = v.string("base_url", o.base_url);
  o.interval = v.number("interval", o.interval);
  o.pages = static_cast<int>(std::min<int64_t>(v.integer("pages", o.pages), 1000));
  o.request_interval = v.number("request_interval", o.request_interval);
  o.timeout = v.number("timeout", o.timeout);
  o.max_backoff = v.number("max_backoff", o.max_backoff);
  o.user_agent = v.string("user_agent");
  o.fetch_articles = v.boolean("fetch_articles", o.fetch_articles);
  if (Result<void> valid = check_ptt_options(o); !valid) return Failure{valid.error()};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<PttSource>(std::move(o), *store));
}

}  // namespace

extern const SourceKind ptt_source_kind;  // listed in sources/registry.cpp
const SourceKind ptt_source_kind{"ptt", "PTT boards read through their web pages (ptt.cc)", kPttOptions, make_ptt};

}  // namespace lodestone
