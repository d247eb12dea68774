// Fuzzes post parsing and normalization: any bytes as a JSONL line or a text file must give a
// post or a counted error, and a post must scan, with alert offsets inside the original text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "text/normalizer.h"
#include "engine/post_reader.h"
#include "lodestone/scanner.h"
#include "lodestone/rule_set.h"

namespace {

const char kRules[] = R"(
[terms]
minerals = ["rare earth*", "稀土", "gallium", "鎵", "/ex+port/", "AI", "ß"]
[[rule]]
id = "any"
match = '@minerals'
[[rule]]
id = "near"
match = 'gallium NEAR/5 鎵 OR ATLEAST(2, @minerals) OR (AI AND NOT 稀土)'
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto rules = lodestone::load_rule_set_from_string(kRules, "fuzz.toml").rule_set;
  static lodestone::Scanner scanner(rules);
  static lodestone::PostReader reader;
  static lodestone::Post post;
  static lodestone::NormalizedText normalized;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  lodestone::Normalizer::instance().normalize(input, {}, normalized);
  for (size_t i = 0; i < normalized.text.size(); ++i) {
    if (normalized.src_begin[i] >= normalized.src_end[i] || normalized.src_end[i] > normalized.original_code_points()) {
      std::abort();
    }
  }

  std::string error;
  if (reader.parse_line(input, "fuzz", post, error) != lodestone::LineOutcome::kPost) {
    reader.text_post("fuzz.txt", input, "fuzz", post);
  }
  for (const auto& alert : scanner.scan(post)) {
    for (const auto& m : alert.matches) {
      std::string_view text = post.field(m.field);
      if (m.byte_end > text.size() || m.byte_start > m.byte_end ||
          text.substr(m.byte_start, m.byte_end - m.byte_start) != m.text) {
        std::abort();
      }
    }
    (void)lodestone::to_json(alert);
  }
  return 0;
}
