// The source registry: every kind of source a config may name (`[[source]] type = ...`), the
// options each declares, and how to build one. Immutable tables; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lodestone/result.h"
#include "lodestone/source.h"
#include "watch/metrics.h"
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

// Collector mode (`[lodestone] forward`, docs/scale-out.md): a PostSink that XADDs each new post
// to a Redis stream instead of matching it, and marks it seen in the store once the XADD returned,
// so a re-polled feed or a restart forwards nothing twice. submit() does the work on the caller's
// thread and returns a ready future; while Redis is down it fails at once (not committed) between
// reconnect attempts. Thread-safe.
struct ForwardOptions {
  std::string url;                        // redis://host:port/db or unix:///path
  std::string stream = "lodestone:posts";
  int64_t maxlen = 1000000;               // XADD MAXLEN ~
  double timeout = 5;                     // connect and reply timeout
};
class ForwardSink : public PostSink {
 public:
  // Refuses every later batch.
  virtual void drain() = 0;
  // Down, with the reason, while the stream cannot be written.
  virtual SourceHealth health() const = 0;
  // lodestone_forward_total{stream,outcome} (added, failed).
  virtual void collect_metrics(std::vector<MetricSample>& out) const = 0;
  virtual const std::string& shown() const = 0;  // "redis://127.0.0.1:6379/0 lodestone:posts"
};
// Fails when this build has no redis kind (LODESTONE_SOURCE_REDIS off) or the URL is bad.
Result<std::unique_ptr<ForwardSink>> make_forward_sink(const ForwardOptions& options, Store& store, Metrics& metrics);
// The same checks without making one (lodestone check -c), naming the problem, never a password.
Result<void> check_forward_options(const ForwardOptions& options);

// The kinds this build has, in the order help lists them.
std::span<const SourceKind* const> source_kinds();
const SourceKind* find_source_kind(std::string_view type);

// For the kinds' factories: `path` relative to the config's folder `base` ("-" and absolute paths
// as they are).
std::string resolve_path(const std::string& base, const std::string& path);

}  // namespace lodestone
