// The jsonl source against real files in a fresh folder and a real Store: following appends,
// partial lines, truncation, rotation, restarts from the stored offset, unacknowledged batches,
// bad lines, from_end and stdin (a pipe).
#include "sources/jsonl/jsonl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_sink.h"

namespace fs = std::filesystem;
using lodestone::JsonlOptions;
using lodestone::JsonlSource;
using lodestone::Store;
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

JsonlOptions options(const TempDir& dir) {
  JsonlOptions o;
  o.name = "logs";
  o.path = dir.file("posts.jsonl");
  o.poll_interval = 0.05;
  return o;
}

std::optional<std::string> stored(Store& store, const std::string& key) { return store.get_state("logs", key); }

}  // namespace

TEST_CASE("a followed file yields the lines it holds, then each line appended", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a") + line("b"));
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  append(o.path, line("c"));
  REQUIRE(eventually([&] { return sink.committed() == 3; }));
  CHECK(sink.ids() == Ids{"a", "b", "c"});
  CHECK(sink.posts()[0].source == "logs");
  CHECK(sink.posts()[0].field("title") == "rare earths");
  REQUIRE(eventually([&] {
    return stored(*store, "offset") == std::to_string(fs::file_size(o.path)) && stored(*store, "line") == "3";
  }));
  CHECK(running.stop() == std::nullopt);
}

TEST_CASE("a last line without a newline waits until it is completed", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a") + R"({"id": "b", "title": "half)");
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(line("a").size()); }));
  append(o.path, " and whole\"}\n" + line("c"));
  REQUIRE(eventually([&] { return sink.committed() == 3; }));
  CHECK(sink.ids() == Ids{"a", "b", "c"});
  CHECK(sink.posts()[1].field("title") == "half and whole");
  CHECK(sink.rejected() == 0);
}

TEST_CASE("a file truncated while followed is read again from the start", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a", "a long first title") + line("b", "a long second title"));
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  write(o.path, line("c"));  // shorter than what was read
  REQUIRE(eventually([&] { return sink.committed() == 3; }));
  CHECK(sink.ids() == Ids{"a", "b", "c"});
  REQUIRE(eventually([&] {
    return stored(*store, "offset") == std::to_string(line("c").size()) && stored(*store, "line") == "1";
  }));
}

TEST_CASE("a rotated file is read to its end, its last line included, then the new file from its start",
          "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a"));
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));

  {
    // What the writer left in the old file before the rename, an unfinished line too, is read.
    std::ofstream writer(o.path, std::ios::app | std::ios::binary);
    writer << line("b") << R"({"id": "c", "title": "the last line, without a newline"})" << std::flush;
    fs::rename(o.path, dir.file("posts.jsonl.1"));
  }
  write(o.path, line("d") + line("e"));

  REQUIRE(eventually([&] { return sink.committed() == 5; }));
  CHECK(sink.ids() == Ids{"a", "b", "c", "d", "e"});
  CHECK(sink.rejected() == 0);
  struct stat st;
  REQUIRE(::stat(o.path.c_str(), &st) == 0);
  const std::string id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  // file_id is written last of the three.
  REQUIRE(eventually([&] { return stored(*store, "file_id") == id; }));
  CHECK(stored(*store, "offset") == std::to_string(2 * line("d").size()));
}

TEST_CASE("a file removed and created again is read from its start", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a"));
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));

  write(dir.file("posts.jsonl.new"), line("b", "a title long enough to pass the old offset"));
  fs::remove(o.path);
  fs::rename(dir.file("posts.jsonl.new"), o.path);
  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  CHECK(sink.ids() == Ids{"a", "b"});
}

TEST_CASE("a file that does not exist yet is waited for", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.from_end = true;  // content of a file that appears later is new: read whole
  LogCapture log;
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return log.contains("waiting for " + o.path + " to appear"); }));

  write(o.path, line("a"));
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  CHECK(sink.ids() == Ids{"a"});
}

TEST_CASE("a restart resumes at the stored offset and submits no post twice", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  auto o = options(dir);
  write(o.path, line("a") + line("b"));
  {
    TestSink sink(*store);
    JsonlSource source(o, *store);
    Running running(source, sink);
    REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(fs::file_size(o.path)); }));
    CHECK(running.stop() == std::nullopt);
    CHECK(sink.ids() == Ids{"a", "b"});
  }
  append(o.path, line("c") + "not json\n");  // written while stopped

  LogCapture log;
  TestSink sink(*store);
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1 && sink.rejected() == 1; }));
  append(o.path, line("d"));
  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  CHECK(sink.ids() == Ids{"c", "d"});
  CHECK(running.stop() == std::nullopt);
  // Line numbers go on from the stored line count, not from the restart.
  CHECK(log.contains(o.path + ":4: not JSON"));
}

TEST_CASE("a restart reads a file truncated or replaced while stopped from its start", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  auto o = options(dir);
  write(o.path, line("a", "a long first title") + line("b", "a long second title"));
  {
    TestSink sink(*store);
    JsonlSource source(o, *store);
    Running running(source, sink);
    REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(fs::file_size(o.path)); }));
  }

  SECTION("truncated") { write(o.path, line("c")); }
  SECTION("replaced by a file as long") {
    write(dir.file("next"), line("c", "a long first title") + line("d", "a long second title"));
    fs::rename(dir.file("next"), o.path);
  }
  TestSink sink(*store);
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() >= 1; }));
  REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(fs::file_size(o.path)); }));
  CHECK(sink.ids().front() == "c");
}

