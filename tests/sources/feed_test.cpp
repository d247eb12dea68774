// The feed source: parse_feed() on the fixtures in tests/data/feeds (RSS, Atom, Big5, GB2312, HTML
// summaries, a broken document, an XXE attempt), and FeedSource polling a real loopback server.
#include "sources/feed/feed.h"

#include <httplib.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/http_receiver.h"
#include "support/temp_store.h"

using lodestone::BatchReceipt;
using lodestone::check_feed_options;
using lodestone::feed_date_to_rfc3339;
using lodestone::feed_wait_seconds;
using lodestone::FeedOptions;
using lodestone::FeedParseCounts;
using lodestone::FeedSource;
using lodestone::html_to_text;
using lodestone::parse_feed;
using lodestone::PollResult;
using lodestone::Post;
using lodestone::PostSink;
using lodestone::Result;
using lodestone::Failure;
using lodestone::Store;
using lodestone::testing::HttpReceiver;
using lodestone::testing::TempStore;
using Outcome = PollResult::Outcome;

namespace {

constexpr const char* kLastModified = "Sun, 11 Jan 2026 11:08:03 GMT";

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(LODESTONE_TEST_DATA "/feeds/") + name, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Post> parse_ok(const std::string& body, const std::string& charset = "",
                           FeedParseCounts* counts = nullptr) {
  Result<std::vector<Post>> parsed = parse_feed(body, charset, "test-feed", counts);
  INFO(parsed.error());
  REQUIRE(parsed);
  return std::move(*parsed);
}

const Post& find_post(const std::vector<Post>& posts, const std::string& id) {
  for (const auto& p : posts) {
    if (p.id == id) return p;
  }
  FAIL("no post with id " << id);
  throw std::logic_error("unreachable");
}

// Waits up to 20 s for `done`, checking often; true when it held.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// The ETag the fixtures are served with: a hash of the body.
std::string etag_of(const std::string& body) {
  // Appended, not "\"" + ...: GCC 12 warns falsely on that (-Wrestrict, PR 105651).
  std::string etag = "\"";
  etag += std::to_string(std::hash<std::string>{}(body));
  etag += '"';
  return etag;
}

// Serves tests/data/feeds/ as a publisher would: with ETag and Last-Modified, a 304 when the
// request's validators still hold, and `type` as the Content-Type.
HttpReceiver::Answer fixtures(const std::string& type = "application/rss+xml") {
  return [type](const httplib::Request& req, httplib::Response& res) {
    const std::string file = std::string(LODESTONE_TEST_DATA "/feeds") + req.path;
    if (req.path.find("..") != std::string::npos || !std::filesystem::is_regular_file(file)) {
      res.status = 404;
      return;
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string body = ss.str();
    const std::string etag = etag_of(body);
    res.set_header("ETag", etag);
    res.set_header("Last-Modified", kLastModified);
    const std::string inm = req.get_header_value("If-None-Match");
    const std::string ims = req.get_header_value("If-Modified-Since");
    if ((!inm.empty() && inm == etag) || (inm.empty() && ims == kLastModified)) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(body, type.c_str());
  };
}

// An answer that holds the request until the server goes away: a peer that never answers.
HttpReceiver::Answer hang(HttpReceiver& server) {
  return [&server](const httplib::Request&, httplib::Response& res) {
    server.hold(std::chrono::seconds(60));
    res.status = 503;
  };
}

// A PostSink that commits each batch's post keys into a real Store and fulfils the future at
// once, or (commit = false) reports every batch as not committed.
class TestSink : public PostSink {
 public:
  explicit TestSink(Store& store, bool commit = true) : store_(store), commit_(commit) {}

  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull) override {
    std::lock_guard<std::mutex> lock(mutex_);
    BatchReceipt receipt;
    receipt.posts = posts.size();
    if (commit_) {
      std::vector<lodestone::PostKey> keys;
      for (const auto& p : posts) keys.push_back({p.source, p.id});
      const auto result = store_.commit(keys, {}, 1);
      for (bool is_new : result.post_is_new) receipt.new_posts += is_new;
      receipt.committed = true;
    } else {
      receipt.error = "the test sink commits nothing";
    }
    batches_.push_back(posts);
    std::promise<BatchReceipt> promise;
    promise.set_value(receipt);
    return promise.get_future();
  }
  void count_rejected(std::string_view, size_t count) override { rejected_ += count; }

  size_t batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_.size();
  }
  std::vector<Post> batch(size_t i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_.at(i);
  }
  size_t rejected() const { return rejected_; }

