// `lodestone watch` end to end, as a separate process with real parts on loopback: webhook
// receivers, an HTTP feed, the ingest endpoint, SQLite state. What the watcher must show: retries
// that deliver once, nothing lost to kill -9 or SIGTERM, no alert twice, a slow endpoint that
// holds back nobody else, and a broken rule file that leaves the old rules running.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <set>

#include "notifiers/webhook/webhook.h"
#include "support/smtp_receiver.h"
#include "support/watch_harness.h"

using namespace watch_test;
using lodestone::testing::HttpReceiver;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

constexpr const char* kRules = R"(
[[rule]]
id = "lodestar"
title = "Lodestar sighted"
severity = "high"
match = "lodestar OR 磁石"
)";

// A config in `dir`: rules from dir/rules, state dir/state.db, the admin endpoint on `admin`,
// then the given [[source]] and [[notifier]] tables.
std::string config(const TempDir& dir, int admin, const std::string& tables, const std::string& extra = "") {
  if (!fs::exists(dir.file("rules"))) dir.write("rules/watch.toml", kRules);
  return "[lodestone]\nrules = [\"rules/*.toml\"]\nstate = \"state.db\"\nworkers = 2\nadmin = \"127.0.0.1:" +
         std::to_string(admin) + "\"\nlog_level = \"debug\"\n" + extra + "\n" + tables;
}

std::string post(const std::string& id, const std::string& body) {
  return nlohmann::json{{"id", id}, {"title", "post " + id}, {"body", body}}.dump() + "\n";
}

// "t<client>-<batch>-<post>"; built without `"literal" + std::string`, which GCC 12 warns on
// falsely (-Wrestrict) after inlining.
std::string fmt_id(int c, int b, int i) {
  std::string id = "t";
  id += std::to_string(c);
  id += '-';
  id += std::to_string(b);
  id += '-';
  id += std::to_string(i);
  return id;
}

bool ready(int admin) {
  httplib::Client client("127.0.0.1", admin);
  client.set_connection_timeout(1);
  auto res = client.Get("/readyz");
  return res && res->status == 200;
}

// post.id of every alert line in a file notifier's file.
std::multiset<std::string> alerted_posts(const fs::path& file) {
  std::multiset<std::string> ids;
  for (const auto& line : lines_of(file)) ids.insert(nlohmann::json::parse(line)["post"]["id"].get<std::string>());
  return ids;
}

}  // namespace

TEST_CASE("an endpoint answering 503 five times, then 200, gets each alert once, after backoff and Retry-After",
          "[watch]") {
  TempDir dir("watch-retry");
  // 503 five times (the third with Retry-After: 2), then 200.
  Receiver flaky(0, [](const std::string&, int nth) {
    if (nth <= 5) return Receiver::Answer{503, 0, nth == 3 ? "2" : ""};
    return Receiver::Answer{200, 0, ""};
  });
  Receiver strict(0, [](const std::string&, int) { return Receiver::Answer{400, 0, ""}; });
  const int admin = free_port();
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[notifier]]\nname = \"flaky\"\ntype = \"webhook\"\nurl = \"" + flaky.url() + "\"\nsecret = \"" +
                       kSecret + "\"\nbackoff = \"0.1s\"\nmax_backoff = \"10s\"\nmax_attempts = 10\n"
                   "[[notifier]]\nname = \"strict\"\ntype = \"webhook\"\nurl = \"" + strict.url() +
                       "\"\nbackoff = \"0.1s\"\n"));
  dir.write("inbox/posts.jsonl", post("p1", "a lodestar over the bay") + post("p2", "nothing here") +
                                     post("p3", "磁石 and lodestar") + post("p4", "lodestar again"));
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(watcher.started());

  REQUIRE(wait_until([&] { return flaky.delivered_ids() == 3; }, 60));
  REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_deliveries{notifier="strict",state="dead"})") == 3; }));
  // Nothing more arrives for either: delivered once, and a 400 is not retried.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(metric(admin, R"(lodestone_deliveries{notifier="flaky",state="delivered"})") == 3);
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
  INFO(watcher.log());

  std::map<std::string, std::vector<Delivery>> by_id;
  for (const auto& d : flaky.deliveries()) by_id[d.id].push_back(d);
  REQUIRE(by_id.size() == 3);
  for (const auto& [id, attempts] : by_id) {
    INFO("alert " << id);
    REQUIRE(attempts.size() == 6);
    for (size_t i = 0; i < attempts.size(); ++i) {
      CHECK(attempts[i].status == (i < 5 ? 503 : 200));
      // The same id and the same bytes on every attempt, each signed for its own timestamp.
      CHECK(attempts[i].body == attempts[0].body);
      CHECK(attempts[i].signature ==
            lodestone::standard_webhooks_signature(kSecret, id, attempts[i].timestamp, attempts[i].body));
    }
    CHECK(nlohmann::json::parse(attempts[0].body)["data"]["id"] == id);
    // Waits grow from 0.1 s by doubling (less at most the 20 % jitter); after the Retry-After: 2
    // answer (the third), the wait is at least 2 s.
    for (size_t i = 1; i < attempts.size(); ++i) {
      const double wait = static_cast<double>(attempts[i].at_ms - attempts[i - 1].at_ms) / 1000;
      const double backoff = 0.1 * std::pow(2.0, static_cast<double>(i - 1)) * 0.8;
      INFO("wait before attempt " << i + 1 << ": " << wait << " s");
      CHECK(wait >= (i == 3 ? 2.0 : backoff) - 0.02);
    }
  }
  std::map<std::string, int> strict_attempts;
  for (const auto& d : strict.deliveries()) ++strict_attempts[d.id];
  CHECK(strict_attempts.size() == 3);
  for (const auto& [id, n] : strict_attempts) CHECK(n == 1);
}

