// Building Hyperscan databases: the compile in a child process under a time and memory budget,
// and the on-disk cache that a changed, damaged or foreign entry never gets past.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/hs_build.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using lodestone::compiled::kForms;
using lodestone::rules::build_databases;
using lodestone::rules::BuildOptions;
using lodestone::rules::DatabaseInput;
using lodestone::default_cache_dir;
using lodestone::testing::TempDir;
using Inputs = std::array<DatabaseInput, kForms>;

constexpr unsigned kRegex = HS_FLAG_SOM_LEFTMOST | HS_FLAG_UTF8;

// Literals in form 0, regexes in form 1, nothing in the others.
Inputs minerals() {
  Inputs in;
  in[0] = {{"gallium", "germanium", "antimony"}, {0, 0, HS_FLAG_CASELESS}, {1, 2, 3}};
  in[1] = {{"rare[ -]earths?", "稀土"}, {kRegex, kRegex}, {7, 8}};
  return in;
}

// ~2000 regexes that take Hyperscan seconds and hundreds of MiB to compile.
Inputs heavy() {
  Inputs in;
  for (unsigned i = 0; i < 2000; ++i) {
    in[0].expressions.push_back("[a-z]{3,20}foo\\d+bar" + std::to_string(i) + "baz[^x]{2,9}");
    in[0].flags.push_back(kRegex);
    in[0].ids.push_back(i);
  }
  return in;
}

// One build_databases() call; frees the databases it made.
struct Build {
  Build(const Inputs& inputs, const BuildOptions& options) { ok = build_databases(inputs, options, dbs, stats, error); }
  ~Build() {
    for (hs_database_t* db : dbs) hs_free_database(db);
  }
  Build(const Build&) = delete;
  Build& operator=(const Build&) = delete;

  bool ok = false;
  std::array<hs_database_t*, kForms> dbs{};
  lodestone::rules::BuildStats stats;
  lodestone::rules::BuildError error;
};

