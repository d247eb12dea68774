// The Redis client: URL parsing, and hiredis' synchronous calls behind Result.
#include "net/redis.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <cmath>
#include <optional>

namespace lodestone {
namespace {

timeval to_timeval(double seconds) {
  timeval tv{};
  if (!(seconds > 0)) seconds = 0.001;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  return tv;
}

std::optional<int> to_int(std::string_view s, int lo, int hi) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

// %XX escapes of a URL's user and password.
std::optional<std::string> percent_decoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || end != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

struct ReplyFree {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

}  // namespace

Result<RedisAddress> parse_redis_url(std::string_view url) {
  RedisAddress a;
  if (url.starts_with("unix://")) {
    std::string_view rest = url.substr(7);
    if (const size_t q = rest.find('?'); q != std::string_view::npos) {
      const std::string_view query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (!query.starts_with("db=")) return Failure{"a unix:// Redis URL takes only ?db=N after its path"};
      const auto db = to_int(query.substr(3), 0, 1 << 20);
      if (!db) return Failure{"the db of a Redis URL must be a number, not '" + std::string(query.substr(3)) + "'"};
      a.db = *db;
    }
    if (rest.empty() || rest[0] != '/') return Failure{"a unix:// Redis URL needs an absolute socket path: unix:///run/redis.sock"};
    a.unix_path = std::string(rest);
    a.shown = "unix://" + a.unix_path + (a.db ? "?db=" + std::to_string(a.db) : "");
    return a;
  }
  if (!url.starts_with("redis://")) {
    return Failure{"a Redis URL starts with redis:// or unix:// (rediss:// is not supported)"};
  }
  std::string_view rest = url.substr(8);
  std::string_view path;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = percent_decoded(userinfo.substr(0, colon));
    auto password = percent_decoded(colon == std::string_view::npos ? "" : userinfo.substr(colon + 1));
    if (!user || !password) return Failure{"the user or password of the Redis URL has a bad %-escape"};
    a.username = *user;
    a.password = *password;
    if (colon == std::string_view::npos) std::swap(a.username, a.password);  // redis://password@host
  }
  std::string_view port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Failure{"the Redis URL's [IPv6 address] has no ']'"};
    a.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Failure{"the Redis URL has something after its [IPv6 address] that is not :port"};
      port = rest.substr(1);
    }
  } else {
    const size_t colon = rest.find(':');
    a.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (a.host.empty()) return Failure{"the Redis URL names no host: redis://127.0.0.1:6379/0"};
  if (!port.empty()) {
    const auto p = to_int(port, 1, 65535);
    if (!p) return Failure{"the port of the Redis URL must be 1 to 65535, not '" + std::string(port) + "'"};
    a.port = *p;
  }
  if (!path.empty()) {
    const auto db = to_int(path, 0, 1 << 20);
    if (!db) return Failure{"the path of a Redis URL is its db number (redis://host:6379/0), not '" + std::string(path) + "'"};
    a.db = *db;
  }
  const bool v6 = a.host.find(':') != std::string::npos;
  a.shown = "redis://" + (a.username.empty() ? "" : a.username + "@") + (v6 ? "[" + a.host + "]" : a.host) + ":" +
            std::to_string(a.port) + "/" + std::to_string(a.db);
  return a;
}

std::string RedisReply::text() const {
  if (type == Type::kString || type == Type::kStatus) return str;
  if (type == Type::kInteger) return std::to_string(integer);
  return {};
}

std::string redis_ms(double seconds) {
  const double ms = std::ceil(seconds * 1000);
  return std::to_string(ms < 1 ? int64_t{1} : static_cast<int64_t>(ms));
}

RedisConnection::RedisConnection(RedisAddress address, double timeout_seconds)
    : address_(std::move(address)), timeout_(timeout_seconds) {}

RedisConnection::~RedisConnection() { close(); }

void RedisConnection::close() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

Result<void> RedisConnection::check_context(const char* doing) {
  if (context_ && context_->err == 0) return {};
  std::string why = context_ ? context_->errstr : "cannot allocate a connection";
  if (why.empty()) why = "connection lost";
  close();
  return Failure{address_.shown + ": " + doing + ": " + why};
}

void RedisConnection::set_timeout(double seconds) {
  if (context_) redisSetTimeout(context_, to_timeval(seconds));
}

Result<void> RedisConnection::connect() {
  if (context_) return {};
  const timeval tv = to_timeval(timeout_);
  context_ = address_.unix_path.empty() ? redisConnectWithTimeout(address_.host.c_str(), address_.port, tv)
                                        : redisConnectUnixWithTimeout(address_.unix_path.c_str(), tv);
  if (Result<void> ok = check_context("connect"); !ok) return ok;
  set_timeout(timeout_);
  auto fail = [&](const std::string& doing, const RedisReply& reply) -> Result<void> {
    close();
    return Failure{address_.shown + ": " + doing + ": " + reply.str};
  };
  if (!address_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!address_.username.empty()) auth.push_back(address_.username);
    auth.push_back(address_.password);
    auto reply = command(auth);
    if (!reply) return Failure{reply.error()};
    if (reply->is_error()) return fail("AUTH", *reply);  // Redis's message never repeats the password
  }
  if (address_.db != 0) {
    auto reply = command({"SELECT", std::to_string(address_.db)});
    if (!reply) return Failure{reply.error()};
    if (reply->is_error()) return fail("SELECT " + std::to_string(address_.db), *reply);
  }
  return {};
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string>& args, double wait_seconds) {
  if (Result<void> up = connect(); !up) return Failure{up.error()};
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  const bool longer = wait_seconds > timeout_;
  if (longer) set_timeout(wait_seconds + timeout_);
  ReplyPtr reply(
      static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) return Failure{check_context(args.empty() ? "command" : args[0].c_str()).error()};
  if (longer) set_timeout(timeout_);
  return convert(reply.get());
}

Result<std::vector<RedisReply>> RedisConnection::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (Result<void> up = connect(); !up) return Failure{up.error()};
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& args : commands) {
    argv.clear();
    lengths.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
      return Failure{check_context("pipeline").error()};
    }
  }
  std::vector<RedisReply> out;
  out.reserve(commands.size());
  for (const auto& args : commands) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
      return Failure{check_context(args.empty() ? "pipeline" : args[0].c_str()).error()};
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    out.push_back(convert(reply.get()));
  }
  return out;
}

}  // namespace lodestone