TEST_CASE("kill -9 while 1,000 alerts wait for a dead endpoint loses none and repeats none", "[watch]") {
  TempDir dir("watch-kill");
  const int admin = free_port();
  const int hook_port = free_port();  // nobody listens here until the watcher has been killed
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:" +
                       std::to_string(hook_port) +
                       "/hook\"\nbackoff = \"0.1s\"\nmax_backoff = \"0.5s\"\nmax_attempts = 10000\n"));
  std::string posts;
  for (int i = 0; i < 1000; ++i) {
    const std::string n = std::to_string(i);
    posts += post("k" + n, "lodestar number " + n);
  }
  dir.write("inbox/posts.jsonl", posts);
  {
    Watcher watcher(dir.file("lodestone.toml"), dir.path());
    REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_deliveries{notifier="hook",state="pending"})") == 1000; },
                       60));
    // Let it fail a few rounds against the closed port, then kill it mid-flight.
    REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_delivery_attempts_total{notifier="hook",outcome="retry"})") > 1500; }, 60));
    CHECK(watcher.kill9() == 128 + SIGKILL);
  }
  Receiver hook(hook_port);
  REQUIRE(hook.port() == hook_port);
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return hook.delivered_ids() == 1000; }, 120));
  REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_deliveries{notifier="hook",state="delivered"})") == 1000; }));
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);

  std::map<std::string, std::vector<std::string>> bodies;
  for (const auto& d : hook.deliveries()) bodies[d.id].push_back(d.body);
  CHECK(bodies.size() == 1000);
  std::set<std::string> posts_alerted;
  for (const auto& [id, list] : bodies) {
    for (const auto& b : list) CHECK(b == list.front());  // a repeat is byte for byte the same
    posts_alerted.insert(nlohmann::json::parse(list.front())["data"]["post"]["id"].get<std::string>());
  }
  CHECK(posts_alerted.size() == 1000);
  CHECK(hook.deliveries().size() == 1000);  // the endpoint was down at the kill: nothing was in flight
}

TEST_CASE("a replayed file, a re-polled feed and a restart never alert twice", "[watch]") {
  TempDir dir("watch-dedup");
  const int admin = free_port();
  // A feed served without ETag or Last-Modified, so every poll reads it all again.
  HttpReceiver feed([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><guid>f1</guid><title>A lodestar in the feed</title><description>first</description></item>
<item><guid>f2</guid><title>Nothing</title><description>second</description></item>
<item><guid>f3</guid><title>磁石 news</title><description>third</description></item>
</channel></rss>)", "application/rss+xml");
  });

  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[source]]\nname = \"news\"\ntype = \"feed\"\nurl = \"" + feed.url("/feed.xml") +
                       "\"\ninterval = \"0.3s\"\njitter = 0\n"
                   "[[notifier]]\nname = \"out\"\ntype = \"file\"\npath = \"alerts.jsonl\"\n"));
  const std::string posts = post("a", "lodestar") + post("b", "plain") + post("c", "lodestar twice lodestar");
  dir.write("inbox/first.jsonl", posts);
  const fs::path alerts = dir.file("alerts.jsonl");
  const std::multiset<std::string> expected = {"a", "c", "f1", "f3"};
  {
    Watcher watcher(dir.file("lodestone.toml"), dir.path());
    REQUIRE(wait_until([&] { return alerted_posts(alerts).size() == 4; }));
    const size_t seen_polls = feed.count();
    // The same posts again under another name, and the feed polled again and again.
    dir.write("inbox/replay.jsonl", posts);
    REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_posts_total{source="inbox",outcome="duplicate"})") == 3; }));
    REQUIRE(wait_until([&] { return feed.count() >= seen_polls + 3; }));
    watcher.signal(SIGTERM);
    REQUIRE(watcher.wait() == 0);
    CHECK(alerted_posts(alerts) == expected);
  }
  {
    // A restart: the folder's files are done, the feed's posts are seen.
    Watcher watcher(dir.file("lodestone.toml"), dir.path());
    const size_t seen_polls = feed.count();
    REQUIRE(wait_until([&] { return ready(admin) && feed.count() >= seen_polls + 3; }));
    watcher.signal(SIGTERM);
    REQUIRE(watcher.wait() == 0);
    INFO(watcher.log());
    CHECK(alerted_posts(alerts) == expected);
  }
}