// The ids that match in `text`, sorted and unique.
std::vector<unsigned> scan(hs_database_t* db, const std::string& text) {
  hs_scratch_t* scratch = nullptr;
  REQUIRE(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
  std::vector<unsigned> ids;
  auto on_match = [](unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
    return 0;
  };
  const hs_error_t rc = hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match, &ids);
  hs_free_scratch(scratch);
  REQUIRE(rc == HS_SUCCESS);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

const std::string kText = "gallium, ANTIMONY and germanium are rare earths' neighbours; 稀土 too.";
const std::vector<unsigned> kForm0Hits = {1, 2, 3};
const std::vector<unsigned> kForm1Hits = {7, 8};

BuildOptions cached_in(const TempDir& dir) {
  BuildOptions options;
  options.cache_dir = (dir.path() / "nested" / "cache").string();  // made by the build, parents too
  options.cache_name = "rules/minerals.toml";
  return options;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  REQUIRE(out.good());
}

// Recomputes the trailing SHA-256 of a cache file edited on purpose, so the edit, not the
// checksum, is what the build sees.
void fix_checksum(std::string& file) {
  unsigned char digest[32];
  unsigned int size = 0;
  REQUIRE(EVP_Digest(file.data(), file.size() - sizeof digest, digest, &size, EVP_sha256(), nullptr) == 1);
  file.replace(file.size() - sizeof digest, sizeof digest, reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string trimmed_hs_version() {
  std::string v = hs_version();
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

// Resident bytes of this process.
// Sets an environment variable for a test's duration, then puts back what was there.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Sets a resource limit's soft value for a test's duration; children forked meanwhile inherit it.
struct ScopedLimit {
  ScopedLimit(int resource, rlim_t soft) : resource_(resource) {
    REQUIRE(getrlimit(resource, &old_) == 0);
    rlimit now = old_;
    now.rlim_cur = std::min(soft, old_.rlim_max);
    REQUIRE(setrlimit(resource, &now) == 0);
  }
  ~ScopedLimit() { setrlimit(resource_, &old_); }
  ScopedLimit(const ScopedLimit&) = delete;
  ScopedLimit& operator=(const ScopedLimit&) = delete;

 private:
  int resource_;
  rlimit old_{};
};

}  // namespace

TEST_CASE("without a cache, every used form is compiled and finds its patterns", "[hs_build]") {
  Build b(minerals(), BuildOptions{});
  REQUIRE(b.ok);
  for (int form = 0; form < kForms; ++form) CHECK((b.dbs[form] != nullptr) == (form <= 1));
  CHECK(scan(b.dbs[0], kText) == kForm0Hits);
  CHECK(scan(b.dbs[1], kText) == kForm1Hits);
  CHECK(scan(b.dbs[0], "nothing here") == std::vector<unsigned>{});
  CHECK_FALSE(b.stats.from_cache);
  CHECK(b.stats.cache_file.empty());
  CHECK(b.stats.cache_problem.empty());
  CHECK(b.stats.database_bytes > 0);
  CHECK(b.stats.compile_peak_bytes > 0);
  CHECK(b.stats.seconds > 0);
}

TEST_CASE("a rule set with no expressions builds no database", "[hs_build]") {
  Build b(Inputs{}, BuildOptions{});
  CHECK(b.ok);
  for (hs_database_t* db : b.dbs) CHECK(db == nullptr);
}

TEST_CASE("an expression Hyperscan rejects names its form and index, and leaves nothing built", "[hs_build]") {
  const char* bad = GENERATE("a(", "(a)\\1");
  Inputs in = minerals();  // form 0 compiles before form 1 fails: its database must not survive
  in[1] = {{"fine", "also fine", bad}, {kRegex, kRegex, kRegex}, {7, 8, 9}};
  Build b(in, BuildOptions{});
  CHECK_FALSE(b.ok);
  CHECK(b.error.form == 1);
  CHECK(b.error.expression == 2);
  CHECK_FALSE(b.error.message.empty());
  for (hs_database_t* db : b.dbs) CHECK(db == nullptr);
}

TEST_CASE("a cached rule set is loaded, not compiled, the second time", "[hs_build][cache]") {
  TempDir dir;
  const BuildOptions options = cached_in(dir);
  Build cold(minerals(), options);
  REQUIRE(cold.ok);
  CHECK_FALSE(cold.stats.from_cache);
  CHECK(cold.stats.cache_problem.empty());
  const fs::path file = cold.stats.cache_file;
  CHECK(file.parent_path() == fs::path(options.cache_dir));
  CHECK(file.filename().string().size() == 16 + std::string(".hsdb").size());
  CHECK(file.extension() == ".hsdb");
  REQUIRE(fs::is_regular_file(file));
  CHECK((fs::status(options.cache_dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(std::distance(fs::directory_iterator(options.cache_dir), fs::directory_iterator()) == 1);  // no temporary left

  Build warm(minerals(), options);
  REQUIRE(warm.ok);
  CHECK(warm.stats.from_cache);
  CHECK(warm.stats.cache_problem.empty());
  CHECK(warm.stats.cache_file == cold.stats.cache_file);
  CHECK(warm.stats.compile_peak_bytes == 0);
  CHECK(warm.stats.database_bytes == cold.stats.database_bytes);
  for (int form = 0; form < kForms; ++form) CHECK((warm.dbs[form] != nullptr) == (form <= 1));
  CHECK(scan(warm.dbs[0], kText) == kForm0Hits);
  CHECK(scan(warm.dbs[1], kText) == kForm1Hits);
}

TEST_CASE("a changed rule set finds its entry stale and overwrites it", "[hs_build][cache]") {
  TempDir dir;
  const BuildOptions options = cached_in(dir);
  REQUIRE(Build(minerals(), options).ok);
  Inputs changed = minerals();
  changed[0].expressions[1] = "germanium dioxide";

  Build stale(changed, options);
  REQUIRE(stale.ok);
  CHECK_FALSE(stale.stats.from_cache);
  CHECK_THAT(stale.stats.cache_problem, StartsWith("stale"));
  CHECK(scan(stale.dbs[0], kText) == std::vector<unsigned>{1, 3});

  Build again(changed, options);
  CHECK(again.stats.cache_file == stale.stats.cache_file);  // the same name: overwritten, not added
  CHECK(again.stats.from_cache);
  CHECK(again.stats.cache_problem.empty());
}

TEST_CASE("a damaged entry is reported corrupt, recompiled and rewritten", "[hs_build][cache]") {
  TempDir dir;
  const BuildOptions options = cached_in(dir);
  Build cold(minerals(), options);
  REQUIRE(cold.ok);
  std::string file = read_bytes(cold.stats.cache_file);
  REQUIRE(file.size() > 200);

  SECTION("a flipped byte in the middle") { file[file.size() / 2] ^= 0x20; }
  SECTION("cut short") { file.resize(file.size() * 2 / 3); }
  SECTION("cut to nothing") { file.clear(); }
  SECTION("another file altogether") { file = "not a cache\n"; }
  write_bytes(cold.stats.cache_file, file);

  Build damaged(minerals(), options);
  REQUIRE(damaged.ok);
  CHECK_FALSE(damaged.stats.from_cache);
  CHECK_THAT(damaged.stats.cache_problem, StartsWith("corrupt"));
  CHECK(scan(damaged.dbs[0], kText) == kForm0Hits);

  Build again(minerals(), options);
  CHECK(again.stats.from_cache);
  CHECK(again.stats.cache_problem.empty());
}

// The checksum is checked first, so a header edited without fixing the checksum reads as corrupt;
// this test fixes it, as a file really built by another Hyperscan would have a good one.
TEST_CASE("an entry built by another Hyperscan is foreign, and is replaced", "[hs_build][cache]") {
  TempDir dir;
  const BuildOptions options = cached_in(dir);
  Build cold(minerals(), options);
  REQUIRE(cold.ok);
  std::string file = read_bytes(cold.stats.cache_file);
  const std::string ours = "Hyperscan " + trimmed_hs_version();
  std::string theirs = ours;
  theirs.back() = theirs.back() == '0' ? '1' : '0';
  const size_t at = file.find(ours);
  REQUIRE(at != std::string::npos);
  file.replace(at, ours.size(), theirs);
  fix_checksum(file);
  write_bytes(cold.stats.cache_file, file);

  Build foreign(minerals(), options);
  REQUIRE(foreign.ok);
  CHECK_FALSE(foreign.stats.from_cache);
  CHECK_THAT(foreign.stats.cache_problem, StartsWith("foreign: built by " + theirs));
  CHECK_THAT(foreign.stats.cache_problem, Contains("this is " + ours));

  Build again(minerals(), options);
  CHECK(again.stats.from_cache);
}

TEST_CASE("a cache that cannot be written is reported, and the build still succeeds", "[hs_build][cache]") {
  TempDir dir;
  write_bytes((dir.path() / "a-file").string(), "x");
  BuildOptions options;
  options.cache_dir = (dir.path() / "a-file" / "cache").string();
  Build b(minerals(), options);
  REQUIRE(b.ok);
  CHECK_FALSE(b.stats.from_cache);
  CHECK_THAT(b.stats.cache_problem, StartsWith("cannot write cache"));
  CHECK_THAT(b.stats.cache_problem, Contains("Not a directory"));
  CHECK(scan(b.dbs[0], kText) == kForm0Hits);
}

TEST_CASE("a compile over its time budget is stopped with an error naming the budget", "[hs_build][budget]") {
  BuildOptions options;
  options.time_limit_seconds = 0.05;
  Build b(heavy(), options);
  CHECK_FALSE(b.ok);
  CHECK_THAT(b.error.message, Contains("time budget of 0.05 s"));
  CHECK_THAT(b.error.message, Contains("--compile-time-limit"));
  for (hs_database_t* db : b.dbs) CHECK(db == nullptr);
}

TEST_CASE("a compile over its memory budget is stopped with an error naming the budget", "[hs_build][budget]") {
  // The budget counts what the compile adds to the memory the child shares with this process.
  BuildOptions options;
  options.memory_limit_bytes = uint64_t{8} << 20;
  options.time_limit_seconds = 300;  // a memory check that never fires fails this test, not hangs it
  Build b(heavy(), options);
  CHECK_FALSE(b.ok);
  CHECK_THAT(b.error.message, Contains("memory budget of"));
  CHECK_THAT(b.error.message, Contains("--compile-memory-limit"));
  for (hs_database_t* db : b.dbs) CHECK(db == nullptr);
}

TEST_CASE("a compiling process killed by a signal is an error naming the signal", "[hs_build]") {
  // The child starts with no CPU time used, this process with some: a CPU limit a little above
  // ours lets this process go on and stops the child's seconds-long compile with SIGXCPU.
  rusage self{};
  REQUIRE(getrusage(RUSAGE_SELF, &self) == 0);
  const rlim_t used = static_cast<rlim_t>(self.ru_utime.tv_sec + self.ru_stime.tv_sec);
  ScopedLimit no_core_file(RLIMIT_CORE, 0);
  ScopedLimit cpu(RLIMIT_CPU, used + 2);
  BuildOptions options;
  options.time_limit_seconds = 300;  // a budget, so the compile runs in a child
  Build b(heavy(), options);
  CHECK_FALSE(b.ok);
  CHECK_THAT(b.error.message, Contains("killed by signal " + std::to_string(SIGXCPU)));
  for (hs_database_t* db : b.dbs) CHECK(db == nullptr);
}

TEST_CASE("the default cache folder follows LODESTONE_CACHE_DIR, then XDG, then HOME", "[hs_build]") {
  ScopedEnv lodestone("LODESTONE_CACHE_DIR", "/srv/lodestone-cache");
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
  ScopedEnv home("HOME", "/home/ann");
  CHECK(default_cache_dir() == "/srv/lodestone-cache");
  unsetenv("LODESTONE_CACHE_DIR");
  CHECK(default_cache_dir() == "/xdg/lodestone");
  unsetenv("XDG_CACHE_HOME");
  CHECK(default_cache_dir() == "/home/ann/.cache/lodestone");
  setenv("XDG_CACHE_HOME", "relative", 1);  // the XDG spec: a relative path is ignored
  CHECK(default_cache_dir() == "/home/ann/.cache/lodestone");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  CHECK(default_cache_dir().empty());
}
