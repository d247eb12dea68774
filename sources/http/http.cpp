// The `http` source: option checks, the cpp-httplib server and its routes, bearer-token checks,
// and POST /v1/posts: read the body, parse it as JSONL, submit one batch, answer after its commit.
#include "sources/http/http.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "engine/post_reader.h"
#include "util/sha256.h"

namespace lodestone {
namespace {

constexpr std::string_view kPostsPath = "/v1/posts";
constexpr std::string_view kHealthPath = "/v1/health";
// A body with thousands of bad lines gets the first ones listed, not a reply larger than itself.
constexpr size_t kMaxListedErrors = 100;
// Between two reads or writes of one request: a client slower than this loses its connection
// rather than holding one of the few server threads.
constexpr time_t kSocketTimeoutSeconds = 10;

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The credentials of "Bearer <token>" (the scheme is case-insensitive, RFC 7235); nullopt for
// another scheme or none.
std::optional<std::string_view> bearer_credentials(std::string_view header) {
  header = trim(header);
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !equals_ci(header.substr(0, kScheme.size()), kScheme)) return std::nullopt;
  if (header[kScheme.size()] != ' ') return std::nullopt;
  return trim(header.substr(kScheme.size()));
}

std::string dump(const nlohmann::json& body) {
  // Replace, not throw: an error text may quote bytes of a bad line.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void answer(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& message) {
  answer(res, status, nlohmann::json{{"error", message}});
}

struct BadLine {
  size_t line = 0;
  std::string error;
};

// What one request body held.
struct ParsedBody {
  std::vector<Post> posts;
  std::vector<BadLine> bad;
  size_t lines = 0;  // non-blank lines
  bool first_not_json = false;  // the first non-blank line is not JSON by itself
  size_t truncated = 0;
  size_t repaired = 0;
};

void parse_lines(std::string_view body, std::string_view source, size_t max_text_bytes, ParsedBody& out) {
  PostReader reader(max_text_bytes);
  std::string error;
  size_t line_number = 0;
  while (!body.empty()) {
    ++line_number;
    const size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.posts.emplace_back();
    error.clear();
    const LineOutcome outcome = reader.parse_line(line, source, out.posts.back(), error);
    if (outcome == LineOutcome::kPost) {
      ++out.lines;
      out.truncated += reader.last_truncated() ? 1 : 0;
      out.repaired += reader.last_repaired() ? 1 : 0;
      continue;
    }
    out.posts.pop_back();
    if (outcome == LineOutcome::kBlank) continue;
    if (out.lines == 0 && outcome == LineOutcome::kNotJson) out.first_not_json = true;
    ++out.lines;
    out.bad.push_back({line_number, error});
  }
}

// JSONL, or one JSON object. A one-line object is the same thing as one-line JSONL; an object
// written over several lines (pretty-printed) is recognised when its first line is not JSON on its
// own and the whole body is one object: raw line breaks can only be white space between JSON tokens,
// so it is then read as one line.
ParsedBody parse_body(const std::string& body, std::string_view source, size_t max_text_bytes) {
  ParsedBody parsed;
  parse_lines(body, source, max_text_bytes, parsed);
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (parsed.first_not_json && first != std::string::npos && body[first] == '{' && nlohmann::json::accept(body)) {
    std::string one_line = body;
    for (char& c : one_line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    ParsedBody single;
    parse_lines(one_line, source, max_text_bytes, single);
    return single;
  }
  return parsed;
}

std::string retry_after_value(double seconds) {
  return std::to_string(static_cast<long long>(std::ceil(std::max(0.0, seconds))));
}

}  // namespace

namespace {

// Why the options cannot work, or empty.
std::string why_invalid(const HttpSourceOptions& o) {
  if (o.name.empty()) return "an http source needs a name";
  const std::string who = "http source \"" + o.name + "\": ";
  const std::optional<ListenAddress> address = parse_listen_address(o.listen);
  if (!address) {
    return who + "listen must be host:port or [IPv6 address]:port, not \"" + o.listen + "\"";
  }
  if (o.token.empty() && !is_loopback(address->host)) {
    return who + "a token is required to listen on " + o.listen +
           ": without one anyone who can reach it may post (only a loopback address may go without)";
  }
  for (const char c : o.token) {
    // The token travels in a header: a control character or a space could never be sent.
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return who + "token has a space or a control character";
  }
  if (o.max_body_bytes == 0) return who + "max_body_bytes must be positive";
  if (o.max_text_bytes == 0) return who + "max_text_bytes must be positive";
  if (!std::isfinite(o.retry_after) || o.retry_after < 0) return who + "retry_after must be zero or more seconds";
  if (o.threads < 1) return who + "threads must be at least 1";
  return {};
}

}  // namespace

Result<void> check_http_source_options(const HttpSourceOptions& o) {
  if (std::string why = why_invalid(o); !why.empty()) return Failure{why};
  return {};
}

struct HttpSource::State {
  enum class Phase { kIdle, kBinding, kListening, kDone };

  HttpSourceOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::string who;      // `http source "name"`, the start of every log line
  ListenAddress address;
  Digest token_digest{};

  httplib::Server server;
  PostSink* sink = nullptr;  // set by run() before the first request can arrive

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  Phase phase = Phase::kIdle;  // guarded by mutex
  bool stop_requested = false;  // guarded by mutex
  std::atomic<int> port{0};

  // Everything that can be decided from the request line and headers, before the body is read:
  // routing, the token, the declared size. False when `res` is the answer.
  bool check_request(const httplib::Request& req, httplib::Response& res);
  void serve_posts(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  bool token_matches(std::string_view presented) const;
  std::string too_large_message() const {
    return "the body is larger than " + std::to_string(options.max_body_bytes) + " bytes; send fewer posts a request";
  }
};

bool HttpSource::State::token_matches(std::string_view presented) const {
  // Equal-length digests compared in constant time: neither the token's length nor the position of
  // the first wrong byte shows in the time taken.
  const Digest digest = Sha256().add(presented).finish();
  return CRYPTO_memcmp(digest.data(), token_digest.data(), digest.size()) == 0;
}

bool HttpSource::State::check_request(const httplib::Request& req, httplib::Response& res) {
  if (req.path == kHealthPath) {
    if (req.method == "GET" || req.method == "HEAD") {
      res.status = 200;
      res.set_content("ok\n", "text/plain");
    } else {
      res.set_header("Allow", "GET, HEAD");
      answer_error(res, 405, "use GET on " + std::string(kHealthPath));
    }
    return false;
  }
  if (req.path != kPostsPath) {
    answer_error(res, 404, "no such path; posts go to POST " + std::string(kPostsPath));
    return false;
  }
  if (req.method != "POST") {
    res.set_header("Allow", "POST");
    answer_error(res, 405, "use POST on " + std::string(kPostsPath));
    return false;
  }
  if (!options.token.empty()) {
    const std::string authorization = req.get_header_value("Authorization");  // a copy: the view below points into it
    const std::optional<std::string_view> presented = bearer_credentials(authorization);
    if (!presented) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"lodestone\"");
      answer_error(res, 401, "this endpoint needs Authorization: Bearer <token>");
      spdlog::info("{}: refused a request from {}: no bearer token", who, req.remote_addr);
      return false;
    }
    if (!token_matches(*presented)) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"lodestone\", error=\"invalid_token\"");
      answer_error(res, 401, "the bearer token is not valid");
      spdlog::info("{}: refused a request from {}: wrong bearer token", who, req.remote_addr);
      return false;
    }
  }
  if (req.has_header("Content-Length")) {
    const std::string length = req.get_header_value("Content-Length");
    size_t value = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), value);
    if (length.empty() || end != length.data() + length.size() ||
        (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      answer_error(res, 400, "Content-Length is not a number");
      return false;
    }
    if (ec == std::errc::result_out_of_range || value > options.max_body_bytes) {
      answer_error(res, 413, too_large_message());
      spdlog::info("{}: refused a request from {}: Content-Length {} is over max_body_bytes", who, req.remote_addr,
                   length);
      return false;
    }
  }
  // cpp-httplib would parse a form itself, and a post is never one.
  if (req.is_multipart_form_data()) {
    answer_error(res, 415, "send JSON or JSONL, not a form");
    return false;
  }
  return true;
}

