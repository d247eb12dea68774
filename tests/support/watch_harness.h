// Test support for the watcher end to end: a webhook receiver on loopback, the `lodestone watch`
// process, a free port, and polling waits. Receiver is thread-safe; the rest is for the test's thread.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/http_receiver.h"
#include "support/temp_dir.h"

extern char** environ;

namespace watch_test {

namespace fs = std::filesystem;

// Polls `done` every 20 ms for up to `seconds`; true as soon as it holds.
inline bool wait_until(const std::function<bool()>& done, double seconds = 30) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A port nobody listens on right now (bound and released): for a receiver that starts later.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The complete lines of a file: a last line still being written (no '\n' yet) is left out.
inline std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> out;
  std::string text = slurp(path);
  text.erase(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

using lodestone::testing::TempDir;

// One request a webhook receiver answered.
struct Delivery {
  std::string id;         // webhook-id
  std::string body;
  std::string timestamp;  // webhook-timestamp
  std::string signature;  // webhook-signature
  int status = 0;         // what the receiver answered
  int64_t at_ms = 0;      // when it arrived (steady clock)
};

// A webhook endpoint on 127.0.0.1 (an HttpReceiver): records every request, then answers with what
// `script` says for the n-th request carrying that webhook-id (n from 1): a status, a delay, a
// Retry-After.
class Receiver {
 public:
  struct Answer {
    int status = 200;
    double delay = 0;          // seconds to wait before answering (released early by release())
    std::string retry_after;   // Retry-After header value, when not empty
  };
  using Script = std::function<Answer(const std::string& id, int nth)>;

  explicit Receiver(int port = 0, Script script = nullptr)
      : script_(std::move(script)),
        http_([this](const httplib::Request& req, httplib::Response& res) { answer(req, res); }, port) {}

  int port() const { return http_.port(); }
  std::string url() const { return http_.url("/hook"); }
  // Lets every delayed answer go now.
  void release() { http_.release(); }
  // Requests answered so far (a delayed one counts once answered), in order of arrival.
  std::vector<Delivery> deliveries() const {
    std::vector<Delivery> out;
    for (const auto& r : http_.requests()) {
      if (r.status == 0) continue;
      const int64_t at_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(r.at.time_since_epoch()).count();
      out.push_back({r.header("webhook-id"), r.body, r.header("webhook-timestamp"), r.header("webhook-signature"),
                     r.status, at_ms});
    }
    return out;
  }
  // Requests that arrived so far, answered or not.
  size_t arrived() const { return http_.count(); }
  // Distinct webhook-ids answered with a 2xx.
  size_t delivered_ids() const {
    std::set<std::string> ok;
    for (const auto& d : deliveries()) {
      if (d.status / 100 == 2) ok.insert(d.id);
    }
    return ok.size();
  }

 private:
  void answer(const httplib::Request& req, httplib::Response& res) {
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      const int nth = ++attempts_[req.get_header_value("webhook-id")];
      if (script_) answer = script_(req.get_header_value("webhook-id"), nth);
    }
    if (answer.delay > 0) http_.hold(std::chrono::duration<double>(answer.delay));
    res.status = answer.status;
    if (!answer.retry_after.empty()) res.set_header("Retry-After", answer.retry_after);
    res.set_content("{}", "application/json");
  }

  Script script_;
  std::mutex mutex_;
  std::map<std::string, int> attempts_;  // requests so far by webhook-id
  lodestone::testing::HttpReceiver http_;  // last: it stops, and its answers end, before the rest goes
};

// `lodestone watch -c CONFIG`, its standard output and error going to files in `dir`.
class Watcher {
 public:
  Watcher(const fs::path& config, const fs::path& dir) : log_(dir / "watch.log"), out_(dir / "watch.out") {
    const std::string cache = (dir / "cache").string();
    ::setenv("LODESTONE_CACHE_DIR", cache.c_str(), 1);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const std::string binary = LODESTONE_BINARY, cfg = config.string();
    std::vector<char*> argv = {const_cast<char*>(binary.c_str()), const_cast<char*>("watch"),
                               const_cast<char*>("-c"), const_cast<char*>(cfg.c_str()), nullptr};
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Watcher() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits up to `seconds` for the process to end; its exit code, 128+signal, or -1 if still running.
  int wait(double seconds = 30) {
    int status = 0;
    const bool ended = wait_until([&] { return pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) == pid_; }, seconds);
    if (!ended) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int kill9() {
    signal(SIGKILL);
    return wait();
  }
  std::string log() const { return slurp(log_); }
  std::string out() const { return slurp(out_); }

 private:
  pid_t pid_ = -1;
  fs::path log_, out_;
};

// Runs `lodestone ARGS` to its end; its exit code, and standard output and error together.
inline std::pair<int, std::string> run_lodestone(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "run.out";
  std::string cmd = "'";  // appended piece by piece: GCC 12 warns falsely on "literal" + std::string here
  cmd.append(LODESTONE_BINARY).append("' ").append(args).append(" >'").append(out.string()).append("' 2>&1");
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out)};
}

// The value of one series of the admin endpoint's /metrics (e.g.
// `lodestone_deliveries{notifier="hook",state="pending"}`), or -1 when absent or unreachable.
inline double metric(int admin_port, const std::string& series) {
  httplib::Client client("127.0.0.1", admin_port);
  client.set_connection_timeout(1);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace watch_test
