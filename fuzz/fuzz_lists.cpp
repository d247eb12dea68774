// Fuzzes reading entity lists: any bytes as a CSV, TSV or JSONL list file (with itself as the
// alias file) must load or give diagnostics, never crash; what loads must scan a post.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "lodestone/scanner.h"
#include "lodestone/rule_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    char path[] = "/tmp/lodestone-fuzz-lists-XXXXXX";
    return std::string(mkdtemp(path));
  }();
  // The first byte picks the format and whether columns are named (a header row, JSON keys).
  const uint8_t pick = size > 0 ? data[0] : 0;
  static const char* kFormats[] = {"csv", "tsv", "jsonl"};
  const std::string format = kFormats[pick % 3];
  const bool named = (pick >> 2) & 1;
  const std::string file = dir + "/list." + format;
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data) + (size > 0), static_cast<std::streamsize>(size > 0 ? size - 1 : 0));
  const std::string columns = named || format == "jsonl"
                                  ? "id_column = \"id\"\nname_column = \"name\"\nkind_column = \"kind\"\n"
                                    "alias_column = \"aliases\"\nalias_separator = \";\"\nalias_id_column = \"id\"\n"
                                    "alias_name_column = \"name\"\n"
                                  : "id_column = 1\nname_column = 2\nkind_column = 3\nalias_column = 4\n"
                                    "alias_separator = \";\"\nalias_id_column = 1\nalias_name_column = 2\n";
  const std::string toml = "[[entities]]\nid = \"l\"\nfile = \"" + file + "\"\nheader = " +
                           (named ? "true" : "false") + "\nalias_file = \"" + file + "\"\nalias_header = " +
                           (named ? "true" : "false") + "\n" + columns +
                           "empty = \"-0-\"\nname_order = \"last_first\"\nmin_alias_length = 2\n"
                           "stoplist = [\"the\"]\n\n[[rule]]\nid = \"r\"\nmatch = 'ATLEAST(2, @l) OR (@l NEAR/5 x)'\n";
  lodestone::LoadResult result = lodestone::load_rule_set_from_string(toml, dir + "/fuzz.toml");
  (void)lodestone::format_diagnostics(result.diagnostics);
  if (result.rule_set) {
    lodestone::Scanner scanner(result.rule_set);
    lodestone::Post post;
    post.id = "p";
    post.add_field("body", std::string(reinterpret_cast<const char*>(data), size));
    for (const auto& alert : scanner.scan(post)) (void)lodestone::to_json(alert);
  }
  return 0;
}
