// The durable store: real SQLite files in a fresh folder per test, checked through the Store and,
// where the file itself is the point (WAL, schema version), through a connection of the test's own.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/stored_alert.h"
#include "support/temp_dir.h"
#include "watch/store.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using lodestone::CommitResult;
using lodestone::DeliveryState;
using lodestone::DueDelivery;
using lodestone::NewAlert;
using lodestone::PostKey;
using lodestone::PostSeen;
using lodestone::Store;
using lodestone::StoreError;
using lodestone::testing::stored_alert;
using lodestone::testing::TempDir;

namespace {

std::unique_ptr<Store> open_store(const std::string& path) {
  auto store = Store::open(path);
  INFO(store.error());
  REQUIRE(store);
  return std::move(*store);
}

// A connection of the test's own, to look at the file without going through Store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    INFO(sql << ": " << (message ? message : ""));
    sqlite3_free(message);
    REQUIRE(rc == SQLITE_OK);
  }
  // The first column of the first row, as text ("" when there is no row).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    INFO(sql);
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* data = sqlite3_column_text(stmt, 0);
      if (data) out.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
    }
    sqlite3_finalize(stmt);
    REQUIRE((rc == SQLITE_ROW || rc == SQLITE_DONE));
    return out;
  }
  int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

std::vector<std::string> due_ids(Store& store, const std::string& notifier, int64_t now_ms, size_t limit = 100) {
  std::vector<std::string> ids;
  for (const DueDelivery& d : store.due(notifier, now_ms, limit)) ids.push_back(d.alert_id);
  return ids;
}

// count per "notifier/state", e.g. {"ops/pending": 2}.
std::map<std::string, uint64_t> counts(Store& store) {
  std::map<std::string, uint64_t> out;
  for (const auto& c : store.delivery_counts()) out[c.notifier + "/" + std::string(to_string(c.state))] = c.count;
  return out;
}

}  // namespace

// ---- open ------------------------------------------------------------------------------------

TEST_CASE("open creates the file and its folders, in WAL mode with schema version 2", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state/nested/lodestone.db");
  {
    auto store = open_store(path);
    CHECK(store->path() == path);
  }
  REQUIRE(fs::is_regular_file(path));
  RawDb raw(path);
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.integer("PRAGMA user_version") == 2);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                    "('seen_posts', 'alerts', 'deliveries', 'source_state', 'processed_files')") == 5);
}

TEST_CASE("a reopened store keeps its posts, alerts, deliveries and source state", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_store(path);
    store->commit({{"ptt/Stock", "M.1"}}, {stored_alert("a1", {"ops", "analysts"})}, 1000);
    store->set_state("feed", "etag", "\"abc\"", 1000);
    store->mark_file_processed("dir", "/in/x.jsonl", 10, 5, 1000);
  }
  auto store = open_store(path);
  CHECK(store->seen({"ptt/Stock", "M.1"}));
  CHECK(due_ids(*store, "ops", 1000) == std::vector<std::string>{"a1"});
  CHECK(due_ids(*store, "analysts", 1000) == std::vector<std::string>{"a1"});
  CHECK(store->get_state("feed", "etag") == "\"abc\"");
  CHECK(store->file_processed("dir", "/in/x.jsonl"));
  // Reopening does not migrate again or lose the version.
  CHECK(RawDb(path).integer("PRAGMA user_version") == 2);
}

TEST_CASE("a store with a newer schema version is refused, naming the path and both versions", "[store]") {
  TempDir dir;
  const std::string path = dir.file("future.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE later(x); PRAGMA user_version = 99;");
  }
  const auto refused = Store::open(path);
  CHECK_FALSE(refused);
  const std::string& error = refused.error();
  CHECK_THAT(error, Contains(path + ": "));
  CHECK_THAT(error, Contains("schema version 99"));
  CHECK_THAT(error, Contains("(version 2)"));
  // Refused before anything was changed: not even the journal mode.
  RawDb raw(path);
  CHECK(raw.text("PRAGMA journal_mode") == "delete");
  CHECK(raw.integer("PRAGMA user_version") == 99);
}

