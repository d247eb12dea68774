// The `jsonl` source kind (a JSONL file followed like tail -F): its options and its factory, for sources/registry.cpp.
#include "sources/jsonl/jsonl.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

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
  o.path = resolve_path(base, v.string("path"));
  o.from_end = v.boolean("from_end", false);
  o.batch = positive_option(v, "batch", o.batch, error);
  o.max_text_bytes = positive_option(v, "max_text_bytes", o.max_text_bytes, error);
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) error = "path must not be empty";
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<JsonlSource>(std::move(o), *store);
}

}  // namespace

extern const SourceKind jsonl_source_kind;  // listed in sources/registry.cpp
const SourceKind jsonl_source_kind{"jsonl", "a JSONL file followed like tail -F, or standard input", kJsonlOptions, make_jsonl};

}  // namespace lodestone
