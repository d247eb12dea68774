// The durable store: one SQLite file holding what a watcher must never lose — the post keys it has
// seen, every alert, each (alert, notifier) delivery, and its sources' positions.
// One Store may be shared by every thread: all calls take one mutex around one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lodestone/post.h"
#include "lodestone/result.h"

struct sqlite3;

namespace lodestone {

// Every SQLite failure after open() — a full disk, an I/O error, a lock held past the busy
// timeout — throws a StoreError whose message names the file and SQLite's message, e.g.
//   "/var/lib/lodestone/state.db: commit: database or disk is full".
// When commit() throws, nothing of that batch was stored: the caller must not acknowledge its
// source. Nothing is retried here: whether to retry, wait or stop is the caller's decision.
class StoreError : public std::runtime_error {
 public:
  StoreError(const std::string& message, int sqlite_code) : std::runtime_error(message), sqlite_code_(sqlite_code) {}
  // SQLite's extended result code (SQLITE_FULL, SQLITE_BUSY, SQLITE_IOERR_FSYNC, ...).
  int sqlite_code() const { return sqlite_code_; }

 private:
  int sqlite_code_;
};

// A post the pipeline has seen: its source and the key that identifies it there (the post id),
// with the hash of its content (content_hash(); empty: content not compared).
struct PostKey {
  PostKey() = default;
  PostKey(std::string source_name, std::string post_key, std::string content = {})
      : source(std::move(source_name)), key(std::move(post_key)), hash(std::move(content)) {}
  std::string source, key;
  std::string hash;
};

// What seen_all() knows of a post key.
enum class PostSeen {
  kNew,      // never seen
  kSame,     // seen, with the same content hash (or one side has none)
  kChanged,  // seen, with another content hash: an edited post, a push count that grew
};

// The hash a PostKey carries: 32 hex digits of SHA-256 over the post's fields (name and text, in
// order) and numbers (name and value). Not over id or source, which the key holds.
std::string content_hash(const Post& post);

// An alert to store, with the notifiers it goes to. `json` is kept byte for byte as given.
struct NewAlert {
  std::string id, rule_id, source, post_id, json;
  std::vector<std::string> notifiers;
  bool held = false;  // throttled (max_alerts_per_hour): its deliveries are stored as held, never due
};

struct CommitResult {
  std::vector<bool> post_is_new;     // aligned with the `posts` given to commit()
  size_t posts_updated = 0;          // posts seen before whose content hash changed
  std::vector<bool> alert_inserted;  // aligned with the `alerts` given to commit()
  size_t alerts_inserted = 0;        // alerts whose id was new; each got its deliveries
  size_t alerts_present = 0;      // alerts whose id was already stored (or repeated in the batch)
  size_t deliveries_created = 0;
};

enum class DeliveryState {
  kPending,    // waiting for its next attempt (next_attempt_ms)
  kDelivered,  // the notifier accepted it
  kDead,       // given up on: a permanent failure or the last retry failed
  kHeld,       // held back (throttling); stored and counted, never due
};
// "pending", "delivered", "dead", "held": the words stored in the file and used in /metrics.
std::string_view to_string(DeliveryState state);

// A pending delivery whose time has come, with what a notifier needs to send it.
struct DueDelivery {
  std::string alert_id;
  std::string notifier;
  std::string json;  // the alert's JSON, as committed
  int64_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::optional<int64_t> first_attempt_ms;  // empty until the first attempt is marked
};

struct DeliveryCount {
  std::string notifier;
  DeliveryState state = DeliveryState::kPending;
  uint64_t count = 0;
};

// An alert as stored, for a status page.
struct StoredAlert {
  std::string json;
  int64_t created_ms = 0;
};

// How many alerts a rule raised in one clock hour (hour_ms: the hour's first millisecond).
struct RuleHourCount {
  std::string rule_id;
  int64_t hour_ms = 0;
  uint64_t count = 0;
};

// Times are milliseconds since the Unix epoch, always given by the caller (a fake clock in tests).
//
// Threads: every call locks one mutex around the one SQLite connection, so calls from the
// pipeline's workers and the dispatchers are serialised — a due() waits for a commit() in
// progress, fsync included. Each call is short (one statement, or one transaction for commit),
// and SQLite writes one transaction at a time anyway. Do not carry a Store across fork(): a child
// process opens its own. Other processes may open the same file; they wait up to the busy
// timeout (5 s) for its write lock, then get a StoreError.
class Store {
 public:
  // The schema version this code writes. A file with an older version is migrated on open, in one
  // transaction; a file with a newer one is refused.
  static constexpr int kSchemaVersion = 2;