TEST_CASE("a version 1 store is migrated on open and keeps its seen posts, which count as unchanged", "[store]") {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    auto store = open_store(path);
    store->commit({{"ptt/Stock", "M.1"}}, {stored_alert("a1", {"ops"})}, 1000);
  }
  {
    // Back to what version 1 wrote: seen_posts without its content_hash column.
    RawDb raw(path);
    raw.exec("ALTER TABLE seen_posts DROP COLUMN content_hash; PRAGMA user_version = 1;");
  }
  auto store = open_store(path);
  CHECK(RawDb(path).integer("PRAGMA user_version") == 2);
  CHECK(due_ids(*store, "ops", 1000) == std::vector<std::string>{"a1"});
  // Seen before hashes were kept: the same post, whatever its hash, until a commit stores one.
  CHECK(store->seen_all({{"ptt/Stock", "M.1", "aaaa"}}) == std::vector<PostSeen>{PostSeen::kSame});
  CommitResult filled = store->commit({{"ptt/Stock", "M.1", "aaaa"}}, {}, 2000);
  CHECK(filled.post_is_new == std::vector<bool>{false});
  CHECK(filled.posts_updated == 1);
  CHECK(store->seen_all({{"ptt/Stock", "M.1", "aaaa"}, {"ptt/Stock", "M.1", "bbbb"}}) ==
        std::vector<PostSeen>{PostSeen::kSame, PostSeen::kChanged});
}

TEST_CASE("seen_all tells new, same and changed posts apart by content hash", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  lodestone::Post post;
  post.id = "M.1";
  post.source = "ptt/Stock";
  post.add_field("title", "[新聞] 台積電");
  post.set_number("pushes", 12);
  const std::string twelve = lodestone::content_hash(post);
  CHECK(twelve.size() == 32);
  CHECK(lodestone::content_hash(post) == twelve);
  post.set_number("pushes", 55);
  const std::string fifty_five = lodestone::content_hash(post);
  CHECK(fifty_five != twelve);
  post.set_number("pushes", 12);
  post.add_field("title", "[新聞] 台積電 (更新)");
  CHECK(lodestone::content_hash(post) != twelve);

  CHECK(store->seen_all({{"ptt/Stock", "M.1", twelve}}) == std::vector<PostSeen>{PostSeen::kNew});
  CommitResult first = store->commit({{"ptt/Stock", "M.1", twelve}}, {}, 1000);
  CHECK(first.post_is_new == std::vector<bool>{true});
  CHECK(first.posts_updated == 0);
  CHECK(store->seen_all({{"ptt/Stock", "M.1", twelve},
                         {"ptt/Stock", "M.1", fifty_five},
                         {"ptt/Stock", "M.1", ""},
                         {"ptt/Stock", "M.2", twelve}}) ==
        std::vector<PostSeen>{PostSeen::kSame, PostSeen::kChanged, PostSeen::kSame, PostSeen::kNew});
  // Committing the changed content makes it the known one; committing it again changes nothing.
  CHECK(store->commit({{"ptt/Stock", "M.1", fifty_five}}, {}, 2000).posts_updated == 1);
  CHECK(store->commit({{"ptt/Stock", "M.1", fifty_five}}, {}, 3000).posts_updated == 0);
  CHECK(store->seen_all({{"ptt/Stock", "M.1", twelve}, {"ptt/Stock", "M.1", fifty_five}}) ==
        std::vector<PostSeen>{PostSeen::kChanged, PostSeen::kSame});
}

