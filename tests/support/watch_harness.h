// Test support for the watcher end to end: a webhook receiver on loopback, the `lodestone watch`
// process, a free port, and polling waits. Header-only; used by tests/cli/watch_test.cpp.
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
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace watch_test {

namespace fs = std::filesystem;

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int n = 0;
    path_ = fs::temp_directory_path() /
            ("lodestone-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

// One request a receiver got.
struct Delivery {
  std::string id;         // webhook-id
  std::string body;
  std::string timestamp;  // webhook-timestamp
  std::string signature;  // webhook-signature
  int status = 0;         // what the receiver answered
  int64_t at_ms = 0;      // when it arrived (steady clock)
};

// A webhook endpoint on 127.0.0.1: records every POST, then answers with what `answer` says for
// the n-th request carrying that webhook-id (n from 1): a status, a delay, a Retry-After.
class Receiver {
 public:
  struct Answer {
    int status = 200;
    double delay = 0;          // seconds to wait before answering (released early by release())
    std::string retry_after;   // Retry-After header value, when not empty
  };
  using Script = std::function<Answer(const std::string& id, int nth)>;

  explicit Receiver(int port = 0, Script script = nullptr) : script_(std::move(script)) {
    ::setenv("no_proxy", "127.0.0.1", 1);
    server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Delivery d;
      d.id = req.get_header_value("webhook-id");
      d.body = req.body;
      d.timestamp = req.get_header_value("webhook-timestamp");
      d.signature = req.get_header_value("webhook-signature");
      d.at_ms = now_ms();
      Answer answer;
      {
        std::lock_guard lock(mutex_);
        const int nth = ++attempts_[d.id];
        if (script_) answer = script_(d.id, nth);
      }
      if (answer.delay > 0) {
        std::unique_lock lock(mutex_);
        released_cv_.wait_for(lock, std::chrono::duration<double>(answer.delay), [&] { return released_; });
      }
      d.status = answer.status;
      res.status = answer.status;
      if (!answer.retry_after.empty()) res.set_header("Retry-After", answer.retry_after);
      res.set_content("{}", "application/json");
      std::lock_guard lock(mutex_);
      deliveries_.push_back(std::move(d));
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    release();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // Lets every delayed answer go now.
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    released_cv_.notify_all();
  }
  // Requests answered so far (a delayed one counts once answered).
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  // Requests that arrived so far, answered or not.
  size_t arrived() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [id, count] : attempts_) n += static_cast<size_t>(count);
    return n;
  }
  // Distinct webhook-ids answered with a 2xx.
  size_t delivered_ids() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, int> ok;
    for (const auto& d : deliveries_) {
      if (d.status / 100 == 2) ++ok[d.id];
    }
    return ok.size();
  }

 private:
  Script script_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::map<std::string, int> attempts_;
  std::vector<Delivery> deliveries_;
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