void HttpSource::State::serve_posts(const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
  std::string body;
  bool too_large = false;
  // A chunked body has no Content-Length to check up front: it is cut off here instead.
  const bool read = reader([&](const char* data, size_t size) {
    if (size > options.max_body_bytes - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (too_large || res.status == 413) {
    answer_error(res, 413, too_large_message());
    spdlog::info("{}: refused a request from {}: body over max_body_bytes", who, req.remote_addr);
    return;
  }
  if (!read) {
    answer_error(res, 400, "the request body could not be read");
    spdlog::info("{}: could not read the body of a request from {}", who, req.remote_addr);
    return;
  }

  ParsedBody parsed = parse_body(body, options.name, options.max_text_bytes);
  spdlog::debug("{}: POST {} from {}: {} bytes, {} posts, {} bad lines", who, kPostsPath, req.remote_addr, body.size(),
                parsed.posts.size(), parsed.bad.size());
  if (parsed.truncated > 0 || parsed.repaired > 0) {
    spdlog::info("{}: request from {}: {} posts had text over {} bytes (truncated), {} had invalid UTF-8 (repaired)",
                 who, req.remote_addr, parsed.truncated, options.max_text_bytes, parsed.repaired);
  }

  // The sink may take the posts: count them first.
  const size_t accepted = parsed.posts.size();
  nlohmann::json reply = {{"accepted", accepted}};
  if (accepted > 0) {
    std::optional<std::future<BatchReceipt>> future = sink->submit(parsed.posts, PostSink::WhenFull::kRefuse);
    if (!future) {
      res.set_header("Retry-After", retry_after_value(options.retry_after));
      answer_error(res, 503, "the queue is full or the pipeline is stopping; nothing was taken: resend the whole body");
      spdlog::debug("{}: answered 503 to {}: the pipeline refused {} posts", who, req.remote_addr, accepted);
      return;
    }
    BatchReceipt receipt;
    try {
      receipt = future->get();
    } catch (const std::exception& e) {
      receipt.committed = false;
      receipt.error = e.what();
    }
    if (!receipt.committed) {
      res.set_header("Retry-After", retry_after_value(options.retry_after));
      answer_error(res, 503, "the posts were not committed (" + receipt.error + "); resend the whole body");
      spdlog::warn("{}: {} posts from {} not committed: {}", who, accepted, req.remote_addr, receipt.error);
      return;
    }
    reply["new"] = receipt.new_posts;
    reply["alerts"] = receipt.alerts;
  } else {
    reply["new"] = 0;
    reply["alerts"] = 0;
  }

  if (parsed.bad.empty() && accepted == 0) {
    answer_error(res, 400, "the body holds no posts");
    return;
  }
  if (parsed.bad.empty()) {
    answer(res, 202, reply);
    return;
  }
  sink->count_rejected(options.name, parsed.bad.size());
  spdlog::info("{}: {} of {} lines from {} could not be read (line {}: {})", who, parsed.bad.size(), parsed.lines,
               req.remote_addr, parsed.bad.front().line, parsed.bad.front().error);
  nlohmann::json errors = nlohmann::json::array();
  for (size_t i = 0; i < parsed.bad.size() && i < kMaxListedErrors; ++i) {
    errors.push_back({{"line", parsed.bad[i].line}, {"error", parsed.bad[i].error}});
  }
  reply["committed"] = true;
  reply["errors"] = std::move(errors);
  if (parsed.bad.size() > kMaxListedErrors) reply["errors_not_listed"] = parsed.bad.size() - kMaxListedErrors;
  reply["error"] = std::to_string(parsed.bad.size()) + " lines could not be read; the other " +
                   std::to_string(accepted) + " posts are committed: resend only the lines listed, fixed";
  answer(res, 400, reply);
}

HttpSource::HttpSource(HttpSourceOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.invalid = why_invalid(options);
  s.who = "http source \"" + options.name + "\"";
  if (s.invalid.empty()) {
    s.address = *parse_listen_address(options.listen);
    if (!options.token.empty()) s.token_digest = Sha256().add(options.token).finish();
  }
  s.options = std::move(options);
}

HttpSource::~HttpSource() = default;

const std::string& HttpSource::name() const { return state_->options.name; }

int HttpSource::port() const { return state_->port.load(); }

bool HttpSource::wait_until_listening(double timeout_seconds) const {
  State& s = *state_;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
  std::unique_lock<std::mutex> lock(s.mutex);
  if (!s.changed.wait_until(lock, deadline, [&] {
        return s.phase == State::Phase::kListening || s.phase == State::Phase::kDone;
      })) {
    return false;
  }
  // Bound and listening at the socket, but accepting only once the server's loop runs.
  while (s.phase == State::Phase::kListening && !s.server.is_running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  return s.phase == State::Phase::kListening;
}

Result<void> HttpSource::run(PostSink& sink) {
  State& s = *state_;
  if (!s.invalid.empty()) return Failure{s.invalid};
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.phase != State::Phase::kIdle) return Failure{s.who + ": run() was already called"};
    if (s.stop_requested) {
      s.phase = State::Phase::kDone;
      s.changed.notify_all();
      return {};
    }
    s.phase = State::Phase::kBinding;
    s.sink = &sink;
  }

  httplib::Server& server = s.server;
  const int threads = s.options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_keep_alive_max_count(1);  // see http.h: every response closes its connection
  server.set_read_timeout(kSocketTimeoutSeconds, 0);
  server.set_write_timeout(kSocketTimeoutSeconds, 0);
  server.set_payload_max_length(s.options.max_body_bytes);
  server.set_tcp_nodelay(true);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second process bind a port already in use
  // and silently take half its connections. SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // A client that sends "Expect: 100-continue" (curl, for larger bodies) hears 401 or 413 before
  // it sends the body.
  server.set_expect_100_continue_handler([&s](const httplib::Request& req, httplib::Response& res) {
    return s.check_request(req, res) ? 100 : res.status;
  });
  server.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    return s.check_request(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                     : httplib::Server::HandlerResponse::Handled;
  });
  // Reading the body in the handler, not before it, keeps a chunked body to max_body_bytes too.
  server.Post(std::string(kPostsPath),
              [&s](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                s.serve_posts(req, res, reader);
              });
  // Answers cpp-httplib writes itself (a malformed request, an unexpected path) get a JSON body too.
  server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    answer_error(res, res.status, res.status == 400 ? "malformed request" : "HTTP " + std::to_string(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([&s](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{}: request from {} failed: {}", s.who, req.remote_addr, what);
    answer_error(res, 500, "internal error");
  });

  errno = 0;
  int bound = -1;
  if (s.address.port == 0) {
    bound = server.bind_to_any_port(s.address.host);
  } else if (server.bind_to_port(s.address.host, s.address.port)) {
    bound = s.address.port;
  }
  const int bind_errno = errno;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.phase = bound > 0 ? State::Phase::kListening : State::Phase::kDone;
    if (bound > 0) s.port = bound;
    s.changed.notify_all();
  }
  if (bound <= 0) {
    const std::string reason = bind_errno != 0 ? std::strerror(bind_errno) : "no such address, or it is in use";
    return Failure{s.who + ": cannot listen on " + s.options.listen + ": " + reason};
  }
  spdlog::info("{}: listening on {} (port {}), POST {}{}", s.who, s.options.listen, bound, kPostsPath,
               s.options.token.empty() ? " without a token" : "");

  const bool clean = server.listen_after_bind();
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.phase = State::Phase::kDone;
    stopped = s.stop_requested;
    s.changed.notify_all();
  }
  if (!clean && !stopped) return Failure{s.who + ": stopped accepting connections on " + s.options.listen};
  return {};
}

void HttpSource::stop() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  s.stop_requested = true;
  s.changed.wait(lock, [&] { return s.phase != State::Phase::kBinding; });
  // cpp-httplib's stop() does nothing until its accept loop runs; one that has just bound is waited
  // for, or the stop would be lost and run() would serve on.
  while (s.phase == State::Phase::kListening && !s.server.is_running()) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  if (s.phase == State::Phase::kListening) s.server.stop();
}

}  // namespace lodestone
