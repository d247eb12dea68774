// The `directory` source kind (a folder of .jsonl and .txt files): its options and its factory,
// for sources/registry.cpp. Each default is DirectoryOptions' own.
#include "sources/directory/directory.h"
#include "sources/registry.h"

namespace lodestone {
namespace {

const DirectoryOptions kDefaults;

const OptionSpec kDirectoryOptions[] = {
    {"path", OptionType::kString, "", "the folder to watch for new files", true},
    {"extensions", OptionType::kStrings, strings_text(kDefaults.extensions), "file name endings to read"},
    {"batch", OptionType::kCount, integer_text(kDefaults.batch), "posts per batch"},
    {"max_text_bytes", OptionType::kCount, integer_text(kDefaults.max_text_bytes), "text per post beyond which it is cut"},
    {"settle", OptionType::kDuration, duration_text(kDefaults.settle),
     "a file must be unchanged this long before it is read"},
    {"poll_interval", OptionType::kDuration, duration_text(kDefaults.poll_interval),
     "rescan the folder this often even without inotify events"},
};

Result<std::unique_ptr<Source>> make_directory(const std::string& name, const OptionValues& v, const std::string& base,
                                               Store* store) {
  DirectoryOptions o;
  o.name = name;
  o.path = resolve_path(base, v.string("path"));
  if (v.has("extensions")) o.extensions = v.strings("extensions");
  o.batch = static_cast<size_t>(v.integer("batch", static_cast<int64_t>(o.batch)));
  o.max_text_bytes = static_cast<size_t>(v.integer("max_text_bytes", static_cast<int64_t>(o.max_text_bytes)));
  o.settle = v.number("settle", o.settle);
  o.poll_interval = v.number("poll_interval", o.poll_interval);
  if (o.path.empty()) return Failure{"path must not be empty"};
  if (!store) return std::unique_ptr<Source>();
  return std::unique_ptr<Source>(std::make_unique<DirectorySource>(std::move(o), *store));
}

}  // namespace

extern const SourceKind directory_source_kind;  // listed in sources/registry.cpp
const SourceKind directory_source_kind{"directory", "new .jsonl and .txt files in a folder, each read once",
                                       kDirectoryOptions, make_directory};

}  // namespace lodestone
