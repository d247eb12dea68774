// Compiles a rule set and scans a post with the installed public headers only.
#include <iostream>

#include <lodestone/rule_set.h>
#include <lodestone/scanner.h>

int main() {
  lodestone::LoadResult loaded = lodestone::load_rule_set_from_string(
      "[[rule]]\nid = \"rare-earths\"\nmatch = '\"rare earth*\" OR 稀土'\n", "embedded.toml");
  if (!loaded.rule_set) {
    std::cerr << lodestone::format_diagnostics(loaded.diagnostics);
    return 1;
  }
  lodestone::Scanner scanner(loaded.rule_set);
  lodestone::Post post;
  post.id = "p1";
  post.source = "embed";
  post.add_field("title", "中國稀土出口管制升級");
  for (const lodestone::Alert& alert : scanner.scan(post)) std::cout << lodestone::to_json(alert) << '\n';
  return 0;
}
