// Scale-out end to end (docs/scale-out.md): `lodestone watch` processes as collectors and matchers
// around a real redis-server on loopback, webhook receivers and a feed on loopback too. What a
// desk relies on: kill -9 of one matcher of three loses no alert; two collectors polling one feed
// give one alert; a Redis outage under load loses nothing and alerts nothing twice, with /readyz
// 503 and one log line meanwhile; a restarted collector forwards nothing twice. Skipped (exit 4)
// without redis-server; the first test also needs ../shared/corpus.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <set>

#include "net/redis.h"
#include "support/redis_server.h"
#include "support/watch_harness.h"

using namespace watch_test;
using lodestone::RedisReply;
using lodestone::testing::HttpReceiver;
using lodestone::testing::RedisServer;
using lodestone::testing::require_redis_server;

namespace {

constexpr const char* kRules = R"(
[[rule]]
id = "oil"
title = "Oil"
match = "crude OR opec OR oil"

[[rule]]
id = "grain"
title = "Grain"
match = "wheat OR corn OR soybeans"

[[rule]]
id = "gold"
title = "Gold"
match = "gold"

[[rule]]
id = "money"
title = "Rates and trade"
match = "interest OR dollar OR tariff OR trade"

[[rule]]
id = "star"
title = "Lodestar"
match = "lodestar"
)";

// A collector's source: posts.jsonl in its folder, followed.
constexpr const char* kFollowedFile =
    "[[source]]\nname = \"wire\"\ntype = \"jsonl\"\npath = \"posts.jsonl\"\npoll_interval = \"0.1s\"\n";

