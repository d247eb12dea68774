// The redis source: XREADGROUP, XACK after the commit, XAUTOCLAIM, the dead-letter stream, the
// shared seen-keys, and reconnecting with backoff.
#include "sources/redis/redis.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <utility>

#include "engine/post_reader.h"
#include "net/redis.h"
#include "sources/redis/claims.h"
#include "util/clock.h"
#include "util/sha256.h"

namespace lodestone {
namespace {

std::string default_consumer() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "lodestone");
  return std::string(host) + "-" + std::to_string(::getpid());
}

// One stream entry: its id and its field/value pairs; `gone` when the stream no longer holds it
// (trimmed or deleted while pending).
struct Entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  bool gone = false;
};

// The entries of one reply element: [[id, [f, v, f, v...]], ...].
std::vector<Entry> entries_of(const RedisReply& list) {
  std::vector<Entry> out;
  for (const RedisReply& e : list.elements) {
    if (e.elements.size() < 2) continue;
    Entry entry;
    entry.id = e.elements[0].text();
    const RedisReply& fields = e.elements[1];
    if (fields.is_nil()) {
      entry.gone = true;
    } else {
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
        entry.fields.emplace_back(fields.elements[i].text(), fields.elements[i + 1].text());
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// The entries of an XREADGROUP reply over one stream: [[stream, entries]], or nil on a timeout.
std::vector<Entry> stream_entries(const RedisReply& r) {
  if (r.elements.empty() || r.elements[0].elements.size() < 2) return {};
  return entries_of(r.elements[0].elements[1]);
}

const std::string* field_of(const Entry& e, std::string_view name) {
  for (const auto& [f, v] : e.fields) {
    if (f == name) return &v;
  }
  return nullptr;
}

// Raised inside a round when Redis fails: the round ends, the connection is reopened.
struct Lost {
  std::string reason;
};

}  // namespace

Result<void> check_redis_source_options(const RedisSourceOptions& o) {
  auto address = parse_redis_url(o.url);
  if (!address) return Failure{"url: " + address.error()};
  if (o.stream.empty()) return Failure{"stream must not be empty"};
  if (o.group.empty()) return Failure{"group must not be empty"};
  if (o.max_deliveries < 1) return Failure{"max_deliveries must be at least 1"};
  if (!(o.claim_idle > 0)) return Failure{"claim_idle must be above 0"};
  if (!(o.claim_interval > 0)) return Failure{"claim_interval must be above 0"};
  if (!(o.block > 0)) return Failure{"block must be above 0"};
  if (o.retention < 0) return Failure{"retention must not be negative"};
  if (!o.dead_letter.empty() && o.dead_letter == o.stream) return Failure{"dead_letter must not be the stream itself"};
  return {};
}

struct RedisSource::State {
  RedisSourceOptions options;
  std::string dead_letter;
  std::atomic<bool> stopping{false};
  std::mutex sleep_mutex;
  std::condition_variable wake;

  mutable std::mutex health_mutex;
  SourceHealth health;

  std::atomic<uint64_t> read{0}, acked{0}, claimed{0}, dead_lettered{0}, shared_duplicate{0};
  std::atomic<int64_t> pending{-1};  // the group's pending count at the last janitor round; -1 unknown

  // Only on run()'s thread:
  std::unique_ptr<RedisConnection> redis;
  PostReader reader;
  std::map<std::string, std::string> last_error;  // entry id → why its last commit failed
  std::mt19937_64 random{std::random_device{}()};

  explicit State(RedisSourceOptions o)
      : options(std::move(o)),
        dead_letter(options.dead_letter.empty() ? options.stream + ":dead" : options.dead_letter),
        reader(options.max_text_bytes) {
    if (options.consumer.empty()) options.consumer = default_consumer();
  }

  const std::string& name() const { return options.name; }

  // Sleeps up to `seconds`, or until stop().
  void sleep(double seconds) {
    std::unique_lock lock(sleep_mutex);
    wake.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stopping.load(); });
  }

  void set_health(bool up, const std::string& reason) {
    std::lock_guard lock(health_mutex);
    health = {up, reason};
  }

  RedisReply call(const std::vector<std::string>& args, double wait = 0) {
    auto reply = redis->command(args, wait);
    if (!reply) throw Lost{reply.error()};
    return std::move(*reply);
  }
  std::vector<RedisReply> call_all(const std::vector<std::vector<std::string>>& commands) {
    if (commands.empty()) return {};
    auto replies = redis->pipeline(commands);
    if (!replies) throw Lost{replies.error()};
    return std::move(*replies);
  }
  // A reply that is an error fails the round like a lost connection: the same command would fail
  // again at once (a wrong type, a missing group); the source waits and starts over.
  void check(const RedisReply& reply, const char* doing) {
    if (reply.is_error()) throw Lost{redis->address().shown + ": " + doing + ": " + reply.str};
  }

  // The group, created at the stream's start when missing (MKSTREAM makes the stream too).
  void ensure_group() {
    const RedisReply r = call({"XGROUP", "CREATE", options.stream, options.group, "0", "MKSTREAM"});
    if (r.is_error() && !r.str.starts_with("BUSYGROUP")) check(r, "XGROUP CREATE");
    if (!r.is_error()) {
      spdlog::info("source '{}': created consumer group {} on {} {}", name(), options.group, redis->address().shown,
                   options.stream);
    }
  }

  std::string seen_key(const Post& post) const {
    const Digest d = Sha256().add(post.source).add(std::string_view("\n", 1)).add(post.id).finish();
    return options.stream + ":seen:" + to_hex(as_chars(d)).substr(0, 32);
  }

  // XADD of the entry to the dead-letter stream with why, then XACK: a dead entry is not lost,
  // and not retried.
  void dead_letter_entries(const std::vector<std::pair<const Entry*, std::string>>& dead) {
    if (dead.empty()) return;
    std::vector<std::vector<std::string>> commands;
    for (const auto& [entry, reason] : dead) {
      std::vector<std::string> xadd = {"XADD", dead_letter, "MAXLEN", "~", std::to_string(options.dead_letter_maxlen),
                                       "*", "reason", reason, "entry", entry->id, "stream", options.stream,
                                       "group", options.group, "consumer", options.consumer};
      for (const auto& [f, v] : entry->fields) {
        xadd.push_back(f);
        xadd.push_back(v);
      }
      commands.push_back(std::move(xadd));
      spdlog::warn("source '{}': entry {} of {} dead-lettered to {}: {}", name(), entry->id, options.stream,
                   dead_letter, reason);
    }
    const auto replies = call_all(commands);
    std::vector<std::string> ack = {"XACK", options.stream, options.group};
    for (size_t i = 0; i < dead.size(); ++i) {
      check(replies[i], "XADD to the dead-letter stream");
      ack.push_back(dead[i].first->id);
      last_error.erase(dead[i].first->id);
    }
    check(call(ack), "XACK");
    dead_lettered += dead.size();
  }

  // Delivery counts of this consumer's pending entries from `first` to `last` (XPENDING's
  // extended form).
  std::map<std::string, int64_t> delivery_counts(const std::string& first, const std::string& last, size_t count) {
    const RedisReply r = call({"XPENDING", options.stream, options.group, first, last, std::to_string(count),
                               options.consumer});
    check(r, "XPENDING");
    std::map<std::string, int64_t> out;
    for (const RedisReply& p : r.elements) {
      if (p.elements.size() >= 4) out[p.elements[0].text()] = p.elements[3].integer;
    }
    return out;
  }

  // Matches and acknowledges `entries`. `fresh`: read with '>', delivered once; otherwise (own
  // pending at start, or claimed) their delivery counts decide whether they are tried again.
  void handle(std::vector<Entry>& entries, bool fresh, PostSink& sink) {
    if (entries.empty()) return;
    read += entries.size();
    std::map<std::string, int64_t> counts;
    if (!fresh) counts = delivery_counts(entries.front().id, entries.back().id, entries.size() * 2 + 10);

    std::vector<std::pair<const Entry*, std::string>> dead;
    std::vector<std::string> gone;  // pending entries the stream no longer holds: nothing to match
    std::vector<Post> posts;
    std::vector<const Entry*> of_post;
    for (const Entry& e : entries) {
      if (e.gone) {
        gone.push_back(e.id);
        continue;
      }
      const auto count = counts.find(e.id);
      const int64_t deliveries = count == counts.end() ? 1 : count->second;
      if (!fresh && verdict(deliveries, options.max_deliveries) == EntryVerdict::kDeadLetter) {
        const auto why = last_error.find(e.id);
        dead.emplace_back(&e, "delivered " + std::to_string(deliveries) + " times (max_deliveries = " +
                                  std::to_string(options.max_deliveries) + ") without being committed" +
                                  (why == last_error.end() ? "" : "; last error: " + why->second));
        continue;
      }
      const std::string* json = field_of(e, "post");
      if (!json) {
        dead.emplace_back(&e, "the entry has no 'post' field (it must hold the post's JSON)");
        sink.count_rejected(name(), 1);
        continue;
      }
      Post post;
      std::string error;
      const LineOutcome outcome = reader.parse_line(*json, name(), post, error);
      if (outcome != LineOutcome::kPost) {
        const char* what = outcome == LineOutcome::kNotObject ? "its 'post' field is JSON but not an object"
                           : outcome == LineOutcome::kNoText  ? "its post has no text to match"
                           : outcome == LineOutcome::kBlank   ? "its 'post' field is empty"
                                                              : "its 'post' field is not JSON";
        dead.emplace_back(&e, std::string(what) + (error.empty() ? "" : ": " + error));
        sink.count_rejected(name(), 1);
        continue;
      }
      posts.push_back(std::move(post));
      of_post.push_back(&e);
    }
    dead_letter_entries(dead);
    if (!gone.empty()) {
      std::vector<std::string> ack = {"XACK", options.stream, options.group};
      ack.insert(ack.end(), gone.begin(), gone.end());
      check(call(ack), "XACK");
    }

    // A post another matcher committed is acknowledged without matching it again.
    std::vector<std::string> keys;
    if (options.retention > 0 && !posts.empty()) {
      std::vector<std::vector<std::string>> exists;
      for (const Post& p : posts) {
        keys.push_back(seen_key(p));
        exists.push_back({"EXISTS", keys.back()});
      }
      const auto replies = call_all(exists);
      std::vector<Post> kept;
      std::vector<const Entry*> kept_of;
      std::vector<std::string> kept_keys, skip;
      for (size_t i = 0; i < posts.size(); ++i) {
        if (replies[i].integer > 0) {
          skip.push_back(of_post[i]->id);
          continue;
        }
        kept.push_back(std::move(posts[i]));
        kept_of.push_back(of_post[i]);
        kept_keys.push_back(std::move(keys[i]));
      }
      if (!skip.empty()) {
        std::vector<std::string> ack = {"XACK", options.stream, options.group};
        ack.insert(ack.end(), skip.begin(), skip.end());
        check(call(ack), "XACK");
        shared_duplicate += skip.size();
        acked += skip.size();
      }
      posts = std::move(kept);
      of_post = std::move(kept_of);
      keys = std::move(kept_keys);
    }
    if (posts.empty()) return;

    const size_t n = posts.size();
    const BatchReceipt receipt = submit(sink, posts);  // takes the posts
    if (receipt.committed) {
      acknowledge(of_post, keys, 0, n);
      return;
    }
    if (stopping) return;  // not committed: the entries stay pending, and are read again
    // One post that cannot be committed must not hold back the others: each is tried alone; those
    // that still fail stay pending, to be claimed again (and dead-lettered past max_deliveries).
    size_t failed = 0;
    if (n == 1) {
      spdlog::error("source '{}': entry {} of {} not committed ({}); it stays pending", name(), of_post[0]->id,
                    options.stream, receipt.error);
      remember_error(of_post[0]->id, receipt.error);
      failed = 1;
    } else {
      spdlog::error("source '{}': {} entries of {} not committed ({}); trying them one by one", name(), n,
                    options.stream, receipt.error);
    }
    for (size_t i = 0; i < n && n > 1 && !stopping; ++i) {
      // Read again from the entry: the sink took the batch's posts.
      std::vector<Post> one(1);
      std::string error;
      reader.parse_line(*field_of(*of_post[i], "post"), name(), one[0], error);
      const BatchReceipt r = submit(sink, one);
      if (r.committed) {
        acknowledge(of_post, keys, i, i + 1);
      } else {
        ++failed;
        remember_error(of_post[i]->id, r.error);
      }
    }
    if (failed) sleep(1);  // a store that fails every commit is not hammered
  }

  // Why an entry's last commit failed, for its dead-letter reason. Entries another consumer
  // claims and settles are never erased here, so the map is bounded: past kMaxErrors it starts over.
  static constexpr size_t kMaxErrors = 10000;
  void remember_error(const std::string& id, const std::string& error) {
    if (last_error.size() >= kMaxErrors) last_error.clear();
    last_error[id] = error;
  }

  BatchReceipt submit(PostSink& sink, std::vector<Post>& posts) {
    auto future = sink.submit(posts, PostSink::WhenFull::kWait);
    if (!future) return {false, "the watcher is stopping", 0, 0, 0};
    return future->get();
  }

  // After the commit: the shared seen-keys, then XACK, in one round trip.
  void acknowledge(const std::vector<const Entry*>& of_post, const std::vector<std::string>& keys, size_t from,
                   size_t to) {
    std::vector<std::vector<std::string>> commands;
    if (options.retention > 0) {
      for (size_t i = from; i < to; ++i) commands.push_back({"SET", keys[i], "1", "NX", "PX", redis_ms(options.retention)});
    }
    std::vector<std::string> ack = {"XACK", options.stream, options.group};
    for (size_t i = from; i < to; ++i) {
      ack.push_back(of_post[i]->id);
      last_error.erase(of_post[i]->id);
    }
    commands.push_back(std::move(ack));
    const auto replies = call_all(commands);
    check(replies.back(), "XACK");
    acked += to - from;
  }

  // XAUTOCLAIM of entries any consumer (this one included) left pending past claim_idle, batch by
  // batch through the whole pending list, then the pending gauge.
  void janitor(PostSink& sink) {
    std::string cursor = "0-0";
    do {
      const RedisReply r = call({"XAUTOCLAIM", options.stream, options.group, options.consumer,
                                 redis_ms(options.claim_idle), cursor, "COUNT", std::to_string(options.batch)});
      check(r, "XAUTOCLAIM");
      if (r.elements.size() < 2) break;
      cursor = r.elements[0].text();
      std::vector<Entry> entries = entries_of(r.elements[1]);
      if (!entries.empty()) {
        claimed += entries.size();
        spdlog::info("source '{}': claimed {} entries of {} left idle over {}s", name(), entries.size(),
                     options.stream, options.claim_idle);
        handle(entries, false, sink);
      }
    } while (cursor != "0-0" && !stopping);
    const RedisReply summary = call({"XPENDING", options.stream, options.group});
    check(summary, "XPENDING");
    if (!summary.elements.empty()) pending = summary.elements[0].integer;
  }

  Result<void> run(PostSink& sink) {
    if (Result<void> ok = check_redis_source_options(options); !ok) return ok;
    RedisAddress address = *parse_redis_url(options.url);
    if (!options.password.empty()) address.password = options.password;
    const std::string where = address.shown + " " + options.stream;
    redis = std::make_unique<RedisConnection>(address, options.timeout);
    ReconnectBackoff backoff(options.reconnect_backoff, options.max_reconnect_backoff);
    Outage outage;
    JanitorSchedule janitor_schedule(static_cast<int64_t>(options.claim_interval * 1000));
    std::uniform_real_distribution<double> unit(0, 1);
    bool setup = false;
    std::string history = "0";  // the cursor through this consumer's own pending entries; "" once read
    set_health(false, "connecting to " + where);
    while (!stopping) {
      try {
        if (!setup) {
          if (Result<void> up = redis->connect(); !up) throw Lost{up.error()};
          ensure_group();
          setup = true;
          history = "0";  // after every reconnect: what this consumer read but did not acknowledge
          backoff.reset();
          if (auto seconds = outage.up(system_now_ms())) {
            spdlog::warn("source '{}': {} is back after {:.1f}s", name(), where, *seconds);
          } else {
            spdlog::info("source '{}': reading {} as {} of group {}", name(), where, options.consumer, options.group);
          }
          set_health(true, "");
        }
        if (janitor_schedule.due(steady_now_ms())) janitor(sink);
        if (!history.empty()) {
          const RedisReply r = call({"XREADGROUP", "GROUP", options.group, options.consumer, "COUNT",
                                     std::to_string(options.batch), "STREAMS", options.stream, history});
          check(r, "XREADGROUP");
          std::vector<Entry> entries = stream_entries(r);
          if (entries.empty()) {
            history.clear();
            continue;
          }
          history = entries.back().id;
          handle(entries, false, sink);
          continue;
        }
        const double block = std::min(options.block, std::max(0.001, janitor_schedule.wait_ms(steady_now_ms()) / 1000.0));
        const RedisReply r = call({"XREADGROUP", "GROUP", options.group, options.consumer, "COUNT",
                                   std::to_string(options.batch), "BLOCK", redis_ms(block), "STREAMS", options.stream,
                                   ">"},
                                  block);
        check(r, "XREADGROUP");
        std::vector<Entry> entries = stream_entries(r);
        handle(entries, true, sink);
      } catch (const Lost& lost) {
        redis->close();
        setup = false;
        set_health(false, lost.reason);
        if (outage.down(system_now_ms(), lost.reason)) {
          spdlog::error("source '{}': {}; reconnecting with backoff (logged once until it is back)", name(),
                        lost.reason);
        }
        sleep(backoff.next(unit(random)));
      }
    }
    redis->close();
    return {};
  }
};

