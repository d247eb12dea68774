// The source and notifier registries: every kind declares its options with a type and help,
// and docs/config.md documents every one of them, so the two cannot drift apart.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "sources/registry.h"
#include "notifiers/registry.h"

using namespace lodestone;

namespace {

std::string config_doc() {
  std::ifstream in(std::string(LODESTONE_SOURCE_DIR) + "/docs/config.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The part of the page from the heading naming `type = "<type>"` to the next heading.
std::string section_for(const std::string& doc, const std::string& type) {
  const std::string mark = "`type = \"" + type + "\"";
  size_t at = doc.find(mark);
  if (at == std::string::npos) at = doc.find("`type = \"file\"` and `type = \"stdout\"`");
  if (at == std::string::npos) return {};
  const size_t end = doc.find("\n#", at);
  return doc.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string without_quotes(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != '`' && c != '"') out += c;
  }
  return out;
}

// The default column of the row of `key` in a section's table, without its backticks and
// quotes: "| `timeout` | `\"10s\"` | per attempt |" gives 10s. Empty when there is no such row.
std::string documented_default(const std::string& section, const std::string& key) {
  const std::string row = "| `" + key + "` |";
  const size_t at = section.find(row);
  if (at == std::string::npos) return {};
  const size_t from = at + row.size();
  const size_t to = section.find('|', from);
  const std::string cell = without_quotes(section.substr(from, to - from));
  const size_t first = cell.find_first_not_of(' ');
  const size_t last = cell.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : cell.substr(first, last - first + 1);
}

void check_kind(const std::string& doc, const char* type, std::span<const OptionSpec> options) {
  const std::string section = section_for(doc, type);
  INFO("type " << type);
  REQUIRE_FALSE(section.empty());
  for (const auto& option : options) {
    INFO("option " << option.key);
    CHECK(std::string(option.help).size() > 0);
    CHECK(section.find(std::string("`") + option.key + "`") != std::string::npos);
    // The default the code uses is the one the page shows (a required key shows "(required)";
    // a key without a default may show nothing or say what its absence means).
    const std::string shown = documented_default(section, option.key);
    if (option.required) {
      CHECK(shown == "(required)");
    } else if (!option.default_text.empty()) {
      CHECK(shown == without_quotes(option.default_text));
    }
  }
}

}  // namespace

TEST_CASE("docs/config.md documents every option of every source and notifier", "[registry]") {
  const std::string doc = config_doc();
  REQUIRE_FALSE(doc.empty());
  // A type may be both a source's and a notifier's ("redis"): each is looked for in its own part.
  const size_t notifiers = doc.find("## `[[notifier]]`");
  REQUIRE(notifiers != std::string::npos);
  const std::string source_part = doc.substr(0, notifiers), notifier_part = doc.substr(notifiers);
  for (const SourceKind* kind : source_kinds()) check_kind(source_part, kind->type, kind->options);
  for (const NotifierKind* kind : notifier_kinds()) check_kind(notifier_part, kind->type, kind->options);
}

TEST_CASE("defaults are shown as a config writes them", "[registry]") {
  CHECK(duration_text(10) == "10s");
  CHECK(duration_text(0.2) == "0.2s");
  CHECK(duration_text(300) == "5m");
  CHECK(duration_text(3600) == "1h");
  CHECK(duration_text(86400) == "1d");
  CHECK(duration_text(90) == "90s");
  CHECK(number_text(0.1) == "0.1");
  CHECK(integer_text(10485760) == "10485760");
  CHECK(strings_text({".jsonl", ".txt"}) == "[\".jsonl\", \".txt\"]");
}

TEST_CASE("kinds are found by their type and only by it", "[registry]") {
  CHECK(find_source_kind("feed") != nullptr);
  CHECK(find_source_kind("Feed") == nullptr);
  CHECK(find_notifier_kind("webhook") != nullptr);
  CHECK(find_notifier_kind("email") != nullptr);
  CHECK(find_notifier_kind("sms") == nullptr);
}
