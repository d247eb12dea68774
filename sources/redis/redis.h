// The `redis` source: one consumer of a consumer group on a Redis Stream (docs/scale-out.md).
// Each entry holds one field `post`, the post's JSON as a JSONL line would hold it. The source
// reads its own pending entries first, then new ones; XACKs an entry only once its post (and
// alerts) are committed to the store; takes over entries another consumer left idle past
// claim_idle (XAUTOCLAIM); sends an entry delivered more than max_deliveries times, or one that
// is not a post, to a dead-letter stream with the reason; and skips a post another matcher has
// already committed (a shared key, SET NX PX, kept `retention`). run() on its own thread;
// stop(), health() and collect_metrics() from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "lodestone/source.h"

namespace lodestone {

struct RedisSourceOptions {
  std::string name;
  std::string url = "redis://127.0.0.1:6379/0";
  std::string password;                // overrides the URL's; a secret (password_file)
  std::string stream = "lodestone:posts";
  std::string group = "lodestone";     // created at the stream's start (MKSTREAM) when missing
  std::string consumer;                // empty: "<host name>-<pid>"
  size_t batch = 100;                  // entries per read
  double block = 1;                    // seconds a read waits for new entries
  double claim_idle = 30;              // entries pending this long with another consumer are taken over
  double claim_interval = 10;          // how often to look for them
  int64_t max_deliveries = 5;          // an entry delivered more often goes to the dead-letter stream
  std::string dead_letter;             // empty: "<stream>:dead"
  int64_t dead_letter_maxlen = 100000;  // MAXLEN ~ of the dead-letter stream
  double retention = 7 * 86400;        // seconds the shared seen-key of a post lives; 0: no shared dedup
  size_t max_text_bytes = 1 << 20;     // text per post beyond which it is cut
  double timeout = 5;                  // connect and reply timeout
  double reconnect_backoff = 0.5;      // first wait before reconnecting; doubles
  double max_reconnect_backoff = 30;   // longest wait
};

// Whether these options can work (the URL parses, counts are positive); why not, never showing
// the password.
Result<void> check_redis_source_options(const RedisSourceOptions& options);

class RedisSource : public Source {
 public:
  explicit RedisSource(RedisSourceOptions options);
  ~RedisSource() override;
  RedisSource(const RedisSource&) = delete;
  RedisSource& operator=(const RedisSource&) = delete;

  const std::string& name() const override;
  // Reads until stop(). A lost connection, a failed command or a failed commit is logged (once per
  // outage) and waited out; run() fails only when the options cannot work.
  Result<void> run(PostSink& sink) override;
  void stop() override;
  // Down, with the reason, while Redis cannot be reached or refuses the group's commands.
  SourceHealth health() const override;
  // lodestone_redis_entries_total{source,stream,outcome} (read, acked, claimed, dead_lettered,
  // shared_duplicate) and lodestone_redis_pending{source,stream,group}.
  void collect_metrics(std::vector<MetricSample>& out) const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lodestone
