// The ptt source: the parsers on the saved pages of tests/data/ptt (see its README.md), and
// PttSource polling a real loopback server that serves them: cookie, pacing, Retry-After, push
// count updates, and state that survives a restart.
#include "sources/ptt/ptt.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/http_receiver.h"
#include "support/ptt_site.h"
#include "support/temp_dir.h"
#include "support/temp_store.h"
#include "support/test_sink.h"

using lodestone::check_ptt_options;
using lodestone::Failure;
using lodestone::parse_ptt_article;
using lodestone::parse_ptt_index;
using lodestone::Post;
using lodestone::ptt_article_time;
using lodestone::ptt_nrec_value;
using lodestone::ptt_time_to_rfc3339;
using lodestone::PttIndex;
using lodestone::PttOptions;
using lodestone::PttPollResult;
using lodestone::PttSource;
using lodestone::Result;
using lodestone::testing::LogCapture;
using lodestone::testing::TestSink;
using lodestone::Store;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ptt_fixture;
using lodestone::testing::PttSite;
using lodestone::testing::replace_once;
using lodestone::testing::ReceivedRequest;
using lodestone::testing::TempDir;
using lodestone::testing::TempStore;
using Outcome = PttPollResult::Outcome;

namespace {

// The articles of the fixtures, by id (tests/data/ptt/README.md).
constexpr const char* kNvidia = "M.1768125600.A.1A1";      // index.html, nrec ""
constexpr const char* kStopLoss = "M.1768127400.A.2B2";    // index.html, nrec X1
constexpr const char* kTsmc = "M.1768129200.A.3C3";        // index.html, nrec 12
constexpr const char* kBroken = "M.1768131000.A.4D4";      // index.html, nrec XX, no div#main-content
constexpr const char* kRareEarths = "M.1768131864.A.9E9";  // index.html, nrec 爆
constexpr const char* kJensen = "M.1768111200.A.5E5";      // index3999.html, nrec 8
constexpr const char* kExportCurbs = "M.1768118400.A.6F6"; // index3999.html, nrec 3
constexpr const char* kNewer = "M.1768133000.A.7A7";       // on no index page until a test adds it

std::string article_fixture(const std::string& id) { return ptt_fixture("bbs/Stock/" + id + ".html"); }

std::string article_path(const std::string& id) { return "/bbs/Stock/" + id + ".html"; }

Post article_ok(const std::string& id) {
  Result<Post> post = parse_ptt_article(article_fixture(id), "https://www.ptt.cc" + article_path(id), "Stock");
  INFO(post.error());
  REQUIRE(post);
  return std::move(*post);
}

size_t line_count(std::string_view text) {
  return text.empty() ? 0 : static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

std::vector<std::string> ids_of(const std::vector<Post>& posts) {
  std::vector<std::string> ids;
  for (const auto& p : posts) ids.push_back(p.id);
  return ids;
}

std::vector<std::string> paths_of(const std::vector<ReceivedRequest>& requests) {
  std::vector<std::string> paths;
  for (const auto& r : requests) paths.push_back(r.path);
  return paths;
}

// The paths asked for from request `first` on.
std::vector<std::string> paths_since(const std::vector<ReceivedRequest>& requests, size_t first) {
  std::vector<std::string> paths = paths_of(requests);
  paths.erase(paths.begin(), paths.begin() + static_cast<std::ptrdiff_t>(std::min(first, paths.size())));
  return paths;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

PttOptions options_for(const PttSite& site) {
  PttOptions o;
  o.name = "ptt-stock";
  o.boards = {"Stock"};
  o.base_url = site.base_url();
  o.interval = 0.05;
  o.pages = 2;
  o.request_interval = 0.02;
  o.timeout = 10;
  o.max_backoff = 5;
  return o;
}

// The requests of a first poll with pages = 2: both index pages, then every listed article,
// oldest first.
const std::vector<std::string> kFirstPollPaths = {
    "/bbs/Stock/index.html",    "/bbs/Stock/index3999.html", article_path(kJensen),  article_path(kExportCurbs),
    article_path(kNvidia),      article_path(kStopLoss),     article_path(kTsmc),    article_path(kBroken),
    article_path(kRareEarths)};
const std::vector<std::string> kFirstPollPosts = {kJensen, kExportCurbs, kNvidia, kStopLoss, kTsmc, kRareEarths};
const std::vector<std::string> kIndexPaths = {"/bbs/Stock/index.html", "/bbs/Stock/index3999.html"};

// The index page with kNewer listed after kRareEarths (before the pinned posts).
std::string index_with_newer_article(const std::string& index) {
  const std::string entry =
      "\t\t<div class=\"r-ent\">\n\t\t\t<div class=\"nrec\"><span class=\"hl f2\">1</span></div>\n"
      "\t\t\t<div class=\"title\">\n\t\t\t\t<a href=\"/bbs/Stock/M.1768133000.A.7A7.html\">[新聞] 美國擴大AI晶片出口管制 "
      "輝達：將遵守規定</a>\n\t\t\t</div>\n\t\t\t<div class=\"meta\">\n\t\t\t\t<div class=\"author\">exportctl</div>\n"
      "\t\t\t\t<div class=\"date\"> 1/11</div>\n\t\t\t</div>\n\t\t</div>\n";
  return replace_once(index, "\t\t<div class=\"r-list-sep\"></div>", entry + "\t\t<div class=\"r-list-sep\"></div>");
}

}  // namespace

// ---- the pure parts ----

TEST_CASE("a push summary reads as PTT counts it", "[ptt]") {
  CHECK(ptt_nrec_value("") == 0);
  CHECK(ptt_nrec_value("1") == 1);
  CHECK(ptt_nrec_value("12") == 12);
  CHECK(ptt_nrec_value(" 99 ") == 99);
  CHECK(ptt_nrec_value("爆") == 100);
  CHECK(ptt_nrec_value("X1") == -10);
  CHECK(ptt_nrec_value("X9") == -90);
  CHECK(ptt_nrec_value("XX") == -100);
  CHECK_FALSE(ptt_nrec_value("X0"));
  CHECK_FALSE(ptt_nrec_value("XA"));
  CHECK_FALSE(ptt_nrec_value("x1"));
  CHECK_FALSE(ptt_nrec_value("1000"));
  CHECK_FALSE(ptt_nrec_value("-3"));
  CHECK_FALSE(ptt_nrec_value("推"));
}

TEST_CASE("an article's file name gives its Unix time and its 時間 line reads as Taipei time", "[ptt]") {
  CHECK(ptt_article_time("M.1768131864.A.9E9") == 1768131864);
  CHECK(ptt_article_time("G.1119222611.A") == 1119222611);
  CHECK_FALSE(ptt_article_time("M.abc.A.9E9"));
  CHECK_FALSE(ptt_article_time("index"));
  CHECK_FALSE(ptt_article_time("M.1768131864.A.9E9.html"));
  CHECK_FALSE(ptt_article_time(""));

  CHECK(ptt_time_to_rfc3339("Sun Jan 11 19:44:24 2026") == "2026-01-11T11:44:24Z");
  CHECK(ptt_time_to_rfc3339("Thu Oct  9 10:00:00 2025") == "2025-10-09T02:00:00Z");
  CHECK(ptt_time_to_rfc3339("Sat Jan  1 03:00:00 2000") == "1999-12-31T19:00:00Z");  // the day before in UTC
  CHECK(ptt_time_to_rfc3339("Thu Feb 29 12:00:00 2024") == "2024-02-29T04:00:00Z");
  CHECK_FALSE(ptt_time_to_rfc3339("Fri Feb 29 12:00:00 2025"));
  CHECK_FALSE(ptt_time_to_rfc3339("Sun Foo 11 19:44:24 2026"));
  CHECK_FALSE(ptt_time_to_rfc3339("Sun Jan 11 19:44 2026"));
  CHECK_FALSE(ptt_time_to_rfc3339("2026-01-11T19:44:24+08:00"));
  CHECK_FALSE(ptt_time_to_rfc3339(""));
}

TEST_CASE("an index page lists its articles oldest first without pinned and deleted ones", "[ptt]") {
  Result<PttIndex> page = parse_ptt_index(ptt_fixture("bbs/Stock/index.html"), "https://www.ptt.cc");
  INFO(page.error());
  REQUIRE(page);
  const auto& e = page->entries;
  REQUIRE(e.size() == 5);
  CHECK(e[0].id == kNvidia);
  CHECK(e[1].id == kStopLoss);
  CHECK(e[2].id == kTsmc);
  CHECK(e[3].id == kBroken);
  CHECK(e[4].id == kRareEarths);
  CHECK(page->pinned == 2);
  CHECK(page->deleted == 1);
  CHECK(page->unreadable == 0);
  CHECK(page->previous_url == "https://www.ptt.cc/bbs/Stock/index3999.html");

  CHECK(e[2].url == "https://www.ptt.cc/bbs/Stock/M.1768129200.A.3C3.html");
  CHECK(e[2].title == "[新聞] 台積電2奈米量產 法說會上調資本支出");
  CHECK(e[2].author == "tsmcfan");
  CHECK(e[2].date == "1/11");
  // Every form of the push summary: empty, a number, X1, XX, 爆.
  CHECK(e[0].nrec_text.empty());
  CHECK(e[0].pushes == 0);
  CHECK(e[1].nrec_text == "X1");
  CHECK(e[1].pushes == -10);
  CHECK(e[2].nrec_text == "12");
  CHECK(e[2].pushes == 12);
  CHECK(e[3].nrec_text == "XX");
  CHECK(e[3].pushes == -100);
  CHECK(e[4].nrec_text == "爆");
  CHECK(e[4].pushes == 100);

  // The older page: links resolve against the base URL given.
  Result<PttIndex> older = parse_ptt_index(ptt_fixture("bbs/Stock/index3999.html"), "http://127.0.0.1:8080/");
  INFO(older.error());
  REQUIRE(older);
  REQUIRE(older->entries.size() == 2);
  CHECK(older->entries[0].id == kJensen);
  CHECK(older->entries[0].url == "http://127.0.0.1:8080/bbs/Stock/M.1768111200.A.5E5.html");
  CHECK(older->entries[1].id == kExportCurbs);
  CHECK(older->entries[1].pushes == 3);
  CHECK(older->pinned == 0);
  CHECK(older->previous_url == "http://127.0.0.1:8080/bbs/Stock/index3998.html");
}

TEST_CASE("an index entry whose link leaves the site is skipped and a page without one has no previous", "[ptt]") {
  std::string page = ptt_fixture("bbs/Stock/index.html");
  page = replace_once(page, "href=\"/bbs/Stock/M.1768125600.A.1A1.html\"",
                      "href=\"https://evil.example/bbs/Stock/M.1768125600.A.1A1.html\"");
  page = replace_once(page, "<a class=\"btn wide\" href=\"/bbs/Stock/index3999.html\">&lsaquo; 上頁</a>",
                      "<a class=\"btn wide disabled\">&lsaquo; 上頁</a>");
  Result<PttIndex> index = parse_ptt_index(page, "https://www.ptt.cc");
  REQUIRE(index);
  CHECK(index->entries.size() == 4);
  CHECK(index->unreadable == 1);
  CHECK(index->previous_url.empty());

  // An empty board is an index page with no entries.
  Result<PttIndex> empty =
      parse_ptt_index("<html><body><div class=\"r-list-container bbs-screen\"></div></body></html>", "https://www.ptt.cc");
  REQUIRE(empty);
  CHECK(empty->entries.empty());
}

TEST_CASE("a page that is not an index page is an error", "[ptt]") {
  const auto over18 = parse_ptt_index(ptt_fixture("ask/over18.html"), "https://www.ptt.cc");
  REQUIRE_FALSE(over18);
  CHECK(over18.error().find("over 18") != std::string::npos);
  const auto article = parse_ptt_index(article_fixture(kTsmc), "https://www.ptt.cc");
  REQUIRE_FALSE(article);
  CHECK(article.error().find("not a board index page") != std::string::npos);
  CHECK_FALSE(parse_ptt_index("", "https://www.ptt.cc"));
}

TEST_CASE("an article page becomes a post with every field and its push counts", "[ptt]") {
  const Post tsmc = article_ok(kTsmc);
  CHECK(tsmc.id == kTsmc);
  CHECK(tsmc.source == "ptt/Stock");
  CHECK(tsmc.field("title") == "[新聞] 台積電2奈米量產 法說會上調資本支出");
  CHECK(tsmc.field("author") == "tsmcfan");
  CHECK(tsmc.field("nickname") == "晶圓代工迷");
  CHECK(tsmc.field("board") == "Stock");
  CHECK(tsmc.field("url") == "https://www.ptt.cc/bbs/Stock/M.1768129200.A.3C3.html");
  CHECK(tsmc.field("published") == "2026-01-11T11:00:00Z");
  // No metalines, no signature (after "--"), no origin lines, no pushes; colour spans kept as text.
  CHECK(tsmc.field("body") ==
        "1.標題:\n台積電2奈米量產 法說會上調資本支出\n\n2.來源:\n中央社\n\n3.網址:\n"
        "https://www.cna.com.tw/news/afe/202601110123.aspx\n\n4.內文:\n"
        "台積電（TSMC）今天舉行法說會，宣布2奈米製程已進入量產，\n"
        "今年資本支出上調至520億美元，主要客戶包括NVIDIA與Apple。\n"
        "魏哲家表示，AI需求強勁，先進封裝CoWoS產能明年倍增。\n\n"
        "5.附註、心得、想法:\n護國神山持續領先，長線看好。");
  const std::string_view comments = tsmc.field("comments");
  CHECK(line_count(comments) == 16);
  CHECK(comments.substr(0, comments.find('\n')) == "waferking: 台積電無敵");
  CHECK(comments.find("bearbear: 利多出盡\n") != std::string_view::npos);
  CHECK(comments.substr(comments.rfind('\n') + 1) == "closing: 收盤見");
  CHECK(tsmc.number("push") == 13);
  CHECK(tsmc.number("boo") == 1);
  CHECK(tsmc.number("neutral") == 2);
  CHECK(tsmc.number("pushes") == 12);
  // Fields in a fixed order, then the numbers.
  std::vector<std::string> names;
  for (const auto& f : tsmc.fields()) names.push_back(f.name);
  CHECK(names == std::vector<std::string>{"title", "author", "nickname", "board", "body", "comments", "url",
                                          "published"});

  const Post rare = article_ok(kRareEarths);
  CHECK(rare.field("author") == "raremetal");
  CHECK(rare.field("published") == "2026-01-11T11:44:24Z");
  CHECK(rare.number("push") == 110);
  CHECK(rare.number("boo") == 3);
  CHECK(rare.number("neutral") == 4);
  CHECK(rare.number("pushes") == 107);
  CHECK(line_count(rare.field("comments")) == 117);
  CHECK(rare.field("body").find("降低對中國稀土加工的依賴") != std::string_view::npos);
  CHECK(rare.field("body").find("rare earths") != std::string_view::npos);
  CHECK(rare.field("body").find("稀土概念股又要噴了？") != std::string_view::npos);
  // The image embed and the edit line between the pushes are not text of the article.
  CHECK(rare.field("body").find("imgur") == std::string_view::npos);
  CHECK(rare.field("body").find("※") == std::string_view::npos);
  CHECK(rare.field("comments").find("※") == std::string_view::npos);

  const Post nvidia = article_ok(kNvidia);
  CHECK(nvidia.field("nickname") == "綠色巨人(NV)");  // parentheses inside the nickname
  CHECK(nvidia.field("comments") == "gpuman: 輝達信仰\nshortgod: 財報前還敢多\nbystander: 祝順利");
  CHECK(nvidia.number("pushes") == 0);
  CHECK(nvidia.number("neutral") == 1);

  const Post stop_loss = article_ok(kStopLoss);
  CHECK(stop_loss.field("author") == "newbie2026");
  CHECK(stop_loss.field("nickname").empty());  // "newbie2026 ()"
  CHECK(stop_loss.field("body") == "買了一年都在賠，請問大家會停損嗎？");
  CHECK(stop_loss.number("pushes") == -10);
}

TEST_CASE("an article without its header lines keeps its og:title and the metaline time stands in", "[ptt]") {
  std::string page = article_fixture(kTsmc);
  const size_t from = page.find("<div class=\"article-metaline\">");
  const size_t to = page.find("1.標題:");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  page.erase(from, to - from);
  Result<Post> post = parse_ptt_article(page, "https://www.ptt.cc/bbs/Stock/M.1768129200.A.3C3.html", "Stock");
  REQUIRE(post);
  CHECK(post->field("title") == "[新聞] 台積電2奈米量產 法說會上調資本支出");
  CHECK(post->field("author").empty());
  CHECK(post->field("board") == "Stock");
  CHECK(post->field("body").rfind("1.標題:", 0) == 0);

  // A URL whose file name carries no time: published comes from the 時間 metaline, Taipei time.
  Result<Post> renamed = parse_ptt_article(article_fixture(kRareEarths), "https://www.ptt.cc/bbs/Stock/saved.html",
                                           "Stock");
  REQUIRE(renamed);
  CHECK(renamed->id == "saved");
  CHECK(renamed->field("published") == "2026-01-11T11:44:24Z");
}

TEST_CASE("a page without main-content, or the over-18 question, is not an article", "[ptt]") {
  const auto broken = parse_ptt_article(article_fixture(kBroken), "https://www.ptt.cc/x", "Stock");
  REQUIRE_FALSE(broken);
  CHECK(broken.error() == "the page has no div#main-content (not an article page)");
  const auto over18 = parse_ptt_article(ptt_fixture("ask/over18.html"), "https://www.ptt.cc/x", "Stock");
  REQUIRE_FALSE(over18);
  CHECK(over18.error().find("over 18") != std::string::npos);
  CHECK_FALSE(parse_ptt_article("", "https://www.ptt.cc/x", "Stock"));
}

TEST_CASE("ptt options that cannot work are refused with a reason", "[ptt]") {
  PttOptions o;
  o.name = "boards";
  o.boards = {"Stock", "Gossiping", "Tech_Job", "C_Chat", "Baseball-2"};
  CHECK(check_ptt_options(o).ok());
  auto refused = [](const PttOptions& bad) { return check_ptt_options(bad).error(); };
  PttOptions bad = o;
  bad.boards = {};
  CHECK(refused(bad) == "ptt \"boards\": boards must name at least one board");
  bad.boards = {"Stock", "../etc"};
  CHECK(refused(bad) == "ptt \"boards\": \"../etc\" is not a board name (letters, digits, _ and - only)");
  bad.boards = {"Stock", "stock"};
  CHECK(refused(bad) == "ptt \"boards\": board \"stock\" is listed twice");
  bad = o;
  bad.base_url = "ftp://www.ptt.cc";
  CHECK(refused(bad) == "ptt \"boards\": base_url must start with http:// or https://");
  bad.base_url = "https://www.ptt.cc/bbs/";
  CHECK(refused(bad).find("without path") != std::string::npos);
  bad = o;
  bad.pages = 0;
  CHECK(refused(bad).find("pages") != std::string::npos);
  bad = o;
  bad.request_interval = -1;
  CHECK(refused(bad).find("request_interval") != std::string::npos);
  bad = o;
  bad.interval = 0;
  CHECK(refused(bad).find("interval") != std::string::npos);
  bad = o;
  bad.name = "";
  CHECK(refused(bad) == "a ptt source needs a name");

  TempStore store;
  TestSink sink(*store);
  bad = o;
  bad.boards = {};
  PttSource source(bad, *store);
  CHECK(source.run(sink).error() == check_ptt_options(bad).error());
}

// ---- the source against a loopback PTT ----

TEST_CASE("the first poll sends every article of the first pages, politely, one batch a board", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  PttOptions o = options_for(site);
  o.request_interval = 0.2;
  PttSource source(o, *store);

  const PttPollResult r = source.poll_once(sink);
  INFO(r.error);
  REQUIRE(r.outcome == Outcome::kDone);
  CHECK(r.requests == 9);
  CHECK(r.articles == 6);
  CHECK(r.posts == 6);
  CHECK(r.new_posts == 6);
  CHECK(r.updated == 0);
  CHECK(r.rejected == 1);
  CHECK(sink.rejected() == 1);
  REQUIRE(sink.batches() == 1);
  const std::vector<Post> posts = sink.batch(0);
  CHECK(ids_of(posts) == kFirstPollPosts);
  for (const auto& p : posts) CHECK(p.source == "ptt/Stock");
  CHECK(posts[4].field("url") == site.url(article_path(kTsmc)));
  CHECK(posts[4].number("pushes") == 12);
  CHECK(posts[5].number("pushes") == 107);

  // The page without main-content: one warning naming its URL; the articles after it still came.
  const std::string logged = log.text();
  CHECK(occurrences(logged, site.url(article_path(kBroken))) == 1);
  CHECK(logged.find("main-content") != std::string::npos);

  const auto requests = site.server().requests();
  CHECK(paths_of(requests) == kFirstPollPaths);
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("request " << i << " " << requests[i].path);
    CHECK(requests[i].header("Cookie") == "over18=1");
    CHECK(requests[i].header("User-Agent").rfind("lodestone/", 0) == 0);
    if (i > 0) {
      // request_interval runs from one answer to the next request: arrivals are at least that far apart.
      const auto gap = std::chrono::duration<double>(requests[i].at - requests[i - 1].at).count();
      CHECK(gap >= o.request_interval - 0.01);
    }
  }
  CHECK(source.health().up);
}

TEST_CASE("a later poll re-sends only articles whose push count moved and fetches new ones", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  PttSource source(options_for(site), *store);
  REQUIRE(source.poll_once(sink).outcome == Outcome::kDone);
  REQUIRE(sink.batches() == 1);
  const Post first_tsmc = sink.batch(0)[4];
  REQUIRE(first_tsmc.id == kTsmc);
  const size_t before = site.server().count();

  SECTION("nothing changed: nothing is sent and no article is fetched") {
    const PttPollResult r = source.poll_once(sink);
    CHECK(r.outcome == Outcome::kDone);
    CHECK(r.posts == 0);
    CHECK(sink.batches() == 1);
    const auto requests = site.server().requests();
    CHECK(paths_since(requests, before) ==
          kIndexPaths);
  }
  SECTION("a push count crossed fifty: the whole post again, with the new count") {
    site.set_index(replace_once(site.index(), "<span class=\"hl f3\">12</span>", "<span class=\"hl f3\">55</span>"));
    const PttPollResult r = source.poll_once(sink);
    INFO(r.error);
    CHECK(r.outcome == Outcome::kDone);
    CHECK(r.posts == 1);
    CHECK(r.updated == 1);
    CHECK(r.new_posts == 0);
    CHECK(r.articles == 0);
    REQUIRE(sink.batches() == 2);
    const std::vector<Post> again = sink.batch(1);
    REQUIRE(again.size() == 1);
    const Post& p = again[0];
    CHECK(p.id == kTsmc);
    CHECK(p.source == "ptt/Stock");
    CHECK(p.number("pushes") == 55);
    CHECK(p.number("push") == 13);  // as last read on the article page
    CHECK(p.number("boo") == 1);
    CHECK(p.number("neutral") == 2);
    REQUIRE(p.fields().size() == first_tsmc.fields().size());
    for (size_t i = 0; i < p.fields().size(); ++i) {
      CHECK(p.fields()[i].name == first_tsmc.fields()[i].name);
      CHECK(p.fields()[i].text == first_tsmc.fields()[i].text);
    }
    const auto requests = site.server().requests();
    CHECK(paths_since(requests, before) ==
          kIndexPaths);

    // The same count again: nothing more.
    CHECK(source.poll_once(sink).posts == 0);
    CHECK(sink.batches() == 2);
  }
  SECTION("a new article: fetched and sent, alone") {
    site.set_index(index_with_newer_article(site.index()));
    const PttPollResult r = source.poll_once(sink);
    INFO(r.error);
    CHECK(r.outcome == Outcome::kDone);
    CHECK(r.articles == 1);
    REQUIRE(sink.batches() == 2);
    const std::vector<Post> batch = sink.batch(1);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].id == kNewer);
    CHECK(batch[0].field("title") == "[新聞] 美國擴大AI晶片出口管制 輝達：將遵守規定");
    CHECK(batch[0].number("pushes") == 1);
    const auto requests = site.server().requests();
    std::vector<std::string> expected = kIndexPaths;
    expected.push_back(article_path(kNewer));
    CHECK(paths_since(requests, before) ==
          expected);
  }
}

