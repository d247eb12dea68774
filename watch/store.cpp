// The durable store on SQLite: opening and migrating the file, and the few statements the pipeline,
// the dispatchers and the sources run against it, each prepared once.
#include "watch/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <system_error>
#include <utility>

#include "util/sha256.h"

namespace lodestone {

namespace {

// Long enough to ride out another process's checkpoint or commit, short enough that a store
// locked by a stuck process is reported instead of hanging the watcher.
constexpr int kBusyTimeoutMs = 5000;

// PRAGMA application_id of a Lodestone store ("LdSt"), so that another program's SQLite file is
// recognised and refused rather than migrated into.
constexpr int64_t kApplicationId = 0x4C645374;

// kMigrations[v] takes a store from schema version v to v + 1, inside the transaction that then
// sets user_version. Append a step for each new version; never edit a step that has shipped.
constexpr const char* kMigrations[] = {
    // 0 → 1: the first schema.
    R"sql(
CREATE TABLE seen_posts(
  source        TEXT NOT NULL,
  post_key      TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (source, post_key)
) WITHOUT ROWID;
CREATE INDEX seen_posts_by_age ON seen_posts(first_seen_ms);

CREATE TABLE alerts(
  id         TEXT NOT NULL PRIMARY KEY,
  rule_id    TEXT NOT NULL,
  source     TEXT NOT NULL,
  post_id    TEXT NOT NULL,
  json       TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);

-- A rowid table on purpose: the rowid is the commit order, the tie-break of due().
CREATE TABLE deliveries(
  alert_id         TEXT NOT NULL REFERENCES alerts(id),
  notifier         TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'held')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms  INTEGER NOT NULL,
  first_attempt_ms INTEGER,
  last_attempt_ms  INTEGER,
  last_status      INTEGER,
  last_error       TEXT,
  PRIMARY KEY (alert_id, notifier)
);
-- due() and next_due_ms(): only pending rows, in the order they fall due.
CREATE INDEX deliveries_due ON deliveries(notifier, next_attempt_ms) WHERE state = 'pending';
-- delivery_counts(): a scan of this index, no sort.
CREATE INDEX deliveries_by_state ON deliveries(notifier, state);

CREATE TABLE source_state(
  source     TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (source, key)
) WITHOUT ROWID;

CREATE TABLE processed_files(
  source       TEXT NOT NULL,
  path         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  mtime_ms     INTEGER NOT NULL,
  processed_ms INTEGER NOT NULL,
  PRIMARY KEY (source, path)
) WITHOUT ROWID;

PRAGMA application_id = 1281643380;
)sql",
    // 1 → 2: a seen post's content hash, so that a post sent again with changed content is matched
    // again (NULL: seen before hashes were kept; the next commit of the post fills it in).
    R"sql(
ALTER TABLE seen_posts ADD COLUMN content_hash TEXT;
)sql",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion, "one migration step per schema version");
static_assert(kApplicationId == 1281643380, "the application_id in the first migration");