 private:
  Store& store_;
  bool commit_;
  mutable std::mutex mutex_;
  std::vector<std::vector<Post>> batches_;
  std::atomic<size_t> rejected_{0};
};

// Sends spdlog's default logger into a ring buffer for the test's lifetime.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512)), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("feed-test", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

FeedOptions options_for(const std::string& url) {
  FeedOptions o;
  o.name = "wire";
  o.url = url;
  o.interval = 0.05;
  o.jitter = 0;
  o.timeout = 10;
  o.max_backoff = 0.2;
  return o;
}

}  // namespace

TEST_CASE("an RSS 2.0 item becomes a post with id, title, body, url, published and author", "[feed]") {
  FeedParseCounts counts;
  const auto posts = parse_ok(read_fixture("rss2.xml"), "", &counts);
  CHECK(counts.items == 5);
  CHECK(counts.skipped == 1);  // the item with neither title nor text
  REQUIRE(posts.size() == 4);

  const Post& first = find_post(posts, "wire-0001");
  CHECK(first.source == "test-feed");
  CHECK(first.field("title") == "China tightens export controls on rare earths");
  // content:encoded wins over description; paragraphs end lines.
  CHECK(first.field("body") == "Beijing said on Sunday it would tighten controls.\nSecond paragraph.");
  CHECK(first.field("url") == "https://example.com/news/1");
  CHECK(first.field("published") == "2026-01-11T11:08:03Z");
  CHECK(first.field("author") == "Wire Desk");

  // No guid: the link is the id.
  const Post& second = find_post(posts, "https://example.com/news/2");
  CHECK(second.field("body") == "稀土 & lithium");
  CHECK(second.field("published") == "2026-01-12T08:00:00Z");
  CHECK(second.field("author") == "desk@example.com (Trade Desk)");

  // Neither guid nor link: a hash of its text; a date that cannot be read stays as written.
  const Post& third = posts[2];
  CHECK(third.field("title") == "An item with neither guid nor link");
  CHECK(third.id.size() == 32);
  CHECK(third.field("body") == "Plain text body, no markup.");
  CHECK(third.field("published") == "yesterday-ish");
  CHECK(third.field("url").empty());

  const Post& fifth = find_post(posts, "wire-0005");
  CHECK(fifth.field("title").empty());
  CHECK(fifth.field("published") == "2026-01-11T11:08:03Z");
}

TEST_CASE("a hashed post id is the same on every parse", "[feed]") {
  const auto a = parse_ok(read_fixture("rss2.xml"));
  const auto b = parse_ok(read_fixture("rss2.xml"));
  REQUIRE(a.size() == b.size());
  CHECK(a[2].id == b[2].id);
}