  // Opens the store at `path`, creating the file and its parent folders if needed, in WAL mode
  // with synchronous=FULL (a commit that returned survives a crash or power loss) and foreign keys
  // on. Fails, naming the path and the cause, when the folder cannot be made, the file is not a
  // SQLite database or not a Lodestone store, its schema is newer than kSchemaVersion, or SQLite
  // fails. Never throws StoreError.
  static Result<std::unique_ptr<Store>> open(const std::string& path);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  // In one transaction: marks `posts` seen (first_seen_ms = now_ms for new ones; a seen one's
  // content hash replaced by the key's when that is not empty), inserts each
  // alert whose id is not stored yet, and for it one pending delivery per distinct notifier, due at
  // now_ms. An alert whose id is already stored is left as it is — json and deliveries included.
  // All or nothing: when it throws, nothing of the batch is stored.
  CommitResult commit(const std::vector<PostKey>& posts, const std::vector<NewAlert>& alerts, int64_t now_ms);
  bool seen(const PostKey& post);
  // Whether each post was seen, and with which content, under one lock: a worker does not queue
  // for the lock per post.
  std::vector<PostSeen> seen_all(const std::vector<PostKey>& posts);

  // Up to `limit` pending deliveries to `notifier` with next_attempt_ms <= now_ms, earliest
  // next_attempt first, then in commit order. A row stays pending, and so due again, until one of
  // the mark_* calls below records its outcome; one dispatcher per notifier is expected.
  std::vector<DueDelivery> due(const std::string& notifier, int64_t now_ms, size_t limit);
  // Each mark_* records one attempt made at now_ms (attempts + 1, first_attempt_ms set on the
  // first, last_attempt_ms, last_status, last_error). `status` is the peer's reply code (HTTP
  // status, SMTP reply), 0 when there was none (a timeout, a refused connection). They change
  // pending rows only and return false when (alert_id, notifier) is not pending.
  bool mark_delivered(const std::string& alert_id, const std::string& notifier, int status, int64_t now_ms);
  bool mark_retry(const std::string& alert_id, const std::string& notifier, int status, const std::string& error,
                  int64_t next_attempt_ms, int64_t now_ms);
  bool mark_dead(const std::string& alert_id, const std::string& notifier, int status, const std::string& error,
                 int64_t now_ms);
  // The earliest next_attempt_ms of the notifier's pending deliveries, or -1 when none is pending:
  // how long a dispatcher may sleep.
  int64_t next_due_ms(const std::string& notifier);
  // How many deliveries each notifier has in each state (states with none are left out), ordered
  // by notifier, then state word. Counts every row: meant for a metrics scrape, not a hot loop.
  std::vector<DeliveryCount> delivery_counts();

  // A source's own small state: a file's offset, a feed's ETag or Last-Modified.
  std::optional<std::string> get_state(const std::string& source, const std::string& key);
  void set_state(const std::string& source, const std::string& key, const std::string& value, int64_t now_ms);
  // Files a directory source has finished with. Marking one again updates its size and mtime.
  bool file_processed(const std::string& source, const std::string& path);
  void mark_file_processed(const std::string& source, const std::string& path, int64_t size, int64_t mtime_ms,
                           int64_t now_ms);

  // The newest `limit` alerts, newest first (commit order).
  std::vector<StoredAlert> recent_alerts(size_t limit);
  // Alerts per rule and clock hour since `since_ms`, read newest first from at most the newest
  // `max_alerts` alerts and no further back than five minutes before since_ms, so that the cost
  // follows the period asked for, not the size of the store.
  std::vector<RuleHourCount> alert_counts(int64_t since_ms, size_t max_alerts);

  // Retention: forgets post keys first seen before `older_than_ms` and returns how many. Alerts and
  // deliveries are kept, so a re-polled old post still cannot alert twice (its alert id is stored).
  size_t prune_seen(int64_t older_than_ms);

 private:
  struct Statements;
  Store(std::string path, sqlite3* db);
  void prepare_statements();

  std::string path_;
  std::mutex mutex_;  // guards db_ and the statements: SQLite's own locking is off (NOMUTEX)
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace lodestone