TEST_CASE("a batch that is not committed is not acknowledged, and is sent again", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a") + line("b"));
  sink.fail_next(1000);
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.failed_batches() >= 2; }));
  CHECK(sink.committed() == 0);
  CHECK_FALSE(stored(*store, "offset"));

  sink.fail_next(0);
  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  CHECK(sink.ids() == Ids{"a", "b"});
  REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(fs::file_size(o.path)); }));
}

TEST_CASE("a source stopped while its batch fails leaves the offset where it was", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a"));
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  const std::string offset = std::to_string(line("a").size());
  REQUIRE(eventually([&] { return stored(*store, "offset") == offset; }));

  SECTION("the receipt says not committed") { sink.fail_next(1000); }
  SECTION("the sink refuses: the pipeline is stopping") { sink.set_stopping(); }
  append(o.path, line("b"));
  REQUIRE(eventually([&] { return sink.failed_batches() >= 1 || running.finished(); }));
  CHECK(running.stop() == std::nullopt);
  CHECK(sink.committed() == 1);
  CHECK(stored(*store, "offset") == offset);
}

TEST_CASE("bad lines are logged as path:line and counted, the good ones are kept", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  write(o.path, line("a") + "not json\n" + "\n" + "[1, 2]\n" + R"({"id": "x"})" + "\n" + line("b"));
  LogCapture log;
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 2 && sink.rejected() == 3; }));
  CHECK(sink.ids() == Ids{"a", "b"});
  CHECK(running.stop() == std::nullopt);
  CHECK(log.contains(o.path + ":2: not JSON"));
  CHECK(log.contains(o.path + ":4: not a JSON object"));
  CHECK(log.contains(o.path + ":5: no text to match"));
}

TEST_CASE("a line past the length limit is skipped whole as a bad line", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.max_text_bytes = 1000;  // lines are limited to max(8 × this, 1 MiB) bytes
  const std::string huge = R"({"id": "huge", "title": ")" + std::string(3 << 20, 'x') + "\"}\n";
  write(o.path, line("a") + huge + line("b"));
  LogCapture log;
  JsonlSource source(o, *store);
  Running running(source, sink);

  REQUIRE(eventually([&] { return sink.committed() == 2; }));
  CHECK(sink.ids() == Ids{"a", "b"});
  CHECK(sink.rejected() == 1);
  REQUIRE(eventually([&] { return stored(*store, "offset") == std::to_string(fs::file_size(o.path)); }));
  CHECK(running.stop() == std::nullopt);
  CHECK(log.contains(o.path + ":2: line longer than the limit of 1048576 bytes"));
}

TEST_CASE("batches hold at most `batch` posts", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.batch = 2;
  write(o.path, line("a") + line("b") + line("c") + line("d") + line("e"));
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 5; }));
  CHECK(sink.batches() == 3);
}

TEST_CASE("from_end skips what the file holds on the first run only", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  auto o = options(dir);
  o.from_end = true;
  write(o.path, line("old1") + line("old2") + R"({"id": "old3", "title": "unfinished)");
  {
    TestSink sink(*store);
    JsonlSource source(o, *store);
    Running running(source, sink);
    // The place after the last complete line is saved at once, so a restart does not skip more.
    REQUIRE(eventually([&] {
      return stored(*store, "offset") == std::to_string(2 * line("old1").size()) && stored(*store, "line") == "2";
    }));
    append(o.path, "\"}\n" + line("new1"));
    REQUIRE(eventually([&] { return sink.committed() == 2; }));
    CHECK(sink.ids() == Ids{"old3", "new1"});
  }
  append(o.path, line("new2"));
  TestSink sink(*store);
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  CHECK(sink.ids() == Ids{"new2"});
}

TEST_CASE("\"-\" reads stdin to its end, its last line without a newline included, then returns", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  JsonlOptions o;
  o.name = "stdin";
  o.path = "-";
  o.stdin_fd = fds[0];
  JsonlSource source(o, *store);
  Running running(source, sink);

  const std::string first = line("a");
  REQUIRE(::write(fds[1], first.data(), first.size()) == static_cast<ssize_t>(first.size()));
  REQUIRE(eventually([&] { return sink.committed() == 1; }));  // sent without waiting for more
  const std::string rest = line("b") + "oops\n" + R"({"id": "c", "title": "last"})";
  REQUIRE(::write(fds[1], rest.data(), rest.size()) == static_cast<ssize_t>(rest.size()));
  ::close(fds[1]);

  CHECK(running.wait() == std::nullopt);
  ::close(fds[0]);
  CHECK(sink.ids() == Ids{"a", "b", "c"});
  CHECK(sink.posts()[0].source == "stdin");
  CHECK(sink.rejected() == 1);
  CHECK_FALSE(store->get_state("stdin", "offset"));
}

TEST_CASE("stop() makes a source waiting for lines return", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  auto o = options(dir);
  o.poll_interval = 3600;  // only stop() can wake it
  write(o.path, line("a"));
  JsonlSource source(o, *store);
  Running running(source, sink);
  REQUIRE(eventually([&] { return sink.committed() == 1; }));
  CHECK(running.stop() == std::nullopt);
}

TEST_CASE("a source without a path cannot run", "[jsonl]") {
  TempDir dir;
  auto store = open_store(dir);
  TestSink sink(*store);
  JsonlOptions o;
  o.name = "logs";
  JsonlSource source(o, *store);
  CHECK(source.run(sink).error() == "logs: no path to read");
}
