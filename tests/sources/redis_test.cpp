// The redis source against a real redis-server on loopback (skipped when it is not installed):
// entries acknowledged only once committed, poison entries and entries that never commit
// dead-lettered with their reasons, idle entries of another consumer claimed, a post another
// matcher committed skipped, and a lost Redis waited out with one log line. The claim and
// dead-letter decisions themselves are unit-tested with a fake clock at the end.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "net/redis.h"
#include "sources/redis/claims.h"
#include "sources/redis/redis.h"
#include "support/redis_server.h"
#include "support/rules.h"
#include "support/test_sink.h"
#include "watch/metrics.h"
#include "watch/pipeline.h"

using namespace lodestone;
using namespace lodestone::testing;

namespace {

// "p3"; built with append(): GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string numbered(const char* prefix, int i) { return std::string(prefix).append(std::to_string(i)); }

std::string post_json(const std::string& id, const std::string& title = "rare earths") {
  return nlohmann::json{{"id", id}, {"source", "wire"}, {"title", title}}.dump();
}

void xadd_post(RedisServer& redis, const std::string& stream, const std::string& id,
               const std::string& title = "rare earths") {
  REQUIRE_FALSE(redis.command({"XADD", stream, "*", "post", post_json(id, title)}).is_error());
}

// The group's pending count (XPENDING's summary).
long long pending(RedisServer& redis, const std::string& stream, const std::string& group) {
  const RedisReply r = redis.command({"XPENDING", stream, group});
  return r.elements.empty() ? -1 : r.elements[0].integer;
}

// The dead-letter stream's entries as maps of their fields.
std::vector<std::map<std::string, std::string>> dead_entries(RedisServer& redis, const std::string& stream) {
  std::vector<std::map<std::string, std::string>> out;
  for (const RedisReply& e : redis.command({"XRANGE", stream, "-", "+"}).elements) {
    std::map<std::string, std::string> fields;
    const auto& f = e.elements[1].elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2) fields[f[i].text()] = f[i + 1].text();
    out.push_back(std::move(fields));
  }
  return out;
}

RedisSourceOptions options_for(const RedisServer& redis, const std::string& consumer = "c1") {
  RedisSourceOptions o;
  o.name = "posts";
  o.url = redis.url();
  o.stream = "posts";
  o.group = "matchers";
  o.consumer = consumer;
  o.block = 0.1;
  o.claim_idle = 0.3;
  o.claim_interval = 0.1;
  o.max_deliveries = 3;
  o.timeout = 1;
  o.reconnect_backoff = 0.05;
  o.max_reconnect_backoff = 0.2;
  return o;
}

