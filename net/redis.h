// A Redis client over hiredis' synchronous API, for the redis source, the collector's forwarding
// and the redis notifier: a URL parsed into an address that messages may show, one connection
// with its timeouts, commands and pipelines as argument vectors, replies as plain values.
// One RedisConnection per thread (a blocking XREADGROUP holds its connection); parse_redis_url
// and the reply helpers are pure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/result.h"

struct redisContext;

namespace lodestone {

// Where a Redis server is: "redis://[[user]:password@]host[:port][/db]" (host may be an [IPv6]
// literal; port 6379 and db 0 by default) or "unix:///path/to/redis.sock[?db=N]".
struct RedisAddress {
  std::string host;       // empty for a Unix socket
  int port = 6379;
  std::string unix_path;  // empty for TCP
  int db = 0;
  std::string username;   // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;   // empty: no AUTH
  // The URL without its password, for logs, metrics and errors: "redis://127.0.0.1:6379/0".
  std::string shown;
};

// Fails, naming what is wrong but never the password, when `url` is neither form above.
Result<RedisAddress> parse_redis_url(std::string_view url);

// One reply, as RESP2 gives it.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  // str for a string or status, the decimal integer for an integer, "" otherwise.
  std::string text() const;
};

class RedisConnection {
 public:
  // Connects lazily: the first command (or connect()) opens the connection. `timeout_seconds`
  // bounds the connect and every reply, except that a command may ask for longer (BLOCK).
  explicit RedisConnection(RedisAddress address, double timeout_seconds = 5);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  const RedisAddress& address() const { return address_; }
  bool connected() const { return context_ != nullptr; }
  // Opens the connection if it is not open: connect, AUTH when a password is set, SELECT db.
  // Fails with the reason ("redis://127.0.0.1:6379/0: Connection refused"); never shows the password.
  Result<void> connect();
  void close();

  // Sends one command and reads its reply; `wait_seconds` above the connection's timeout lets a
  // blocking command (XREADGROUP BLOCK) wait that long. A reply that is a Redis error is a
  // RedisReply of type kError, not a failure; a lost connection, a timeout or a protocol error
  // closes the connection and fails (the next command reconnects).
  Result<RedisReply> command(const std::vector<std::string>& args, double wait_seconds = 0);
  // Sends every command in one write and reads their replies in order (one round trip).
  Result<std::vector<RedisReply>> pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  Result<void> check_context(const char* doing);
  void set_timeout(double seconds);

  RedisAddress address_;
  double timeout_;
  redisContext* context_ = nullptr;
};

// Milliseconds as Redis takes them in PX, BLOCK and min-idle-time ("1500"), at least 1.
std::string redis_ms(double seconds);

}  // namespace lodestone
