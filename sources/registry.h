// The source registry: every kind of source a config may name (`[[source]] type = ...`), the
// options each declares, and how to build one. Immutable tables; any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lodestone/result.h"
#include "lodestone/source.h"
#include "watch/options.h"
#include "watch/store.h"

namespace lodestone {

struct SourceKind {
  const char* type;     // "jsonl", "directory", "feed", "http"
  const char* summary;  // one line for help
  std::span<const OptionSpec> options;
  // Builds a source; fails, naming the option but never a secret, when the values cannot work.
  // `base` is the config file's folder, for relative paths. With no store it only checks the
  // values (`lodestone check -c`) and gives a null source when they are fine.
  Result<std::unique_ptr<Source>> (*make)(const std::string& name, const OptionValues& values,
                                          const std::string& base, Store* store);
};

// The kinds this build has, in the order help lists them.
std::span<const SourceKind* const> source_kinds();
const SourceKind* find_source_kind(std::string_view type);

// For the kinds' factories: `path` relative to the config's folder `base` ("-" and absolute paths
// as they are).
std::string resolve_path(const std::string& base, const std::string& path);

}  // namespace lodestone
