// The `jsonl` source kind (a JSONL file followed like tail -F): its options and its factory, for
// sources/registry.cpp. Each default is JsonlOptions' own.
#include "sources/jsonl/jsonl.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

const JsonlOptions kDefaults;

const OptionSpec kJsonlOptions[] = {
    {"path", OptionType::kString, "", "the JSONL file to follow (like tail -F), or - for standard input", true},
    {"from_end", OptionType::kBool, bool_text(kDefaults.from_end), "on the first run, skip what the file already holds"},
    {"batch", OptionType::kCount, integer_text(kDefaults.batch), "posts per batch"},
    {"max_text_bytes", OptionType::kCount, integer_text(kDefaults.max_text_bytes), "text per post beyond which it is cut"},
    {"poll_interval", OptionType::kDuration, duration_text(kDefaults.poll_interval),
     "check the file this often even without inotify events"},
};

Result<std::unique_ptr<Source>> make_jsonl(const std::string& name, const OptionValues& v, const std::string& base,
                                           Store* store) {
  JsonlOptions o;
  o.name = name;
  o.path = resolve_path(base, v.string("path"));
  o.from_end = v.boolean("from_end", o.from_end);
  o.batch = static_cast<size_t>(v.integer("batch", static_cast<int64_t>(o.batch)));
  o.max_text_bytes = static_cast<size_t>(v.integer("max_text_bytes", static_cast<int64_t>(o.max_text_bytes)));
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) return Failure{"path must not be empty"};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<JsonlSource>(std::move(o), *store));
}

}  // namespace

extern const SourceKind jsonl_source_kind;  // listed in sources/registry.cpp
const SourceKind jsonl_source_kind{"jsonl", "a JSONL file followed like tail -F, or standard input", kJsonlOptions,
                                   make_jsonl};

}  // namespace lodestone
