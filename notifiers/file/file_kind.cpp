// The `file` notifier kind (a JSONL file): its options and its factory, for notifiers/registry.cpp.
// Each default is FileNotifierOptions' own.
#include "notifiers/file/file.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const FileNotifierOptions kDefaults;

const OptionSpec kFileOptions[] = {
    {"path", OptionType::kString, "", "JSONL file to append to (relative to the config's folder)", true},
    {"fsync", OptionType::kBool, bool_text(kDefaults.fsync), "sync each line to disk before it counts as delivered"},
};

Result<std::unique_ptr<Notifier>> make_file(const std::string& name, const OptionValues& v) {
  FileNotifierOptions o{name, v.string("path"), v.boolean("fsync", kDefaults.fsync)};
  if (o.path.empty()) return Failure{"path must not be empty"};
  return std::unique_ptr<Notifier>(std::make_unique<FileNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind file_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind file_notifier_kind{"file", "append each alert as a JSON line", kFileOptions, make_file};

}  // namespace lodestone
