// The feed source: polls one RSS 2.0 / RSS 1.0 / Atom feed over HTTP(S) with conditional GETs,
// and parse_feed(), the pure step from a feed document to posts.
// parse_feed() and the helpers are safe from any thread. One FeedSource runs on one thread
// (run(), or poll_once() in tests, never both at once); stop() may come from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/store.h"
#include "lodestone/post.h"
#include "lodestone/source.h"

namespace lodestone {

struct FeedOptions {
  std::string name;             // the source name; posts carry it as `source`
  std::string url;              // http:// or https://; its password and query never appear in a log
  double interval = 300;        // seconds between polls
  double jitter = 0.1;          // each wait is interval × (1 ± jitter), at random; 0 <= jitter < 1
  double timeout = 30;          // seconds per request, connecting and redirects included
  size_t max_bytes = 10 << 20;  // a (decoded) body past this is abandoned, never parsed half
  double max_backoff = 3600;    // after errors the wait doubles from interval up to this
  std::string user_agent;       // empty: "lodestone/<version>"
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
};

// Whether these options can work; if not, why, in one sentence naming the feed but neither the
// URL's credentials nor a header's value.
Result<void> check_feed_options(const FeedOptions& options);

// What parse_feed() saw besides the posts it gave.
struct FeedParseCounts {
  size_t items = 0;    // <item>s and <entry>s in the document
  size_t skipped = 0;  // of them, those with no text at all (no title, no body)
};

// Parses one feed document and appends one Post per item/entry that has some text, with
// `source` set and fields title, body, url, published, author (those present).
//  - id: RSS guid / Atom id, else the link, else sha256_hex32({source, "", title, body}).
//  - body: RSS content:encoded, else description; Atom content, else summary. HTML is reduced to
//    text (block elements end lines, script and style dropped, entities decoded).
//  - published: RSS pubDate (or dc:date), Atom published (else updated), as RFC 3339 UTC
//    ("2026-01-11T11:08:03Z") when it reads as RFC 822 or RFC 3339 with a zone, else as written.
// `http_charset` is the Content-Type charset ("" when none); it wins over the XML declaration.
// Labels gb2312/gbk decode as GB18030, its superset. The parser never loads a DTD, never expands
// an external entity and never touches the network. Fails, naming the line ("line 12: Opening
// and ending tag mismatch: ..."), when the document does not parse or is not a feed.
Result<std::vector<Post>> parse_feed(std::string_view body, std::string_view http_charset, std::string_view source,
                                     FeedParseCounts* counts = nullptr);

// HTML (a fragment or a page, UTF-8) reduced to text: one line per block element or <br>, runs of
// white space in inline text made one space, script/style/noscript/template dropped, entities
// decoded. Exposed for tests.
std::string html_to_text(std::string_view html);

// A feed date as RFC 3339 UTC with seconds ("2026-01-11T11:08:03Z"), or nullopt when it is
// neither RFC 822 (RSS) nor RFC 3339 with a zone (Atom).
std::optional<std::string> feed_date_to_rfc3339(std::string_view date);

// Seconds to wait before the next poll after `errors` failed polls in a row: interval, doubled per
// error up to max_backoff (never below interval), times (1 + jitter × (2 × random01 − 1)).
double feed_wait_seconds(const FeedOptions& options, int errors, double random01);

// What came of one poll.
struct PollResult {
  enum class Outcome {
    kPosts,        // a 200 whose posts (maybe none) were committed; validators stored
    kNotModified,  // a 304: nothing submitted
    kFailed,       // network, HTTP >= 400, too big, parse error, batch not committed; `error` says
    kStopped,      // stop() came first, or the pipeline refused the batch because it is stopping
  };
  Outcome outcome = Outcome::kFailed;
  int status = 0;       // the last HTTP status, 0 when none came
  size_t posts = 0;     // posts submitted
  size_t new_posts = 0; // of them, those the store had not seen
  size_t skipped = 0;   // items without text
  std::string error;    // the warning logged, when kFailed
};

class FeedSource : public Source {
 public:
  // The store keeps the feed's ETag and Last-Modified (source_state keys "etag",
  // "last_modified" and "url", under the source name) across restarts.
  FeedSource(FeedOptions options, Store& store);
  ~FeedSource() override;
  FeedSource(const FeedSource&) = delete;
  FeedSource& operator=(const FeedSource&) = delete;

  const std::string& name() const override;
  // Polls now, then every interval (with jitter; backing off after errors) until stop().
  // Returns at once with the reason when the options are invalid.
  Result<void> run(PostSink& sink) override;
  // Wakes a run() waiting for its next poll and aborts a transfer in flight. A batch already
  // submitted is still waited for. Final: a stopped source stays stopped.
  void stop() override;

  // One poll: a conditional GET, then parse, submit (waiting for room), wait for the commit, and
  // only then store the new validators. Failures are logged as one warning naming the feed.
  PollResult poll_once(PostSink& sink);

  // Failed polls in a row, as the backoff counts them.
  int consecutive_errors() const { return errors_; }

 private:
  struct Http;
  PollResult failed(PollResult result, std::string why);

  FeedOptions options_;
  Store& store_;
  std::string invalid_;  // why check_feed_options() fails, empty when it does not
  std::string shown_url_;
  std::vector<std::string> hidden_;  // strings that must not reach a log line
  std::unique_ptr<Http> http_;
  int errors_ = 0;
  std::mt19937_64 random_;

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards the wait for the next poll
  std::condition_variable wake_;
};

}  // namespace lodestone