double sample(const RedisSource& source, const std::string& family, const std::string& outcome) {
  std::vector<MetricSample> samples;
  source.collect_metrics(samples);
  for (const auto& s : samples) {
    if (s.family != family) continue;
    for (const auto& [k, v] : s.labels) {
      if ((k == "outcome" && v == outcome) || (outcome.empty() && k == "group")) return s.value;
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("the redis source reads its group's entries and acknowledges each only after its commit", "[redis]") {
  require_redis_server();
  RedisServer redis;
  for (int i = 0; i < 5; ++i) xadd_post(redis, "posts", numbered("p", i));
  TempStore store;
  TestSink sink(*store);
  RedisSource source(options_for(redis));
  {
    // The first batch fails to commit: nothing of it may be acknowledged.
    sink.fail_next(1);
    Running running(source, sink);
    REQUIRE(eventually([&] { return sink.committed() == 5; }));
    REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
    CHECK(sink.failed_batches() >= 1);
    CHECK(source.health().up);
    // New entries after the start are read too.
    xadd_post(redis, "posts", "p5");
    REQUIRE(eventually([&] { return sink.committed() == 6; }));
    REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
    CHECK(sample(source, "lodestone_redis_entries_total", "acked") == 6);
    CHECK(running.stop() == std::nullopt);
  }
  std::vector<std::string> ids = sink.ids();
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5"});
  CHECK(sink.posts().front().source == "wire");  // the post's own source, as forwarded
  CHECK(sink.posts().front().field("title") == "rare earths");
}

TEST_CASE("the redis source's own pending entries are read again on start", "[redis]") {
  require_redis_server();
  RedisServer redis;
  xadd_post(redis, "posts", "left");
  redis.command({"XGROUP", "CREATE", "posts", "matchers", "0"});
  // Read by this consumer before a crash, never acknowledged.
  redis.command({"XREADGROUP", "GROUP", "matchers", "c1", "STREAMS", "posts", ">"});
  TempStore store;
  TestSink sink(*store);
  RedisSourceOptions o = options_for(redis);
  o.claim_idle = 3600;  // not the janitor: the start's read of its own pending entries
  RedisSource source(o);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  CHECK(sink.ids() == std::vector<std::string>{"left"});
}

TEST_CASE("an entry that is not a post is dead-lettered at once with its reason, and the stream goes on",
          "[redis]") {
  require_redis_server();
  RedisServer redis;
  redis.command({"XADD", "posts", "*", "title", "no post field"});
  redis.command({"XADD", "posts", "*", "post", "{not json"});
  redis.command({"XADD", "posts", "*", "post", "[1, 2]"});
  xadd_post(redis, "posts", "good");
  TempStore store;
  TestSink sink(*store);
  RedisSource source(options_for(redis));
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  REQUIRE(eventually([&] { return dead_entries(redis, "posts:dead").size() == 3; }));
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  const auto dead = dead_entries(redis, "posts:dead");
  CHECK(dead[0].at("reason").find("no 'post' field") != std::string::npos);
  CHECK(dead[0].at("title") == "no post field");  // the original fields travel with it
  CHECK(dead[1].at("reason").find("not JSON") != std::string::npos);
  CHECK(dead[1].at("post") == "{not json");
  CHECK(dead[2].at("reason").find("not an object") != std::string::npos);
  for (const auto& d : dead) {
    CHECK(d.at("stream") == "posts");
    CHECK(d.at("group") == "matchers");
    CHECK_FALSE(d.at("entry").empty());
  }
  CHECK(sink.rejected() == 3);
  CHECK(sample(source, "lodestone_redis_entries_total", "dead_lettered") == 3);
  CHECK(sink.ids() == std::vector<std::string>{"good"});
}

TEST_CASE("an entry whose commit always fails is tried max_deliveries times, then dead-lettered with the store's "
          "error, and the rest of its batch is committed",
          "[redis]") {
  require_redis_server();
  RedisServer redis;
  xadd_post(redis, "posts", "before", "lodestar");
  xadd_post(redis, "posts", "poison", "lodestar");
  xadd_post(redis, "posts", "after", "lodestar");
  TempDir dir("redis-poison");
  std::unique_ptr<Store> store = open_store(dir);
  {
    // The real store refuses this one post, as a disk that fails one page would: SQLite raises
    // an error inside the commit's transaction.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("state.db").c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db,
                                "CREATE TRIGGER refuse_poison BEFORE INSERT ON seen_posts WHEN NEW.post_key = "
                                "'poison' BEGIN SELECT RAISE(ABORT, 'this post cannot be stored'); END;",
                                nullptr, nullptr, &error);
    INFO((error ? error : ""));
    REQUIRE(rc == SQLITE_OK);
    sqlite3_close(db);
  }
  Metrics metrics;
  PipelineOptions pipeline_options;
  pipeline_options.workers = 1;
  Pipeline pipeline(pipeline_options, *store, metrics, rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\n"));
  pipeline.start();
  RedisSource source(options_for(redis));
  {
    Running running(source, pipeline);
    REQUIRE(eventually([&] { return dead_entries(redis, "posts:dead").size() == 1; }));
    REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
    CHECK(running.stop() == std::nullopt);
  }
  pipeline.drain();
  const auto dead = dead_entries(redis, "posts:dead");
  CHECK(dead[0].at("reason").find("delivered 4 times (max_deliveries = 3)") != std::string::npos);
  CHECK(dead[0].at("reason").find("this post cannot be stored") != std::string::npos);
  CHECK(nlohmann::json::parse(dead[0].at("post"))["id"] == "poison");
  CHECK(store->seen({"wire", "before"}));
  CHECK(store->seen({"wire", "after"}));
  CHECK_FALSE(store->seen({"wire", "poison"}));
  CHECK(sample(source, "lodestone_redis_entries_total", "claimed") >= 3);
}

TEST_CASE("entries another consumer left pending past claim_idle are claimed and committed", "[redis]") {
  require_redis_server();
  RedisServer redis;
  for (int i = 0; i < 4; ++i) xadd_post(redis, "posts", numbered("p", i));
  redis.command({"XGROUP", "CREATE", "posts", "matchers", "0"});
  // A consumer that read them and died.
  REQUIRE(redis.command({"XREADGROUP", "GROUP", "matchers", "dead", "STREAMS", "posts", ">"}).elements.size() == 1);
  TempStore store;
  TestSink sink(*store);
  RedisSource source(options_for(redis, "alive"));
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 4; }));
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  CHECK(sample(source, "lodestone_redis_entries_total", "claimed") == 4);
  REQUIRE(eventually([&] { return sample(source, "lodestone_redis_pending", "") == 0; }));
}

TEST_CASE("a post another matcher already committed is acknowledged without being matched again", "[redis]") {
  require_redis_server();
  RedisServer redis;
  xadd_post(redis, "posts", "twice");
  TempStore store_a, store_b;
  TestSink sink_a(*store_a), sink_b(*store_b);
  RedisSource a(options_for(redis, "a"));
  {
    Running running(a, sink_a);
    REQUIRE(eventually([&] { return sink_a.committed() == 1 && pending(redis, "posts", "matchers") == 0; }));
  }
  // A second collector forwarded the same post; another matcher, with a store of its own, reads it.
  xadd_post(redis, "posts", "twice");
  RedisSource b(options_for(redis, "b"));
  Running running(b, sink_b);
  REQUIRE(eventually([&] { return sample(b, "lodestone_redis_entries_total", "shared_duplicate") == 1; }));
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  CHECK(sink_b.committed() == 0);
  CHECK(sink_b.batches() == 0);
}