TEST_CASE("an Atom entry becomes a post: id, alternate link, text constructs, UTC time, author", "[feed]") {
  const auto posts = parse_ok(read_fixture("atom.xml"));
  REQUIRE(posts.size() == 3);

  const Post& e1 = find_post(posts, "tag:example.com,2026:entry-1");
  CHECK(e1.field("title") == "Export controls & tariffs");
  CHECK(e1.field("url") == "https://example.com/entries/1");  // rel=alternate, not rel=self
  CHECK(e1.field("body") == "First block.\nSecond block.");    // xhtml content wins over summary
  CHECK(e1.field("published") == "2026-01-11T11:08:03Z");       // published wins over updated
  CHECK(e1.field("author") == "Entry Author");

  const Post& e2 = find_post(posts, "tag:example.com,2026:entry-2");
  CHECK(e2.field("url") == "https://example.com/entries/2");  // a link without rel is alternate
  CHECK(e2.field("body") == "Plain summary text.");
  CHECK(e2.field("published") == "2026-01-11T04:59:59Z");  // updated, fraction dropped
  CHECK(e2.field("author") == "Feed Author");               // the feed's author stands in

  const Post& e3 = find_post(posts, "tag:example.com,2026:entry-3");
  CHECK(e3.field("url") == "https://example.com/entries/3.mp3");  // no alternate: the first href
  CHECK(e3.field("body") == "Line one\nLine two");                // content by src: the summary
}

TEST_CASE("HTML in a summary is reduced to text", "[feed]") {
  const auto posts = parse_ok(read_fixture("html_summary.xml"));
  REQUIRE(posts.size() == 2);
  // Script and style dropped, entities decoded (&nbsp; stays a no-break space), blocks end lines.
  CHECK(posts[0].field("body") == "Heading\nCafé & bar\u00a0稀土\none\ntwo\ntail\nafter break");
  CHECK(posts[1].field("body") == "稀土 & lithium");

  CHECK(html_to_text("<p>稀土 &amp; lithium</p>") == "稀土 & lithium");
  CHECK(html_to_text("a <b>bold</b>  move") == "a bold move");
  CHECK(html_to_text("<pre>x  =  1\ny = 2</pre>") == "x  =  1\ny = 2");
  CHECK(html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>") == "a b\nc");
  CHECK(html_to_text("").empty());
}

TEST_CASE("Big5 and GB2312 documents decode to UTF-8 by their declaration", "[feed]") {
  const auto big5 = parse_ok(read_fixture("big5.xml"));
  REQUIRE(big5.size() == 1);
  CHECK(big5[0].field("title") == "中國稀土出口管制升級");
  CHECK(big5[0].field("body") == "美國將推動各國加速降低對中國稀土依賴。");

  const auto gb = parse_ok(read_fixture("gb2312.xml"));
  REQUIRE(gb.size() == 1);
  CHECK(gb[0].field("title") == "中国稀土出口管制升级");
  CHECK(gb[0].field("body") == "美国将推动各国加速降低对中国稀土依赖。");
}

TEST_CASE("the HTTP charset wins over the XML declaration", "[feed]") {
  const std::string lying = read_fixture("gb2312_declared_latin1.xml");
  // By its declaration the bytes are Latin-1: text, but not the right text.
  const auto as_declared = parse_ok(lying);
  REQUIRE(as_declared.size() == 1);
  CHECK(as_declared[0].field("title") != "中国稀土出口管制升级");

  const auto as_sent = parse_ok(lying, "GB2312");
  REQUIRE(as_sent.size() == 1);
  CHECK(as_sent[0].field("title") == "中国稀土出口管制升级");

  // A charset libxml2 does not know is ignored, not fatal: the declaration stands.
  const auto unknown = parse_ok(read_fixture("gb2312.xml"), "no-such-charset");
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].field("title") == "中国稀土出口管制升级");
}

TEST_CASE("a document that does not parse is an error naming its line, and adds no posts", "[feed]") {
  // A failure carries a reason and no posts: the good items of a broken document are not taken.
  const auto malformed = parse_feed(read_fixture("malformed.xml"), "", "test-feed");
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().rfind("line 10: ", 0) == 0);
  CHECK(malformed.error().find("mismatch") != std::string::npos);

  CHECK_FALSE(parse_feed("", "", "test-feed"));
  const auto html = parse_feed("<html><body>not a feed</body></html>", "", "test-feed");
  REQUIRE_FALSE(html);
  CHECK(html.error() == "line 1: not an RSS or Atom feed (the root element is <html>)");
  // An entity HTML knows but XML does not is an error too: no recovery.
  const auto entity = parse_feed("<rss><channel><item><title>a&nbsp;b</title></item></channel></rss>", "", "t");
  REQUIRE_FALSE(entity);
  CHECK(entity.error().find("nbsp") != std::string::npos);
}