[[noreturn]] void fail(sqlite3* db, const std::string& path, std::string_view what) {
  throw StoreError(path + ": " + std::string(what) + ": " + sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

// One use of a cached prepared statement: binds, steps, reads columns, and on the way out resets
// it and clears its bindings, so the strings bound without copying (SQLITE_STATIC) are never
// looked at again and the next use starts clean. Any failure throws StoreError.
class Use {
 public:
  Use(sqlite3* db, const std::string& path, sqlite3_stmt* stmt, std::string_view what)
      : db_(db), path_(path), stmt_(stmt), what_(what) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& text(int index, std::string_view value) {
    // A null pointer would bind SQL NULL, and an empty std::string_view may carry one.
    const char* data = value.data() ? value.data() : "";
    check(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Use& integer(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Use& null(int index) {
    check(sqlite3_bind_null(stmt_, index));
    return *this;
  }

  // True with a row to read, false when the statement is done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, path_, what_);
  }
  // Runs a statement that returns no rows; returns how many rows it changed.
  int64_t run() {
    while (step()) {
    }
    return sqlite3_changes64(db_);
  }

  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    // sqlite3_column_text before sqlite3_column_bytes: the length is of the text form.
    const unsigned char* data = sqlite3_column_text(stmt_, column);
    if (!data) {
      if (sqlite3_errcode(db_) == SQLITE_NOMEM) fail(db_, path_, what_);
      return {};
    }
    return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) fail(db_, path_, what_);
  }

  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_;
  std::string_view what_;
};

std::optional<DeliveryState> parse_state(std::string_view word) {
  if (word == "pending") return DeliveryState::kPending;
  if (word == "delivered") return DeliveryState::kDelivered;
  if (word == "dead") return DeliveryState::kDead;
  if (word == "held") return DeliveryState::kHeld;
  return std::nullopt;
}

// For open(), before a Store exists: the first column of the first row of `sql`, as text. On
// failure, `out` holds SQLite's message (taken before finalize, which would reset it).
bool query_text(sqlite3* db, const char* sql, std::string& out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    out = text ? reinterpret_cast<const char*>(text) : "";
  } else if (rc == SQLITE_DONE) {
    out.clear();
  } else {
    out = sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  return ok;
}

bool query_int(sqlite3* db, const char* sql, int64_t& value, std::string& message) {
  std::string text;
  if (!query_text(db, sql, text)) {
    message = std::move(text);
    return false;
  }
  value = text.empty() ? 0 : std::stoll(text);
  return true;
}

std::string newer_schema(int64_t version) {
  return "the store has schema version " + std::to_string(version) + ", newer than this lodestone knows (version " +
         std::to_string(Store::kSchemaVersion) + "); use a newer lodestone or another state file";
}

// Brings the file to kSchemaVersion in one write transaction, re-reading the version under the
// lock so that two processes opening a new file at once migrate it once.
bool migrate(sqlite3* db, const std::string& path, std::string& error) {
  auto refuse = [&](const std::string& message) {
    error = path + ": " + message;
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  };
  auto exec = [&](const std::string& sql, const std::string& what) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    refuse(what + ": " + sqlite3_errmsg(db));
    return false;
  };
  if (!exec("BEGIN IMMEDIATE", "cannot lock the store to check its schema")) return false;
  int64_t version = 0, application_id = 0, objects = 0;
  std::string message;
  if (!query_int(db, "PRAGMA user_version", version, message) ||
      !query_int(db, "PRAGMA application_id", application_id, message) ||
      !query_int(db, "SELECT count(*) FROM sqlite_schema", objects, message)) {
    return refuse("cannot read the schema: " + message);
  }
  if (version > Store::kSchemaVersion) return refuse(newer_schema(version));
  if ((application_id != 0 && application_id != kApplicationId) || (version == 0 && objects > 0)) {
    return refuse("this is a SQLite database but not a Lodestone store; give `state` a file of its own");
  }
  for (int64_t v = version; v < Store::kSchemaVersion; ++v) {
    std::string what = "cannot migrate the schema from version " + std::to_string(v) + " to " + std::to_string(v + 1);
    if (!exec(kMigrations[v], what)) return false;
  }
  if (version != Store::kSchemaVersion &&
      !exec("PRAGMA user_version = " + std::to_string(Store::kSchemaVersion), "cannot set the schema version")) {
    return false;
  }
  return exec("COMMIT", "cannot commit the schema");
}

}  // namespace

std::string_view to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending: return "pending";
    case DeliveryState::kDelivered: return "delivered";
    case DeliveryState::kDead: return "dead";
    case DeliveryState::kHeld: return "held";
  }
  return "pending";
}

namespace {

// The mark_* calls share one statement: ?3 is the new state, ?4 a new next_attempt_ms or NULL.
constexpr const char* kMarkSql = R"sql(
UPDATE deliveries SET state = ?3, attempts = attempts + 1,
    next_attempt_ms = coalesce(?4, next_attempt_ms),
    first_attempt_ms = coalesce(first_attempt_ms, ?5), last_attempt_ms = ?5,
    last_status = ?6, last_error = ?7
  WHERE alert_id = ?1 AND notifier = ?2 AND state = 'pending')sql";

