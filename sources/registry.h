// The source registry: every kind of source a config may name (`[[source]] type = ...`), the
// options each declares, and how to build one. Immutable tables; any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lodestone/source.h"
#include "watch/options.h"
#include "watch/store.h"

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

// The kinds this build has, in the order help lists them.
std::span<const SourceKind* const> source_kinds();
const SourceKind* find_source_kind(std::string_view type);

// For the kinds' factories: `path` relative to the config's folder `base` ("-" and absolute paths
// as they are), and an integer option that must be above 0 (else `error` says so and `fallback`).
std::string resolve_path(const std::string& base, const std::string& path);
size_t positive_option(const OptionValues& values, const char* key, size_t fallback, std::string& error);

}  // namespace lodestone
