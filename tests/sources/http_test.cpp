// The http source on a real loopback server: tokens, body limits, JSONL with bad lines, backpressure
// (503 + Retry-After), and 202 only once a batch is committed to a real store.
#include "sources/http/http.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_store.h"
#include "watch/store.h"

using lodestone::BatchReceipt;
using lodestone::HttpSource;
using lodestone::HttpSourceOptions;
using lodestone::Post;
using lodestone::PostKey;
using lodestone::PostSink;
using lodestone::Result;
using lodestone::Failure;
using lodestone::Store;
using lodestone::testing::TempStore;


namespace {

constexpr const char* kToken = "s3cret-t0ken-for-tests";

template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The pipeline's entrance as the source sees it: commits each batch's post keys into a real store
// on a thread of its own. It can refuse batches (a full queue), fail them (a failing store), or hold
// them uncommitted until the test releases them.
class StoreSink : public PostSink {
 public:
  enum class Mode { kCommit, kRefuse, kFail };

  explicit StoreSink(Store& store) : store_(store) {}
  ~StoreSink() override {
    release();
    for (auto& t : committers_) t.join();
  }

  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull when) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++submits_;
    last_when_ = when;
    if (mode_ == Mode::kRefuse) return std::nullopt;
    std::vector<PostKey> keys;
    for (const Post& p : posts) {
      keys.push_back({p.source, p.id});
      received_.push_back(p);
    }
    std::promise<BatchReceipt> promise;
    std::future<BatchReceipt> future = promise.get_future();
    const bool fail = mode_ == Mode::kFail;
    committers_.emplace_back([this, keys = std::move(keys), fail, promise = std::move(promise)]() mutable {
      {
        std::unique_lock<std::mutex> held(mutex_);
        released_.wait(held, [&] { return !hold_; });
      }
      BatchReceipt receipt;
      receipt.posts = keys.size();
      if (fail) {
        receipt.error = "state.db: commit: disk I/O error";
      } else {
        const lodestone::CommitResult result = store_.commit(keys, {}, 1000);
        for (const bool is_new : result.post_is_new) receipt.new_posts += is_new ? 1 : 0;
        receipt.committed = true;
        committed_ += keys.size();
      }
      promise.set_value(receipt);
    });
    return future;
  }

  void count_rejected(std::string_view source, size_t count) override {
    std::lock_guard<std::mutex> lock(mutex_);
    rejected_source_ = std::string(source);
    rejected_ += count;
  }

  void set_mode(Mode mode) {
    std::lock_guard<std::mutex> lock(mutex_);
    mode_ = mode;
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hold_ = false;
    }
    released_.notify_all();
  }
  size_t submits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return submits_;
  }
  size_t committed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return committed_;
  }
  size_t rejected() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rejected_;
  }
  std::string rejected_source() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rejected_source_;
  }
  std::vector<Post> received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  WhenFull last_when() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_when_;
  }

 private:
  Store& store_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  Mode mode_ = Mode::kCommit;
  bool hold_ = false;
  size_t submits_ = 0, committed_ = 0, rejected_ = 0;
  std::string rejected_source_;
  WhenFull last_when_ = WhenFull::kWait;
  std::vector<Post> received_;
  std::vector<std::thread> committers_;
};

HttpSourceOptions test_options() {
  HttpSourceOptions o;
  o.name = "push";
  o.listen = "127.0.0.1:0";
  o.token = kToken;
  o.threads = 4;
  return o;
}

// An HttpSource running on a thread of its own, stopped and joined at the end of the test.
class Running {
 public:
  Running(HttpSourceOptions options, PostSink& sink) : source_(std::move(options)) {
    thread_ = std::thread([this, &sink] { result_ = source_.run(sink); });
    REQUIRE(source_.wait_until_listening(20));
    REQUIRE(source_.port() > 0);
  }
  ~Running() { (void)finish(); }