TEST_CASE("a store whose folder cannot be created is an error naming the path", "[store]") {
  TempDir dir;
  std::ofstream(dir.file("blocker")) << "a file where a folder should be";
  const std::string path = dir.file("blocker/sub/state.db");
  const auto refused = Store::open(path);
  CHECK_FALSE(refused);
  CHECK_THAT(refused.error(), Contains(path + ": cannot create its folder"));
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("a file that is not a Lodestone store is refused, naming the path", "[store]") {
  TempDir dir;

  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << std::string(4096, 'x');
  const auto not_a_database = Store::open(text);
  CHECK_FALSE(not_a_database);
  CHECK_THAT(not_a_database.error(), Contains(text + ": cannot read: file is not a database"));

  const std::string other = dir.file("other.db");
  RawDb(other).exec("CREATE TABLE customers(id INTEGER PRIMARY KEY)");
  const auto not_a_store = Store::open(other);
  CHECK_FALSE(not_a_store);
  CHECK_THAT(not_a_store.error(), Contains(other + ": this is a SQLite database but not a Lodestone store"));
  CHECK(RawDb(other).integer("SELECT count(*) FROM sqlite_schema") == 1);
}

// ---- commit ----------------------------------------------------------------------------------

TEST_CASE("commit reports new posts, and a replayed batch is new to nobody and stores nothing twice", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = open_store(path);
  const std::vector<PostKey> posts = {{"ptt/Stock", "M.1"}, {"ptt/Stock", "M.2"}, {"ptt/Stock", "M.1"},
                                      {"reuters", "M.1"}};
  const std::vector<NewAlert> alerts = {stored_alert("a1", {"ops", "analysts"}),
                                        stored_alert("a2", {"ops", "analysts"})};

  CHECK_FALSE(store->seen({"ptt/Stock", "M.1"}));
  CommitResult first = store->commit(posts, alerts, 1000);
  CHECK(first.post_is_new == std::vector<bool>{true, true, false, true});
  CHECK(first.alerts_inserted == 2);
  CHECK(first.alerts_present == 0);
  CHECK(first.deliveries_created == 4);
  CHECK(store->seen({"ptt/Stock", "M.1"}));
  CHECK(store->seen({"reuters", "M.1"}));
  CHECK_FALSE(store->seen({"reuters", "M.2"}));

  // A replay — a restart, a re-polled feed — with one alert's JSON changed meanwhile.
  std::vector<NewAlert> replay = alerts;
  replay[0].json = R"({"id": "a1", "changed": true})";
  CommitResult second = store->commit(posts, replay, 2000);
  CHECK(second.post_is_new == std::vector<bool>{false, false, false, false});
  CHECK(second.alerts_inserted == 0);
  CHECK(second.alerts_present == 2);
  CHECK(second.deliveries_created == 0);

  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM alerts") == 2);
  CHECK(raw.integer("SELECT count(*) FROM deliveries") == 4);
  CHECK(raw.text("SELECT json FROM alerts WHERE id = 'a1'") == alerts[0].json);
  CHECK(raw.integer("SELECT first_seen_ms FROM seen_posts WHERE post_key = 'M.2'") == 1000);
}

TEST_CASE("commit creates one pending delivery per notifier, due at commit time", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  CommitResult r = store->commit(
      {}, {stored_alert("a1", {"ops", "analysts", "ops"}), stored_alert("a2", {}), stored_alert("a3", {"mail"})}, 5000);
  CHECK(r.alerts_inserted == 3);
  CHECK(r.deliveries_created == 3);  // a repeated notifier gets one delivery; no notifier, none
  CHECK(due_ids(*store, "ops", 4999).empty());
  auto due = store->due("ops", 5000, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].alert_id == "a1");
  CHECK(due[0].notifier == "ops");
  CHECK(due[0].attempts == 0);
  CHECK(due[0].next_attempt_ms == 5000);
  CHECK_FALSE(due[0].first_attempt_ms);
  CHECK(due_ids(*store, "analysts", 5000) == std::vector<std::string>{"a1"});
  CHECK(due_ids(*store, "mail", 5000) == std::vector<std::string>{"a3"});
  CHECK(counts(*store) == std::map<std::string, uint64_t>{{"analysts/pending", 1}, {"mail/pending", 1},
                                                          {"ops/pending", 1}});
}