TEST_CASE("an external entity is never expanded and nothing is fetched for it", "[feed]") {
  const auto posts = parse_ok(read_fixture("xxe.xml"));
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].field("body") == "before after");
  for (const auto& f : posts[0].fields()) CHECK(f.text.find("root:") == std::string::npos);

  // Entities, an external DTD and a parameter entity pointing at a live loopback server: the
  // server must see no request.
  HttpReceiver server(fixtures());
  const std::string doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss SYSTEM \"" + server.url("/dtd") +
                          "\" [\n<!ENTITY remote SYSTEM \"" + server.url("/entity") +
                          "\">\n<!ENTITY % pe SYSTEM \"" + server.url("/pe") +
                          "\">\n%pe;\n]>\n<rss><channel><item><guid>x</guid><title>t &remote;</title>"
                          "<description>d &remote;</description></item></channel></rss>";
  Result<std::vector<Post>> parsed = parse_feed(doc, "", "t");
  INFO(parsed.error());
  REQUIRE(parsed);
  const std::vector<Post>& out = *parsed;
  REQUIRE(out.size() == 1);
  CHECK(out[0].field("title") == "t");
  CHECK(out[0].field("body") == "d");
  CHECK(server.count() == 0);
}

TEST_CASE("feed dates become RFC 3339 UTC when they can be read, and stay as written otherwise", "[feed]") {
  CHECK(feed_date_to_rfc3339("Wed, 31 Jan 2018 20:15:15 GMT") == "2018-01-31T20:15:15Z");
  CHECK(feed_date_to_rfc3339("Sun, 11 Jan 2026 19:08:03 +0800") == "2026-01-11T11:08:03Z");
  CHECK(feed_date_to_rfc3339("Tue, 10 Jun 2003 04:00:00 PDT") == "2003-06-10T11:00:00Z");
  CHECK(feed_date_to_rfc3339("2026-01-11T19:08:03+08:00") == "2026-01-11T11:08:03Z");
  CHECK(feed_date_to_rfc3339("2026-01-11T11:08:03.999Z") == "2026-01-11T11:08:03Z");
  CHECK(feed_date_to_rfc3339("2016-02-01T17:54:50+01:00") == "2016-02-01T16:54:50Z");
  CHECK_FALSE(feed_date_to_rfc3339("2018-09-18 14:38:10"));  // no zone: the instant is unknown
  CHECK_FALSE(feed_date_to_rfc3339("2026-02-31T00:00:00Z"));
  CHECK_FALSE(feed_date_to_rfc3339("Mon, 32 Jan 2026 10:00:00 GMT"));
  CHECK_FALSE(feed_date_to_rfc3339("soon"));
  CHECK_FALSE(feed_date_to_rfc3339(""));
}

TEST_CASE("the wait doubles after each error up to max_backoff, spread by jitter", "[feed]") {
  FeedOptions o;
  o.interval = 300;
  o.max_backoff = 3600;
  o.jitter = 0.1;
  CHECK(feed_wait_seconds(o, 0, 0.5) == Approx(300));
  CHECK(feed_wait_seconds(o, 1, 0.5) == Approx(600));
  CHECK(feed_wait_seconds(o, 3, 0.5) == Approx(2400));
  CHECK(feed_wait_seconds(o, 4, 0.5) == Approx(3600));
  CHECK(feed_wait_seconds(o, 1000, 0.5) == Approx(3600));
  CHECK(feed_wait_seconds(o, 0, 0.0) == Approx(270));
  CHECK(feed_wait_seconds(o, 0, 1.0) == Approx(330));
  o.max_backoff = 60;  // below the interval: backing off never polls sooner than usual
  CHECK(feed_wait_seconds(o, 2, 0.5) == Approx(300));
}

