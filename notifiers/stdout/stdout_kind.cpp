// The `stdout` notifier kind (standard output): its options and its factory, for notifiers/registry.cpp.
#include "notifiers/stdout/stdout.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

constexpr OptionSpec kStdoutOptions[] = {
    {"format", OptionType::kString, "json", "json (the alert's JSON line) | text (one readable line)"},
    {"color", OptionType::kString, "auto", "text format: auto | always | never"},
};

std::unique_ptr<Notifier> make_stdout(const std::string& name, const OptionValues& v, std::string& error) {
  StdoutNotifierOptions o{name, v.string("format", "json"), v.string("color", "auto")};
  if (o.format != "json" && o.format != "text") {
    error = "format must be json or text";
    return nullptr;
  }
  if (o.color != "auto" && o.color != "always" && o.color != "never") {
    error = "color must be auto, always or never";
    return nullptr;
  }
  return std::make_unique<StdoutNotifier>(std::move(o));
}

}  // namespace

extern const NotifierKind stdout_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind stdout_notifier_kind{"stdout", "print each alert on standard output", kStdoutOptions, make_stdout};

}  // namespace lodestone