TEST_CASE("a lost Redis is waited out: down while it is gone, one log line per outage, and nothing acknowledged "
          "that was not committed",
          "[redis]") {
  require_redis_server();
  RedisServer redis(true);  // with its AOF, so that a restart keeps the stream
  xadd_post(redis, "posts", "p0");
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  RedisSource source(options_for(redis));
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  // Acknowledged too; an entry committed but not yet acknowledged would rightly be read again.
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  redis.stop();
  REQUIRE(eventually([&] { return !source.health().up; }));
  CHECK(source.health().reason.find(std::to_string(redis.port())) != std::string::npos);  // names the server
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // many reconnect attempts
  CHECK_FALSE(source.health().up);
  redis.start();
  xadd_post(redis, "posts", "p1");
  REQUIRE(eventually([&] { return sink.committed() == 2 && source.health().up; }));
  REQUIRE(eventually([&] { return pending(redis, "posts", "matchers") == 0; }));
  CHECK(log.count("reconnecting with backoff") == 1);
  CHECK(log.contains("is back after"));
  CHECK(sink.ids() == std::vector<std::string>{"p0", "p1"});
}

TEST_CASE("redis URLs: TCP, IPv6, Unix sockets, db numbers and passwords that never show", "[redis]") {
  auto a = parse_redis_url("redis://127.0.0.1:6380/2");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 6380);
  CHECK(a->db == 2);
  CHECK(a->shown == "redis://127.0.0.1:6380/2");
  auto b = parse_redis_url("redis://:s%40cret@[::1]");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(b->port == 6379);
  CHECK(b->password == "s@cret");
  CHECK(b->shown == "redis://[::1]:6379/0");
  auto c = parse_redis_url("redis://alice:pw@example.com/0");
  REQUIRE(c);
  CHECK(c->username == "alice");
  CHECK(c->password == "pw");
  CHECK(c->shown.find("pw") == std::string::npos);
  auto d = parse_redis_url("unix:///run/redis/redis.sock?db=3");
  REQUIRE(d);
  CHECK(d->unix_path == "/run/redis/redis.sock");
  CHECK(d->db == 3);
  CHECK_FALSE(parse_redis_url("http://127.0.0.1:6379"));
  CHECK_FALSE(parse_redis_url("redis://127.0.0.1:99999"));
  CHECK_FALSE(parse_redis_url("redis://127.0.0.1/x"));
  const auto bad = parse_redis_url("redis://:secret@127.0.0.1:port");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("secret") == std::string::npos);
}

TEST_CASE("claim and dead-letter decisions, the janitor's schedule and the backoff, on a fake clock", "[redis]") {
  // An entry is processed while Redis has handed it out max_deliveries times or fewer.
  CHECK(verdict(1, 5) == EntryVerdict::kProcess);
  CHECK(verdict(5, 5) == EntryVerdict::kProcess);
  CHECK(verdict(6, 5) == EntryVerdict::kDeadLetter);
  CHECK(verdict(2, 1) == EntryVerdict::kDeadLetter);

  JanitorSchedule janitor(10000);
  CHECK(janitor.due(1000));  // at once on start
  CHECK_FALSE(janitor.due(1001));
  CHECK(janitor.wait_ms(5000) == 6000);
  CHECK_FALSE(janitor.due(10999));
  CHECK(janitor.due(11000));
  CHECK(janitor.wait_ms(11000) == 10000);
  CHECK(janitor.due(50000));  // a late round counts from when it ran
  CHECK_FALSE(janitor.due(59999));

  ReconnectBackoff backoff(0.5, 30);
  CHECK(backoff.next(0.5) == Approx(0.5));
  CHECK(backoff.next(0.5) == Approx(1.0));
  CHECK(backoff.next(0.0) == Approx(2.0 * 0.8));
  CHECK(backoff.next(1.0) == Approx(4.0 * 1.2));
  for (int i = 0; i < 20; ++i) CHECK(backoff.next(1.0) <= 30);
  backoff.reset();
  CHECK(backoff.next(0.5) == Approx(0.5));

  Outage outage;
  CHECK_FALSE(outage.up(0).has_value());  // no outage, nothing to log
  CHECK(outage.down(1000, "refused"));    // the first failure of an outage is logged
  CHECK_FALSE(outage.down(2000, "refused again"));
  CHECK(outage.reason() == "refused again");
  CHECK(outage.is_down());
  const auto lasted = outage.up(11500);
  REQUIRE(lasted);
  CHECK(*lasted == Approx(10.5));
  CHECK_FALSE(outage.up(12000).has_value());
  CHECK(outage.down(13000, "again"));  // a new outage is logged again
}
