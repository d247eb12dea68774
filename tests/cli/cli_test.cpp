// The lodestone binary end to end: check and scan, their output and exit codes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "support/temp_dir.h"

using Catch::Matchers::Contains;
using lodestone::testing::TempDir;

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `lodestone ARGS` from the source tree, with optional standard input.
Run run_lodestone(const std::string& args, const std::string& input = "") {
  const TempDir dir("cli");
  const std::string in = dir.file("in"), out = dir.file("out"), err = dir.file("err");
  dir.write("in", input);
  // The default database cache goes to a folder of the run's own, never the user's ~/.cache.
  const std::string cmd = std::string("cd '") + LODESTONE_SOURCE_DIR + "' && LODESTONE_CACHE_DIR='" +
                          dir.file("cache") + "' '" + LODESTONE_BINARY + "' " + args + " <'" + in + "' >'" + out +
                          "' 2>'" + err + "'";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace

TEST_CASE("lodestone --version prints the version", "[cli]") {
  Run r = run_lodestone("--version");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("lodestone 0."));
}

TEST_CASE("check passes on the shipped pack and runs its rule tests", "[cli]") {
  Run r = run_lodestone("check rules/packs/critical-minerals.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("ok: 5 rules"));
  CHECK_THAT(r.out, Contains(" 0 failed"));
}

TEST_CASE("check reports every error with file:line:col and exits 1", "[cli]") {
  Run r = run_lodestone("check tests/data/rules/broken.toml");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("tests/data/rules/broken.toml:6:10: error: unknown term list '@rare_earth' "
                             "(did you mean '@rare_earths'?)"));
  CHECK_THAT(r.err, Contains("tests/data/rules/broken.toml:10:1: error: unknown key 'sevrity' in [[rule]]"));
  CHECK_THAT(r.err,
             Contains("tests/data/rules/broken.toml:15:23: error: /export (?=ban)/: lookaround is not supported"));
  CHECK_THAT(r.err, Contains("3 errors; no rules loaded"));
}

TEST_CASE("check reports a failing rule test at the test's place", "[cli]") {
  Run r = run_lodestone("check tests/data/rules/failing_test.toml");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("tests/data/rules/failing_test.toml:6:10: error: rule 'gallium' should match "
                             "{body: \"germanium\"} but does not"));
  CHECK_THAT(r.err, Contains("tests/data/rules/failing_test.toml:7:13: error: rule 'gallium' should not match "
                             "{body: \"gallium\"} but matches 'gallium' (\"gallium\" in body)"));
  CHECK_THAT(r.out, Contains("FAILED: 1 rules"));
}

TEST_CASE("check -c reads the rules a config names", "[cli]") {
  Run r = run_lodestone("check -c tests/data/lodestone.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  Run bad = run_lodestone("check -c tests/data/bad_config.toml");
  CHECK(bad.code == 1);
  CHECK_THAT(bad.err, Contains("tests/data/bad_config.toml:3:1: error: unknown key 'rulez' in [lodestone] "
                               "(did you mean 'rules'?)"));
}

TEST_CASE("scan prints one JSON alert a line and exits 0", "[cli]") {
  Run r =
      run_lodestone("scan -r rules/packs/critical-minerals.toml examples/inbox/posts.jsonl --now 2026-01-11T11:08:03Z");
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& a : json_lines(r.out)) got.emplace(a["rule"]["id"], a["post"]["id"]);
  CHECK(got.count({"rare-earth-export-controls", "M.1768131864.A.9E9"}));
  CHECK(got.count({"ministers-on-minerals", "sina-2026-0111-02"}));
  CHECK(got.count({"critical-mineral-export-controls", "sina-2026-0111-01"}));
  CHECK(got.count({"critical-minerals-supply", "forum-7781"}));
  CHECK(got.count({"china-commerce-ministry", "wire-0003"}));
  for (const auto& [rule, post] : got) {
    CHECK(post != "wire-0004");  // wheat
    CHECK(post != "wire-0005");  // MAIL is not AI, and no rule is about mail
  }
  CHECK_THAT(r.err, Contains("lodestone: 12 posts read, " + std::to_string(json_lines(r.out).size()) + " alerts"));
}

