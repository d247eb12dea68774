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
    std::vector<lodestone::Post> posts;
    std::string error;
    if (!lodestone::parse_feed(body, charset, "fuzz", posts, error) && error.empty()) std::abort();
    for (const auto& post : posts) {
      if (post.id.empty()) std::abort();
      for (const auto& field : post.fields()) {
        std::string repaired;
        if (lodestone::repair_utf8(field.text, repaired) != 0) std::abort();  // valid UTF-8 only
      }
    }
  }
  return 0;
}
