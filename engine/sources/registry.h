// The source registry: every kind of source a config may name (`[[source]] type = ...`), the
// options each declares, and how to build one. Immutable tables; any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/options.h"
#include "engine/store.h"
#include "lodestone/source.h"

namespace lodestone {

struct SourceKind {
  const char* type;     // "jsonl", "directory", "feed", "http"
  const char* summary;  // one line for help
  std::span<const OptionSpec> options;
  // Builds a source; nullptr and `error` (naming the option, never a secret) when the values
  // cannot work. `base` is the config file's folder, for relative paths. With no store it only
  // checks the values (`lodestone check -c`) and returns nullptr with `error` empty when fine.
  std::unique_ptr<Source> (*make)(const std::string& name, const OptionValues& values, const std::string& base,
                                  Store* store, std::string& error);
};

std::span<const SourceKind> source_kinds();
const SourceKind* find_source_kind(std::string_view type);

}  // namespace lodestone