TEST_CASE("scan exits 1 when nothing matches and 2 on an error, as grep", "[cli]") {
  CHECK(run_lodestone("scan -r rules/packs/critical-minerals.toml -", R"({"body": "wheat"})").code == 1);
  CHECK(run_lodestone("scan -r rules/packs/critical-minerals.toml /nonexistent.jsonl").code == 2);
  CHECK(run_lodestone("scan -r tests/data/rules/broken.toml examples/inbox/posts.jsonl").code == 2);
  CHECK(run_lodestone("scan examples/inbox/posts.jsonl").code == 2);
}

TEST_CASE("scan reports bad lines with file:line, goes on, and sums up", "[cli]") {
  Run r = run_lodestone("scan -r rules/packs/critical-minerals.toml tests/data/posts/mixed.jsonl");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("tests/data/posts/mixed.jsonl:2: error: not JSON"));
  CHECK_THAT(r.err, Contains("tests/data/posts/mixed.jsonl:4: error: no text to match"));
  CHECK_THAT(r.err, Contains("tests/data/posts/mixed.jsonl:5: error: not a JSON object"));
  CHECK_THAT(r.err, Contains("tests/data/posts/mixed.jsonl:6: warning: post 'bad-utf8': invalid UTF-8 replaced"));
  CHECK_THAT(r.err, Contains("lodestone: 3 posts read, 3 alerts; skipped 3 (1 not JSON, 1 not an object, 1 no text)"
                             "; 1 with invalid UTF-8 replaced, 0 truncated"));
  std::set<std::string> posts;
  for (const auto& a : json_lines(r.out)) posts.insert(a["post"]["id"]);
  CHECK(posts == std::set<std::string>{"good-1", "good-2", "bad-utf8"});
}

TEST_CASE("scan on several workers prints what one worker does, in input order", "[cli]") {
  // 3,000 lines (three chunks of work and more), every 7th alerting, every 500th not JSON.
  std::string input;
  for (int i = 1; i <= 3000; ++i) {
    if (i % 500 == 0) {
      input += "{not json\n";
    } else if (i % 7 == 0) {
      input += R"({"id": "p)" + std::to_string(i) + R"(", "body": "China tightens rare earth export controls"})" "\n";
    } else {
      input += R"({"id": "p)" + std::to_string(i) + R"(", "body": "wheat prices"})" "\n";
    }
  }
  const std::string args = "scan -r rules/packs/critical-minerals.toml --now 2026-01-11T11:08:03Z - -j ";
  Run one = run_lodestone(args + "1", input);
  Run four = run_lodestone(args + "4", input);
  REQUIRE(one.code == 0);
  CHECK(four.code == 0);
  CHECK(four.out == one.out);
  CHECK(four.err == one.err);
  const auto alerts = json_lines(four.out);
  REQUIRE(alerts.size() == 428);  // the multiples of 7 up to 3000 (none is a multiple of 500)
  for (size_t i = 1; i < alerts.size(); ++i) {
    const auto n = [&](size_t k) { return std::stoi(alerts[k]["post"]["id"].get<std::string>().substr(1)); };
    REQUIRE(n(i - 1) < n(i));
  }
  CHECK_THAT(four.err, Contains("<stdin>:2500: error: not JSON"));
  CHECK_THAT(four.err, Contains("lodestone: 2994 posts read, 428 alerts; skipped 6 (6 not JSON"));
}