// BEGIN IMMEDIATE … COMMIT around one call; rolls back when left without commit() (an exception).
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path, sqlite3_stmt* begin, sqlite3_stmt* commit, sqlite3_stmt* rollback,
              std::string_view what)
      : db_(db), path_(path), commit_(commit), rollback_(rollback), what_(what) {
    Use(db_, path_, begin, what_).run();
  }
  ~Transaction() {
    // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) have already rolled the transaction back.
    if (!committed_ && !sqlite3_get_autocommit(db_)) {
      sqlite3_step(rollback_);
      sqlite3_reset(rollback_);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    Use(db_, path_, commit_, what_).run();
    committed_ = true;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  std::string_view what_;
  bool committed_ = false;
};

}  // namespace

// Every statement the Store runs, prepared once at open and reset after each use.
struct Store::Statements {
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* insert_seen = nullptr;
  sqlite3_stmt* select_seen = nullptr;
  sqlite3_stmt* update_seen_hash = nullptr;
  sqlite3_stmt* insert_alert = nullptr;
  sqlite3_stmt* insert_delivery = nullptr;
  sqlite3_stmt* select_due = nullptr;
  sqlite3_stmt* mark = nullptr;
  sqlite3_stmt* next_due = nullptr;
  sqlite3_stmt* counts = nullptr;
  sqlite3_stmt* get_state = nullptr;
  sqlite3_stmt* set_state = nullptr;
  sqlite3_stmt* file_processed = nullptr;
  sqlite3_stmt* mark_file = nullptr;
  sqlite3_stmt* prune_seen = nullptr;
  sqlite3_stmt* recent_alerts = nullptr;
  sqlite3_stmt* recent_alert_times = nullptr;

  using Sql = std::pair<sqlite3_stmt* Statements::*, const char*>;
  static constexpr Sql kSql[] = {
      {&Statements::begin, "BEGIN IMMEDIATE"},
      {&Statements::commit, "COMMIT"},
      {&Statements::rollback, "ROLLBACK"},
      {&Statements::insert_seen,
       "INSERT INTO seen_posts(source, post_key, first_seen_ms, content_hash) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT DO NOTHING"},
      {&Statements::select_seen, "SELECT content_hash FROM seen_posts WHERE source = ?1 AND post_key = ?2"},
      {&Statements::update_seen_hash,
       "UPDATE seen_posts SET content_hash = ?3 WHERE source = ?1 AND post_key = ?2 AND content_hash IS NOT ?3"},
      {&Statements::insert_alert,
       "INSERT INTO alerts(id, rule_id, source, post_id, json, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
       "ON CONFLICT DO NOTHING"},
      {&Statements::insert_delivery,
       "INSERT INTO deliveries(alert_id, notifier, state, attempts, next_attempt_ms) "
       "VALUES (?1, ?2, ?4, 0, ?3) ON CONFLICT DO NOTHING"},
      // CROSS JOIN keeps deliveries the outer loop, read in deliveries_due order, so LIMIT stops early.
      {&Statements::select_due,
       "SELECT d.alert_id, d.notifier, a.json, d.attempts, d.next_attempt_ms, d.first_attempt_ms "
       "FROM deliveries AS d CROSS JOIN alerts AS a ON a.id = d.alert_id "
       "WHERE d.notifier = ?1 AND d.state = 'pending' AND d.next_attempt_ms <= ?2 "
       "ORDER BY d.next_attempt_ms, d.rowid LIMIT ?3"},
      {&Statements::mark, kMarkSql},
      {&Statements::next_due,
       "SELECT next_attempt_ms FROM deliveries WHERE notifier = ?1 AND state = 'pending' "
       "ORDER BY next_attempt_ms LIMIT 1"},
      {&Statements::counts,
       "SELECT notifier, state, count(*) FROM deliveries GROUP BY notifier, state ORDER BY notifier, state"},
      {&Statements::get_state, "SELECT value FROM source_state WHERE source = ?1 AND key = ?2"},
      {&Statements::set_state,
       "INSERT INTO source_state(source, key, value, updated_ms) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms"},
      {&Statements::file_processed, "SELECT 1 FROM processed_files WHERE source = ?1 AND path = ?2"},
      {&Statements::mark_file,
       "INSERT INTO processed_files(source, path, size, mtime_ms, processed_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
       "ON CONFLICT (source, path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, "
       "processed_ms = excluded.processed_ms"},
      {&Statements::prune_seen, "DELETE FROM seen_posts WHERE first_seen_ms < ?1"},
      // alerts is a rowid table: the rowid is the commit order, so the newest come first cheaply.
      {&Statements::recent_alerts, "SELECT json, created_ms FROM alerts ORDER BY rowid DESC LIMIT ?1"},
      {&Statements::recent_alert_times, "SELECT rule_id, created_ms FROM alerts ORDER BY rowid DESC LIMIT ?1"},
  };