std::string corpus_dir() {
  if (const char* env = std::getenv("LODESTONE_CORPUS")) return env;
  return LODESTONE_SOURCE_DIR "/../shared/corpus";
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

// A matcher's config in `dir`: the rules of ../rules.toml, its own state, one redis source
// reading stream `posts` as `consumer` of group `matchers`, a webhook notifier to `hook`, and
// `extra` tables.
std::string matcher_config(const std::string& redis, int admin, const std::string& consumer, const std::string& hook,
                           const std::string& extra = "", const std::string& claim_idle = "2s") {
  return "[lodestone]\nrules = [\"../rules.toml\"]\nstate = \"state.db\"\nworkers = 1\nadmin = \"127.0.0.1:" +
         std::to_string(admin) +
         "\"\nlog_level = \"debug\"\n"
         "[[source]]\nname = \"posts\"\ntype = \"redis\"\nurl = " +
         quoted(redis) + "\nstream = \"posts\"\ngroup = \"matchers\"\nconsumer = " + quoted(consumer) +
         "\nbatch = 50\nblock = \"0.2s\"\nclaim_idle = \"" + claim_idle + "\"\nclaim_interval = \"0.5s\"\ntimeout = \"1s\"\n"
         "[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = " +
         quoted(hook) + "\nbackoff = \"0.2s\"\nmax_backoff = \"1s\"\nmax_attempts = 100\n" + extra;
}

// A collector's config: its sources forwarded to stream `posts`.
std::string collector_config(const std::string& redis, int admin, const std::string& sources) {
  return "[lodestone]\nstate = \"state.db\"\nadmin = \"127.0.0.1:" + std::to_string(admin) +
         "\"\nlog_level = \"debug\"\nforward = " + quoted(redis) + "\nforward_stream = \"posts\"\n" + sources;
}

fs::path subdir(const TempDir& dir, const std::string& name) {
  fs::create_directories(dir.path() / name);
  return dir.path() / name;
}

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

int status(int admin, const std::string& path) {
  httplib::Client client("127.0.0.1", admin);
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  auto res = client.Get(path);
  return res ? res->status : 0;
}

// The alert ids `lodestone scan` gives for `posts` with `rules`.
std::set<std::string> scanned_ids(const fs::path& rules, const fs::path& posts, const fs::path& dir) {
  const fs::path out = dir / "scan.out";
  const std::string cmd = std::string("'") + LODESTONE_BINARY + "' scan -r '" + rules.string() + "' '" +
                          posts.string() + "' >'" + out.string() + "' 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
  std::set<std::string> ids;
  for (const auto& line : lines_of(out)) ids.insert(nlohmann::json::parse(line)["id"].get<std::string>());
  return ids;
}

// A webhook body without what differs between two matchers raising the same alert: the delivery's
// timestamp and the alert's matched_at (each matcher's own clock).
std::string comparable(const std::string& body) {
  auto j = nlohmann::json::parse(body);
  j.erase("timestamp");
  j["data"].erase("matched_at");
  return j.dump();
}

long long pending(RedisServer& redis, const std::string& stream, const std::string& group) {
  const RedisReply r = redis.command({"XPENDING", stream, group});
  return r.elements.empty() ? -1 : r.elements[0].integer;
}

// Entries of the group not yet delivered to any consumer (XINFO GROUPS' lag), -1 when unknown.
long long lag(RedisServer& redis, const std::string& stream) {
  const RedisReply r = redis.command({"XINFO", "GROUPS", stream});
  if (r.is_error() || r.elements.empty()) return -1;
  const auto& g = r.elements[0].elements;
  for (size_t i = 0; i + 1 < g.size(); i += 2) {
    if (g[i].text() == "lag") return g[i + 1].is_nil() ? -1 : g[i + 1].integer;
  }
  return -1;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string post_line(const std::string& id, const std::string& body) {
  return nlohmann::json{{"id", id}, {"source", "wire"}, {"title", "post " + id}, {"body", body}}.dump() + "\n";
}

std::string numbered(const char* prefix, int i) { return std::string(prefix).append(std::to_string(i)); }

}  // namespace

TEST_CASE("kill -9 of one matcher of three: the others claim its entries, every alert arrives, and the restarted "
          "matcher delivers its outbox",
          "[scale-out]") {
  require_redis_server();
  const std::string reuters = corpus_dir() + "/reuters21578.jsonl";
  if (!fs::exists(reuters)) {
    std::fprintf(stderr, "SKIPPED: %s is absent (the corpus lives in ../shared/corpus beside the checkout)\n",
                 reuters.c_str());
    std::exit(4);
  }
  RedisServer redis;
  TempDir dir("scale-kill");
  write_file(dir.path() / "rules.toml", kRules);
  std::vector<std::string> posts;
  {
    std::ifstream in(reuters);
    std::string line;
    while (posts.size() < 3000 && std::getline(in, line)) {
      if (!line.empty()) posts.push_back(line);
    }
  }
  REQUIRE(posts.size() == 3000);
  std::string jsonl;
  for (const auto& p : posts) jsonl += p + "\n";
  write_file(dir.path() / "posts.jsonl", jsonl);
  const std::set<std::string> expected = scanned_ids(dir.path() / "rules.toml", dir.path() / "posts.jsonl", dir.path());
  REQUIRE(expected.size() > 300);

  // The first matcher's endpoint refuses until its restart, so that its outbox holds alerts when
  // it is killed; the others deliver to a receiver that takes everything.
  std::atomic<bool> first_open{false};
  HttpReceiver first([&](const httplib::Request&, httplib::Response& res) { res.status = first_open ? 200 : 503; });
  Receiver rest;
  // A consumer that read 200 entries and died before the matchers started: its entries are only
  // reached by claiming them, which m1 (claim_idle 1h) leaves to m2 and m3.
  lodestone::RedisConnection feed(*lodestone::parse_redis_url(redis.url()), 5);
  auto add = [&](size_t from, size_t to) {
    std::vector<std::vector<std::string>> commands;
    for (size_t i = from; i < to; ++i) commands.push_back({"XADD", "posts", "*", "post", posts[i]});
    auto replies = feed.pipeline(commands);
    REQUIRE(replies.ok());
  };
  add(0, 300);
  redis.command({"XGROUP", "CREATE", "posts", "matchers", "0"});
  redis.command({"XREADGROUP", "GROUP", "matchers", "crashed", "COUNT", "200", "STREAMS", "posts", ">"});

  const int admins[3] = {free_port(), free_port(), free_port()};
  std::vector<fs::path> dirs;
  for (int m = 0; m < 3; ++m) {
    const fs::path d = subdir(dir, numbered("m", m + 1));
    dirs.push_back(d);
    write_file(d / "lodestone.toml",
               matcher_config(redis.url(), admins[m], numbered("m", m + 1), m == 0 ? first.url("/hook") : rest.url(), "",
                              m == 0 ? "1h" : "2s"));
  }
  auto m1 = std::make_unique<Watcher>(dirs[0] / "lodestone.toml", dirs[0]);
  Watcher m2(dirs[1] / "lodestone.toml", dirs[1]);
  Watcher m3(dirs[2] / "lodestone.toml", dirs[2]);
  for (int m = 0; m < 3; ++m) REQUIRE(wait_until([&] { return status(admins[m], "/readyz") == 200; }));

  // The rest of the posts arrive while they work; m1 is killed after about a third, while it
  // holds entries it read and did not acknowledge, if the moment allows.
  size_t added = 300;
  while (added < 1000) {
    add(added, added + 100);
    added += 100;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  // Caught holding entries: stopped (SIGSTOP) the moment XPENDING shows some, and killed if it
  // still holds them then; else it goes on and is caught again. Posts keep coming meanwhile.
  auto m1_holds = [&] { return !redis.command({"XPENDING", "posts", "matchers", "-", "+", "10", "m1"}).elements.empty(); };
  bool caught = false;
  for (int i = 0; i < 20000 && !caught; ++i) {
    if (m1_holds()) {
      m1->signal(SIGSTOP);
      caught = m1_holds();
      if (!caught) m1->signal(SIGCONT);
    }
    if (i % 50 == 49 && added < 1500) {
      add(added, added + 100);
      added += 100;
    }
  }
  CHECK(caught);
  REQUIRE(m1->kill9() == 128 + SIGKILL);
  m1.reset();
  const size_t m1_left = redis.command({"XPENDING", "posts", "matchers", "-", "+", "1000", "m1"}).elements.size();
  INFO("entries m1 held when it was killed: " << m1_left);
  while (added < posts.size()) {
    add(added, std::min(posts.size(), added + 100));
    added += 100;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }

  // Every entry is acknowledged (the crashed consumer's and m1's claimed after claim_idle), and
  // every alert arrived once m1 comes back with its state and its endpoint opens.
  REQUIRE(wait_until([&] { return lag(redis, "posts") == 0 && pending(redis, "posts", "matchers") == 0; }, 90));
  const double claimed2 = metric(admins[1], R"(lodestone_redis_entries_total{source="posts",stream="posts",outcome="claimed"})");
  const double claimed3 = metric(admins[2], R"(lodestone_redis_entries_total{source="posts",stream="posts",outcome="claimed"})");
  CHECK(claimed2 + claimed3 >= static_cast<double>(200 + m1_left));
  first_open = true;
  Watcher m1_again(dirs[0] / "lodestone.toml", dirs[0]);
  auto delivered = [&] {
    std::map<std::string, std::set<std::string>> bodies;  // webhook-id → the bodies it came with
    for (const auto& d : rest.deliveries()) {
      if (d.status / 100 == 2) bodies[d.id].insert(comparable(d.body));
    }
    for (const auto& r : first.requests()) {
      if (r.status / 100 == 2) bodies[r.header("webhook-id")].insert(comparable(r.body));
    }
    return bodies;
  };
  const bool all = wait_until(
      [&] {
        std::set<std::string> ids;
        for (const auto& [id, b] : delivered()) ids.insert(id);
        return ids == expected;
      },
      90);
  const auto bodies = delivered();
  std::set<std::string> ids;
  for (const auto& [id, b] : bodies) ids.insert(id);
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), ids.begin(), ids.end(), std::back_inserter(missing));
  std::set_difference(ids.begin(), ids.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  INFO("missing " << missing.size() << ", not expected " << extra.size());
  CHECK(all);
  CHECK(missing.empty());
  CHECK(extra.empty());
  for (const auto& [id, b] : bodies) {
    INFO("alert " << id);
    CHECK(b.size() == 1);  // a repeat carries the same webhook-id and the same alert
  }
  // The restarted matcher's outbox is empty once its endpoint took what it held.
  REQUIRE(wait_until([&] { return metric(admins[0], R"(lodestone_deliveries{notifier="hook",state="delivered"})") > 0; }));
  REQUIRE(wait_until([&] {
    const double p = metric(admins[0], R"(lodestone_deliveries{notifier="hook",state="pending"})");
    return p == 0 || p == -1;
  }));
  CHECK(pending(redis, "posts", "matchers") == 0);
}

TEST_CASE("two collectors polling one feed forward its post twice, and the matchers raise one alert", "[scale-out]") {
  require_redis_server();
  RedisServer redis;
  TempDir dir("scale-feed");
  write_file(dir.path() / "rules.toml", kRules);
  HttpReceiver feed([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><guid>f1</guid><title>A lodestar over the harbour</title><description>seen by both</description></item>
</channel></rss>)",
                    "application/rss+xml");
  });
  Receiver hook;
  const std::string feed_source = "[[source]]\nname = \"news\"\ntype = \"feed\"\nurl = \"" + feed.url("/feed.xml") +
                                  "\"\ninterval = \"0.3s\"\njitter = 0\n";
  const int c_admin[2] = {free_port(), free_port()}, m_admin[2] = {free_port(), free_port()};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < 2; ++i) {
    const fs::path m = subdir(dir, numbered("m", i));
    write_file(m / "lodestone.toml", matcher_config(redis.url(), m_admin[i], numbered("m", i), hook.url()));
    watchers.push_back(std::make_unique<Watcher>(m / "lodestone.toml", m));
  }
  for (int i = 0; i < 2; ++i) REQUIRE(wait_until([&] { return status(m_admin[i], "/readyz") == 200; }));
  for (int i = 0; i < 2; ++i) {
    const fs::path c = subdir(dir, numbered("c", i));
    write_file(c / "lodestone.toml", collector_config(redis.url(), c_admin[i], feed_source));
    watchers.push_back(std::make_unique<Watcher>(c / "lodestone.toml", c));
  }
  // Both collectors forward the post once each, however often they poll.
  REQUIRE(wait_until([&] { return redis.command({"XLEN", "posts"}).integer == 2 && feed.count() >= 8; }));
  REQUIRE(wait_until([&] { return lag(redis, "posts") == 0 && pending(redis, "posts", "matchers") == 0; }));
  REQUIRE(wait_until([&] { return hook.delivered_ids() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(redis.command({"XLEN", "posts"}).integer == 2);
  CHECK(hook.delivered_ids() == 1);
  std::set<std::string> bodies;
  for (const auto& d : hook.deliveries()) bodies.insert(comparable(d.body));
  CHECK(bodies.size() == 1);
  for (int i = 0; i < 2; ++i) {
    CHECK(metric(c_admin[i], R"(lodestone_forward_total{stream="posts",outcome="added"})") == 1);
  }
}

TEST_CASE("Redis stopped for 10 s under load and started again: no post lost, none alerted twice, /readyz 503 "
          "meanwhile and one log line per outage",
          "[scale-out]") {
  require_redis_server();
  RedisServer redis(true);  // its AOF keeps the stream across the restart
  TempDir dir("scale-outage");
  write_file(dir.path() / "rules.toml", kRules);
  Receiver hook;
  const fs::path c = subdir(dir, "collector"), m = subdir(dir, "matcher");
  const int c_admin = free_port(), m_admin = free_port();
  write_file(c / "lodestone.toml",
             collector_config(redis.url(), c_admin, kFollowedFile));
  write_file(m / "lodestone.toml", matcher_config(redis.url(), m_admin, "m", hook.url()));
  write_file(c / "posts.jsonl", "");
  Watcher collector(c / "lodestone.toml", c);
  Watcher matcher(m / "lodestone.toml", m);
  REQUIRE(wait_until([&] { return status(m_admin, "/readyz") == 200 && status(c_admin, "/readyz") == 200; }));

  // Posts keep arriving, every 20 ms, before, during and after the outage.
  std::atomic<bool> writing{true};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      std::ofstream(c / "posts.jsonl", std::ios::app) << post_line(numbered("p", i), i % 2 ? "lodestar" : "plain");
      written = i + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  REQUIRE(wait_until([&] { return hook.delivered_ids() >= 10; }));
  redis.stop();
  const bool matcher_unready = wait_until([&] { return status(m_admin, "/readyz") == 503; }, 8);
  const bool collector_unready = wait_until([&] { return status(c_admin, "/readyz") == 503; }, 8);
  CHECK(matcher_unready);
  CHECK(collector_unready);
  CHECK(metric(m_admin, R"(lodestone_source_up{source="posts"})") == 0);
  std::this_thread::sleep_for(std::chrono::seconds(10));
  CHECK(status(m_admin, "/readyz") == 503);
  redis.start();
  REQUIRE(wait_until([&] { return status(m_admin, "/readyz") == 200 && status(c_admin, "/readyz") == 200; }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  writing = false;
  writer.join();

  std::set<std::string> expected;
  for (int i = 1; i < written; i += 2) expected.insert(numbered("p", i));
  auto alerted = [&] {
    std::multiset<std::string> posts;
    for (const auto& d : hook.deliveries()) {
      if (d.status / 100 == 2) posts.insert(nlohmann::json::parse(d.body)["data"]["post"]["id"].get<std::string>());
    }
    return posts;
  };
  REQUIRE(wait_until([&] { return alerted().size() >= expected.size(); }, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::multiset<std::string> got = alerted();
  CHECK(std::set<std::string>(got.begin(), got.end()) == expected);  // none lost
  CHECK(got.size() == expected.size());                               // none twice
  CHECK(occurrences(matcher.log(), "reconnecting with backoff") == 1);
  CHECK(occurrences(matcher.log(), "is back after") == 1);
  CHECK(occurrences(collector.log(), "retried with backoff") == 1);
}

TEST_CASE("a restarted collector forwards nothing twice, and the redis notifier's stream holds each alert once",
          "[scale-out]") {
  require_redis_server();
  RedisServer redis;
  TempDir dir("scale-restart");
  write_file(dir.path() / "rules.toml", kRules);
  Receiver hook;
  const fs::path c = subdir(dir, "collector"), m = subdir(dir, "matcher");
  const int c_admin = free_port(), m_admin = free_port();
  write_file(c / "lodestone.toml",
             collector_config(redis.url(), c_admin, kFollowedFile));
  write_file(m / "lodestone.toml",
             matcher_config(redis.url(), m_admin, "m", hook.url(),
                            "[[notifier]]\nname = \"stream\"\ntype = \"redis\"\nurl = " + quoted(redis.url()) +
                                "\nstream = \"alerts\"\n"));
  std::string first, second;
  for (int i = 0; i < 50; ++i) first += post_line(numbered("a", i), "lodestar");
  for (int i = 0; i < 50; ++i) second += post_line(numbered("b", i), "lodestar");
  write_file(c / "posts.jsonl", first);
  Watcher matcher(m / "lodestone.toml", m);
  {
    Watcher collector(c / "lodestone.toml", c);
    REQUIRE(wait_until([&] { return redis.command({"XLEN", "posts"}).integer == 50; }));
    collector.signal(SIGTERM);
    REQUIRE(collector.wait() == 0);
  }
  std::ofstream(c / "posts.jsonl", std::ios::app) << second;
  {
    Watcher collector(c / "lodestone.toml", c);
    REQUIRE(wait_until([&] { return redis.command({"XLEN", "posts"}).integer == 100; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // polls enough to forward more, if it would
    CHECK(redis.command({"XLEN", "posts"}).integer == 100);
  }
  REQUIRE(wait_until([&] { return redis.command({"XLEN", "alerts"}).integer == 100; }));
  REQUIRE(wait_until([&] { return hook.delivered_ids() == 100; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const RedisReply entries = redis.command({"XRANGE", "alerts", "-", "+"});
  CHECK(entries.elements.size() == 100);
  std::set<std::string> ids;
  for (const RedisReply& e : entries.elements) {
    const auto& f = e.elements[1].elements;
    REQUIRE(f.size() == 4);
    CHECK(f[0].text() == "id");
    CHECK(f[2].text() == "alert");
    CHECK(nlohmann::json::parse(f[3].text())["id"] == f[1].text());
    ids.insert(f[1].text());
  }
  CHECK(ids.size() == 100);
}