TEST_CASE("a restart on the same store neither fetches nor sends an article again", "[ptt]") {
  PttSite site;
  TempDir dir("ptt-restart");
  {
    std::unique_ptr<Store> store = lodestone::testing::open_store(dir);
    TestSink sink(*store);
    PttSource source(options_for(site), *store);
    REQUIRE(source.poll_once(sink).outcome == Outcome::kDone);
    CHECK(sink.batches() == 1);
    REQUIRE(store->get_state("ptt-stock", "board/Stock"));
  }
  const size_t before = site.server().count();
  std::unique_ptr<Store> reopened = lodestone::testing::open_store(dir);
  TestSink sink(*reopened);
  PttSource restarted(options_for(site), *reopened);
  const PttPollResult r = restarted.poll_once(sink);
  INFO(r.error);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.posts == 0);
  CHECK(r.rejected == 0);  // the broken page is not asked for again either
  CHECK(sink.batches() == 0);
  const auto requests = site.server().requests();
  CHECK(paths_since(requests, before) ==
        kIndexPaths);

  // And it still follows the push counts it knew before the restart.
  site.set_index(replace_once(site.index(), "<span class=\"hl f0\">X1</span>", "<span class=\"hl f0\">X2</span>"));
  const PttPollResult moved = restarted.poll_once(sink);
  CHECK(moved.updated == 1);
  REQUIRE(sink.batches() == 1);
  CHECK(sink.batch(0)[0].id == kStopLoss);
  CHECK(sink.batch(0)[0].number("pushes") == -20);
}

