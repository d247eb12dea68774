// Test support for the sources' tests: a PostSink committing into a real Store (with each post's
// content hash, as the pipeline does), a source run on a thread,
// a poll, a log capture. TestSink is thread-safe; the rest belong to the test's thread (see LogCapture).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "lodestone/source.h"
#include "support/temp_dir.h"
#include "support/temp_store.h"
#include "watch/store.h"

namespace lodestone::testing {

// Thread-safe: a source calls it from its own thread while the test reads it.
class TestSink : public PostSink {
 public:
  explicit TestSink(Store& store) : store_(store) {}

  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull when) override {
    (void)when;
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return std::nullopt;
    ++attempts_;
    batches_.push_back(posts);
    BatchReceipt receipt;
    receipt.posts = posts.size();
    if (failures_ > 0) {
      --failures_;
      ++failed_;
      receipt.error = "test: this batch fails";
    } else {
      std::vector<PostKey> keys;
      for (const auto& p : posts) keys.push_back({p.source, p.id, content_hash(p)});
      CommitResult result = store_.commit(keys, {}, 1);
      for (bool is_new : result.post_is_new) receipt.new_posts += is_new;
      receipt.committed = true;
      for (auto& p : posts) posts_.push_back(std::move(p));
      posts.clear();
    }
    std::promise<BatchReceipt> promise;
    promise.set_value(receipt);
    return promise.get_future();
  }

  void count_rejected(std::string_view source, size_t count) override {
    (void)source;
    rejected_ += count;
  }

  // The next `count` batches come back not committed.
  void fail_next(size_t count) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_ = count;
  }
  // From now on submit() refuses, as a stopping pipeline does.
  void set_stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }

  // Committed posts, in the order they came.
  std::vector<Post> posts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }
  std::vector<std::string> ids() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& p : posts_) ids.push_back(p.id);
    return ids;
  }
  size_t committed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_.size();
  }
  size_t failed_batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }
  size_t batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return attempts_;
  }
  // The posts of the i-th batch submitted, committed or not.
  std::vector<Post> batch(size_t i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_.at(i);
  }
  size_t rejected() const { return rejected_.load(); }

 private:
  Store& store_;
  mutable std::mutex mutex_;
  std::vector<Post> posts_;
  std::vector<std::vector<Post>> batches_;  // as submitted
  size_t failures_ = 0;
  size_t failed_ = 0;
  size_t attempts_ = 0;
  bool stopping_ = false;
  std::atomic<size_t> rejected_{0};
};

// One JSONL post line with that id and title.
inline std::string line(const std::string& id, const std::string& title = "rare earths") {
  return R"({"id": ")" + id + R"(", "title": ")" + title + "\"}\n";
}

// Replaces the file's contents.
inline void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
}

// Adds to the end of the file, as a writer following it would.
inline void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

// Polls `condition` every 10 ms for up to 20 s; true as soon as it holds.
inline bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Runs source.run(sink) on a thread; stops and joins it when it goes out of scope.
class Running {
 public:
  Running(Source& source, PostSink& sink) : source_(source) {
    result_ = std::async(std::launch::async, [&source, &sink] { return failure_of(source.run(sink)); });
  }
  ~Running() {
    source_.stop();
    if (result_.valid()) result_.wait();
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  // Stops the source and waits for run() to return, up to 20 s: why it failed, or nullopt when it
  // succeeded.
  std::optional<std::string> stop() {
    source_.stop();
    return wait();
  }
  // Waits for run() to return of its own accord (end of input), up to 20 s.
  std::optional<std::string> wait() {
    if (result_.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      FAIL("the source's run() did not return within 20 s");
    }
    return result_.get();
  }
  bool finished() const {
    return result_.valid() && result_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  Source& source_;
  std::future<std::optional<std::string>> result_;

  static std::optional<std::string> failure_of(const Result<void>& ran) {
    return ran ? std::nullopt : std::optional<std::string>(ran.error());
  }
};

// Keeps the messages logged while it lives. Make it before any source thread starts and let it
// go after they end: it adds a sink to the default logger, which is not safe while others log.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    sink_->set_pattern("%v");
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  bool contains(const std::string& text) const { return count(text) > 0; }
  // Every message kept, one a line.
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }
  // How many messages hold `text`.
  size_t count(const std::string& text) const {
    size_t n = 0;
    for (const auto& line : sink_->last_formatted()) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace lodestone::testing
