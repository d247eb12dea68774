// The ptt source: reads PTT boards (ptt.cc) as their web pages show them — each board's index
// pages for the article list and push counts, each new article's page once — and the pure steps
// from a page to index entries and posts.
// The parse functions are safe from any thread. One PttSource runs on one thread (run(), or
// poll_once() in tests, never both at once); stop(), health() and collect_metrics() may come
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/post.h"
#include "lodestone/result.h"
#include "lodestone/source.h"
#include "watch/store.h"

namespace lodestone {

struct PttOptions {
  std::string name;                          // the source name (logs, metrics, store state)
  std::vector<std::string> boards;           // board names as PTT writes them ("Stock"); [A-Za-z0-9_-]+
  std::string base_url = "https://www.ptt.cc";  // http(s)://host[:port], no path
  double interval = 300;                     // seconds between polls
  int pages = 2;                             // index pages read per board and poll (the newest, then ‹ 上頁)
  double request_interval = 1;               // seconds from the end of one request to the start of the next
  double timeout = 30;                       // seconds per request, connecting and redirects included
  double max_backoff = 3600;                 // after failed polls the wait doubles up to this; caps Retry-After
  std::string user_agent;                    // empty: "lodestone/<version>"
  bool fetch_articles = true;                // false: posts from the index pages alone
};

// Whether these options can work; if not, why, in one sentence naming the source.
Result<void> check_ptt_options(const PttOptions& options);

// The push summary of an index entry (div.nrec) as a number: "" → 0, "12" → 12, "爆" → 100,
// "X1".."X9" → −10..−90, "XX" → −100; nullopt for anything else.
std::optional<int> ptt_nrec_value(std::string_view text);

// The Unix time in an article's file name ("M.1768131864.A.9E9" → 1768131864); nullopt when the
// name is not of that form.
std::optional<int64_t> ptt_article_time(std::string_view id);

// An article's 時間 metaline ("Sun Jan 11 19:44:24 2026", Asia/Taipei, UTC+8 all year) as RFC 3339
// UTC ("2026-01-11T11:44:24Z"); nullopt when it does not read as such.
std::optional<std::string> ptt_time_to_rfc3339(std::string_view text);

// One article listed on an index page (a div.r-ent).
struct PttIndexEntry {
  std::string id;         // the file name without .html: "M.1768131864.A.9E9"
  std::string url;        // absolute: base_url's origin + "/bbs/Stock/M.1768131864.A.9E9.html"
  std::string title;      // "[新聞] 美國將推動各國加速 降低對中國稀土依賴"
  std::string author;     // the user id
  std::string date;       // as shown, white space trimmed: "1/11"
  std::string nrec_text;  // as shown: "", "12", "爆", "X1", "XX"
  int pushes = 0;         // ptt_nrec_value(nrec_text), 0 when it reads as none
};

// What one index page holds.
struct PttIndex {
  std::vector<PttIndexEntry> entries;  // in page order, which is oldest first
  std::string previous_url;            // the ‹ 上頁 link, absolute; empty on a board's oldest page
  size_t pinned = 0;                   // entries after div.r-list-sep (置底), skipped
  size_t deleted = 0;                  // entries without a link (本文已被刪除), skipped
  size_t unreadable = 0;               // entries whose link is not an article of base_url's site, skipped
};

// Parses a board's index page (libxml2's HTML parser and XPath; the page is UTF-8). Links resolve
// against `base_url`. Fails when the page is PTT's over-18 question or is not an index page.
Result<PttIndex> parse_ptt_index(std::string_view html, std::string_view base_url);

// Parses an article page into a post: id from `url`'s file name, source "ptt/<board>", fields
// title, body, author (user id), nickname (when there is one), board, comments (one line per
// push: "userid: text"), url, published (RFC 3339 UTC, from the file name's Unix time, else the
// 時間 metaline), and numbers push, boo, neutral (the 推, 噓 and → lines) and pushes (push − boo).
// The body is the text of div#main-content without the metalines, the push lines, richcontent
// embeds and the ※ 發信站 / ※ 文章網址 / ※ 編輯 lines, cut at the first line that is exactly "--"
// (the signature and the origin lines follow it). Fails when the page lacks div#main-content or is
// the over-18 question; the message does not name the URL (the caller does).
Result<Post> parse_ptt_article(std::string_view html, std::string_view url, std::string_view board);

// What came of one poll of every board.
struct PttPollResult {
  enum class Outcome {
    kDone,     // every board read; its posts (maybe none) committed and its state stored
    kFailed,   // some board failed (a request, a page, the store, a batch not committed); `error` says
    kStopped,  // stop() came first, or the pipeline refused a batch because it is stopping
  };
  Outcome outcome = Outcome::kFailed;
  size_t requests = 0;  // HTTP requests made, retries included
  size_t articles = 0;  // article pages fetched that parsed
  size_t posts = 0;     // posts submitted: new articles and re-sent ones
  size_t updated = 0;   // of them, known articles re-sent because their push count changed
  size_t new_posts = 0; // of them, those the store had not seen
  size_t rejected = 0;  // article pages that could not be read (logged and counted with the sink)
  std::string error;    // the first warning logged for a failed board
};

class PttSource : public Source {
 public:
  // The store keeps, per board, the newest article seen and the recent articles (their last
  // push summary and post): source_state key "board/<board>" under the source name, as JSON.
  PttSource(PttOptions options, Store& store);
  ~PttSource() override;
  PttSource(const PttSource&) = delete;
  PttSource& operator=(const PttSource&) = delete;