TEST_CASE("429 with Retry-After: the source waits that long, then asks again", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  site.server().answer_next([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "1");
    res.set_content("Too Many Requests", "text/plain");
  });
  PttSource source(options_for(site), *store);
  const PttPollResult r = source.poll_once(sink);
  INFO(r.error);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.requests == 10);
  CHECK(r.posts == 6);
  const auto requests = site.server().requests();
  REQUIRE(requests.size() >= 2);
  CHECK(requests[0].status == 429);
  CHECK(requests[1].path == "/bbs/Stock/index.html");
  CHECK(std::chrono::duration<double>(requests[1].at - requests[0].at).count() >= 1 - 0.01);
  CHECK(source.consecutive_errors() == 0);
}

TEST_CASE("an article that fails for now waits, with the newer ones, for the next poll", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  PttOptions o = options_for(site);
  PttSource source(o, *store);
  // The answers of the first poll: index.html, index3999.html, kJensen, kExportCurbs, then kNvidia fails.
  for (int i = 0; i < 4; ++i) {
    site.server().answer_next([&site](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.path == "/bbs/Stock/index.html" ? site.index() : ptt_fixture(req.path.substr(1)), "text/html");
    });
  }
  site.server().answer_next([](const httplib::Request&, httplib::Response& res) { res.status = 500; });

  const PttPollResult first = source.poll_once(sink);
  CHECK(first.outcome == Outcome::kFailed);
  CHECK(first.error == "ptt \"ptt-stock\" (" + site.url(article_path(kNvidia)) + "): HTTP 500");
  CHECK(log.text().find(first.error) != std::string::npos);
  CHECK_FALSE(source.health().up);
  CHECK(source.health().reason == first.error);
  CHECK(source.consecutive_errors() == 1);
  REQUIRE(sink.batches() == 1);
  CHECK(ids_of(sink.batch(0)) == std::vector<std::string>{kJensen, kExportCurbs});
  CHECK(site.server().count() == 5);  // nothing after the failure was asked for

  const PttPollResult second = source.poll_once(sink);
  INFO(second.error);
  CHECK(second.outcome == Outcome::kDone);
  REQUIRE(sink.batches() == 2);
  CHECK(ids_of(sink.batch(1)) == std::vector<std::string>{kNvidia, kStopLoss, kTsmc, kRareEarths});
  CHECK(second.rejected == 1);
  CHECK(source.health().up);
  CHECK(source.consecutive_errors() == 0);
}

