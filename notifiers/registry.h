// The notifier registry: every kind of notifier a config may name (`[[notifier]] type = ...`), the
// options each declares, and how to build one. Adding a notifier is one folder, one line in
// registry.cpp and one build option. Immutable tables; any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lodestone/notifier.h"
#include "lodestone/result.h"
#include "watch/options.h"

namespace lodestone {

struct NotifierKind {
  const char* type;     // "webhook", "email", "file", "stdout"
  const char* summary;  // one line for help
  std::span<const OptionSpec> options;
  // Builds a notifier from values read_options() checked; fails, naming the option but never a
  // secret's value, when they cannot work together.
  Result<std::unique_ptr<Notifier>> (*make)(const std::string& name, const OptionValues& values);
};

// The kinds this build has, in the order help lists them.
std::span<const NotifierKind* const> notifier_kinds();
const NotifierKind* find_notifier_kind(std::string_view type);

}  // namespace lodestone
