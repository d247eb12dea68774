// The directory source against a real folder and a real Store: the first scan in name order, files
// arriving later (renamed in, written in place), restarts, changed files, ignored names, text
// files, bad lines, unacknowledged batches and stop().
#include "sources/directory/directory.h"
#include "util/ids.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_sink.h"

namespace fs = std::filesystem;
using lodestone::DirectoryOptions;
using lodestone::DirectorySource;
using lodestone::testing::append;
using lodestone::testing::eventually;
using lodestone::testing::LogCapture;
using lodestone::testing::open_store;
using lodestone::testing::Running;
using lodestone::testing::TempDir;
using lodestone::testing::TestSink;
using lodestone::testing::write;
using lodestone::testing::line;
using Ids = std::vector<std::string>;

namespace {

DirectoryOptions options(const TempDir& dir) {
  DirectoryOptions o;
  o.name = "inbox";
  o.path = dir.file("in");
  o.poll_interval = 0.1;
  o.settle = 0.05;
  return o;
}

bool has(const Ids& ids, const std::string& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

std::string in(const DirectoryOptions& o, const std::string& file) { return (fs::path(o.path) / file).string(); }

}  // namespace

TEST_CASE("files already in the folder are read once, in name order", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path);
  write(in(o, "c.ndjson"), line("c1"));
  write(in(o, "a.txt"), "China tightens export controls on rare earths");
  write(in(o, "b.jsonl"), line("b1") + line("b2"));
  DirectorySource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 4; }));
  const std::string a_id =
      "a.txt#" + lodestone::sha256_hex32({"China tightens export controls on rare earths"}).substr(0, 16);
  CHECK(sink.ids() == Ids{a_id, "b1", "b2", "c1"});
  REQUIRE(eventually([&] { return store->file_processed("inbox", "c.ndjson"); }));
  CHECK(store->file_processed("inbox", "a.txt"));
  CHECK(store->file_processed("inbox", "b.jsonl"));
  CHECK(running.stop() == std::nullopt);
  CHECK(sink.committed() == 4);
}

TEST_CASE("a file that arrives later is read, renamed in from .tmp or written in place", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.poll_interval = 3600;  // inotify alone must see them
  o.settle = 3600;         // and a rename or a close makes a file ready at once
  fs::create_directories(o.path);
  DirectorySource source(o, *store);
  Running running(source, sink);
  // Catch the source watching: a file closed now is read.
  write(in(o, "probe.jsonl"), line("probe"));
  REQUIRE(eventually([&] {
    if (sink.committed() > 0) return true;
    append(in(o, "probe.jsonl"), "\n");
    return false;
  }));

  write(in(o, "renamed.jsonl.tmp"), line("r1"));
  fs::rename(in(o, "renamed.jsonl.tmp"), in(o, "renamed.jsonl"));
  REQUIRE(eventually([&] { return has(sink.ids(), "r1"); }));
  write(in(o, "direct.jsonl"), line("d1"));
  REQUIRE(eventually([&] { return has(sink.ids(), "d1"); }));
}

TEST_CASE("a file written slowly is read once it has settled", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path);
  DirectorySource source(o, *store);
  Running running(source, sink);

  // Kept open: no IN_CLOSE_WRITE, so only the settle time makes it ready.
  std::ofstream writer(in(o, "slow.jsonl"), std::ios::binary);
  writer << line("s1") << line("s2") << std::flush;
  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  CHECK(sink.ids() == Ids{"s1", "s2"});
}

TEST_CASE("a restart reads no file again", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  auto o = options(dir);
  fs::create_directories(o.path);
  write(in(o, "a.jsonl"), line("a1"));
  write(in(o, "b.txt"), "text");
  {
    TestSink sink(*store);
    DirectorySource source(o, *store);
    Running running(source, sink);
    REQUIRE(eventually([&] { return store->file_processed("inbox", "b.txt"); }));
  }
  write(in(o, "z.jsonl"), line("z1"));  // after the others in name order: read after them, were they read

  TestSink sink(*store);
  DirectorySource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return store->file_processed("inbox", "z.jsonl"); }));
  CHECK(sink.ids() == Ids{"z1"});
}