  Statements() = default;
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;
  ~Statements() {
    for (const auto& [member, sql] : kSql) sqlite3_finalize(this->*member);  // a no-op on nullptr
  }

  void prepare(sqlite3* db, const std::string& path) {
    for (const auto& [member, sql] : kSql) {
      if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &(this->*member), nullptr) != SQLITE_OK) {
        fail(db, path, std::string("cannot prepare `") + sql + "`");
      }
    }
  }

  Transaction transaction(sqlite3* db, const std::string& path, std::string_view what) const {
    return Transaction(db, path, begin, commit, rollback, what);
  }
};

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  if (path.empty()) return Failure{"the store needs a file name (`state` in the config)"};
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Failure{path + ": cannot create its folder " + parent.string() + ": " + ec.message()};
  }

  sqlite3* db = nullptr;
  // NOMUTEX: the Store's own mutex serialises every use of the connection.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  auto refuse = [&](const std::string& message) {
    sqlite3_close(db);  // a no-op on nullptr
    return Failure{path + ": " + message};
  };
  if (rc != SQLITE_OK) return refuse(std::string("cannot open: ") + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // Read the version before anything changes the file, so a newer store is left exactly as it was.
  // This is also where a file that is not a database at all is found out.
  int64_t version = 0;
  std::string message;
  if (!query_int(db, "PRAGMA user_version", version, message)) return refuse("cannot read: " + message);
  if (version > kSchemaVersion) return refuse(newer_schema(version));

  std::string mode;
  if (!query_text(db, "PRAGMA journal_mode = WAL", mode)) return refuse("cannot switch to WAL: " + mode);
  if (mode != "wal") return refuse("cannot switch to WAL: the journal mode stays '" + mode + "'");
  if (sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return refuse(std::string("cannot configure the connection: ") + sqlite3_errmsg(db));
  }
  if (std::string why; !migrate(db, path, why)) {
    sqlite3_close(db);
    return Failure{why};
  }

  std::unique_ptr<Store> store(new Store(path, db));
  try {
    store->prepare_statements();
  } catch (const StoreError& e) {
    return Failure{e.what()};
  }
  return store;
}

Store::Store(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db), stmts_(std::make_unique<Statements>()) {}

Store::~Store() {
  stmts_.reset();
  // Closing the last connection checkpoints the WAL into the database file and removes it.
  sqlite3_close(db_);
}

void Store::prepare_statements() { stmts_->prepare(db_, path_); }