TEST_CASE("the stored alert JSON is byte-identical to what was committed", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  // Non-ASCII in several scripts, a character outside the BMP, combining marks, and every JSON
  // escape, written as escapes and as the characters themselves.
  const std::string json =
      "{\"id\": \"3f9a\", \"post\": {\"title\": \"[新聞] 美國將推動各國加速 降低對中國稀土依賴\", "
      "\"body\": \"Ünïcödé — ＲＡＲＥ　ＥＡＲＴＨ 🪨 e\xCC\x81 稀\xE2\x80\x8B土\"}, "
      "\"escapes\": \"\\\"quoted\\\" back\\\\slash \\/ \\b\\f\\n\\r\\t \\u0001 \\u00e9 \\ud83d\\ude00 \\u2028\", "
      "\"raw\": \"tab\there\", \"spacing\" :  [ 1 ,2 ]  }";
  {
    auto store = open_store(path);
    NewAlert a = stored_alert("3f9a");
    a.json = json;
    store->commit({}, {a}, 1);
    auto due = store->due("ops", 1, 1);
    REQUIRE(due.size() == 1);
    CHECK(due[0].json == json);
  }
  auto store = open_store(path);
  auto due = store->due("ops", 1, 1);
  REQUIRE(due.size() == 1);
  CHECK(due[0].json == json);
  RawDb raw(path);
  CHECK(raw.text("SELECT json FROM alerts") == json);
  CHECK(raw.integer("SELECT length(CAST(json AS BLOB)) FROM alerts") == static_cast<int64_t>(json.size()));
  CHECK(raw.text("SELECT typeof(json) FROM alerts") == "text");
}

TEST_CASE("a commit that fails stores nothing of its batch and throws an error naming the path", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = open_store(path);
  // Fail the batch at its last statement, after its posts and alert went in.
  RawDb(path).exec(
      "CREATE TRIGGER fail_broken BEFORE INSERT ON deliveries WHEN NEW.notifier = 'broken' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  try {
    store->commit({{"s", "p1"}}, {stored_alert("a1", {"ops", "broken"})}, 1000);
    FAIL("commit did not throw");
  } catch (const StoreError& e) {
    CHECK_THAT(e.what(), Contains(path + ": commit: injected failure"));
    CHECK(e.sqlite_code() == SQLITE_CONSTRAINT_TRIGGER);
  }
  CHECK_FALSE(store->seen({"s", "p1"}));
  CHECK(due_ids(*store, "ops", 1000).empty());
  CHECK(RawDb(path).integer("SELECT count(*) FROM alerts") == 0);
  // The store is usable after the failure, and the same batch can be committed again.
  RawDb(path).exec("DROP TRIGGER fail_broken");
  CommitResult r = store->commit({{"s", "p1"}}, {stored_alert("a1", {"ops", "broken"})}, 1000);
  CHECK(r.post_is_new == std::vector<bool>{true});
  CHECK(r.alerts_inserted == 1);
  CHECK(r.deliveries_created == 2);
}

// ---- deliveries ------------------------------------------------------------------------------

