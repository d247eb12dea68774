// The `directory` source kind (a folder of .jsonl and .txt files): its options and its factory, for sources/registry.cpp.
#include "sources/directory/directory.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

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
  o.path = resolve_path(base, v.string("path"));
  if (v.has("extensions")) o.extensions = v.strings("extensions");
  o.batch = positive_option(v, "batch", o.batch, error);
  o.max_text_bytes = positive_option(v, "max_text_bytes", o.max_text_bytes, error);
  o.settle = v.number("settle", o.settle);
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) error = "path must not be empty";
  if (!error.empty() || !store) return nullptr;
  return std::make_unique<DirectorySource>(std::move(o), *store);
}

}  // namespace

extern const SourceKind directory_source_kind;  // listed in sources/registry.cpp
const SourceKind directory_source_kind{"directory", "new .jsonl and .txt files in a folder, each read once", kDirectoryOptions, make_directory};

}  // namespace lodestone
