// Test support: a real HTTP server (cpp-httplib) on loopback that records every request and answers
// as the test scripts it: a webhook endpoint, a feed publisher. Thread-safe: call it from any thread.
#pragma once

#include <httplib.h>
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lodestone::testing {

// One request as it arrived, and the status it was answered with.
struct ReceivedRequest {
  std::string method;
  std::string path;
  std::string body;
  httplib::Headers headers;  // names compare case-insensitively
  std::chrono::steady_clock::time_point at;  // when it arrived
  int status = 0;                            // 0 while its answer is still being made

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  size_t count(const std::string& name) const { return headers.count(name); }
};

// An HTTP server on 127.0.0.1 and a port of its choosing (or the one given), answering every
// method on every path. Each request is recorded before it is answered. Stopped when it goes out
// of scope.
class HttpReceiver {
 public:
  // Makes the answer to one request. It runs on one of the server's threads, outside the
  // receiver's lock, so it may call the receiver: url(), requests(), hold().
  using Answer = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Answers with `answer`, or 200 and no body when none is given.
  explicit HttpReceiver(Answer answer = nullptr, int port = 0) {
    // A proxy from the environment must not stand between the code under test and loopback.
    ::setenv("no_proxy", "127.0.0.1", 1);
    if (answer) answer_ = std::move(answer);
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Put(".*", handler);
    server_.Patch(".*", handler);
    server_.Delete(".*", handler);
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the loop has started would be lost and leave the loop waiting forever; this
    // httplib has no ready signal to wait on, so ask until it runs.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(server_.is_running());
  }
  ~HttpReceiver() {
    release();
    server_.stop();
    thread_.join();
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port><path>; by default the path the webhook tests post to.
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // How every request is answered from now on, once those queued by answer_next() are used up.
  void answer(Answer a) {
    std::lock_guard<std::mutex> lock(mutex_);
    answer_ = std::move(a);
  }
  void answer_status(int status, std::string body = "") {
    answer([status, body](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      if (!body.empty()) res.set_content(body, "text/plain");
    });
  }
  // How the next request is answered, once; called again, the answers queue up in order.
  void answer_next(Answer a) {
    std::lock_guard<std::mutex> lock(mutex_);
    next_.push_back(std::move(a));
  }

  // For an answer: waits up to `at_most` for release() or the receiver's end, as a slow peer or
  // one that never answers would.
  void hold(std::chrono::duration<double> at_most) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, at_most, [this] { return released_; });
  }
  // Lets every held answer go now, and every later one at once.
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
  }

  // Every request that arrived so far, answered or not, in order of arrival.
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }
  // Waits until at least `n` requests have arrived; false when `timeout` passed first.
  bool wait_for(size_t n, std::chrono::duration<double> timeout = std::chrono::seconds(20)) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    Answer answer;
    size_t index = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      index = requests_.size();
      requests_.push_back({req.method, req.path, req.body, req.headers, std::chrono::steady_clock::now(), 0});
      if (next_.empty()) {
        answer = answer_;
      } else {
        answer = std::move(next_.front());
        next_.pop_front();
      }
    }
    changed_.notify_all();
    answer(req, res);
    std::lock_guard<std::mutex> lock(mutex_);
    requests_[index].status = res.status == -1 ? 200 : res.status;  // httplib's own default when unset
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // a request arrived, or release()
  Answer answer_ = [](const httplib::Request&, httplib::Response& res) { res.status = 200; };
  std::deque<Answer> next_;
  bool released_ = false;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace lodestone::testing