TEST_CASE("a slow endpoint does not delay another notifier, and shutdown does not wait for it", "[watch]") {
  TempDir dir("watch-slow");
  Receiver slow(0, [](const std::string&, int) { return Receiver::Answer{200, 30, ""}; });
  Receiver fast;
  const int admin = free_port();
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[notifier]]\nname = \"slow\"\ntype = \"webhook\"\nurl = \"" + slow.url() +
                       "\"\ntimeout = \"60s\"\n"
                   "[[notifier]]\nname = \"fast\"\ntype = \"webhook\"\nurl = \"" + fast.url() + "\"\n",
                   "shutdown_deadline = \"1s\"\n"));
  std::string posts;
  for (int i = 0; i < 5; ++i) posts += post(std::string("s") + std::to_string(i), std::string("lodestar ") + std::to_string(i));
  dir.write("inbox/posts.jsonl", posts);
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return fast.delivered_ids() == 5; }));
  REQUIRE(wait_until([&] { return slow.arrived() >= 1; }));
  // All five reached the fast endpoint while the slow one still holds its first request.
  CHECK(slow.arrived() == 1);
  CHECK(slow.deliveries().empty());
  CHECK(fast.deliveries().size() == 5);
  watcher.signal(SIGTERM);
  CHECK(watcher.wait(20) == 0);  // the in-flight request is cancelled after shutdown_deadline, not waited 30 s for
  INFO(watcher.log());
  CHECK(watcher.log().find("cancelling it") != std::string::npos);
  slow.release();
  // What the slow endpoint did not take is still pending in the store for the next start.
  Receiver slow_again(0);
  // (the store is checked through a restart that points "slow" at a quick receiver)
  std::string cfg = slurp(dir.file("lodestone.toml"));
  cfg.replace(cfg.find(slow.url()), slow.url().size(), slow_again.url());
  dir.write("lodestone.toml", cfg);
  Watcher again(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return slow_again.delivered_ids() == 5; }));
  CHECK(fast.deliveries().size() == 5);  // the fast notifier sent nothing twice
  again.signal(SIGTERM);
  CHECK(again.wait() == 0);
}

TEST_CASE("a broken rule file keeps the old rules matching, and fixing it swaps the new ones in", "[watch]") {
  TempDir dir("watch-reload");
  const int admin = free_port();
  dir.write("lodestone.toml", config(dir, admin,
                                     "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                                     "[[notifier]]\nname = \"out\"\ntype = \"file\"\npath = \"alerts.jsonl\"\n"));
  const fs::path alerts = dir.file("alerts.jsonl");
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return ready(admin); }));
  dir.write("inbox/1.jsonl", post("p1", "lodestar"));
  REQUIRE(wait_until([&] { return alerted_posts(alerts).count("p1") == 1; }));

  dir.write("rules/compass.toml", "[[rule]]\nid = \"compass\"\nmatch = \"compass AND\"\n");
  REQUIRE(wait_until([&] { return metric(admin, "lodestone_last_reload_ok") == 0; }));
  {
    httplib::Client client("127.0.0.1", admin);
    auto health = client.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 503);
    CHECK(health->body.find("compass.toml:3:") != std::string::npos);
  }
  CHECK(watcher.log().find("compass.toml:3:") != std::string::npos);
  dir.write("inbox/2.jsonl", post("p2", "lodestar") + post("p3", "compass"));
  REQUIRE(wait_until([&] { return alerted_posts(alerts).count("p2") == 1; }));

  dir.write("rules/compass.toml", "[[rule]]\nid = \"compass\"\nmatch = \"compass\"\n");
  REQUIRE(wait_until([&] { return metric(admin, "lodestone_last_reload_ok") == 1; }));
  CHECK(metric(admin, "lodestone_rules_loaded") == 2);
  dir.write("inbox/3.jsonl", post("p4", "compass and lodestar"));
  REQUIRE(wait_until([&] { return alerted_posts(alerts).count("p4") == 2; }));
  CHECK(metric(admin, R"(lodestone_posts_total{source="inbox",outcome="new"})") == 4);
  {
    httplib::Client client("127.0.0.1", admin);
    auto health = client.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
  // p3 came while the compass rule was broken: the old rules saw it, and it raised nothing.
  CHECK(alerted_posts(alerts) == std::multiset<std::string>{"p1", "p2", "p4", "p4"});
}