TEST_CASE("the state is stored only after the batch is committed", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink refusing(*store);
  refusing.fail_next(SIZE_MAX);
  LogCapture log;
  PttSource source(options_for(site), *store);
  const PttPollResult r = source.poll_once(refusing);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(r.error.find("not committed: test: this batch fails") != std::string::npos);
  CHECK_FALSE(store->get_state("ptt-stock", "board/Stock"));

  // So the next poll reads the articles again and sends them again.
  TestSink sink(*store);
  const PttPollResult again = source.poll_once(sink);
  INFO(again.error);
  CHECK(again.outcome == Outcome::kDone);
  CHECK(again.articles == 6);
  REQUIRE(sink.batches() == 1);
  CHECK(ids_of(sink.batch(0)) == kFirstPollPosts);
}

TEST_CASE("without fetch_articles the posts come from the index pages alone", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  PttOptions o = options_for(site);
  o.fetch_articles = false;
  PttSource source(o, *store);
  const PttPollResult r = source.poll_once(sink);
  INFO(r.error);
  REQUIRE(r.outcome == Outcome::kDone);
  CHECK(paths_of(site.server().requests()) == kIndexPaths);
  REQUIRE(sink.batches() == 1);
  const std::vector<Post> posts = sink.batch(0);
  CHECK(ids_of(posts) ==
        std::vector<std::string>{kJensen, kExportCurbs, kNvidia, kStopLoss, kTsmc, kBroken, kRareEarths});
  const Post& rare = posts[6];
  CHECK(rare.source == "ptt/Stock");
  CHECK(rare.field("title") == "[新聞] 美國將推動各國加速 降低對中國稀土依賴");
  CHECK(rare.field("author") == "raremetal");
  CHECK(rare.field("board") == "Stock");
  CHECK(rare.field("url") == site.url(article_path(kRareEarths)));
  CHECK(rare.field("published") == "2026-01-11T11:44:24Z");
  CHECK(rare.field("body").empty());
  CHECK(rare.number("pushes") == 100);
  CHECK_FALSE(rare.number("push"));
  CHECK(posts[5].number("pushes") == -100);

  site.set_index(replace_once(site.index(), "<span class=\"hl f3\">12</span>", "<span class=\"hl f3\">13</span>"));
  CHECK(source.poll_once(sink).updated == 1);
  REQUIRE(sink.batches() == 2);
  CHECK(sink.batch(1)[0].number("pushes") == 13);
}