  // Stops the source and gives what run() returned.
  Result<void> finish() {
    if (thread_.joinable()) {
      source_.stop();
      thread_.join();
    }
    return result_;
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", source_.port());
    c.set_read_timeout(30, 0);
    c.set_write_timeout(30, 0);
    return c;
  }
  int port() const { return source_.port(); }

 private:
  HttpSource source_;
  std::thread thread_;
  Result<void> result_;
};

httplib::Headers bearer(const std::string& token = kToken) { return {{"Authorization", "Bearer " + token}}; }

nlohmann::json json_of(const httplib::Result& res) { return nlohmann::json::parse(res->body); }

// Sends `request` on a new connection to 127.0.0.1:port and reads until the server closes it,
// waiting up to 20 s. Only the bytes given are sent: nothing more follows the headers.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

}  // namespace

TEST_CASE("a JSONL batch with the token is answered 202 with its counts once committed", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  const std::string body =
      R"({"id":"a1","title":"稀土 export controls","body":"text one","url":"https://example.com/1"})"
      "\n"
      R"({"id":"a2","source":"ptt/Stock","title":"second","author":"someone"})"
      "\r\n"
      "\n"
      R"({"id":"a3","body":"third"})";
  auto res = client.Post("/v1/posts", bearer(), body, "application/x-ndjson");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  auto reply = json_of(res);
  CHECK(reply["accepted"] == 3);
  CHECK(reply["new"] == 3);
  CHECK(reply["alerts"] == 0);

  CHECK(sink.submits() == 1);  // one batch for the whole request
  CHECK(sink.last_when() == PostSink::WhenFull::kRefuse);
  const std::vector<Post> posts = sink.received();
  REQUIRE(posts.size() == 3);
  CHECK(posts[0].id == "a1");
  CHECK(posts[0].source == "push");  // the source's name when the post names none
  CHECK(posts[0].field("title") == "稀土 export controls");
  CHECK(posts[0].field("url") == "https://example.com/1");
  CHECK(posts[1].id == "a2");
  CHECK(posts[1].source == "ptt/Stock");
  CHECK(posts[1].field("author") == "someone");
  CHECK(posts[2].id == "a3");
  CHECK(store->seen({"push", "a1"}));
  CHECK(store->seen({"ptt/Stock", "a2"}));
  CHECK(store->seen({"push", "a3"}));

  // The same body again: accepted, but nothing new.
  res = client.Post("/v1/posts", bearer(), body, "application/jsonl");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(json_of(res)["new"] == 0);
}

