// The source registry: one entry per file of engine/sources/.
#include "engine/sources/registry.h"

#include <array>
#include <filesystem>

#include "engine/sources/directory.h"
#include "engine/sources/feed.h"
#include "engine/sources/http.h"
#include "engine/sources/jsonl.h"

namespace lodestone {
namespace {

std::string resolve(const std::string& base, const std::string& path) {
  if (path == "-" || path.empty()) return path;
  const std::filesystem::path p(path);
  return (p.is_absolute() || base.empty() ? p : std::filesystem::path(base) / p).string();
}

size_t positive(const OptionValues& v, const char* key, size_t fallback, std::string& error) {
  const int64_t n = v.integer(key, static_cast<int64_t>(fallback));
  if (n <= 0) error = std::string(key) + " must be above 0";
  return n > 0 ? static_cast<size_t>(n) : fallback;
}

constexpr OptionSpec kJsonlOptions[] = {
    {"path", OptionType::kString, "", "the JSONL file to follow (like tail -F), or - for standard input", true},
    {"from_end", OptionType::kBool, "false", "on the first run, skip what the file already holds"},
    {"batch", OptionType::kInteger, "256", "posts per batch"},
    {"max_text_bytes", OptionType::kInteger, "1048576", "text per post beyond which it is cut"},
    {"poll_interval", OptionType::kDuration, "1s", "check the file this often even without inotify events"},
};

std::unique_ptr<Source> make_jsonl(const std::string& name, const OptionValues& v, const std::string& base,
                                   Store* store, std::string& error) {
  JsonlOptions o;
  o.name = name;
  o.path = resolve(base, v.string("path"));
  o.from_end = v.boolean("from_end", false);
  o.batch = positive(v, "batch", o.batch, error);
  o.max_text_bytes = positive(v, "max_text_bytes", o.max_text_bytes, error);
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) error = "path must not be empty";
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<JsonlSource>(std::move(o), *store);
}

constexpr OptionSpec kDirectoryOptions[] = {
    {"path", OptionType::kString, "", "the folder to watch for new files", true},
    {"extensions", OptionType::kStrings, "[\".jsonl\", \".ndjson\", \".txt\"]", "file name endings to read"},
    {"batch", OptionType::kInteger, "256", "posts per batch"},
    {"max_text_bytes", OptionType::kInteger, "1048576", "text per post beyond which it is cut"},
    {"settle", OptionType::kDuration, "0.2s", "a file must be unchanged this long before it is read"},
    {"poll_interval", OptionType::kDuration, "2s", "rescan the folder this often even without inotify events"},
};

std::unique_ptr<Source> make_directory(const std::string& name, const OptionValues& v, const std::string& base,
                                       Store* store, std::string& error) {
  DirectoryOptions o;
  o.name = name;
  o.path = resolve(base, v.string("path"));
  if (v.has("extensions")) o.extensions = v.strings("extensions");
  o.batch = positive(v, "batch", o.batch, error);
  o.max_text_bytes = positive(v, "max_text_bytes", o.max_text_bytes, error);
  o.settle = v.number("settle", o.settle);
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) error = "path must not be empty";
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<DirectorySource>(std::move(o), *store);
}

constexpr OptionSpec kFeedOptions[] = {
    {"url", OptionType::kString, "", "the RSS 2.0 or Atom feed, http:// or https://", true},
    {"interval", OptionType::kDuration, "5m", "time between polls"},
    {"jitter", OptionType::kNumber, "0.1", "each wait is interval × (1 ± jitter)"},
    {"timeout", OptionType::kDuration, "30s", "per request, connecting included"},
    {"max_bytes", OptionType::kInteger, "10485760", "a larger feed is refused"},
    {"max_backoff", OptionType::kDuration, "1h", "after errors the wait doubles up to this"},
    {"user_agent", OptionType::kString, "lodestone/<version>", "User-Agent header"},
    {"headers", OptionType::kHeaders, "", "extra request headers"},
};

std::unique_ptr<Source> make_feed(const std::string& name, const OptionValues& v, const std::string&, Store* store,
                                  std::string& error) {
  FeedOptions o;
  o.name = name;
  o.url = v.string("url");
  o.interval = v.number("interval", o.interval);
  o.jitter = v.number("jitter", o.jitter);
  o.timeout = v.number("timeout", o.timeout);
  o.max_bytes = positive(v, "max_bytes", o.max_bytes, error);
  o.max_backoff = v.number("max_backoff", o.max_backoff);
  o.user_agent = v.string("user_agent");
  o.headers = v.headers("headers");
  if (error.empty()) error = check_feed_options(o);
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<FeedSource>(std::move(o), *store);
}

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
  o.max_body_bytes = positive(v, "max_body_bytes", o.max_body_bytes, error);
  o.max_text_bytes = positive(v, "max_text_bytes", o.max_text_bytes, error);
  o.retry_after = v.number("retry_after", o.retry_after);
  o.threads = static_cast<int>(positive(v, "threads", static_cast<size_t>(o.threads), error));
  if (error.empty()) error = check_http_source_options(o);
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<HttpSource>(std::move(o));
}

const std::array kKinds = {
    SourceKind{"jsonl", "a JSONL file followed like tail -F, or standard input", kJsonlOptions, make_jsonl},
    SourceKind{"directory", "new .jsonl and .txt files in a folder, each read once", kDirectoryOptions,
               make_directory},
    SourceKind{"feed", "an RSS 2.0 or Atom feed polled over HTTP(S)", kFeedOptions, make_feed},
    SourceKind{"http", "posts pushed to POST /v1/posts", kHttpOptions, make_http},
};

}  // namespace

std::span<const SourceKind> source_kinds() { return kKinds; }

const SourceKind* find_source_kind(std::string_view type) {
  for (const auto& kind : kKinds) {
    if (type == kind.type) return &kind;
  }
  return nullptr;
}

}  // namespace lodestone