TEST_CASE("a retried delivery is due again at its next attempt, with its attempts counted", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = open_store(path);
  store->commit({}, {stored_alert("a1")}, 1000);

  CHECK(store->mark_retry("a1", "ops", 503, "Service Unavailable", 5000, 1100));
  CHECK(due_ids(*store, "ops", 4999).empty());
  CHECK(store->next_due_ms("ops") == 5000);
  auto due = store->due("ops", 5000, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].attempts == 1);
  CHECK(due[0].next_attempt_ms == 5000);
  CHECK(due[0].first_attempt_ms == 1100);

  CHECK(store->mark_retry("a1", "ops", 0, "timeout after 10 s", 20000, 5100));
  due = store->due("ops", 20000, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].attempts == 2);
  CHECK(due[0].first_attempt_ms == 1100);  // the first attempt stays the first

  RawDb raw(path);
  CHECK(raw.text("SELECT last_error FROM deliveries") == "timeout after 10 s");
  CHECK(raw.integer("SELECT last_status FROM deliveries") == 0);
  CHECK(raw.integer("SELECT last_attempt_ms FROM deliveries") == 5100);
  CHECK(raw.text("SELECT state FROM deliveries") == "pending");
}

TEST_CASE("delivered and dead deliveries are no longer due, and marking them again changes nothing", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = open_store(path);
  store->commit({}, {stored_alert("a1", {"ops", "mail"}), stored_alert("a2", {"ops", "mail"})}, 1000);

  CHECK(store->mark_delivered("a1", "ops", 200, 1100));
  CHECK(store->mark_dead("a2", "ops", 410, "Gone", 1200));
  CHECK(due_ids(*store, "ops", 1'000'000).empty());
  CHECK(store->next_due_ms("ops") == -1);
  // The other notifier's deliveries of the same alerts are untouched.
  CHECK(due_ids(*store, "mail", 1000) == std::vector<std::string>{"a1", "a2"});

  CHECK_FALSE(store->mark_delivered("a1", "ops", 200, 1300));
  CHECK_FALSE(store->mark_retry("a2", "ops", 503, "again", 2000, 1300));
  CHECK_FALSE(store->mark_dead("a1", "ops", 500, "late", 1300));
  CHECK_FALSE(store->mark_delivered("no-such-alert", "ops", 200, 1300));
  CHECK(due_ids(*store, "ops", 1'000'000).empty());

  RawDb raw(path);
  CHECK(raw.text("SELECT state || ' ' || attempts || ' ' || last_status || ' ' || last_attempt_ms FROM deliveries "
                 "WHERE alert_id = 'a1' AND notifier = 'ops'") == "delivered 1 200 1100");
  CHECK(raw.text("SELECT state || ' ' || attempts || ' ' || last_status || ' ' || last_error FROM deliveries "
                 "WHERE alert_id = 'a2' AND notifier = 'ops'") == "dead 1 410 Gone");
}

TEST_CASE("due respects next_attempt_ms, the notifier and the limit, earliest first", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  store->commit({}, {stored_alert("c"), stored_alert("a"), stored_alert("b")}, 1000);  // commit order c, a, b
  store->commit({}, {stored_alert("d"), stored_alert("e", {"mail"})}, 2000);

  CHECK(due_ids(*store, "ops", 999).empty());
  CHECK(due_ids(*store, "ops", 1000) == std::vector<std::string>{"c", "a", "b"});
  CHECK(due_ids(*store, "ops", 2000) == std::vector<std::string>{"c", "a", "b", "d"});
  CHECK(due_ids(*store, "ops", 2000, 2) == std::vector<std::string>{"c", "a"});
  CHECK(due_ids(*store, "mail", 2000) == std::vector<std::string>{"e"});
  CHECK(due_ids(*store, "nobody", 2000).empty());

  // c fails and waits until 3000; a is retried sooner, at 1500.
  store->mark_retry("c", "ops", 500, "boom", 3000, 1000);
  store->mark_retry("a", "ops", 429, "slow down", 1500, 1000);
  CHECK(due_ids(*store, "ops", 1499) == std::vector<std::string>{"b"});
  CHECK(due_ids(*store, "ops", 2000) == std::vector<std::string>{"b", "a", "d"});
  CHECK(due_ids(*store, "ops", 3000) == std::vector<std::string>{"b", "a", "d", "c"});
  CHECK(store->next_due_ms("ops") == 1000);
  CHECK(store->next_due_ms("mail") == 2000);
  CHECK(store->next_due_ms("nobody") == -1);
}

