// The `http` source kind (POST /v1/posts): its options and its factory, for sources/registry.cpp.
// Each default is HttpSourceOptions' own.
#include "sources/http/http.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

const HttpSourceOptions kDefaults;

const OptionSpec kHttpOptions[] = {
    {"listen", OptionType::kString, kDefaults.listen, "host:port of POST /v1/posts", true},
    {"token", OptionType::kSecret, "", "bearer token clients must send (required off loopback)"},
    {"max_body_bytes", OptionType::kCount, integer_text(kDefaults.max_body_bytes), "a larger request is answered 413"},
    {"max_text_bytes", OptionType::kCount, integer_text(kDefaults.max_text_bytes), "text per post beyond which it is cut"},
    {"retry_after", OptionType::kDuration, duration_text(kDefaults.retry_after),
     "Retry-After sent with 503 when the queue is full"},
    {"threads", OptionType::kCount, integer_text(kDefaults.threads), "requests served at once"},
};

Result<std::unique_ptr<Source>> make_http(const std::string& name, const OptionValues& v, const std::string&,
                                          Store* store) {
  HttpSourceOptions o;
  o.name = name;
  o.listen = v.string("listen", o.listen);
  o.token = v.string("token");
  o.max_body_bytes = static_cast<size_t>(v.integer("max_body_bytes", static_cast<int64_t>(o.max_body_bytes)));
  o.max_text_bytes = static_cast<size_t>(v.integer("max_text_bytes", static_cast<int64_t>(o.max_text_bytes)));
  o.retry_after = v.number("retry_after", o.retry_after);
  o.threads = static_cast<int>(v.integer("threads", o.threads));
  if (Result<void> valid = check_http_source_options(o); !valid) return Failure{valid.error()};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<HttpSource>(std::move(o)));
}

}  // namespace

extern const SourceKind http_source_kind;  // listed in sources/registry.cpp
const SourceKind http_source_kind{"http", "posts pushed to POST /v1/posts", kHttpOptions, make_http};

}  // namespace lodestone
