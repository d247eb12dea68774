// Real feeds (../shared/corpus/feeds, skipped when absent), polled over loopback by FeedSource:
// every item becomes a post with an id, a title and text, and GB2312 decodes to the right Chinese.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>

#include "sources/feed/feed.h"
#include "support/http_receiver.h"
#include "support/temp_store.h"

namespace {

using lodestone::BatchReceipt;
using lodestone::FeedOptions;
using lodestone::FeedSource;
using lodestone::PollResult;
using lodestone::Post;
using lodestone::PostSink;
using lodestone::testing::HttpReceiver;
using lodestone::testing::TempStore;

std::string feeds_dir() {
  if (const char* env = std::getenv("LODESTONE_CORPUS")) return std::string(env) + "/feeds";
  return LODESTONE_SOURCE_DIR "/../shared/corpus/feeds";
}

std::string read_corpus(const std::string& file) {
  const std::string path = feeds_dir() + "/" + file;
  if (!std::filesystem::exists(path)) {
    // Not a pass: exit code 4 makes ctest report this test as skipped (SKIP_RETURN_CODE).
    std::fprintf(stderr, "SKIPPED: %s is absent (the corpus lives in ../shared/corpus beside the checkout)\n",
                 path.c_str());
    std::exit(4);
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A sink that keeps every post it is given and reports each batch committed.
class KeepingSink : public PostSink {
 public:
  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull) override {
    std::lock_guard<std::mutex> lock(mutex_);
    BatchReceipt receipt;
    receipt.committed = true;
    receipt.posts = receipt.new_posts = posts.size();
    for (auto& p : posts) posts_.push_back(p);
    std::promise<BatchReceipt> promise;
    promise.set_value(receipt);
    return promise.get_future();
  }
  void count_rejected(std::string_view, size_t count) override { rejected += count; }
  std::vector<Post> posts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }
  std::atomic<size_t> rejected{0};

 private:
  mutable std::mutex mutex_;
  std::vector<Post> posts_;
};

// Serves one corpus file, as the publisher did: with no charset in the Content-Type, so the XML
// declaration decides.
std::vector<Post> poll_corpus(const std::string& file, const std::string& content_type) {
  const std::string body = read_corpus(file);
  HttpReceiver server([&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, content_type.c_str());
  });
  TempStore store;
  FeedOptions o;
  o.name = file;
  o.url = server.url("/" + file);
  KeepingSink sink;
  const PollResult result = FeedSource(o, *store).poll_once(sink);

  INFO(result.error);
  REQUIRE(result.outcome == PollResult::Outcome::kPosts);
  CHECK(sink.rejected == 0);
  return sink.posts();
}

void check_every_post(const std::vector<Post>& posts, const std::string& source) {
  for (const auto& p : posts) {
    INFO(source << " post " << p.id);
    CHECK(p.source == source);
    CHECK_FALSE(p.id.empty());
    CHECK_FALSE(p.field("title").empty());
    CHECK_FALSE(p.field("url").empty());
    // Text was reduced from HTML: no tag survives.
    CHECK(p.field("body").find("<p>") == std::string_view::npos);
    CHECK(p.field("body").find("&amp;") == std::string_view::npos);
  }
}

size_t with_body(const std::vector<Post>& posts) {
  size_t n = 0;
  for (const auto& p : posts) n += !p.field("body").empty();
  return n;
}

}  // namespace

TEST_CASE("the Guardian's RSS feed gives one post per item, each with id, title and text", "[feed][corpus]") {
  const auto posts = poll_corpus("guardian_us.rss", "application/rss+xml");
  REQUIRE(posts.size() == 55);
  check_every_post(posts, "guardian_us.rss");
  CHECK(with_body(posts) == posts.size());
  CHECK(posts[0].field("title") == "Trump State of the Union address promised unity but emphasized discord");
  CHECK(posts[0].id ==
        "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord");
  CHECK(posts[0].field("body").rfind("The president’s ‘new American moment’ speech", 0) == 0);
  CHECK(posts[0].field("published") == "2018-01-31T07:26:05Z");  // "Wed, 31 Jan 2018 07:26:05 GMT"
}

TEST_CASE("heise's Atom feed gives one post per entry, each with id, title and text", "[feed][corpus]") {
  const auto posts = poll_corpus("heise_developer.atom", "application/atom+xml");
  REQUIRE(posts.size() == 15);
  check_every_post(posts, "heise_developer.atom");
  CHECK(with_body(posts) == posts.size());
  CHECK(posts[0].id == "http://heise.de/-3088438");
  CHECK(posts[0].field("title") == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei");
  CHECK(posts[0].field("published") == "2016-02-01T16:22:00Z");
  CHECK(posts[0].field("body").find("<a href") == std::string_view::npos);
}

TEST_CASE("QQ's GB2312 feed decodes to the right Chinese titles", "[feed][corpus]") {
  const auto posts = poll_corpus("qq_news_gb2312.orig.xml", "text/xml");
  REQUIRE(posts.size() == 20);
  check_every_post(posts, "qq_news_gb2312.orig.xml");
  // Seen with `iconv -f gb2312 -t utf-8`.
  CHECK(posts[0].field("title") == "习近平为何如此强调崇尚英雄？");
  CHECK(posts[0].field("body").rfind("编者按：历史是人民书写的", 0) == 0);
  CHECK(posts[0].field("published") == "2018-09-18 14:38:10");  // no zone: kept as written
  CHECK(posts[0].id == "http://news.qq.com/a/20180918/009846.htm");
  // Two items came with an empty <description/>: their title is their text.
  CHECK(with_body(posts) == posts.size() - 2);
}