CommitResult Store::commit(const std::vector<PostKey>& posts, const std::vector<NewAlert>& alerts, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  CommitResult result;
  result.post_is_new.reserve(posts.size());
  result.alert_inserted.reserve(alerts.size());
  Transaction txn = stmts_->transaction(db_, path_, "commit");
  for (const PostKey& post : posts) {
    Use q(db_, path_, stmts_->insert_seen, "commit");
    q.text(1, post.source).text(2, post.key).integer(3, now_ms);
    if (post.hash.empty()) {
      q.null(4);
    } else {
      q.text(4, post.hash);
    }
    const bool is_new = q.run() == 1;
    result.post_is_new.push_back(is_new);
    if (is_new || post.hash.empty()) continue;
    Use u(db_, path_, stmts_->update_seen_hash, "commit");
    result.posts_updated += static_cast<size_t>(u.text(1, post.source).text(2, post.key).text(3, post.hash).run());
  }
  for (const NewAlert& alert : alerts) {
    Use q(db_, path_, stmts_->insert_alert, "commit");
    q.text(1, alert.id).text(2, alert.rule_id).text(3, alert.source).text(4, alert.post_id).text(5, alert.json);
    const bool inserted = q.integer(6, now_ms).run() != 0;
    result.alert_inserted.push_back(inserted);
    if (!inserted) {
      ++result.alerts_present;
      continue;
    }
    ++result.alerts_inserted;
    for (const std::string& notifier : alert.notifiers) {
      Use d(db_, path_, stmts_->insert_delivery, "commit");
      d.text(1, alert.id).text(2, notifier).integer(3, now_ms).text(4, alert.held ? "held" : "pending");
      result.deliveries_created += static_cast<size_t>(d.run());
    }
  }
  txn.commit();
  return result;
}

std::string content_hash(const Post& post) {
  Sha256 h;
  for (const PostField& f : post.fields()) {
    h.add(f.name).add(std::string_view("\0", 1)).add(f.text).add(std::string_view("\0", 1));
  }
  for (const PostNumber& n : post.numbers()) {
    uint64_t bits = 0;
    static_assert(sizeof bits == sizeof n.value);
    std::memcpy(&bits, &n.value, sizeof bits);
    h.add(std::string_view("#", 1)).add(n.name).add(std::string_view("\0", 1)).add_u64(bits);
  }
  const Digest d = h.finish();
  return to_hex(as_chars(d).substr(0, 16));
}

bool Store::seen(const PostKey& post) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use q(db_, path_, stmts_->select_seen, "seen");
  return q.text(1, post.source).text(2, post.key).step();
}

std::vector<PostSeen> Store::seen_all(const std::vector<PostKey>& posts) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PostSeen> out;
  out.reserve(posts.size());
  for (const PostKey& post : posts) {
    Use q(db_, path_, stmts_->select_seen, "seen");
    if (!q.text(1, post.source).text(2, post.key).step()) {
      out.push_back(PostSeen::kNew);
    } else if (post.hash.empty() || q.is_null(0) || q.text(0) == post.hash) {
      out.push_back(PostSeen::kSame);
    } else {
      out.push_back(PostSeen::kChanged);
    }
  }
  return out;
}

std::vector<DueDelivery> Store::due(const std::string& notifier, int64_t now_ms, size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DueDelivery> out;
  constexpr size_t kMaxLimit = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  Use q(db_, path_, stmts_->select_due, "due");
  q.text(1, notifier).integer(2, now_ms).integer(3, static_cast<int64_t>(std::min(limit, kMaxLimit)));
  while (q.step()) {
    DueDelivery d;
    d.alert_id = q.text(0);
    d.notifier = q.text(1);
    d.json = q.text(2);
    d.attempts = q.integer(3);
    d.next_attempt_ms = q.integer(4);
    if (!q.is_null(5)) d.first_attempt_ms = q.integer(5);
    out.push_back(std::move(d));
  }
  return out;
}

namespace {

bool mark(sqlite3* db, const std::string& path, sqlite3_stmt* stmt, std::string_view what, const std::string& alert_id,
          const std::string& notifier, DeliveryState state, int status, const std::string* error,
          std::optional<int64_t> next_attempt_ms, int64_t now_ms) {
  Use q(db, path, stmt, what);
  q.text(1, alert_id).text(2, notifier).text(3, to_string(state));
  if (next_attempt_ms) {
    q.integer(4, *next_attempt_ms);
  } else {
    q.null(4);
  }
  q.integer(5, now_ms).integer(6, status);
  if (error) {
    q.text(7, *error);
  } else {
    q.null(7);
  }
  return q.run() == 1;
}

}  // namespace

