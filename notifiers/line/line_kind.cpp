// The `line` notifier kind (a Messaging API push per alert): its options and its factory, for
// notifiers/registry.cpp. Each default is LineOptions' own.
#include "notifiers/line/line.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const LineOptions kDefaults;

const OptionSpec kLineOptions[] = {
    {"channel_access_token", OptionType::kSecret, "", "the channel access token (Messaging API)", true},
    {"to", OptionType::kString, "", "a user (U…), group (C…) or room (R…) id", true},
    {"base_url", OptionType::kString, kDefaults.base_url, "the Messaging API server"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one message per interval with every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_line(const std::string& name, const OptionValues& v) {
  LineOptions o;
  o.name = name;
  o.channel_access_token = v.string("channel_access_token");
  o.to = v.string("to");
  o.base_url = v.string("base_url", o.base_url);
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_line_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<LineNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind line_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind line_notifier_kind{"line", "LINE Messaging API push per alert or per digest, plain text",
                                      kLineOptions, make_line};

}  // namespace lodestone