  const std::string& name() const override;
  // Polls now, then every interval (backing off after failed polls) until stop(). Returns at once
  // with the reason when the options are invalid.
  Result<void> run(PostSink& sink) override;
  // Wakes every wait (the next poll, request_interval, Retry-After) and aborts a transfer in
  // flight. A batch already submitted is still waited for. Final.
  void stop() override;
  // Down, naming the board's URL, after a poll in which some board failed; up after a good poll.
  SourceHealth health() const override;
  // lodestone_ptt_requests_total{source,outcome} and lodestone_ptt_posts_total{source,kind}.
  void collect_metrics(std::vector<MetricSample>& out) const override;

  // One poll of every board in turn, one request at a time with request_interval between them:
  // read the index pages, fetch the articles newer than the newest seen, re-send known articles
  // whose push summary changed, submit one batch per board (waiting for room and for the commit)
  // and only then store the board's state.
  PttPollResult poll_once(PostSink& sink);

  // Failed polls in a row, as the backoff counts them.
  int consecutive_errors() const { return errors_; }

 private:
  struct Http;
  struct Fetch;
  struct BoardState;
  Fetch fetch(const std::string& url, PttPollResult& result);
  bool pause_until(std::chrono::steady_clock::time_point when);
  void poll_board(const std::string& board, PostSink& sink, PttPollResult& result);
  void board_failed(PttPollResult& result, const std::string& why);

  PttOptions options_;
  Store& store_;
  std::string invalid_;  // why check_ptt_options() fails, empty when it does not
  std::string origin_;   // base_url as scheme://host[:port], no trailing slash
  std::unique_ptr<Http> http_;
  int errors_ = 0;
  bool board_ok_ = true;  // within poll_once(): no board has failed yet
  std::chrono::steady_clock::time_point next_request_{};  // request_interval or Retry-After

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards the waits
  std::condition_variable wake_;

  mutable std::mutex health_mutex_;
  SourceHealth health_;
  std::atomic<uint64_t> requests_ok_{0}, requests_http_error_{0}, requests_network_error_{0},
      requests_rate_limited_{0}, posts_new_{0}, posts_updated_{0};
};

}  // namespace lodestone