bool Store::mark_delivered(const std::string& alert_id, const std::string& notifier, int status, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  return mark(db_, path_, stmts_->mark, "mark_delivered", alert_id, notifier, DeliveryState::kDelivered, status,
              nullptr, std::nullopt, now_ms);
}

bool Store::mark_retry(const std::string& alert_id, const std::string& notifier, int status, const std::string& error,
                       int64_t next_attempt_ms, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  return mark(db_, path_, stmts_->mark, "mark_retry", alert_id, notifier, DeliveryState::kPending, status, &error,
              next_attempt_ms, now_ms);
}

bool Store::mark_dead(const std::string& alert_id, const std::string& notifier, int status, const std::string& error,
                      int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  return mark(db_, path_, stmts_->mark, "mark_dead", alert_id, notifier, DeliveryState::kDead, status, &error,
              std::nullopt, now_ms);
}

int64_t Store::next_due_ms(const std::string& notifier) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use q(db_, path_, stmts_->next_due, "next_due_ms");
  return q.text(1, notifier).step() ? q.integer(0) : -1;
}

std::vector<DeliveryCount> Store::delivery_counts() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DeliveryCount> out;
  Use q(db_, path_, stmts_->counts, "delivery_counts");
  while (q.step()) {
    std::string word = q.text(1);
    std::optional<DeliveryState> state = parse_state(word);
    if (!state) throw StoreError(path_ + ": delivery_counts: unknown delivery state '" + word + "'", SQLITE_CORRUPT);
    out.push_back({q.text(0), *state, static_cast<uint64_t>(q.integer(2))});
  }
  return out;
}

std::optional<std::string> Store::get_state(const std::string& source, const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use q(db_, path_, stmts_->get_state, "get_state");
  if (!q.text(1, source).text(2, key).step()) return std::nullopt;
  return q.text(0);
}

void Store::set_state(const std::string& source, const std::string& key, const std::string& value, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use(db_, path_, stmts_->set_state, "set_state").text(1, source).text(2, key).text(3, value).integer(4, now_ms).run();
}

bool Store::file_processed(const std::string& source, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use q(db_, path_, stmts_->file_processed, "file_processed");
  return q.text(1, source).text(2, path).step();
}

void Store::mark_file_processed(const std::string& source, const std::string& path, int64_t size, int64_t mtime_ms,
                                int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Use q(db_, path_, stmts_->mark_file, "mark_file_processed");
  q.text(1, source).text(2, path).integer(3, size).integer(4, mtime_ms).integer(5, now_ms).run();
}

std::vector<StoredAlert> Store::recent_alerts(size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoredAlert> out;
  Use q(db_, path_, stmts_->recent_alerts, "recent_alerts");
  q.integer(1, static_cast<int64_t>(std::min<size_t>(limit, 1000000)));
  while (q.step()) out.push_back({q.text(0), q.integer(1)});
  return out;
}

std::vector<RuleHourCount> Store::alert_counts(int64_t since_ms, size_t max_alerts) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::pair<std::string, int64_t>, uint64_t> counts;
  Use q(db_, path_, stmts_->recent_alert_times, "alert_counts");
  q.integer(1, static_cast<int64_t>(std::min<size_t>(max_alerts, 10000000)));
  // Commit order is time order but for workers' commits racing by milliseconds (or the clock
  // stepping back a little): a row older than since_ms is skipped, and five minutes older ends
  // the read, so its cost follows the period asked for, not the store's size.
  constexpr int64_t kOrderSlackMs = 5 * 60 * 1000;
  while (q.step()) {
    const int64_t created = q.integer(1);
    if (created < since_ms - kOrderSlackMs) break;
    if (created < since_ms) continue;
    ++counts[{q.text(0), created - created % 3600000}];
  }
  std::vector<RuleHourCount> out;
  for (const auto& [key, n] : counts) out.push_back({key.first, key.second, n});
  return out;
}

size_t Store::prune_seen(int64_t older_than_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<size_t>(Use(db_, path_, stmts_->prune_seen, "prune_seen").integer(1, older_than_ms).run());
}

}  // namespace lodestone
