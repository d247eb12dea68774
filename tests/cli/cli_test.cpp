// The lodestone binary end to end: check and scan, their output and exit codes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using Catch::Matchers::Contains;

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
Run lodestone(const std::string& args, const std::string& input = "") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lodestone-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string in = (dir / "in").string(), out = (dir / "out").string(), err = (dir / "err").string();
  std::ofstream(in, std::ios::binary) << input;
  const std::string cmd = std::string("cd '") + LODESTONE_SOURCE_DIR + "' && '" + LODESTONE_BINARY + "' " + args +
                          " <'" + in + "' >'" + out + "' 2>'" + err + "'";
  int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  fs::remove_all(dir);
  return r;
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
  Run r = lodestone("--version");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("lodestone 0."));
}

TEST_CASE("check passes on the shipped pack and runs its rule tests", "[cli]") {
  Run r = lodestone("check rules/packs/critical-minerals.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("ok: 5 rules"));
  CHECK_THAT(r.out, Contains(" 0 failed"));
}

TEST_CASE("check reports every error with file:line:col and exits 1", "[cli]") {
  Run r = lodestone("check tests/data/rules/broken.toml");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("tests/data/rules/broken.toml:6:10: error: unknown term list '@rare_earth' "
                             "(did you mean '@rare_earths'?)"));
  CHECK_THAT(r.err, Contains("tests/data/rules/broken.toml:10:1: error: unknown key 'sevrity' in [[rule]]"));
  CHECK_THAT(r.err,
             Contains("tests/data/rules/broken.toml:15:23: error: /export (?=ban)/: lookaround is not supported"));
  CHECK_THAT(r.err, Contains("3 errors; no rules loaded"));
}

TEST_CASE("check reports a failing rule test at the test's place", "[cli]") {
  Run r = lodestone("check tests/data/rules/failing_test.toml");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("tests/data/rules/failing_test.toml:6:10: error: rule 'gallium' should match "
                             "{body: \"germanium\"} but does not"));
  CHECK_THAT(r.err, Contains("tests/data/rules/failing_test.toml:7:13: error: rule 'gallium' should not match "
                             "{body: \"gallium\"} but matches 'gallium' (\"gallium\" in body)"));
  CHECK_THAT(r.out, Contains("FAILED: 1 rules"));
}

TEST_CASE("check -c reads the rules a config names", "[cli]") {
  Run r = lodestone("check -c tests/data/lodestone.toml");
  INFO(r.err);
  CHECK(r.code == 0);
  Run bad = lodestone("check -c tests/data/bad_config.toml");
  CHECK(bad.code == 1);
  CHECK_THAT(bad.err, Contains("tests/data/bad_config.toml:3:1: error: unknown key 'rulez' in [lodestone] "
                               "(did you mean 'rules'?)"));
}

TEST_CASE("scan prints one JSON alert a line and exits 0", "[cli]") {
  Run r = lodestone("scan -r rules/packs/critical-minerals.toml examples/posts.jsonl --now 2026-01-11T11:08:03Z");
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
  CHECK(lodestone("scan -r rules/packs/critical-minerals.toml -", R"({"body": "wheat"})").code == 1);
  CHECK(lodestone("scan -r rules/packs/critical-minerals.toml /nonexistent.jsonl").code == 2);
  CHECK(lodestone("scan -r tests/data/rules/broken.toml examples/posts.jsonl").code == 2);
  CHECK(lodestone("scan examples/posts.jsonl").code == 2);
}

TEST_CASE("scan reports bad lines with file:line, goes on, and sums up", "[cli]") {
  Run r = lodestone("scan -r rules/packs/critical-minerals.toml tests/data/posts/mixed.jsonl");
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

TEST_CASE("scan reads stdin and plain text files", "[cli]") {
  Run in = lodestone("scan -r rules/packs/critical-minerals.toml -", R"({"id": "s1", "body": "中國稀土出口管制"})");
  CHECK(in.code == 0);
  REQUIRE(json_lines(in.out).size() == 1);
  CHECK(json_lines(in.out)[0]["post"]["source"] == "stdin");
  Run txt = lodestone("scan -r rules/packs/critical-minerals.toml tests/data/posts/note.txt");
  CHECK(txt.code == 0);
  REQUIRE(json_lines(txt.out).size() >= 1);
  CHECK(json_lines(txt.out)[0]["post"]["id"] == "tests/data/posts/note.txt");
}

TEST_CASE("scan --format text prints one readable line per alert with matches marked", "[cli]") {
  Run r = lodestone("scan -r rules/packs/critical-minerals.toml --format text -",
                    R"({"id": "t1", "source": "ptt/Stock", "body": "中國稀土出口管制"})");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("high  rare-earth-export-controls  ptt/Stock t1"));
  CHECK_THAT(r.out, Contains("body: «中國»«稀土»«出口管制»"));
}
