// Test support: golden files, what a notifier sends for the sample alert, kept under
// tests/data/notifiers/ so that a reviewer reads what users will see. A test compares its output
// with one byte for byte; LODESTONE_UPDATE_GOLDEN=1 in the environment writes them anew instead
// (and the test then fails, so that a rewrite is never mistaken for a pass).
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lodestone::testing {

inline void check_golden(const std::string& name, const std::string& actual) {
  const std::filesystem::path path = std::filesystem::path(LODESTONE_TEST_DATA) / "notifiers" / name;
  if (const char* update = std::getenv("LODESTONE_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    FAIL("wrote " << path.string() << " anew: read it, then run again without LODESTONE_UPDATE_GOLDEN");
  }
  std::ifstream in(path, std::ios::binary);
  INFO("golden file " << path.string() << " (LODESTONE_UPDATE_GOLDEN=1 writes it anew)");
  REQUIRE(in);
  std::ostringstream expected;
  expected << in.rdbuf();
  CHECK(actual == expected.str());
}

}  // namespace lodestone::testing
