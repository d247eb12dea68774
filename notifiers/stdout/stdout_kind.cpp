// The `stdout` notifier kind (standard output): its options and its factory, for
// notifiers/registry.cpp. Each default is StdoutNotifierOptions' own.
#include "notifiers/registry.h"
#include "notifiers/stdout/stdout.h"

namespace lodestone {
namespace {

const StdoutNotifierOptions kDefaults;

const OptionSpec kStdoutOptions[] = {
    {"format", OptionType::kString, kDefaults.format, "json (the alert's JSON line) | text (one readable line)"},
    {"color", OptionType::kString, kDefaults.color, "text format: auto | always | never"},
};

Result<std::unique_ptr<Notifier>> make_stdout(const std::string& name, const OptionValues& v) {
  StdoutNotifierOptions o{name, v.string("format", kDefaults.format), v.string("color", kDefaults.color)};
  if (o.format != "json" && o.format != "text") return Failure{"format must be json or text"};
  if (o.color != "auto" && o.color != "always" && o.color != "never") {
    return Failure{"color must be auto, always or never"};
  }
  return std::unique_ptr<Notifier>(std::make_unique<StdoutNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind stdout_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind stdout_notifier_kind{"stdout", "print each alert on standard output", kStdoutOptions, make_stdout};

}  // namespace lodestone