TEST_CASE("a single JSON object is one post, on one line or pretty-printed", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  auto res = client.Post("/v1/posts", bearer(), R"({"id":"one","title":"a single object"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(json_of(res)["accepted"] == 1);

  res = client.Post("/v1/posts", bearer(), "  {\n  \"id\": \"two\",\n  \"body\": \"pretty\\nprinted\"\n}\n",
                    "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(json_of(res)["accepted"] == 1);

  const std::vector<Post> posts = sink.received();
  REQUIRE(posts.size() == 2);
  CHECK(posts[0].id == "one");
  CHECK(posts[1].id == "two");
  CHECK(posts[1].field("body") == "pretty\nprinted");
  CHECK(store->seen({"push", "two"}));
}

TEST_CASE("a request without the right bearer token is refused 401 and nothing is submitted", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();
  const std::string body = R"({"id":"x","title":"should not arrive"})";

  const std::vector<httplib::Headers> refused = {
      {},
      bearer("wrong-token"),
      bearer(std::string(kToken) + "x"),
      bearer(std::string(kToken).substr(0, 5)),
      bearer(""),
      {{"Authorization", std::string("Basic ") + kToken}},
      {{"Authorization", kToken}},
  };
  for (const auto& headers : refused) {
    auto res = client.Post("/v1/posts", headers, body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK(res->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
    CHECK(json_of(res).contains("error"));
    CHECK(res->body.find(kToken) == std::string::npos);
  }
  CHECK(sink.submits() == 0);
  CHECK_FALSE(store->seen({"push", "x"}));

  // The scheme is case-insensitive.
  auto res = client.Post("/v1/posts", {{"Authorization", std::string("bearer ") + kToken}}, body, "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
}

TEST_CASE("a body over max_body_bytes is refused 413 and nothing is submitted", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  HttpSourceOptions options = test_options();
  options.max_body_bytes = 1000;
  Running source(options, sink);
  auto client = source.client();

  std::string big;
  for (int i = 0; big.size() <= 1000; ++i) big += R"({"id":"p)" + std::to_string(i) + R"(","title":"padding padding"})" "\n";

  SECTION("with a Content-Length") {
    auto res = client.Post("/v1/posts", bearer(), big, "application/x-ndjson");
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK(json_of(res)["error"].get<std::string>().find("1000 bytes") != std::string::npos);
  }
  SECTION("sent in chunks, without a Content-Length") {
    auto res = client.Post(
        "/v1/posts", bearer(),
        [&big](size_t offset, httplib::DataSink& out) {
          const size_t n = std::min<size_t>(100, big.size() - offset);
          out.write(big.data() + offset, n);
          if (offset + n == big.size()) out.done();
          return true;
        },
        "application/x-ndjson");
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK(json_of(res).contains("error"));
  }
  CHECK(sink.submits() == 0);

  // A body at the limit is fine.
  std::string fits = R"({"id":"fits","body":")";
  fits += std::string(1000 - fits.size() - 2, 'x') + "\"}";
  REQUIRE(fits.size() == 1000);
  auto res = client.Post("/v1/posts", bearer(), fits, "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
}

TEST_CASE("bad lines are listed by number with their reason while the good lines are committed", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  const std::string body = R"({"id":"g1","title":"good one"})"
                           "\n"
                           R"({"id":"b2","title": not json)"
                           "\n"
                           R"({"id":"g3","body":"good three"})"
                           "\n"
                           R"({"id":"b4","published":"2026-01-11T00:00:00Z"})"
                           "\n"
                           R"({"id":"g5","title":"good five"})"
                           "\n";
  auto res = client.Post("/v1/posts", bearer(), body, "application/x-ndjson");
  REQUIRE(res);
  CHECK(res->status == 400);
  auto reply = json_of(res);
  CHECK(reply["accepted"] == 3);
  CHECK(reply["committed"] == true);
  REQUIRE(reply["errors"].size() == 2);
  CHECK(reply["errors"][0]["line"] == 2);
  CHECK(reply["errors"][0]["error"].get<std::string>().rfind("not JSON", 0) == 0);
  CHECK(reply["errors"][1]["line"] == 4);
  CHECK(reply["errors"][1]["error"].get<std::string>().rfind("no text", 0) == 0);
  CHECK(reply["error"].get<std::string>().find("committed") != std::string::npos);

  CHECK(store->seen({"push", "g1"}));
  CHECK(store->seen({"push", "g3"}));
  CHECK(store->seen({"push", "g5"}));
  CHECK_FALSE(store->seen({"push", "b4"}));
  CHECK(sink.rejected() == 2);
  CHECK(sink.rejected_source() == "push");

  SECTION("a body of bad lines only is 400 and submits nothing") {
    res = client.Post("/v1/posts", bearer(), "[1,2]\nnot json\n", "application/x-ndjson");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(json_of(res)["accepted"] == 0);
    CHECK(json_of(res)["errors"].size() == 2);
    CHECK(json_of(res)["errors"][0]["error"] == "not a JSON object");
    CHECK(sink.submits() == 1);
  }
  SECTION("an empty body is 400") {
    res = client.Post("/v1/posts", bearer(), "\n  \n", "application/x-ndjson");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(json_of(res).contains("error"));
  }
}

TEST_CASE("a full queue is answered 503 with Retry-After and nothing is taken", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  HttpSourceOptions options = test_options();
  options.retry_after = 1.5;
  Running source(options, sink);
  auto client = source.client();
  const std::string body = R"({"id":"q1","title":"queued"})"
                           "\n"
                           "not json\n";

  sink.set_mode(StoreSink::Mode::kRefuse);
  auto res = client.Post("/v1/posts", bearer(), body, "application/x-ndjson");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->get_header_value("Retry-After") == "2");  // whole seconds, rounded up
  CHECK(json_of(res)["error"].get<std::string>().find("resend") != std::string::npos);
  CHECK(sink.committed() == 0);
  CHECK(sink.rejected() == 0);  // the client resends the body: its bad lines are counted then
  CHECK_FALSE(store->seen({"push", "q1"}));

  // Resent when there is room, the same body goes through.
  sink.set_mode(StoreSink::Mode::kCommit);
  res = client.Post("/v1/posts", bearer(), body, "application/x-ndjson");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(store->seen({"push", "q1"}));
  CHECK(sink.rejected() == 1);
}

TEST_CASE("a batch the store did not commit is answered 503 with Retry-After", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  sink.set_mode(StoreSink::Mode::kFail);
  auto res = client.Post("/v1/posts", bearer(), R"({"id":"f1","title":"fails"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->get_header_value("Retry-After") == "1");
  CHECK(json_of(res)["error"].get<std::string>().find("disk I/O error") != std::string::npos);
  CHECK_FALSE(store->seen({"push", "f1"}));
}

TEST_CASE("202 is sent only after the batch is committed", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);

  sink.hold();
  std::atomic<bool> answered{false};
  std::atomic<int> status{0};
  std::thread poster([&] {
    auto client = source.client();
    auto res = client.Post("/v1/posts", bearer(), R"({"id":"held","title":"wait for me"})", "application/json");
    status = res ? res->status : -1;
    answered = true;
  });

  REQUIRE(eventually([&] { return sink.submits() == 1; }));
  // The batch is submitted but not committed: the client must still be waiting.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(answered.load());
  CHECK_FALSE(store->seen({"push", "held"}));

  sink.release();
  CHECK(eventually([&] { return answered.load(); }));
  poster.join();
  CHECK(status == 202);
  CHECK(store->seen({"push", "held"}));
}

TEST_CASE("other paths are 404, other methods on /v1/posts 405, and /v1/health answers ok", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  auto res = client.Get("/v1/posts", bearer());
  REQUIRE(res);
  CHECK(res->status == 405);
  CHECK(res->get_header_value("Allow") == "POST");
  CHECK(json_of(res).contains("error"));

  res = client.Put("/v1/posts", bearer(), R"({"id":"p"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 405);
  CHECK(res->get_header_value("Allow") == "POST");

  res = client.Delete("/v1/posts", bearer());
  REQUIRE(res);
  CHECK(res->status == 405);

  res = client.Post("/v1/other", bearer(), R"({"id":"o","title":"t"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(json_of(res).contains("error"));

  res = client.Get("/");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(res->get_header_value("Content-Type") == "application/json");

  res = client.Get("/v1/health");  // no token needed
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "ok\n");
  CHECK(sink.submits() == 0);
}

TEST_CASE("every response closes its connection", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running source(test_options(), sink);
  auto client = source.client();

  auto res = client.Post("/v1/posts", bearer(), R"({"id":"c1","title":"t"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(res->get_header_value("Connection") == "close");
  res = client.Post("/v1/posts", bearer("wrong"), R"({"id":"c2","title":"t"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 401);
  CHECK(res->get_header_value("Connection") == "close");
  // The client reconnects for the next request.
  res = client.Post("/v1/posts", bearer(), R"({"id":"c3","title":"t"})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
}

TEST_CASE("a client that expects 100-continue hears 401 or 413 before sending its body", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  HttpSourceOptions options = test_options();
  options.max_body_bytes = 1000;
  Running source(options, sink);

  // The body is never sent: the answer must come from the headers alone.
  std::string reply = raw_exchange(source.port(),
                                   "POST /v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n"
                                   "Content-Type: application/x-ndjson\r\nContent-Length: 500\r\n"
                                   "Expect: 100-continue\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(reply.find("WWW-Authenticate: Bearer") != std::string::npos);

  reply = raw_exchange(source.port(), "POST /v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                          std::string(kToken) +
                                          "\r\nContent-Type: application/x-ndjson\r\nContent-Length: 5000\r\n"
                                          "Expect: 100-continue\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(sink.submits() == 0);
}

TEST_CASE("stop() makes an idle source's run() return", "[http]") {
  TempStore store;
  StoreSink sink(*store);

  SECTION("while it listens") {
    Running source(test_options(), sink);
    CHECK(source.finish().ok());
  }
  SECTION("right after run() starts") {
    HttpSource source(test_options());
    Result<void> result = Failure{"not returned"};
    std::thread t([&] { result = source.run(sink); });
    source.stop();
    t.join();
    CHECK(result.ok());
  }
  SECTION("before run() starts") {
    HttpSource source(test_options());
    source.stop();
    CHECK(source.run(sink).ok());
  }
}

TEST_CASE("a listen address already in use makes run() return a reason naming it", "[http]") {
  TempStore store;
  StoreSink sink(*store);
  Running first(test_options(), sink);

  HttpSourceOptions options = test_options();
  options.listen = "127.0.0.1:" + std::to_string(first.port());
  HttpSource second(options);
  const Result<void> ran = second.run(sink);
  REQUIRE_FALSE(ran);
  const std::string& reason = ran.error();
  CHECK(reason.find("http source \"push\"") != std::string::npos);
  CHECK(reason.find(options.listen) != std::string::npos);
  CHECK(reason.find("in use") != std::string::npos);
  CHECK(second.port() == 0);
}

TEST_CASE("options that cannot work are refused with a reason that keeps the token out", "[http]") {
  HttpSourceOptions o = test_options();
  CHECK(lodestone::check_http_source_options(o).ok());

  o.token.clear();
  CHECK(lodestone::check_http_source_options(o).ok());  // loopback may go without a token
  o.listen = "[::1]:8080";
  CHECK(lodestone::check_http_source_options(o).ok());
  o.listen = "localhost:8080";
  CHECK(lodestone::check_http_source_options(o).ok());
  o.listen = "0.0.0.0:8080";
  CHECK(lodestone::check_http_source_options(o).error().find("token is required") != std::string::npos);
  o.listen = "[::]:8080";
  CHECK(lodestone::check_http_source_options(o).error().find("token is required") != std::string::npos);

  o = test_options();
  for (const char* listen : {"8080", "127.0.0.1", ":8080", "127.0.0.1:http", "127.0.0.1:70000", "::1:8080", "[::1]8080"}) {
    o.listen = listen;
    INFO(listen);
    CHECK(lodestone::check_http_source_options(o).error().find("listen must be host:port") != std::string::npos);
  }

  o = test_options();
  o.token = "has space";
  const std::string reason = lodestone::check_http_source_options(o).error();
  CHECK(reason.find("token") != std::string::npos);
  CHECK(reason.find("has space") == std::string::npos);

  o = test_options();
  o.threads = 0;
  CHECK_FALSE(lodestone::check_http_source_options(o).ok());
  o = test_options();
  o.retry_after = -1;
  CHECK_FALSE(lodestone::check_http_source_options(o).ok());
  o = test_options();
  o.name.clear();
  CHECK_FALSE(lodestone::check_http_source_options(o).ok());

  // A source built from refused options says why from run().
  TempStore store;
  StoreSink sink(*store);
  o = test_options();
  o.token.clear();
  o.listen = "0.0.0.0:0";
  HttpSource source(o);
  const Result<void> result = source.run(sink);
  REQUIRE_FALSE(result);
  CHECK(result.error().find("token is required") != std::string::npos);
}