TEST_CASE("PTT's over-18 question is an error naming the page", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  LogCapture log;
  // As PTT answers a reader without the cookie: a redirect to the question.
  site.server().answer_next([&site](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(site.url("/ask/over18?from=%2Fbbs%2FStock%2Findex.html"), 302);
  });
  PttSource source(options_for(site), *store);
  const PttPollResult r = source.poll_once(sink);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(r.error.rfind("ptt \"ptt-stock\" (" + site.url("/bbs/Stock/index.html") + "): ", 0) == 0);
  CHECK(r.error.find("over 18") != std::string::npos);
  CHECK(sink.batches() == 0);
  CHECK_FALSE(source.health().up);
  CHECK_FALSE(store->get_state("ptt-stock", "board/Stock"));

  // An article page that is the question is counted and skipped like any unreadable page.
  site.server().answer_next([&site](const httplib::Request&, httplib::Response& res) {
    res.set_content(site.index(), "text/html");
  });
  site.server().answer_next([](const httplib::Request&, httplib::Response& res) {
    res.set_content(ptt_fixture("bbs/Stock/index3999.html"), "text/html");
  });
  site.server().answer_next([](const httplib::Request&, httplib::Response& res) {
    res.set_content(ptt_fixture("ask/over18.html"), "text/html");
  });
  const PttPollResult second = source.poll_once(sink);
  INFO(second.error);
  CHECK(second.outcome == Outcome::kDone);
  CHECK(second.rejected == 2);  // kJensen's question and kBroken's page
  REQUIRE(sink.batches() == 1);
  CHECK(sink.batch(0).size() == 5);
  CHECK(log.text().find(site.url(article_path(kJensen))) != std::string::npos);
}