TEST_CASE("delivery counts are per notifier and state", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  CHECK(store->delivery_counts().empty());
  store->commit({},
                {stored_alert("a1", {"ops", "mail"}), stored_alert("a2", {"ops", "mail"}), stored_alert("a3", {"ops"})},
                1000);
  store->mark_delivered("a1", "ops", 200, 1100);
  store->mark_delivered("a2", "ops", 204, 1100);
  store->mark_dead("a3", "ops", 400, "Bad Request", 1100);
  store->mark_retry("a1", "mail", 451, "try later", 9000, 1100);
  CHECK(counts(*store) == std::map<std::string, uint64_t>{{"mail/pending", 2}, {"ops/dead", 1}, {"ops/delivered", 2}});
  auto list = store->delivery_counts();
  REQUIRE(list.size() == 3);
  CHECK(list[0].notifier == "mail");
  CHECK(list[0].state == DeliveryState::kPending);
  CHECK(list[0].count == 2);
}

// ---- durability ------------------------------------------------------------------------------

namespace {

// What a child process commits as batch `i`: two posts and two alerts, each for two notifiers.
void commit_batch(Store& store, int i) {
  std::string n = std::to_string(i);
  store.commit({{"feed", "p" + n + "a"}, {"feed", "p" + n + "b"}},
               {stored_alert("b" + n + "-1", {"ops", "mail"}), stored_alert("b" + n + "-2", {"ops", "mail"})},
               1000 + i);
}

// The checks a parent makes after its child died: batches [0, acknowledged) are there in full.
void check_batches(const std::string& path, int acknowledged) {
  auto store = open_store(path);
  for (int i = 0; i < acknowledged; ++i) {
    std::string n = std::to_string(i);
    INFO("batch " << i);
    CHECK(store->seen({"feed", "p" + n + "a"}));
    CHECK(store->seen({"feed", "p" + n + "b"}));
  }
  RawDb raw(path);
  int64_t alerts = raw.integer("SELECT count(*) FROM alerts");
  CHECK(alerts >= 2 * acknowledged);
  // Whole batches only: every stored alert has both its deliveries, every batch both alerts.
  CHECK(alerts % 2 == 0);
  CHECK(raw.integer("SELECT count(*) FROM deliveries") == 2 * alerts);
  CHECK(raw.integer("SELECT count(*) FROM seen_posts") == alerts);
  CHECK(raw.integer("SELECT count(*) FROM deliveries WHERE state = 'pending'") == 2 * alerts);
  CHECK(raw.text("PRAGMA integrity_check") == "ok");
  CHECK(due_ids(*store, "ops", 1'000'000, 1'000'000).size() == static_cast<size_t>(alerts));
}

}  // namespace

