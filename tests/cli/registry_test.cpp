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

void check_kind(const std::string& doc, const char* type, std::span<const OptionSpec> options) {
  const std::string section = section_for(doc, type);
  INFO("type " << type);
  REQUIRE_FALSE(section.empty());
  for (const auto& option : options) {
    INFO("option " << option.key);
    CHECK(std::string(option.help).size() > 0);
    CHECK(section.find(std::string("`") + option.key + "`") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("docs/config.md documents every option of every source and notifier", "[registry]") {
  const std::string doc = config_doc();
  REQUIRE_FALSE(doc.empty());
  for (const SourceKind* kind : source_kinds()) check_kind(doc, kind->type, kind->options);
  for (const NotifierKind* kind : notifier_kinds()) check_kind(doc, kind->type, kind->options);
}

TEST_CASE("kinds are found by their type and only by it", "[registry]") {
  CHECK(find_source_kind("feed") != nullptr);
  CHECK(find_source_kind("Feed") == nullptr);
  CHECK(find_notifier_kind("webhook") != nullptr);
  CHECK(find_notifier_kind("email") != nullptr);
  CHECK(find_notifier_kind("sms") == nullptr);
}
