// Test support: a real redis-server on a free loopback port, in a temp folder, with no
// persistence (--save "" --appendonly no) unless asked, started and stopped by the test; stop()
// and start() again keep its port, for outages. A test that needs it calls require_redis_server() first:
// without the binary it exits with code 4, which ctest reports as skipped (SKIP_RETURN_CODE).
// Use from the test's thread.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "net/redis.h"
#include "support/temp_dir.h"
#include "support/watch_harness.h"

extern char** environ;

namespace lodestone::testing {

inline std::string redis_server_binary() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    const std::string path = std::string(dir) + "/redis-server";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

inline void require_redis_server() {
  if (!redis_server_binary().empty()) return;
  std::fprintf(stderr, "SKIPPED: redis-server is not installed (Debian: apt-get install redis-server; "
                       "scripts/setup installs it)\n");
  std::exit(4);
}

class RedisServer {
 public:
  // `persistent`: an append-only file synced on every write, so that a server killed and started
  // again still holds its streams (an outage, not a loss).
  explicit RedisServer(bool persistent = false)
      : dir_("redis"), port_(watch_test::free_port()), persistent_(persistent) {
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

  // Starts the server (again, on the same port) and waits until it answers PING.
  void start() {
    if (pid_ > 0) return;
    const std::string binary = redis_server_binary();
    const std::string port = std::to_string(port_), dir = dir_.path().string(), log = dir_.file("redis.log");
    std::vector<std::string> args = {binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                     persistent_ ? "yes" : "no", "--appendfsync", "always", "--dir", dir,
                                     "--logfile", log, "--daemonize", "no"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
    const bool up = watch_test::wait_until([&] {
      RedisConnection c(*parse_redis_url(url()), 0.5);
      auto pong = c.command({"PING"});
      return pong && pong->text() == "PONG";
    }, 20);
    REQUIRE(up);
  }

  // Kills the server at once (SIGKILL: what it held is gone, as no persistence is on).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // A command on a fresh connection of the test's own; fails the test when Redis does not answer.
  RedisReply command(const std::vector<std::string>& args) const {
    RedisConnection c(*parse_redis_url(url()), 5);
    auto reply = c.command(args);
    REQUIRE(reply.ok());
    return *reply;
  }

 private:
  TempDir dir_;
  int port_;
  bool persistent_;
  pid_t pid_ = -1;
};

}  // namespace lodestone::testing