TEST_CASE("SIGTERM under load loses nothing that was accepted", "[watch]") {
  TempDir dir("watch-term");
  const int admin = free_port();
  const int ingest = free_port();
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"push\"\ntype = \"http\"\nlisten = \"127.0.0.1:" + std::to_string(ingest) +
                       "\"\n"
                   "[[notifier]]\nname = \"out\"\ntype = \"file\"\npath = \"alerts.jsonl\"\nfsync = false\n",
                   "queue = 500\n"));
  std::set<std::string> accepted;
  std::mutex accepted_mutex;
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  {
    Watcher watcher(dir.file("lodestone.toml"), dir.path());
    REQUIRE(wait_until([&] { return ready(admin); }));
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", ingest);
        client.set_read_timeout(30);
        for (int b = 0; !stop; ++b) {
          std::string body;
          std::vector<std::string> ids;
          for (int i = 0; i < 50; ++i) {
            ids.push_back(fmt_id(c, b, i));
            body += post(ids.back(), "lodestar under load");
          }
          auto res = client.Post("/v1/posts", body, "application/x-ndjson");
          if (res && res->status == 202) {
            std::lock_guard lock(accepted_mutex);
            accepted.insert(ids.begin(), ids.end());
            ++batches;
          } else if (!res) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
    REQUIRE(wait_until([&] { return batches >= 20; }, 60));
    watcher.signal(SIGTERM);
    const int code = watcher.wait(60);
    stop = true;
    for (auto& t : clients) t.join();
    INFO(watcher.log());
    REQUIRE(code == 0);
  }
  REQUIRE(!accepted.empty());
  // Whatever was not delivered before the stop is delivered after a restart; nothing twice.
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  const fs::path alerts = dir.file("alerts.jsonl");
  REQUIRE(wait_until([&] { return alerted_posts(alerts).size() >= accepted.size(); }, 60));
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
  const auto alerted = alerted_posts(alerts);
  for (const auto& id : accepted) {
    INFO(id);
    CHECK(alerted.count(id) == 1);
  }
  CHECK(std::set<std::string>(alerted.begin(), alerted.end()).size() == alerted.size());
}

TEST_CASE("notify-test sends one sample alert through the named notifier and prints the outcome", "[watch]") {
  TempDir dir("watch-notify-test");
  Receiver ok;
  Receiver refusing(0, [](const std::string&, int) { return Receiver::Answer{400, 0, ""}; });
  dir.write("lodestone.toml",
            config(dir, free_port(),
                   "[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"" + ok.url() + "\"\nsecret = \"" +
                       kSecret + "\"\n[[notifier]]\nname = \"refusing\"\ntype = \"webhook\"\nurl = \"" +
                       refusing.url() + "\"\n"));
  const std::string cfg = dir.file("lodestone.toml");
  auto [code, out] = run_lodestone("notify-test hook -c '" + cfg + "'", dir.path());
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("hook: delivered (status 200)") != std::string::npos);
  const auto got = ok.deliveries();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signature == lodestone::standard_webhooks_signature(kSecret, got[0].id, got[0].timestamp, got[0].body));
  CHECK(nlohmann::json::parse(got[0].body)["data"]["rule"]["id"] == "lodestone-notify-test");
  // Two runs in the same second are two alerts to a receiver that deduplicates by webhook-id.
  REQUIRE(run_lodestone("notify-test hook -c '" + cfg + "'", dir.path()).first == 0);
  REQUIRE(run_lodestone("notify-test hook -c '" + cfg + "'", dir.path()).first == 0);
  std::set<std::string> ids;
  for (const auto& d : ok.deliveries()) {
    ids.insert(d.id);
    CHECK(nlohmann::json::parse(d.body)["data"]["id"] == d.id);
  }
  CHECK(ids.size() == 3);

  std::tie(code, out) = run_lodestone("notify-test refusing -c '" + cfg + "'", dir.path());
  CHECK(code == 1);
  CHECK(out.find("refusing: failed (would not be retried) (status 400)") != std::string::npos);

  std::tie(code, out) = run_lodestone("notify-test nobody -c '" + cfg + "'", dir.path());
  CHECK(code == 2);
  CHECK(out.find("defines no notifier 'nobody' (it has: hook refusing)") != std::string::npos);
}

