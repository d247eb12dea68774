// Source: where posts come from (a followed JSONL file, a folder, a feed, an HTTP push), and the
// PostSink they hand posts to. A source runs on a thread of its own; stop() may come from any thread.
#pragma once

#include <cstddef>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lodestone/post.h"
#include "lodestone/result.h"

namespace lodestone {

// What became of one batch handed to a PostSink.
struct BatchReceipt {
  // True once every post of the batch is in the store: its key marked seen, its alerts stored with
  // their deliveries. Only then may a source acknowledge the batch (save a file offset, mark a
  // file done, answer 202).
  bool committed = false;
  std::string error;     // why not, when not committed (the store failed, the watcher is stopping)
  size_t posts = 0;      // posts in the batch
  size_t new_posts = 0;  // posts whose key the store had not seen
  size_t alerts = 0;     // alerts newly stored
};

// The pipeline's entrance (watch/pipeline.h). Thread-safe: every source calls it from its own thread.
class PostSink {
 public:
  enum class WhenFull {
    kWait,    // block until the queue has room (files, feeds: reading can wait)
    kRefuse,  // return nullopt at once (the HTTP source answers 503 with Retry-After)
  };
  virtual ~PostSink() = default;

  // Queues `posts` (each with its id and source set) for matching and storing. The future is ready
  // when the batch is committed or has failed. Returns nullopt, and `posts` is left as it was,
  // when the queue is full and `when` is kRefuse, or when the pipeline is stopping.
  virtual std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull when) = 0;

  // A post the source could not read (a bad JSON line, an unreadable file), for /metrics.
  // The source logs the reason with its place (file:line, the feed URL) itself.
  virtual void count_rejected(std::string_view source, size_t count) = 0;
};

// Whether a running source can do its work now. A source that cannot (its Redis connection is
// lost) says so with the reason, naming its place (the URL) but never a secret: the watcher shows
// it down on /healthz, /readyz and in lodestone_source_up until it is up again.
struct SourceHealth {
  bool up = true;
  std::string reason;  // why not, when down
};

// One series a source adds to /metrics: a counter or gauge `family` with its labels. Series of
// one family share its help and type, given the same by every sample of it.
struct MetricSample {
  std::string family;  // lodestone_redis_entries_total
  const char* type;    // "counter" or "gauge"
  const char* help;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

class Source {
 public:
  virtual ~Source() = default;
  // The name the config gives it (`[[source]] name`); posts it reads carry it as `source` unless
  // they name their own.
  virtual const std::string& name() const = 0;
  // Reads posts into `sink` until stop(), then succeeds. Errors with one file, one line or one poll
  // are logged and the source goes on; run() fails early, with the reason, only when the source
  // cannot work at all.
  virtual Result<void> run(PostSink& sink) = 0;
  // Asks run() to return soon: a batch already submitted is still waited for and acknowledged.
  virtual void stop() = 0;

  // From any thread, while run() runs. Sources that need no more than run()'s end say nothing.
  virtual SourceHealth health() const { return {}; }
  // Appends this source's own series (from any thread, on each /metrics scrape).
  virtual void collect_metrics(std::vector<MetricSample>& out) const { (void)out; }
};

}  // namespace lodestone
