// `lodestone watch` on a PTT board, end to end: the real binary polling tests/data/ptt served on
// loopback (see its README), rules with push-count comparisons and per-source scopes, alerts in a
// file notifier, SQLite state across a restart.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <utility>

#include "support/ptt_site.h"
#include "support/watch_harness.h"

using namespace watch_test;
using lodestone::testing::PttSite;
using lodestone::testing::ReceivedRequest;
using lodestone::testing::replace_once;

namespace {

constexpr const char* kRules = R"(
[[rule]]
id = "rare-earths"
title = "Rare earths"
match = '稀土 OR "rare earths"'

[[rule]]
id = "tsmc-hot"
title = "TSMC with fifty pushes"
sources = ["ptt/*"]
match = "(台積電 OR TSMC) AND pushes:>=50"

[[rule]]
id = "boo-storm"
title = "Booed"
sources = ["ptt/*"]
match = "pushes:<=-10"

[[rule]]
id = "followed-author"
title = "aiwatcher posted"
match = "author:aiwatcher"

[[rule]]
id = "feeds-only"
title = "Rare earths in the feeds"
sources = ["feed/*"]
match = "稀土"
)";

constexpr double kRequestInterval = 0.15;  // the config's request_interval, in seconds

using Alerted = std::set<std::pair<std::string, std::string>>;  // (rule id, post id)

std::vector<nlohmann::json> alerts_in(const fs::path& file) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(file)) out.push_back(nlohmann::json::parse(line));
  return out;
}

Alerted pairs_of(const std::vector<nlohmann::json>& alerts) {
  Alerted out;
  for (const auto& a : alerts) out.emplace(a["rule"]["id"], a["post"]["id"]);
  return out;
}

size_t asked_for(const std::vector<ReceivedRequest>& requests, const std::string& path, size_t from = 0) {
  size_t n = 0;
  for (size_t i = from; i < requests.size(); ++i) n += requests[i].path == path;
  return n;
}

bool is_article(const ReceivedRequest& r) { return r.path.find("/bbs/Stock/M.") == 0; }

}  // namespace

TEST_CASE("watch on a PTT board alerts each post once and again only when its pushes cross a rule's mark",
          "[watch][ptt]") {
  TempDir dir("watch-ptt");
  PttSite site;
  dir.write("rules/ptt.toml", kRules);
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"rules/*.toml\"]\nstate = \"state.db\"\nlog_level = \"debug\"\n"
            "[[source]]\nname = \"ptt\"\ntype = \"ptt\"\nboards = [\"Stock\"]\nbase_url = \"" + site.base_url() +
                "\"\ninterval = \"0.3s\"\nrequest_interval = \"" + std::to_string(kRequestInterval) + "s\"\ntimeout = \"10s\"\n"
            "[[notifier]]\nname = \"out\"\ntype = \"file\"\npath = \"alerts.jsonl\"\nfsync = false\n");
  const fs::path alerts = dir.file("alerts.jsonl");
  const auto requests = [&] { return site.server().requests(); };

  auto watcher = std::make_unique<Watcher>(dir.file("lodestone.toml"), dir.path());
  REQUIRE(watcher->started());

  // The first poll: both index pages, every listed article once; the rules' matches among them.
  const Alerted first = {{"rare-earths", "M.1768118400.A.6F6"},
                         {"rare-earths", "M.1768131864.A.9E9"},
                         {"boo-storm", "M.1768127400.A.2B2"},
                         {"followed-author", "M.1768111200.A.5E5"}};
  const bool got_first = wait_until([&] { return pairs_of(alerts_in(alerts)) == first; }, 60);
  INFO(watcher->log());
  REQUIRE(got_first);
  // A later poll (the index asked for again after the alerts) brings nothing more.
  const size_t index_before = asked_for(requests(), "/bbs/Stock/index.html");
  REQUIRE(wait_until([&] { return asked_for(requests(), "/bbs/Stock/index.html") >= index_before + 2; }, 30));
  CHECK(alerts_in(alerts).size() == first.size());
  for (const auto& a : alerts_in(alerts)) {
    CHECK(a["post"]["source"] == "ptt/Stock");
    if (a["rule"]["id"] == "boo-storm") {
      REQUIRE(a["matches"].size() == 1);
      CHECK(a["matches"][0]["field"] == "pushes");
      CHECK(a["matches"][0]["value"] == -10);
    }
  }

  // 3C3's push summary moves from 12 to 55: the next poll re-sends it, and tsmc-hot fires on it
  // alone, with the count it crossed on; its page is not read again.
  const size_t before_change = requests().size();
  site.set_index(replace_once(site.index(), "<span class=\"hl f3\">12</span>", "<span class=\"hl f3\">55</span>"));
  REQUIRE(wait_until([&] { return alerts_in(alerts).size() == first.size() + 1; }, 30));
  const auto after_change = alerts_in(alerts);
  const auto& hot = after_change.back();
  CHECK(hot["rule"]["id"] == "tsmc-hot");
  CHECK(hot["post"]["id"] == "M.1768129200.A.3C3");
  bool pushes_shown = false;
  for (const auto& m : hot["matches"]) {
    if (m.value("field", "") == "pushes") pushes_shown = m["value"] == 55;
  }
  CHECK(pushes_shown);
  const size_t index_now = asked_for(requests(), "/bbs/Stock/index.html");
  REQUIRE(wait_until([&] { return asked_for(requests(), "/bbs/Stock/index.html") >= index_now + 2; }, 30));
  CHECK(alerts_in(alerts).size() == first.size() + 1);

  watcher->signal(SIGTERM);
  CHECK(watcher->wait() == 0);
  watcher.reset();

  // A restart on the same state: the board is polled again, and nothing is fetched twice or
  // alerted twice.
  const size_t before_restart = requests().size();
  watcher = std::make_unique<Watcher>(dir.file("lodestone.toml"), dir.path());
  REQUIRE(watcher->started());
  REQUIRE(wait_until([&] { return asked_for(requests(), "/bbs/Stock/index.html", before_restart) >= 2; }, 30));
  watcher->signal(SIGTERM);
  CHECK(watcher->wait() == 0);
  CHECK(alerts_in(alerts).size() == first.size() + 1);

  const auto all = requests();
  std::map<std::string, int> articles;
  for (const auto& r : all) {
    if (is_article(r)) ++articles[r.path];
  }
  // Six articles and the rejected one, each read once, all of them on the first poll.
  CHECK(articles.size() == 7);
  for (const auto& [path, n] : articles) {
    INFO(path);
    CHECK(n == 1);
  }
  for (size_t i = before_change; i < all.size(); ++i) CHECK_FALSE(is_article(all[i]));
  for (const auto& r : all) {
    INFO(r.path);
    CHECK(r.header("Cookie") == "over18=1");
  }
  // One request at a time with request_interval between them (a lower bound only: these machines
  // are shared), except across the restart.
  for (size_t i = 1; i < all.size(); ++i) {
    if (i == before_restart) continue;
    const double gap = std::chrono::duration<double>(all[i].at - all[i - 1].at).count();
    INFO("request " << i << " " << all[i].path << " " << gap << " s after the one before");
    CHECK(gap >= kRequestInterval - 0.02);
  }
}
