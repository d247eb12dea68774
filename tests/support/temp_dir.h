// Test support: a fresh folder under the system's temporary folder, removed with all it holds.
// Make and destroy it on the test's thread; path(), file() and write() may be called from any.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace lodestone::testing {

// A folder of its own (mkdtemp: no two tests, runs or processes share one), named
// lodestone-<tag>-XXXXXX so that one left behind by a crash says whose it was.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    std::string pattern = (std::filesystem::temp_directory_path() / ("lodestone-" + tag + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` (which may hold folders: "inbox/a.jsonl") inside the folder.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to `name`, replacing what was there and making its folders first.
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << text;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace lodestone::testing
