// The `ntfy` notifier kind (a publish to an ntfy topic per alert): its options and its factory,
// for notifiers/registry.cpp. Each default is NtfyOptions' own.
#include "notifiers/ntfy/ntfy.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const NtfyOptions kDefaults;

const OptionSpec kNtfyOptions[] = {
    {"url", OptionType::kString, "", "the topic's URL: https://ntfy.sh/<topic>, or one's own server's", true},
    {"token", OptionType::kSecret, "", "an access token (Authorization: Bearer)"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one message per interval with every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_ntfy(const std::string& name, const OptionValues& v) {
  NtfyOptions o;
  o.name = name;
  o.url = v.string("url");
  o.token = v.string("token");
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_ntfy_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<NtfyNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind ntfy_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind ntfy_notifier_kind{
    "ntfy", "ntfy topic publish per alert or per digest: Markdown, title, priority, tags", kNtfyOptions, make_ntfy};

}  // namespace lodestone