TEST_CASE("a file that changes after it was read is read again", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path);
  write(in(o, "a.jsonl"), line("a1"));
  DirectorySource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));

  append(in(o, "a.jsonl"), line("a2"));
  REQUIRE(eventually([&] { return sink.committed() == 3; }));
  CHECK(sink.ids() == Ids{"a1", "a1", "a2"});
}

TEST_CASE("hidden, temporary and other files are left alone", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path / fs::path("sub.jsonl"));
  for (const char* name : {".hidden.jsonl", "x.jsonl.tmp", "y.jsonl.part", "z.jsonl~", "notes.csv", "sub.jsonl/in.jsonl"}) {
    write(in(o, name), line(std::string("ignored ") + name));
  }
  write(in(o, "zz.jsonl"), line("kept"));  // last in name order: everything before it was looked at
  DirectorySource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return store->file_processed("inbox", "zz.jsonl"); }));
  write(in(o, ".later.jsonl"), line("ignored later"));
  write(in(o, "zzz.jsonl"), line("kept later"));
  REQUIRE(eventually([&] { return store->file_processed("inbox", "zzz.jsonl"); }));
  CHECK(sink.ids() == Ids{"kept", "kept later"});
}

TEST_CASE("a .txt file is one post: id its file name and text hash, body its text, source the source's name",
          "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path);
  write(in(o, "note.TXT"), "中國稀土出口管制升級\n{\"id\": \"not a line post\"}\n");
  DirectorySource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  const auto posts = sink.posts();
  const std::string text = "中國稀土出口管制升級\n{\"id\": \"not a line post\"}\n";
  CHECK(posts[0].id == "note.TXT#" + lodestone::sha256_hex32({text}).substr(0, 16));
  CHECK(posts[0].source == "inbox");
  CHECK(posts[0].field("body") == "中國稀土出口管制升級\n{\"id\": \"not a line post\"}\n");
}

TEST_CASE("bad lines are logged as path:line and counted, the rest of the file is kept", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  fs::create_directories(o.path);
  write(in(o, "a.jsonl"), line("a1") + "not json\n" + R"({"id": "a2", "source": "ptt/Stock", "body": "x"})" + "\n" +
                              R"({"id": "no-text"})");
  LogCapture log;
  DirectorySource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return store->file_processed("inbox", "a.jsonl"); }));
  CHECK(running.stop() == std::nullopt);
  CHECK(sink.ids() == Ids{"a1", "a2"});
  CHECK(sink.posts()[1].source == "ptt/Stock");
  CHECK(sink.rejected() == 2);
  CHECK(log.contains(in(o, "a.jsonl") + ":2: not JSON"));
  CHECK(log.contains(in(o, "a.jsonl") + ":4: no text to match"));
}

TEST_CASE("a file whose batch is not committed is not marked done, and is read by the next run", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  auto o = options(dir);
  o.batch = 1;
  fs::create_directories(o.path);
  write(in(o, "a.jsonl"), line("a1") + line("a2"));
  {
    TestSink sink(*store);
    sink.fail_next(1000);
    DirectorySource source(o, *store);
    Running running(source, sink);
    REQUIRE(eventually([&] { return sink.failed_batches() >= 2; }));
    CHECK(running.stop() == std::nullopt);
    CHECK_FALSE(store->file_processed("inbox", "a.jsonl"));
  }
  TestSink sink(*store);
  DirectorySource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return store->file_processed("inbox", "a.jsonl"); }));
  CHECK(sink.ids() == Ids{"a1", "a2"});
}

TEST_CASE("a missing folder is created, and stop() makes run() return", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.path = dir.file("not/yet");
  o.poll_interval = 3600;  // only stop() can wake it
  DirectorySource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return fs::is_directory(o.path); }));
  CHECK(running.stop() == std::nullopt);
}

TEST_CASE("a path that is a file is refused", "[directory]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, "a file");
  DirectorySource source(o, *store);
  CHECK(source.run(sink).error() == o.path + ": not a folder");
}
