// The scan path does not allocate once warm: parsing a line, normalizing, scanning and evaluating
// a post that raises no alert costs no heap allocation. Counted with a replaced operator new.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>

#include "engine/post_reader.h"
#include "lodestone/scanner.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("scanning posts that raise no alert does not allocate after warm-up", "[allocation]") {
  auto loaded = lodestone::load_rule_set({LODESTONE_SOURCE_DIR "/rules/packs"});
  REQUIRE(loaded.rule_set);
  lodestone::Scanner scanner(loaded.rule_set);
  lodestone::PostReader reader;
  lodestone::Post post;
  std::string error;
  // Posts with partial hits (a mineral without export controls, a minister without minerals,
  // NEAR operands too far apart), CJK in both scripts, full-width text and no hits at all.
  const std::vector<std::string> lines = {
      R"({"id": "1", "title": "Lithium prices fall", "body": "鋰電池需求強勁，ＥＶ銷量回升"})",
      R"({"id": "2", "title": "Bessent comments on bond yields", "body": "貝森特談美債殖利率"})",
      R"({"id": "3", "body": "商務部 said nothing at all about anything in particular for a long while, then China"})",
      R"({"id": "4", "title": "Wheat futures steady", "body": "Chicago wheat futures were little changed."})",
      R"({"id": "5", "title": "国产手机新品发布", "body": "新机型将于下月上市，起售价2999元。", "tags": ["x"]})",
  };
  for (int round = 0; round < 3; ++round) {
    for (const auto& line : lines) {
      REQUIRE(reader.parse_line(line, "test", post, error) == lodestone::LineOutcome::kPost);
      REQUIRE(scanner.scan(post).empty());
    }
  }
  allocations = 0;
  counting = true;
  for (int round = 0; round < 100; ++round) {
    for (const auto& line : lines) {
      reader.parse_line(line, "test", post, error);
      scanner.scan(post);
    }
  }
  counting = false;
  CHECK(allocations.load() == 0);
}

TEST_CASE("scanning posts that raise alerts and writing their JSON does not allocate after warm-up",
          "[allocation]") {
  // The alerts' strings, their matches and entities, and the output buffer are reused; only
  // OpenSSL's SHA-256 context for each alert id is allocated, with malloc, which this operator
  // new does not see.
  auto loaded = lodestone::load_rule_set({LODESTONE_SOURCE_DIR "/rules/packs"});
  REQUIRE(loaded.rule_set);
  lodestone::Scanner scanner(loaded.rule_set);
  scanner.set_clock_override("2026-01-01T00:00:00Z");
  lodestone::PostReader reader;
  lodestone::Post post;
  std::string error;
  std::string out;
  // Posts raising different numbers of alerts with different numbers of matches, so each
  // alert's buffers are refilled by another post's, longer and shorter.
  const std::vector<std::string> lines = {
      R"({"id": "1", "title": "China tightens export controls on rare earths", "body": "Beijing announced export controls on gallium, germanium and rare earth magnets."})",
      R"({"id": "2", "title": "稀土出口管制升級", "body": "商務部宣布對稀土實施出口管制，鎵、鍺出口需許可。"})",
      R"({"id": "3", "title": "Wheat futures steady", "body": "Chicago wheat futures were little changed."})",
      R"({"id": "4", "title": "Rare earth export controls", "body": "Rare earth export controls tightened again; rare earths export licences cut."})",
  };
  size_t alerts = 0;
  for (const auto& line : lines) {
    REQUIRE(reader.parse_line(line, "test", post, error) == lodestone::LineOutcome::kPost);
    alerts += scanner.scan(post).size();
  }
  REQUIRE(alerts >= 3);  // the posts do raise alerts, or this would test nothing new
  for (int round = 0; round < 3; ++round) {
    out.clear();
    for (const auto& line : lines) {
      reader.parse_line(line, "test", post, error);
      for (const lodestone::Alert& alert : scanner.scan(post)) lodestone::append_json(alert, out);
    }
  }
  allocations = 0;
  counting = true;
  for (int round = 0; round < 100; ++round) {
    out.clear();
    for (const auto& line : lines) {
      reader.parse_line(line, "test", post, error);
      for (const lodestone::Alert& alert : scanner.scan(post)) lodestone::append_json(alert, out);
    }
  }
  counting = false;
  CHECK(allocations.load() == 0);
}
