// Test support: scripts/smtp_receiver.py (aiosmtpd) as a real SMTP server on loopback, with STARTTLS
// on a throwaway certificate, optional AUTH and chosen replies. For the test's thread alone.
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

extern char** environ;

namespace smtp_test {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
using lodestone::testing::TempDir;

// A throwaway self-signed certificate for 127.0.0.1 and localhost, made once per run.
struct Certificate {
  TempDir dir{"certificate"};
  std::string cert, key;
  Certificate() {
    cert = dir.file("cert.pem");
    key = dir.file("key.pem");
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
        " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};
inline const Certificate& certificate() {
  static const Certificate c;
  return c;
}

struct ReceiverOptions {
  bool tls = true;
  std::string user = "";
  std::string password = "";
  std::string data_reply = "";  // e.g. "451 4.3.0 try later": every DATA answered so
  double delay = 0;             // seconds before answering DATA
};

// scripts/smtp_receiver.py as a child process on 127.0.0.1 and a port of its choosing; stopped
// (SIGTERM, then SIGKILL) when it goes out of scope.
class SmtpReceiver {
 public:
  explicit SmtpReceiver(const ReceiverOptions& o = {}) {
    if (::access(kPython, X_OK) != 0) FAIL("the email tests need " << kPython << " (Debian python3)");
    if (std::system((std::string(kPython) + " -c 'import aiosmtpd' >/dev/null 2>&1").c_str()) != 0) {
      FAIL("the email tests need the aiosmtpd module for " << kPython << " (Debian python3-aiosmtpd)");
    }
    fs::create_directories(dir_.path() / "mail");
    std::vector<std::string> args = {kPython, std::string(LODESTONE_SOURCE_DIR) + "/scripts/smtp_receiver.py",
                                     "--save-dir", (dir_.path() / "mail").string()};
    if (o.tls) args.insert(args.end(), {"--cert", certificate().cert, "--key", certificate().key});
    if (!o.user.empty()) args.insert(args.end(), {"--user", o.user, "--password", o.password});
    if (!o.data_reply.empty()) args.insert(args.end(), {"--data-reply", o.data_reply});
    if (o.delay > 0) args.insert(args.end(), {"--delay", std::to_string(o.delay)});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const int rc = ::posix_spawn(&pid_, kPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      FAIL("could not start " << kPython << ": " << std::strerror(rc));
    }
    // The first line is the port, printed once the server accepts connections.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    port_ = std::atoi(line.c_str());
    if (port_ <= 0) FAIL("scripts/smtp_receiver.py did not start (printed \"" << line << "\")");
  }
  ~SmtpReceiver() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  SmtpReceiver(const SmtpReceiver&) = delete;
  SmtpReceiver& operator=(const SmtpReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& scheme = "smtp") const { return scheme + "://127.0.0.1:" + std::to_string(port_); }
  // Every message received so far, in order of arrival.
  std::vector<std::string> messages() const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_.path() / "mail")) {
      if (e.path().extension() == ".eml") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> out;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      out.push_back(s.str());
    }
    return out;
  }
  // The envelope JSON (mail_from, rcpt_tos, tls) of message `n`, counted from 1.
  std::string envelope(int n) const {
    char name[16];
    std::snprintf(name, sizeof name, "%04d.json", n);
    std::ifstream in(dir_.path() / "mail" / name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  TempDir dir_{"smtp"};
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace smtp_test
