// Collector mode: posts XADDed to a Redis stream, each once, instead of matched.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>

#include "net/redis.h"
#include "sources/redis/claims.h"
#include "sources/registry.h"
#include "util/clock.h"

namespace lodestone {
namespace {

// The entry's `post` field: the post as a JSONL line holds it, id and source first, then its
// fields in order, then its numbers; the redis source reads it back with the same PostReader as a file.
std::string post_json(const Post& post) {
  nlohmann::ordered_json j;
  j["id"] = post.id;
  j["source"] = post.source;
  for (const PostField& f : post.fields()) j[f.name] = f.text;
  for (const PostNumber& n : post.numbers()) {
    if (auto whole = whole_number(n.value)) {
      j[n.name] = *whole;
    } else {
      j[n.name] = n.value;
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class RedisForwardSink final : public ForwardSink {
 public:
  RedisForwardSink(const ForwardOptions& options, RedisAddress address, Store& store, Metrics& metrics)
      : options_(options),
        shown_(address.shown + " " + options.stream),
        redis_(std::move(address), options.timeout),
        store_(store),
        metrics_(metrics),
        backoff_(0.5, 30) {}

  const std::string& shown() const override { return shown_; }

  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull) override {
    if (!accepting_) return std::nullopt;
    std::promise<BatchReceipt> done;
    done.set_value(forward(posts));
    posts.clear();
    return done.get_future();
  }

  void count_rejected(std::string_view source, size_t count) override {
    metrics_.add_posts(std::string(source), "rejected", count);
  }

  void drain() override { accepting_ = false; }

  SourceHealth health() const override {
    std::lock_guard lock(health_mutex_);
    return health_;
  }

  void collect_metrics(std::vector<MetricSample>& out) const override {
    const char* help = "Posts a collector XADDed to its stream (added), and XADDs that failed (failed).";
    out.push_back({"lodestone_forward_total", "counter", help, {{"stream", options_.stream}, {"outcome", "added"}},
                   static_cast<double>(added_.load())});
    out.push_back({"lodestone_forward_total", "counter", help, {{"stream", options_.stream}, {"outcome", "failed"}},
                   static_cast<double>(failed_.load())});
  }

 private:
  BatchReceipt forward(const std::vector<Post>& posts) {
    std::lock_guard lock(mutex_);
    BatchReceipt receipt;
    receipt.posts = posts.size();
    std::vector<PostKey> keys;
    for (const Post& p : posts) keys.push_back({p.source, p.id, content_hash(p)});
    std::vector<PostSeen> seen;
    try {
      seen = store_.seen_all(keys);
    } catch (const StoreError& e) {
      metrics_.add_store_error();
      receipt.error = e.what();
      return receipt;
    }
    std::vector<std::vector<std::string>> commands;
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_source;  // new, duplicate
    for (size_t i = 0; i < posts.size(); ++i) {
      if (seen[i] == PostSeen::kSame) {  // new and changed posts are forwarded, to be matched
        ++by_source[posts[i].source].second;
        continue;
      }
      ++by_source[posts[i].source].first;
      commands.push_back({"XADD", options_.stream, "MAXLEN", "~", std::to_string(options_.maxlen), "*", "post",
                          post_json(posts[i])});
    }
    if (!commands.empty()) {
      if (const std::string why = xadd(commands); !why.empty()) {
        failed_ += commands.size();
        receipt.error = why;
        return receipt;
      }
      added_ += commands.size();
    }
    try {
      // Seen once the stream holds them: a crash between the XADD and this commit forwards them
      // again (matchers skip what they committed), never loses them.
      const CommitResult result = store_.commit(keys, {}, system_now_ms());
      for (bool fresh : result.post_is_new) receipt.new_posts += fresh ? 1 : 0;
    } catch (const StoreError& e) {
      metrics_.add_store_error();
      spdlog::error("store: {} ({} posts forwarded but not marked seen: they may be forwarded again)", e.what(),
                    commands.size());
      receipt.error = e.what();
      return receipt;
    }
    receipt.committed = true;
    for (const auto& [source, counts] : by_source) {
      if (counts.first) metrics_.add_posts(source, "new", counts.first);
      if (counts.second) metrics_.add_posts(source, "duplicate", counts.second);
    }
    return receipt;
  }

  // The XADDs in one round trip; "" when every one was added, else why not.
  std::string xadd(const std::vector<std::vector<std::string>>& commands) {
    const int64_t now = steady_now_ms();
    if (outage_.is_down() && now < retry_at_ms_) return "forwarding is down: " + outage_.reason();
    std::string why;
    auto replies = redis_.pipeline(commands);
    if (!replies) {
      why = replies.error();
    } else {
      for (const RedisReply& r : *replies) {
        if (r.is_error()) {
          why = redis_.address().shown + ": XADD " + options_.stream + ": " + r.str;
          break;
        }
      }
    }
    if (why.empty()) {
      if (auto seconds = outage_.up(system_now_ms())) {
        spdlog::warn("forward: {} is back after {:.1f}s", shown_, *seconds);
      }
      backoff_.reset();
      set_health(true, "");
      return why;
    }
    redis_.close();
    if (outage_.down(system_now_ms(), why)) {
      spdlog::error("forward: {}; posts wait at their sources, retried with backoff (logged once until it is back)",
                    why);
    }
    retry_at_ms_ = now + static_cast<int64_t>(1000 * backoff_.next(std::uniform_real_distribution<double>(0, 1)(random_)));
    set_health(false, why);
    return why;
  }

  void set_health(bool up, const std::string& reason) {
    std::lock_guard lock(health_mutex_);
    health_ = {up, reason};
  }

  ForwardOptions options_;
  std::string shown_;
  std::mutex mutex_;  // one batch at a time over the one connection
  RedisConnection redis_;
  Store& store_;
  Metrics& metrics_;
  ReconnectBackoff backoff_;
  Outage outage_;
  int64_t retry_at_ms_ = 0;
  std::mt19937_64 random_{std::random_device{}()};
  std::atomic<bool> accepting_{true};
  std::atomic<uint64_t> added_{0}, failed_{0};
  mutable std::mutex health_mutex_;
  SourceHealth health_;
};

}  // namespace

Result<void> check_redis_forward_options(const ForwardOptions& options) {
  auto address = parse_redis_url(options.url);
  if (!address) return Failure{"forward: " + address.error()};
  if (options.stream.empty()) return Failure{"forward_stream must not be empty"};
  if (options.maxlen < 1) return Failure{"forward_maxlen must be at least 1"};
  return {};
}

Result<std::unique_ptr<ForwardSink>> make_redis_forward_sink(const ForwardOptions& options, Store& store,
                                                             Metrics& metrics) {
  if (Result<void> ok = check_redis_forward_options(options); !ok) return Failure{ok.error()};
  auto address = parse_redis_url(options.url);
  return std::unique_ptr<ForwardSink>(std::make_unique<RedisForwardSink>(options, std::move(*address), store, metrics));
}

}  // namespace lodestone
