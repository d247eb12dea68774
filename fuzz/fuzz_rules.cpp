// Fuzzes rule loading and query parsing: any bytes as a rule file must load or give diagnostics,
// never crash; a rule set that loads must scan a post.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lodestone/scanner.h"
#include "lodestone/rule_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  lodestone::LoadResult result = lodestone::load_rule_set_from_string(text, "fuzz.toml");
  (void)lodestone::format_diagnostics(result.diagnostics);
  if (result.rule_set) {
    lodestone::Scanner scanner(result.rule_set);
    lodestone::Post post;
    post.id = "p";
    post.add_field("title", "China tightens export controls on rare earths 中國稀土出口管制");
    post.add_field("body", "Gallium and germanium, 鎵 and 鍺; MAIL AI 台灣AI晶片 ＲＡＲＥ　ＥＡＲＴＨ");
    for (const auto& alert : scanner.scan(post)) (void)lodestone::to_json(alert);
  }
  return 0;
}