TEST_CASE("scan reads stdin and plain text files", "[cli]") {
  Run in = run_lodestone("scan -r rules/packs/critical-minerals.toml -", R"({"id": "s1", "body": "中國稀土出口管制"})");
  CHECK(in.code == 0);
  REQUIRE(json_lines(in.out).size() == 1);
  CHECK(json_lines(in.out)[0]["post"]["source"] == "stdin");
  Run txt = run_lodestone("scan -r rules/packs/critical-minerals.toml tests/data/posts/note.txt");
  CHECK(txt.code == 0);
  REQUIRE(json_lines(txt.out).size() >= 1);
  CHECK(json_lines(txt.out)[0]["post"]["id"] == "tests/data/posts/note.txt");
}

TEST_CASE("scan --format text prints one readable line per alert with matches marked", "[cli]") {
  Run r = run_lodestone("scan -r rules/packs/critical-minerals.toml --format text -",
                    R"({"id": "t1", "source": "ptt/Stock", "body": "中國稀土出口管制"})");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("high  rare-earth-export-controls  ptt/Stock t1"));
  CHECK_THAT(r.out, Contains("body: «中國»«稀土»«出口管制»"));
}

// ---- entity lists, the database cache and the compile budget ----

TEST_CASE("check prints what each entity list loaded and skipped, and why", "[cli][entities]") {
  Run r = run_lodestone("check tests/data/lists/sdn_rules.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("list sdn: 7 entities with 4 aliases and 3 First LAST orders, 14 names in all, loaded from 19 rows of sdn.csv, alt.csv"));
  CHECK_THAT(r.out, Contains("skipped 5 rows: no id (column 1) (1); text after a closing quote (1)"));
  CHECK_THAT(r.out, Contains("skipped 3 names: in the stoplist (1); shorter than min_alias_length = 3 (2)"));
  CHECK_THAT(r.out, Contains("skipped 1 entity: no name of theirs was left"));
  CHECK_THAT(r.out, Contains("ok: 1 rules, 7 entities"));
  CHECK_THAT(r.out, Contains("4 tests passed, 0 failed"));
  CHECK_THAT(r.err, Contains("tests/data/lists/sdn.csv:8:1: warning: row skipped: no id (column 1)"));
}

TEST_CASE("scan alerts name the list's entity and alias", "[cli][entities]") {
  Run r = run_lodestone("scan -r tests/data/lists/sdn_rules.toml -",
                    R"({"id": "n1", "title": "Treasury widens sanctions on Osama bin Laden's network"})"
                    "\n");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto alerts = json_lines(r.out);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["entities"] == nlohmann::json::parse(
                                     R"([{"id":"2","name":"BIN LADIN, Usama bin Muhammad","kind":"individual",)"
                                     R"("list":"sdn","alias":"BIN LADEN, Osama"}])"));
  CHECK(alerts[0]["matches"][1]["text"] == "Osama bin Laden");
  CHECK(alerts[0]["matches"][1]["entity"] == "2");
}

TEST_CASE("with --stats, a cold start compiles, a warm one loads the cache, a changed rule set recompiles",
          "[cli][cache]") {
  TempDir dir("cache-cli");
  std::filesystem::copy(std::string(LODESTONE_SOURCE_DIR) + "/tests/data/lists", dir.path() / "lists");
  const std::string rules = dir.file("lists/sdn_rules.toml");
  const std::string post = R"({"id": "n1", "body": "new sanctions on al-Qaida"})" "\n";
  const std::string args =
      "scan --stats --cache-dir '" + dir.file("cache") + "' -r '" + rules + "' --now 2026-01-01T00:00:00Z -";
  Run cold = run_lodestone(args, post);
  INFO(cold.err);
  REQUIRE(cold.code == 0);
  CHECK_THAT(cold.err, Contains("compiled in"));
  CHECK_THAT(cold.err, Contains("stats: scanned"));
  Run warm = run_lodestone(args, post);
  CHECK(warm.code == 0);
  CHECK_THAT(warm.err, Contains("loaded from the cache in"));
  CHECK(warm.out == cold.out);
  std::ofstream(rules, std::ios::app) << "\n[[rule]]\nid = \"more\"\nmatch = 'embargo'\n";
  Run stale = run_lodestone(args, post);
  CHECK(stale.code == 0);
  CHECK_THAT(stale.err, Contains("compiled in"));
  CHECK_THAT(stale.err, Contains("cache entry not used: stale"));
  CHECK(stale.out == cold.out);
  // --no-cache neither reads nor writes it.
  Run none = run_lodestone("check --stats --no-cache '" + rules + "'");
  CHECK(none.code == 0);
  CHECK_THAT(none.err, Contains("compiled in"));
  CHECK_THAT(none.err, !Contains("; cache "));
}

