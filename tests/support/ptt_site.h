// Test support: a PTT on loopback serving tests/data/ptt (see its README), for the ptt source's
// tests and the watcher's. Thread-safe.
#pragma once

#include <httplib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "support/http_receiver.h"

namespace lodestone::testing {

inline std::string read_ptt_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A file of tests/data/ptt, by its path there ("bbs/Stock/index.html").
inline std::string ptt_fixture(const std::string& path) {
  return read_ptt_file(std::string(LODESTONE_TEST_DATA "/ptt/") + path);
}

// `text` with its first `from` replaced by `to`; `from` must be there.
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// A PTT on loopback: tests/data/ptt by path, except the newest index page, which the test may
// rewrite between polls (a push count that moved, a new article).
class PttSite {
 public:
  PttSite()
      : index_(std::make_shared<Shared>()), server_([shared = index_](const httplib::Request& req,
                                                                       httplib::Response& res) { serve(*shared, req, res); }) {
    set_index(ptt_fixture("bbs/Stock/index.html"));
  }

  void set_index(std::string html) {
    std::lock_guard<std::mutex> lock(index_->mutex);
    index_->html = std::move(html);
  }
  std::string index() const {
    std::lock_guard<std::mutex> lock(index_->mutex);
    return index_->html;
  }
  HttpReceiver& server() { return server_; }
  std::string base_url() const { return server_.url(""); }
  std::string url(const std::string& path) const { return server_.url(path); }

 private:
  struct Shared {
    mutable std::mutex mutex;
    std::string html;
  };
  static void serve(Shared& shared, const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/bbs/Stock/index.html") {
      std::lock_guard<std::mutex> lock(shared.mutex);
      res.set_content(shared.html, "text/html; charset=utf-8");
      return;
    }
    std::string file = std::string(LODESTONE_TEST_DATA "/ptt") + req.path;
    if (req.path == "/ask/over18") file += ".html";
    if (req.path.find("..") != std::string::npos || !std::filesystem::is_regular_file(file)) {
      res.status = 404;
      res.set_content("<html><body><div class=\"bbs-screen bbs-content\">404 - Not Found.</div></body></html>",
                      "text/html; charset=utf-8");
      return;
    }
    res.set_content(read_ptt_file(file), "text/html; charset=utf-8");
  }

  std::shared_ptr<Shared> index_;
  HttpReceiver server_;
};

}  // namespace lodestone::testing