RedisSource::RedisSource(RedisSourceOptions options) : state_(std::make_unique<State>(std::move(options))) {}
RedisSource::~RedisSource() = default;

const std::string& RedisSource::name() const { return state_->name(); }

Result<void> RedisSource::run(PostSink& sink) { return state_->run(sink); }

void RedisSource::stop() {
  {
    std::lock_guard lock(state_->sleep_mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
}

SourceHealth RedisSource::health() const {
  std::lock_guard lock(state_->health_mutex);
  return state_->health;
}

void RedisSource::collect_metrics(std::vector<MetricSample>& out) const {
  const State& s = *state_;
  const char* help = "Redis stream entries, by source, stream and outcome (read, acked, claimed, dead_lettered, "
                     "shared_duplicate).";
  const std::pair<const char*, uint64_t> counters[] = {{"read", s.read},
                                                       {"acked", s.acked},
                                                       {"claimed", s.claimed},
                                                       {"dead_lettered", s.dead_lettered},
                                                       {"shared_duplicate", s.shared_duplicate}};
  for (const auto& [outcome, n] : counters) {
    out.push_back({"lodestone_redis_entries_total", "counter", help,
                   {{"source", s.options.name}, {"stream", s.options.stream}, {"outcome", outcome}},
                   static_cast<double>(n)});
  }
  if (const int64_t pending = s.pending; pending >= 0) {
    out.push_back({"lodestone_redis_pending", "gauge",
                   "Entries delivered to the group's consumers and not yet acknowledged (XPENDING), at the last "
                   "janitor round.",
                   {{"source", s.options.name}, {"stream", s.options.stream}, {"group", s.options.group}},
                   static_cast<double>(pending)});
  }
}

}  // namespace lodestone