TEST_CASE("feed options that cannot work are refused with a reason that keeps secrets", "[feed]") {
  FeedOptions o;
  o.name = "wire";
  o.url = "https://user:hunter22@example.com/feed?token=s3cr3t";
  CHECK(check_feed_options(o).ok());

  auto refused = [](FeedOptions bad) {
    const std::string why = check_feed_options(bad).error();
    CHECK(why.find("hunter22") == std::string::npos);
    CHECK(why.find("s3cr3t") == std::string::npos);
    return why;
  };
  FeedOptions bad = o;
  bad.url = "ftp://user:hunter22@example.com/feed";
  CHECK(refused(bad) == "feed \"wire\": url must start with http:// or https://");
  bad = o;
  bad.url = "";
  CHECK(refused(bad) == "feed \"wire\": url is missing");
  bad = o;
  bad.interval = 0;
  CHECK(refused(bad).find("interval") != std::string::npos);
  bad = o;
  bad.jitter = 1;
  CHECK(refused(bad).find("jitter") != std::string::npos);
  bad = o;
  bad.timeout = -1;
  CHECK(refused(bad).find("timeout") != std::string::npos);
  bad = o;
  bad.max_bytes = 0;
  CHECK(refused(bad).find("max_bytes") != std::string::npos);
  bad = o;
  bad.headers = {{"If-None-Match", "x"}};
  CHECK(refused(bad) == "feed \"wire\": header \"If-None-Match\" is set by the feed source itself");
  bad = o;
  bad.headers = {{"X-Token", "s3cr3t\r\nEvil: 1"}};
  CHECK(refused(bad) == "feed \"wire\": header \"X-Token\" has a line break or NUL in its value");
  bad = o;
  bad.name = "";
  CHECK(refused(bad) == "a feed needs a name");

  // A source with refused options polls nothing and run() says why at once.
  TempStore store;
  TestSink sink(*store);
  bad = o;
  bad.url = "ftp://example.com/";
  FeedSource source(bad, *store);
  CHECK(source.run(sink).error() == check_feed_options(bad).error());
}

TEST_CASE("a feed polled twice unchanged yields no new posts", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  TestSink sink(*store);
  FeedOptions o = options_for(server.url("/rss2.xml"));
  o.headers = {{"X-Api-Key", "k"}};
  FeedSource source(o, *store);

  const PollResult first = source.poll_once(sink);
  INFO(first.error);
  REQUIRE(first.outcome == Outcome::kPosts);
  CHECK(first.status == 200);
  CHECK(first.posts == 4);
  CHECK(first.new_posts == 4);
  CHECK(first.skipped == 1);
  CHECK(sink.rejected() == 1);
  REQUIRE(sink.batches() == 1);
  CHECK(sink.batch(0)[0].source == "wire");
  const std::string etag = etag_of(read_fixture("rss2.xml"));
  CHECK(store->get_state("wire", "etag") == etag);
  CHECK(store->get_state("wire", "last_modified") == std::string(kLastModified));

  const PollResult second = source.poll_once(sink);
  CHECK(second.outcome == Outcome::kNotModified);
  CHECK(second.status == 304);
  CHECK(sink.batches() == 1);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("If-None-Match").empty());
  CHECK(requests[1].header("If-None-Match") == etag);
  CHECK(requests[1].header("If-Modified-Since") == kLastModified);
  CHECK(requests[0].header("X-Api-Key") == "k");
  CHECK(requests[0].header("User-Agent").rfind("lodestone/", 0) == 0);
  CHECK(requests[0].header("Accept-Encoding").find("gzip") != std::string::npos);

  // A new source on the same store (a restart) asks with the stored validators at once.
  FeedSource restarted(o, *store);
  CHECK(restarted.poll_once(sink).outcome == Outcome::kNotModified);
  // The same store under another URL does not: the validators belong to the old one.
  FeedOptions moved = o;
  moved.url = server.url("/atom.xml");
  FeedSource elsewhere(moved, *store);
  CHECK(elsewhere.poll_once(sink).outcome == Outcome::kPosts);
  CHECK(server.requests().back().header("If-None-Match").empty());
}