TEST_CASE("log_format = json writes one JSON object a line, with time, level and msg", "[watch]") {
  TempDir dir("watch-json-log");
  const int admin = free_port();
  std::string cfg = config(dir, admin, "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n");
  cfg.replace(cfg.find("log_level = \"debug\""), 19, "log_level = \"info\"\nlog_format = \"json\"");
  dir.write("lodestone.toml", cfg);
  dir.write("inbox/a.jsonl", post("j1", "lodestar \"quoted\" \\ and a\nline break") + "not json\n");
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_posts_total{source="inbox",outcome="rejected"})") == 1; }));
  watcher.signal(SIGTERM);
  REQUIRE(watcher.wait() == 0);
  std::istringstream log(watcher.log());
  std::string line;
  size_t lines = 0;
  bool bad_line_named = false;
  while (std::getline(log, line)) {
    INFO(line);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["time"].is_string());
    CHECK(j["level"].is_string());
    CHECK(j["msg"].is_string());
    if (j["msg"].get<std::string>().find("a.jsonl:2") != std::string::npos) bad_line_named = true;
    ++lines;
  }
  CHECK(lines >= 3);
  CHECK(bad_line_named);  // the bad line is reported with its place
}

TEST_CASE("an email notifier from the config sends one digest over STARTTLS with AUTH", "[watch][smtp]") {
  TempDir dir("watch-email");
  smtp_test::ReceiverOptions o;
  o.user = "alerts";
  o.password = "pa55-word";
  smtp_test::SmtpReceiver smtp(o);
  dir.write("smtp-password", "pa55-word\n");
  fs::permissions(dir.file("smtp-password"), fs::perms::owner_read | fs::perms::owner_write);
  const int admin = free_port();
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[notifier]]\nname = \"mail\"\ntype = \"email\"\nurl = \"" + smtp.url() + "\"\n"
                   "username = \"alerts\"\npassword_file = \"smtp-password\"\nfrom = \"lodestone@example.com\"\n"
                   "to = [\"analyst@example.com\", \"desk@example.com\"]\nca_file = \"" +
                       smtp_test::certificate().cert + "\"\ndigest = \"1h\"\n"));
  dir.write("inbox/posts.jsonl", post("m1", "a lodestar") + post("m2", "磁石") + post("m3", "lodestar again"));
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_deliveries{notifier="mail",state="delivered"})") == 3; }));
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
  INFO(watcher.log());
  const auto mails = smtp.messages();
  REQUIRE(mails.size() == 1);  // the three alerts of one batch, in one digest
  CHECK(mails[0].find("Subject: [lodestone] 3 alerts") != std::string::npos);
  CHECK(mails[0].find("Message-ID: <digest-") != std::string::npos);
  const std::string envelope = smtp.envelope(1);
  CHECK(envelope.find("analyst@example.com") != std::string::npos);
  CHECK(envelope.find("desk@example.com") != std::string::npos);
  CHECK(watcher.log().find("pa55-word") == std::string::npos);
}

TEST_CASE("the status page shows recent alerts with their matches marked, counts per rule, sources and notifiers",
          "[watch]") {
  TempDir dir("watch-status");
  const int admin = free_port();
  dir.write("lodestone.toml",
            config(dir, admin,
                   "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                   "[[notifier]]\nname = \"out\"\ntype = \"file\"\npath = \"alerts.jsonl\"\n"));
  dir.write("inbox/a.jsonl", nlohmann::json{{"id", "x1"}, {"title", "<script>alert(1)</script>"},
                                            {"body", "a lodestar at dawn"}}.dump() + "\n" + post("x2", "lodestar"));
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(wait_until([&] { return metric(admin, R"(lodestone_deliveries{notifier="out",state="delivered"})") == 2; }));
  httplib::Client client("127.0.0.1", admin);
  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  const std::string& html = page->body;
  CHECK(html.find("a <mark>lodestar</mark> at dawn") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("<tr><td>inbox</td><td>running</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>out</td><td>0</td><td>2</td><td>0</td><td>0</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>lodestar</td>") != std::string::npos);
  CHECK(html.find("<td>2</td></tr>") != std::string::npos);  // the rule's total over 24 hours
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
}
