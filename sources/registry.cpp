// The source registry: the list of kinds, one line each, and the helpers their factories share.
#include "sources/registry.h"

#include <filesystem>

#include "util/build_switch.h"

namespace lodestone {

// Every kind, one line each: its build switch (CMake's LODESTONE_SOURCE_<KIND>, defined 1 or 0
// for this file) and the SourceKind its folder's <kind>_kind.cpp defines. A kind switched off is
// neither compiled nor listed.
#define LODESTONE_SOURCE_KINDS(X)                      \
  X(LODESTONE_SOURCE_JSONL, jsonl_source_kind)         \
  X(LODESTONE_SOURCE_DIRECTORY, directory_source_kind) \
  X(LODESTONE_SOURCE_FEED, feed_source_kind)           \
  X(LODESTONE_SOURCE_HTTP, http_source_kind)           \
  X(LODESTONE_SOURCE_PTT, ptt_source_kind)             \
  X(LODESTONE_SOURCE_REDIS, redis_source_kind)

#define LODESTONE_DECLARE_KIND(flag, kind) extern const SourceKind kind;
LODESTONE_SOURCE_KINDS(LODESTONE_DECLARE_KIND)

namespace {
#define LODESTONE_LIST_KIND(flag, kind) LODESTONE_LIST_IF_BUILT(flag, &kind)
const SourceKind* const kKinds[] = {LODESTONE_SOURCE_KINDS(LODESTONE_LIST_KIND)};
}  // namespace

std::span<const SourceKind* const> source_kinds() { return kKinds; }

const SourceKind* find_source_kind(std::string_view type) { return find_kind(source_kinds(), type); }

#if LODESTONE_SOURCE_REDIS
// sources/redis/forward.cpp
Result<std::unique_ptr<ForwardSink>> make_redis_forward_sink(const ForwardOptions& options, Store& store,
                                                             Metrics& metrics);
Result<void> check_redis_forward_options(const ForwardOptions& options);
#endif

Result<void> check_forward_options(const ForwardOptions& options) {
#if LODESTONE_SOURCE_REDIS
  return check_redis_forward_options(options);
#else
  (void)options;
  return Failure{"this build has no Redis support (built with LODESTONE_SOURCE_REDIS=OFF), so it cannot forward"};
#endif
}

Result<std::unique_ptr<ForwardSink>> make_forward_sink(const ForwardOptions& options, Store& store, Metrics& metrics) {
#if LODESTONE_SOURCE_REDIS
  return make_redis_forward_sink(options, store, metrics);
#else
  (void)options;
  (void)store;
  (void)metrics;
  return Failure{"this build has no Redis support (built with LODESTONE_SOURCE_REDIS=OFF), so it cannot forward"};
#endif
}

std::string resolve_path(const std::string& base, const std::string& path) {
  if (path == "-" || path.empty()) return path;
  const std::filesystem::path p(path);
  return (p.is_absolute() || base.empty() ? p : std::filesystem::path(base) / p).string();
}

}  // namespace lodestone