TEST_CASE("a compile over its time or memory budget fails with an error naming the budget", "[cli][budget]") {
  TempDir dir("budget-cli");
  // Two thousand regexes with bounded repeats: seconds of Hyperscan compile and many MiB.
  std::ofstream heavy(dir.file("heavy.toml"));
  heavy << "[terms]\nheavy = [\n";
  for (int i = 0; i < 2000; ++i) heavy << "  '/[a-z]{3,20}foo\\d+bar" << i << "baz[^x]{2,9}/',\n";
  heavy << "]\n\n[[rule]]\nid = \"heavy\"\nmatch = '@heavy'\n";
  heavy.close();
  Run slow = run_lodestone("check --no-cache --compile-time-limit 0.05 '" + dir.file("heavy.toml") + "'");
  CHECK(slow.code == 1);
  CHECK_THAT(slow.err, Contains("error: cannot compile the rule set: compiling the rule set took longer than the time "
                                "budget of 0.05 s (compile_time_limit / --compile-time-limit)"));
  Run big = run_lodestone("scan --no-cache --compile-memory-limit 4 -r '" + dir.file("heavy.toml") + "' -", "{}\n");
  CHECK(big.code == 2);
  CHECK_THAT(big.err, Contains("needed more than the memory budget of 4 MiB"));
  // The same budgets from the config.
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"heavy.toml\"]\ncache_dir = false\n"
            "compile_time_limit = 0.05\n");
  Run config = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(config.code == 1);
  CHECK_THAT(config.err, Contains("time budget of 0.05 s"));
}

TEST_CASE("the config's cache and budget keys are checked like every other", "[cli][cache]") {
  TempDir dir("config-cli");
  std::filesystem::copy_file(std::string(LODESTONE_SOURCE_DIR) + "/tests/data/rules/lists_a.toml", dir.file("a.toml"));
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"a.toml\"]\ncompile_time_limit = -1\n"
            "compile_memory_limit = \"lots\"\ncache_dir = 3\n");
  Run r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("lodestone.toml:3:22: error: compile_time_limit must be above 0"));
  CHECK_THAT(r.err, Contains("lodestone.toml:4:24: error: 'compile_memory_limit' must be a whole number of MiB"));
  CHECK_THAT(r.err, Contains("lodestone.toml:5:13: error: 'cache_dir' must be a folder, or false for no cache"));
  dir.write("lodestone.toml", "[lodestone]\nrules = [\"a.toml\"]\ncache_dir = \"cache\"\n");
  r = run_lodestone("check --stats -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("; cache " + dir.file("cache") + "/"));
}

