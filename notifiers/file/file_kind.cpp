// The `file` notifier kind (a JSONL file): its options and its factory, for notifiers/registry.cpp.
#include "notifiers/file/file.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

constexpr OptionSpec kFileOptions[] = {
    {"path", OptionType::kString, "", "JSONL file to append to (relative to the config's folder)", true},
    {"fsync", OptionType::kBool, "true", "sync each line to disk before it counts as delivered"},
};

std::unique_ptr<Notifier> make_file(const std::string& name, const OptionValues& v, std::string& error) {
  FileNotifierOptions o{name, v.string("path"), v.boolean("fsync", true)};
  if (o.path.empty()) {
    error = "path must not be empty";
    return nullptr;
  }
  return std::make_unique<FileNotifier>(std::move(o));
}

}  // namespace

extern const NotifierKind file_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind file_notifier_kind{"file", "append each alert as a JSON line", kFileOptions, make_file};

}  // namespace lodestone