TEST_CASE("batches committed by a process that exits without closing the store survive", "[store][durability]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  constexpr int kBatches = 10;
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch2 in here: report through the exit status, and skip every destructor.
    try {
      auto opened = Store::open(path);
      if (!opened) ::_exit(2);
      std::unique_ptr<Store> store = std::move(*opened);
      for (int i = 0; i < kBatches; ++i) commit_batch(*store, i);
      store.release();  // never closed: the connection dies with the process
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  // The commits live in the write-ahead log that no close checkpointed.
  CHECK(fs::file_size(path + "-wal") > 0);
  check_batches(path, kBatches);
  CHECK(RawDb(path).integer("SELECT count(*) FROM alerts") == 2 * kBatches);
}

TEST_CASE("batches committed by a process killed right after commit returned survive", "[store][durability]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  constexpr int kAcknowledged = 20;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    try {
      auto opened = Store::open(path);
      if (!opened) ::_exit(2);
      std::unique_ptr<Store> store = std::move(*opened);
      // Commit batch after batch, saying so after each, until killed — most likely in the middle
      // of a later commit, which must then leave no trace.
      for (int i = 0;; ++i) {
        commit_batch(*store, i);
        char byte = 1;
        if (::write(fds[1], &byte, 1) != 1) ::_exit(4);
      }
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(fds[1]);
  int acknowledged = 0;
  char byte = 0;
  while (acknowledged < kAcknowledged && ::read(fds[0], &byte, 1) == 1) ++acknowledged;
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(fds[0]);
  REQUIRE(acknowledged == kAcknowledged);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  check_batches(path, kAcknowledged);
}

// ---- threads ---------------------------------------------------------------------------------

TEST_CASE("four threads committing while another marks deliveries lose nothing", "[store][threads]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = open_store(path);
  constexpr int kWriters = 4;
  constexpr int kAlertsEach = 500;
  constexpr int kBatch = 5;
  std::atomic<int> writers_left{kWriters};
  std::atomic<bool> failed{false};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      try {
        for (int i = 0; i < kAlertsEach; i += kBatch) {
          std::vector<PostKey> posts;
          std::vector<NewAlert> alerts;
          const std::string worker = "worker" + std::to_string(w);
          for (int j = i; j < i + kBatch; ++j) {
            std::string id = worker + "-" + std::to_string(j);
            posts.push_back({worker, id});
            alerts.push_back(stored_alert(id, {"ops"}));
          }
          CommitResult r = store->commit(posts, alerts, 1000);
          if (r.alerts_inserted != static_cast<size_t>(kBatch)) failed = true;
        }
      } catch (...) {
        failed = true;
      }
      --writers_left;
    });
  }
  size_t marked = 0;
  std::thread dispatcher([&] {
    try {
      // Drain until every writer is done and nothing is left due. A due delivery that cannot be
      // marked would be due forever: stop there rather than spin.
      for (;;) {
        bool writers_done = writers_left == 0;
        auto due = store->due("ops", 1000, 64);
        for (const DueDelivery& d : due) {
          if (!store->mark_delivered(d.alert_id, d.notifier, 200, 1001)) {
            failed = true;
            return;
          }
          ++marked;
        }
        if (due.empty()) {
          if (writers_done) break;
          std::this_thread::yield();
        }
      }
    } catch (...) {
      failed = true;
    }
  });
  for (auto& t : threads) t.join();
  dispatcher.join();

  CHECK_FALSE(failed);
  CHECK(marked == static_cast<size_t>(kWriters * kAlertsEach));
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM alerts") == kWriters * kAlertsEach);
  CHECK(raw.integer("SELECT count(*) FROM deliveries") == kWriters * kAlertsEach);
  CHECK(raw.integer("SELECT count(*) FROM seen_posts") == kWriters * kAlertsEach);
  CHECK(raw.integer("SELECT count(*) FROM alerts LEFT JOIN deliveries ON alert_id = id WHERE alert_id IS NULL") == 0);
  CHECK(counts(*store) == std::map<std::string, uint64_t>{{"ops/delivered", kWriters * kAlertsEach}});
}

// ---- retention and source state --------------------------------------------------------------

TEST_CASE("prune_seen forgets only post keys first seen before the cutoff, and keeps alerts", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  store->commit({{"feed", "old1"}, {"feed", "old2"}}, {stored_alert("a-old")}, 1000);
  store->commit({{"feed", "cutoff"}}, {}, 2000);
  store->commit({{"feed", "new"}, {"feed", "old1"}}, {}, 3000);  // old1 again: first seen stays 1000

  CHECK(store->prune_seen(2000) == 2);
  CHECK_FALSE(store->seen({"feed", "old1"}));
  CHECK_FALSE(store->seen({"feed", "old2"}));
  CHECK(store->seen({"feed", "cutoff"}));
  CHECK(store->seen({"feed", "new"}));
  CHECK(store->prune_seen(2000) == 0);

  // The forgotten post is new again, but its alert id is still stored: no second alert.
  CommitResult r = store->commit({{"feed", "old1"}}, {stored_alert("a-old")}, 4000);
  CHECK(r.post_is_new == std::vector<bool>{true});
  CHECK(r.alerts_present == 1);
  CHECK(due_ids(*store, "ops", 4000) == std::vector<std::string>{"a-old"});
}