TEST_CASE("check -c checks sources and notifiers, each problem at its file:line:col", "[cli][config]") {
  TempDir dir("watch-config");
  dir.write("rules.toml", "[[rule]]\nid = \"r\"\nmatch = \"lodestar\"\nnotify = [\"hok\"]\n");
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"rules.toml\"]\nworkers = -1\nlog_format = \"xml\"\nnotify = [\"nobody\"]\n"
            "[[source]]\nname = \"in\"\ntype = \"folder\"\npath = \"inbox\"\n"      // 6-9
            "[[source]]\nname = \"feed\"\ntype = \"feed\"\nurl = \"ftp://x\"\ninterval = \"soon\"\n"  // 10-14
            "[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\ntimeot = 3\n"  // 15-19
            "[[notifier]]\nname = \"hook\"\ntype = \"stdout\"\n");  // 20-22
  Run r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("lodestone.toml:3:11: error: workers must be 0 (one per core) to 256"));
  CHECK_THAT(r.err, Contains("lodestone.toml:4:14: error: log_format must be text or json"));
  CHECK_THAT(r.err, Contains("lodestone.toml:8:8: error: unknown [[source]] type 'folder': one of jsonl, directory, "
                             "feed, http"));
  CHECK_THAT(r.err, Contains("lodestone.toml:14:12: error: 'interval' must be a duration"));
  CHECK_THAT(r.err, Contains("lodestone.toml:19:1: error: unknown key 'timeot' in [[notifier]] 'hook'"));
  CHECK_THAT(r.err, Contains("did you mean 'timeout'?"));
  CHECK_THAT(r.err, Contains("lodestone.toml:21:8: error: [[notifier]] name 'hook' is used twice"));
  CHECK_THAT(r.err, Contains("lodestone.toml:5:11: error: notify names 'nobody', which no [[notifier]] defines"));

  // A count (a batch size, a byte limit, a thread count) of 0 or less is refused where it is written.
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"rules.toml\"]\n"
            "[[source]]\nname = \"in\"\ntype = \"directory\"\npath = \"inbox\"\nbatch = 0\n");  // 3-7
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("lodestone.toml:7:9: error: 'batch' must be an integer above 0"));

  dir.write("lodestone.toml", "[lodestone]\nrules = [\"rules.toml\"]\nadmin = \"9108\"\n");
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("lodestone.toml:3:9: error: admin must be host:port"));

  // With the config fixed, the rule's own notify list is checked against the notifiers.
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"rules.toml\"]\n[[notifier]]\nname = \"hook\"\ntype = \"stdout\"\n");
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("rules.toml:1:1: error: rule 'r' notifies 'hok', which no [[notifier]] of the config "
                             "defines (did you mean 'hook'?)"));
  dir.write("rules.toml", "[[rule]]\nid = \"r\"\nmatch = \"lodestar\"\nnotify = [\"hook\"]\n");
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  INFO(r.err);
  CHECK(r.code == 0);
}