TEST_CASE("the ETag is stored only after the batch is committed", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  LogCapture log;
  TestSink refusing(*store, false);
  FeedSource source(options_for(server.url("/rss2.xml")), *store);

  SECTION("none stored yet: still none") {
    const PollResult r = source.poll_once(refusing);
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(r.error.find("not committed: the test sink commits nothing") != std::string::npos);
    CHECK(refusing.batches() == 1);
    CHECK_FALSE(store->get_state("wire", "etag").value_or("").size());
    // So the next poll fetches the whole feed again rather than a 304.
    CHECK(source.poll_once(refusing).status == 200);
    CHECK(server.requests().back().header("If-None-Match").empty());
  }
  SECTION("an older one stored: left as it was") {
    store->set_state("wire", "url", server.url("/rss2.xml"), 1);
    store->set_state("wire", "etag", "\"old\"", 1);
    const PollResult r = source.poll_once(refusing);
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(store->get_state("wire", "etag") == std::string("\"old\""));
    CHECK(server.requests().back().header("If-None-Match") == "\"old\"");
  }
  CHECK(source.consecutive_errors() >= 1);
  CHECK(log.text().find("not committed") != std::string::npos);
}

TEST_CASE("a failed poll is logged once with the feed URL, without its secrets, and backs off", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  FeedOptions o = options_for(server.url("/rss2.xml?token=s3cr3t-token"));
  o.timeout = 0.5;
  o.max_bytes = 4000;
  const std::string shown = "feed \"wire\" (" + server.url("/rss2.xml") + "): ";
  FeedSource source(o, *store);

  std::string expected;
  SECTION("HTTP 500") {
    server.answer_next([](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content("boom", "text/plain");
    });
    expected = shown + "HTTP 500";
  }
  SECTION("a timeout") {
    server.answer_next(hang(server));
    expected = shown + "no complete answer within the timeout (0.5 s)";
  }
  SECTION("a body past max_bytes") {
    server.answer_next([](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(50000, ' ') + "<rss/>", "application/xml");
    });
    expected = shown + "the body is larger than max_bytes (4000 bytes); not parsed";
  }
  SECTION("malformed XML") {
    server.answer_next([](const httplib::Request&, httplib::Response& res) {
      res.set_content(read_fixture("malformed.xml"), "application/xml");
    });
    expected = shown + "the feed does not parse: line 10: ";
  }
  SECTION("a refused connection") {
    FeedOptions closed = o;
    closed.url = "http://127.0.0.1:1/feed?token=s3cr3t-token";
    FeedSource nowhere(closed, *store);
    const PollResult r = nowhere.poll_once(sink);
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(r.error.rfind("feed \"wire\" (http://127.0.0.1:1/feed): ", 0) == 0);
    CHECK(r.error.find("s3cr3t") == std::string::npos);
    return;
  }
  const PollResult r = source.poll_once(sink);
  INFO(r.error);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(r.error.rfind(expected, 0) == 0);
  CHECK(source.consecutive_errors() == 1);
  CHECK(sink.batches() == 0);
  CHECK_FALSE(store->get_state("wire", "etag"));
  const std::string logged = log.text();
  CHECK(logged.find(expected) != std::string::npos);
  CHECK(logged.find("s3cr3t") == std::string::npos);
  CHECK(logged.find("[warning]") != std::string::npos);

  // The server recovers: so does the source, and its error count starts again.
  const PollResult again = source.poll_once(sink);
  INFO(again.error);
  CHECK(again.outcome == Outcome::kPosts);
  CHECK(source.consecutive_errors() == 0);
}