TEST_CASE("source state and processed files round-trip and survive a reopen", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_store(path);
    CHECK_FALSE(store->get_state("feed", "etag"));
    store->set_state("feed", "etag", "W/\"1\"", 1000);
    store->set_state("feed", "etag", "W/\"2\"", 2000);  // overwrites
    store->set_state("feed", "last-modified", "Sun, 11 Jan 2026 11:08:03 GMT", 2000);
    store->set_state("file:/var/in/posts.jsonl", "offset", "123456789", 2000);
    store->set_state("empty", "value", "", 2000);

    CHECK_FALSE(store->file_processed("dir", "/in/a.jsonl"));
    store->mark_file_processed("dir", "/in/a.jsonl", 100, 50, 1000);
    store->mark_file_processed("dir", "/in/a.jsonl", 200, 60, 2000);  // again: updated, not duplicated
    store->mark_file_processed("dir", "/in/貝森特.txt", 7, 8, 2000);
  }
  auto store = open_store(path);
  CHECK(store->get_state("feed", "etag") == "W/\"2\"");
  CHECK(store->get_state("feed", "last-modified") == "Sun, 11 Jan 2026 11:08:03 GMT");
  CHECK(store->get_state("file:/var/in/posts.jsonl", "offset") == "123456789");
  CHECK(store->get_state("empty", "value") == "");
  CHECK_FALSE(store->get_state("other-feed", "etag"));
  CHECK(store->file_processed("dir", "/in/a.jsonl"));
  CHECK(store->file_processed("dir", "/in/貝森特.txt"));
  CHECK_FALSE(store->file_processed("other-dir", "/in/a.jsonl"));
  CHECK_FALSE(store->file_processed("dir", "/in/b.jsonl"));
  RawDb raw(path);
  CHECK(raw.text("SELECT size || ' ' || mtime_ms || ' ' || processed_ms FROM processed_files "
                 "WHERE path = '/in/a.jsonl'") == "200 60 2000");
  CHECK(raw.integer("SELECT updated_ms FROM source_state WHERE key = 'etag'") == 2000);
}

TEST_CASE("recent alerts come newest first, and alert counts are per rule and clock hour", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  const int64_t hour = 3600 * 1000;
  const int64_t t0 = 500 * hour;
  NewAlert a = stored_alert("a"), b = stored_alert("b"), c = stored_alert("c");
  c.rule_id = "other";
  store->commit({}, {a}, t0 + 10);
  store->commit({}, {b}, t0 + hour + 10);
  store->commit({}, {c}, t0 + hour + 20);
  const auto recent = store->recent_alerts(2);
  REQUIRE(recent.size() == 2);
  CHECK(recent[0].json == c.json);
  CHECK(recent[1].json == b.json);
  CHECK(recent[0].created_ms == t0 + hour + 20);

  const auto counts = store->alert_counts(t0, 100);
  REQUIRE(counts.size() == 3);  // ordered by rule, then hour
  CHECK(counts[0].rule_id == "other");
  CHECK(counts[0].hour_ms == t0 + hour);
  CHECK(counts[1].rule_id == "rule-a");
  CHECK(counts[1].hour_ms == t0);
  CHECK(counts[1].count == 1);
  CHECK(counts[2].rule_id == "rule-b");
  CHECK(store->alert_counts(t0 + hour, 100).size() == 2);  // the first hour is before `since`
  CHECK(store->alert_counts(t0, 1).size() == 1);           // only the newest alert read
}
