// The `http` source: an ingest endpoint, POST /v1/posts, that takes posts pushed as JSON or JSONL and
// answers 202 only once they are committed. run() serves on its own thread (and a pool of its own);
// stop(), port() and wait_until_listening() may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lodestone/source.h"
#include "util/listen_address.h"

namespace lodestone {

struct HttpSourceOptions {
  std::string name;                       // source name: posts that name no "source" carry it
  std::string listen = "127.0.0.1:8080";  // host:port; [::1]:port for IPv6; port 0 = any free port (tests)
  std::string token;                      // bearer token; empty = no authentication, allowed on loopback only
  size_t max_body_bytes = 10 << 20;       // a larger request body is answered 413 without being read
  size_t max_text_bytes = 1 << 20;        // text per post; more is truncated (PostReader)
  double retry_after = 1;                 // seconds, sent in Retry-After with every 503
  int threads = 8;                        // requests served at once; more wait for a free thread
};

// Whether these options can work; if not, why, in one sentence that never quotes the token.
// Refused, among others: a listen address that is not host:port, and an empty token on an address
// other than loopback (127.0.0.0/8, ::1, localhost), which would let anyone on the network post.
Result<void> check_http_source_options(const HttpSourceOptions& options);

// The endpoint, as clients see it:
//
//   POST /v1/posts   Authorization: Bearer <token> (when a token is set)
//     Body: one JSON object, or JSONL (one post a line); the Content-Type is not looked at. Lines are
//     read as the jsonl source reads them (engine/post_reader.h).
//     202 {"accepted":N,"new":M,"alerts":K}   every post is committed (its key seen, its alerts stored).
//     400 {"accepted":N,"new":M,"alerts":K,"committed":true,"errors":[{"line":2,"error":"..."}],...}
//         some lines could not be read. The N good posts of the same body ARE committed: resend only
//         the lines listed (resending the whole body is harmless too, but alerts nothing twice).
//     401 (WWW-Authenticate: Bearer)  no or a wrong token; the body is not read.
//     413  the body is larger than max_body_bytes; it is not read past the limit.
//     503 (Retry-After)  the pipeline's queue is full, it is stopping, or the commit failed: nothing
//         of this body was taken; resend all of it later.
//   GET /v1/health   200 "ok": the process serves (liveness, for load balancers).
//   Any other method on /v1/posts is 405 (Allow: POST); any other path 404. Every error body is
//   JSON: {"error":"..."}.
//
// Every response closes its connection: a request whose body was left unread (401, 413) must not
// let that body be read as the next request, and an idle keep-alive connection would hold one of
// the few server threads.
class HttpSource : public Source {
 public:
  // Options that check_http_source_options() refuses give a source whose run() returns that reason.
  explicit HttpSource(HttpSourceOptions options);
  ~HttpSource() override;
  HttpSource(const HttpSource&) = delete;
  HttpSource& operator=(const HttpSource&) = delete;

  const std::string& name() const override;

  // Binds the listen address and serves until stop(). Returns the reason, naming the address, when
  // it cannot bind (in use, no such host) or the options are invalid; nullopt after stop(). Requests
  // in flight when stop() comes are finished (their batches waited for and answered) before it
  // returns. Call it once.
  Result<void> run(PostSink& sink) override;
  void stop() override;

  // The bound port once run() has bound the address (the chosen one for port 0), else 0.
  int port() const;
  // Waits until run() accepts connections (true) or has returned or `timeout_seconds` passed (false).
  bool wait_until_listening(double timeout_seconds) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lodestone