TEST_CASE("check -c on a collector's config needs no rules, and a bad forward URL is an error at its place",
          "[cli][config]") {
  TempDir dir("collector-config");
  dir.write("collector.toml",
            "[lodestone]\nforward = \"redis://127.0.0.1:6379/0\"\nforward_stream = \"desk:posts\"\n"
            "[[source]]\nname = \"in\"\ntype = \"directory\"\npath = \"inbox\"\n");
  Run r = run_lodestone("check -c '" + dir.file("collector.toml") + "'");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("a collector: 1 source forwarded to stream desk:posts"));
  // A password in the URL comes from the environment, so that the quoted line cannot show it.
  ::setenv("LODESTONE_TEST_REDIS_PASSWORD", "hunter2", 1);
  dir.write("collector.toml",
            "[lodestone]\nforward = \"redis://:${LODESTONE_TEST_REDIS_PASSWORD}@127.0.0.1:99999\"\nforward_maxlen = 0\n");
  r = run_lodestone("check -c '" + dir.file("collector.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("collector.toml:2:11: error: forward: the port of the Redis URL must be 1 to 65535"));
  CHECK_THAT(r.err, Contains("collector.toml:3:18: error: forward_maxlen must be at least 1"));
  CHECK_THAT(r.err, !Contains("hunter2"));
  // The shipped pair of examples/cluster/ stays valid.
  r = run_lodestone("check -c examples/cluster/collector.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  r = run_lodestone("check -c examples/cluster/matcher.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("tests passed, 0 failed"));
  // Without forward, a config still needs rules.
  dir.write("collector.toml", "[lodestone]\nstate = \"s.db\"\n");
  r = run_lodestone("check -c '" + dir.file("collector.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("the config names no rules"));
}

TEST_CASE("secrets come from ${ENV} or an owner-only *_file, and never appear in a message", "[cli][config]") {
  TempDir dir("secrets");
  dir.write("rules.toml", "[[rule]]\nid = \"r\"\nmatch = \"lodestar\"\n");
  dir.write("secret", "whsec_VE9QU0VDUkVUVkFMVUUxMjM0NTY3ODkwMTIzNDU2\n");
  std::filesystem::permissions(dir.file("secret"),
                               std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
  const std::string head = "[lodestone]\nrules = [\"rules.toml\"]\n[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\n";
  dir.write("lodestone.toml", head + "url = \"${LODESTONE_TEST_UNSET_URL}\"\nsecret_file = \"secret\"\n");
  Run r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("lodestone.toml:6:7: error: url uses ${LODESTONE_TEST_UNSET_URL}, which is not set in the "
                             "environment"));
  CHECK_THAT(r.err, Contains("lodestone.toml:7:15: error: secret file " + dir.file("secret") +
                             " may be read by others; run: chmod 600 " + dir.file("secret")));
  CHECK(r.err.find("VE9QU0VDUkVU") == std::string::npos);

  std::filesystem::permissions(dir.file("secret"), std::filesystem::perms::owner_read);
  dir.write("lodestone.toml",
            head + "url = \"http://127.0.0.1:9/${LODESTONE_TEST_PATH}\"\n" + "secret_file = \"secret\"\n");
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 1);  // LODESTONE_TEST_PATH is unset too
  ::setenv("LODESTONE_TEST_PATH", "hooks/abc", 1);
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  ::unsetenv("LODESTONE_TEST_PATH");
  INFO(r.err);
  CHECK(r.code == 0);

  // Written into the config itself, a secret works but is warned about, without its value.
  dir.write("lodestone.toml",
            head + "url = \"http://127.0.0.1:9/\"\n" + "secret = \"whsec_VE9QU0VDUkVUVkFMVUUxMjM0NTY3ODkwMTIzNDU2\"\n");
  r = run_lodestone("check -c '" + dir.file("lodestone.toml") + "'");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("lodestone.toml:7:10: warning: secret is written in the config"));
  CHECK(r.err.find("VE9QU0VDUkVU") == std::string::npos);
}

// ---- comparisons, sources, warnings -----------------------------------------------------------

TEST_CASE("check warns about rules that read other than meant, each with its fix at file:line:col", "[cli][warnings]") {
  Run r = run_lodestone("check --no-cache tests/data/rules/warnings.toml");
  INFO(r.err);
  CHECK(r.code == 0);  // warnings alone do not fail a check
  CHECK_THAT(r.err, Contains("tests/data/rules/warnings.toml:5:15: warning: 'and' is matched as a word; write AND "
                             "for the operator, or \"and\" to match the word"));
  CHECK_THAT(r.err, Contains("tests/data/rules/warnings.toml:9:10: warning: field 'titel' is none the sources "
                             "produce (title, body, author, comments, ...) nor in the config's [lodestone] fields "
                             "(did you mean 'title'?)"));
  CHECK_THAT(r.err, Contains("tests/data/rules/warnings.toml:13:21: warning: '>=' is matched as text, not "
                             "compared; a comparison is written field:>=n (did you mean 'pushes:>=50'?)"));
  CHECK_THAT(r.out, Contains("ok: 3 rules"));
}

TEST_CASE("check --strict fails on a warning", "[cli][warnings]") {
  Run r = run_lodestone("check --strict --no-cache tests/data/rules/warnings.toml");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("warnings.toml:5:15: warning: 'and' is matched as a word"));
  CHECK_THAT(r.out, Contains("FAILED: 3 rules"));
  CHECK_THAT(r.out, Contains("warnings fail with --strict"));
  // Without warnings --strict changes nothing.
  Run clean = run_lodestone("check --strict --no-cache rules/packs");
  INFO(clean.err);
  CHECK(clean.code == 0);
  CHECK(clean.err.find("warning") == std::string::npos);
}