TEST_CASE("stop() wakes a source between requests and aborts a transfer in flight", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  PttOptions o = options_for(site);
  SECTION("waiting for request_interval") {
    o.request_interval = 3600;  // without the wake-up, the second request would wait an hour
  }
  SECTION("waiting for an answer") {
    o.timeout = 300;
    site.server().answer_next([&site](const httplib::Request&, httplib::Response& res) {
      site.server().hold(std::chrono::seconds(60));
      res.status = 503;
    });
  }
  PttSource source(o, *store);
  Result<void> returned = Failure{"not returned"};
  const auto start = std::chrono::steady_clock::now();
  std::thread runner([&] { returned = source.run(sink); });
  REQUIRE(site.server().wait_for(1));
  source.stop();
  runner.join();
  CHECK(returned.ok());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(site.server().count() == 1);
  CHECK(sink.batches() == 0);
  CHECK(source.poll_once(sink).outcome == Outcome::kStopped);
}

TEST_CASE("run() polls again after the interval", "[ptt]") {
  PttSite site;
  TempStore store;
  TestSink sink(*store);
  PttSource source(options_for(site), *store);
  std::thread runner([&] { (void)source.run(sink); });
  REQUIRE(site.server().wait_for(kFirstPollPaths.size() + kIndexPaths.size()));
  source.stop();
  runner.join();
  CHECK(sink.batches() == 1);
  std::vector<lodestone::MetricSample> metrics;
  source.collect_metrics(metrics);
  double ok = 0;
  for (const auto& m : metrics) {
    if (m.family == "lodestone_ptt_requests_total" && m.labels.at(1).second == "ok") ok = m.value;
  }
  CHECK(ok >= static_cast<double>(kFirstPollPaths.size()));  // the last request may have been cut short
}
