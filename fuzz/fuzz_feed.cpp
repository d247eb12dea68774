// Fuzzes the feed parser: any bytes as an RSS/Atom document, with and without an HTTP charset,
// must give posts or an error, never a crash, and every post must carry an id and valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "text/normalizer.h"
#include "sources/feed/feed.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const char* charset : {"", "big5"}) {
    const lodestone::Result<std::vector<lodestone::Post>> parsed = lodestone::parse_feed(body, charset, "fuzz");
    if (!parsed) {
      if (parsed.error().empty()) std::abort();  // a failure always says why
      continue;
    }
    for (const auto& post : *parsed) {
      if (post.id.empty()) std::abort();
      for (const auto& field : post.fields()) {
        std::string repaired;
        if (lodestone::repair_utf8(field.text, repaired) != 0) std::abort();  // valid UTF-8 only
      }
    }
  }
  return 0;
}
