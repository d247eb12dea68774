// The `http` source kind (POST /v1/posts): its options and its factory, for sources/registry.cpp.
#include "sources/http/http.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

constexpr OptionSpec kHttpOptions[] = {
    {"listen", OptionType::kString, "127.0.0.1:8080", "host:port of POST /v1/posts", true},
    {"token", OptionType::kSecret, "", "bearer token clients must send (required off loopback)"},
    {"max_body_bytes", OptionType::kInteger, "10485760", "a larger request is answered 413"},
    {"max_text_bytes", OptionType::kInteger, "1048576", "text per post beyond which it is cut"},
    {"retry_after", OptionType::kDuration, "1s", "Retry-After sent with 503 when the queue is full"},
    {"threads", OptionType::kInteger, "8", "requests served at once"},
};

std::unique_ptr<Source> make_http(const std::string& name, const OptionValues& v, const std::string&, Store* store,
                                  std::string& error) {
  HttpSourceOptions o;
  o.name = name;
  o.listen = v.string("listen", o.listen);
  o.token = v.string("token");
  o.max_body_bytes = positive_option(v, "max_body_bytes", o.max_body_bytes, error);
  o.max_text_bytes = positive_option(v, "max_text_bytes", o.max_text_bytes, error);
  o.retry_after = v.number("retry_after", o.retry_after);
  o.threads = static_cast<int>(positive_option(v, "threads", static_cast<size_t>(o.threads), error));
  if (error.empty()) error = check_http_source_options(o);
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<HttpSource>(std::move(o));
}

}  // namespace

extern const SourceKind http_source_kind;  // listed in sources/registry.cpp
const SourceKind http_source_kind{"http", "posts pushed to POST /v1/posts", kHttpOptions, make_http};

}  // namespace lodestone
