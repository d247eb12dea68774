// Reading posts: one JSONL line or one text file → Post, with bad input counted, never fatal.
// A PostReader keeps its parser and buffers between calls; one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lodestone/post.h"

namespace lodestone {

enum class LineOutcome {
  kPost,       // `post` holds the line's post
  kBlank,      // an empty or all-white-space line, skipped silently
  kNotJson,    // `error` says why
  kNotObject,  // valid JSON, but not an object
  kNoText,     // an object with no non-empty string field to match
};

// What a reader has seen, for the summary line and /metrics.
struct ReadCounts {
  uint64_t posts = 0;
  uint64_t not_json = 0;
  uint64_t not_object = 0;
  uint64_t no_text = 0;
  uint64_t repaired_utf8 = 0;  // posts with invalid UTF-8 replaced by U+FFFD
  uint64_t truncated = 0;      // posts whose text passed the size limit
};

class PostReader {
 public:
  explicit PostReader(size_t max_text_bytes = size_t{1} << 20);
  ~PostReader();
  PostReader(const PostReader&) = delete;
  PostReader& operator=(const PostReader&) = delete;

  // Parses one JSONL line. String fields other than id and source become post fields; a number
  // id is taken as written, other numbers become the post's numbers (Post::numbers); other values
  // (arrays, objects, booleans, null) are ignored. A post without
  // `id` gets one from a hash of its source, url, title and body. `default_source` fills a
  // missing source. Text past the limit is cut at a character boundary (counted in `truncated`).
  LineOutcome parse_line(std::string_view line, std::string_view default_source, Post& post, std::string& error);

  // A plain text file is one post: id = its path, body = its contents.
  void text_post(std::string_view path, std::string_view contents, std::string_view source, Post& post);

  const ReadCounts& counts() const { return counts_; }
  // Whether the last post had its UTF-8 repaired / its text truncated (for a warning naming it).
  bool last_repaired() const { return last_repaired_; }
  bool last_truncated() const { return last_truncated_; }

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
  size_t max_text_bytes_;
  size_t text_bytes_ = 0;
  ReadCounts counts_;
  bool last_repaired_ = false;
  bool last_truncated_ = false;
  std::string line_;  // the padded, repaired copy of the current line

  void add_text_field(Post& post, std::string_view name, std::string_view text);
};

}  // namespace lodestone