TEST_CASE("a field the config's [lodestone] fields names is known to check", "[cli][warnings]") {
  Run r = run_lodestone("check --no-cache -c tests/data/fields_config.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("field 'titel'") == std::string::npos);
  CHECK_THAT(r.err, Contains("'and' is matched as a word"));  // the others still warn
}

TEST_CASE("check -c warns where a JSON webhook template puts post text in unescaped", "[cli][warnings][template]") {
  Run r = run_lodestone("check --no-cache -c tests/data/template_config.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Contains("tests/data/notifiers/unescaped.mustache:2:13: warning: notifier 'team-hook': "
                             "{{{post.title}}} puts post text into a JSON body unescaped, so a quote in it breaks "
                             "the JSON; write \"{{post.title}}\", which escapes it for a JSON string"));
  CHECK_THAT(r.err, Contains("unescaped.mustache:2:40: warning: notifier 'team-hook': {{& post.body}}"));
  CHECK_THAT(r.err, Contains("unescaped.mustache:3:61: warning: notifier 'team-hook': {{{snippet}}}"));
  // Only post text: a rule's own fields are the user's; and an HTML body is no JSON.
  CHECK(r.err.find("{{{rule.severity}}} puts") == std::string::npos);
  CHECK(r.err.find("html-hook") == std::string::npos);
  CHECK(run_lodestone("check --strict --no-cache -c tests/data/template_config.toml").code == 1);
}

TEST_CASE("check runs comparison rules' tests with numbers and sources, and needs no database for them",
          "[cli][compare]") {
  Run r = run_lodestone("check --strict --no-cache tests/data/rules/comparisons.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("ok: 3 rules, 0 entities, 2 patterns from 1 file; 9 tests passed, 0 failed"));
}

TEST_CASE("scan compares post numbers, shows the value in matches, and keeps rules to their sources",
          "[cli][compare]") {
  Run r = run_lodestone(
      "scan --no-cache -r tests/data/rules/comparisons.toml tests/data/posts/repeated.jsonl --now 2026-01-11T11:08:03Z");
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::vector<std::pair<std::string, std::string>> got;
  std::map<std::string, nlohmann::json> by_rule;
  for (const auto& a : json_lines(r.out)) {
    const std::string who = std::string(a["rule"]["id"]) + " " + std::string(a["post"]["id"]);
    got.emplace_back(who, a["post"]["source"]);
    by_rule.emplace(who + " " + std::string(a["post"]["source"]), a);
  }
  // M.1 comes three times from ptt/Stock with 12, 55 and 107 pushes: each rule alerts on it once,
  // when it first holds; the same id from another source is another post, and `hot` is for ptt/*.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"boo-storm M.2", "ptt/Stock"},
      {"tsmc-pushed M.1", "ptt/Stock"},
      {"hot M.1", "ptt/Stock"},
      {"tsmc-pushed M.1", "feed/news"},
  };
  CHECK(got == expected);
  const nlohmann::json& tsmc = by_rule.at("tsmc-pushed M.1 ptt/Stock");
  bool compared = false;
  for (const auto& m : tsmc["matches"]) {
    if (m.contains("value")) {
      compared = true;
      CHECK(m["field"] == "pushes");
      CHECK(m["term"] == "pushes:>=50");
      CHECK(m["value"] == 55);
      CHECK(m["text"] == "55");
    }
  }
  CHECK(compared);
  CHECK(by_rule.at("boo-storm M.2 ptt/Stock")["matches"][0]["value"] == -25);
  CHECK_THAT(r.err, Contains("lodestone: 5 posts read, 4 alerts (1 left out: posts repeated with an alert already "
                             "printed)"));
}