TEST_CASE("the source keeps polling through errors and recovers when the server does", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  FeedOptions o = options_for(server.url("/rss2.xml"));
  o.timeout = 0.5;
  o.max_bytes = 4000;  // rss2.xml is smaller
  server.answer_next([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
  });
  server.answer_next(hang(server));
  server.answer_next([](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(50000, ' '), "application/xml");
  });
  server.answer_next([](const httplib::Request&, httplib::Response& res) {
    res.set_content("<rss><channel>", "application/xml");
  });
  FeedSource source(o, *store);
  Result<void> returned = Failure{"not returned"};
  std::thread runner([&] { returned = source.run(sink); });
  const bool recovered = eventually([&] { return sink.batches() >= 1; });
  source.stop();
  runner.join();
  CHECK(recovered);
  CHECK(returned.ok());
  CHECK(server.count() >= 5);
  const std::string logged = log.text();
  CHECK(logged.find("HTTP 500") != std::string::npos);
  CHECK(logged.find("timeout") != std::string::npos);
  CHECK(logged.find("larger than max_bytes") != std::string::npos);
  CHECK(logged.find("does not parse") != std::string::npos);
}

TEST_CASE("stop() wakes a source waiting for its next poll", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  TestSink sink(*store);
  FeedOptions o = options_for(server.url("/atom.xml"));
  o.interval = 3600;  // without the wake-up, run() would sleep for an hour
  FeedSource source(o, *store);
  Result<void> returned = Failure{"not returned"};
  std::thread runner([&] { returned = source.run(sink); });
  REQUIRE(eventually([&] { return sink.batches() == 1; }));
  source.stop();
  runner.join();
  CHECK(returned.ok());
  CHECK(server.count() == 1);
}

TEST_CASE("stop() aborts a transfer in flight", "[feed]") {
  HttpReceiver server(fixtures());
  TempStore store;
  TestSink sink(*store);
  FeedOptions o = options_for(server.url("/rss2.xml"));
  o.timeout = 300;
  server.answer_next(hang(server));
  FeedSource source(o, *store);
  std::thread runner([&] { (void)source.run(sink); });
  REQUIRE(server.wait_for(1));
  source.stop();
  runner.join();
  CHECK(sink.batches() == 0);
  CHECK(source.poll_once(sink).outcome == Outcome::kStopped);
}

TEST_CASE("polling follows redirects and decodes by the Content-Type charset", "[feed]") {
  HttpReceiver server(fixtures("application/rss+xml; charset=\"GB2312\""));
  TempStore store;
  TestSink sink(*store);
  server.answer_next([&server](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(server.url("/gb2312_declared_latin1.xml"), 301);
  });
  FeedSource source(options_for(server.url("/moved")), *store);
  const PollResult r = source.poll_once(sink);
  INFO(r.error);
  REQUIRE(r.outcome == Outcome::kPosts);
  REQUIRE(sink.batches() == 1);
  CHECK(sink.batch(0)[0].field("title") == "中国稀土出口管制升级");
  // The validators are the final answer's, not the redirect's.
  CHECK(store->get_state("wire", "etag") == etag_of(read_fixture("gb2312_declared_latin1.xml")));

  // More than five redirects in a row is an error.
  for (int i = 0; i < 7; ++i) {
    server.answer_next([&server](const httplib::Request&, httplib::Response& res) {
      res.set_redirect(server.url("/again"), 302);
    });
  }
  FeedOptions loop = options_for(server.url("/again"));
  loop.name = "loop";
  FeedSource looping(loop, *store);
  const PollResult l = looping.poll_once(sink);
  CHECK(l.outcome == Outcome::kFailed);
  CHECK(l.error.find("redirect") != std::string::npos);
}
