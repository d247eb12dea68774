// JSONL and text files → Posts, with simdjson's On-Demand parser on a reused padded buffer.
#include "engine/post_reader.h"

#include <simdjson.h>

#include "util/ids.h"
#include "text/normalizer.h"

namespace lodestone {

struct PostReader::Parser {
  simdjson::ondemand::parser parser;
  std::string repaired;
};

PostReader::PostReader(size_t max_text_bytes) : parser_(std::make_unique<Parser>()), max_text_bytes_(max_text_bytes) {}

PostReader::~PostReader() = default;

namespace {

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

void PostReader::add_text_field(Post& post, std::string_view name, std::string_view text) {
  const size_t room = max_text_bytes_ > text_bytes_ ? max_text_bytes_ - text_bytes_ : 0;
  if (text.size() > room) {
    text = cut_utf8(text, room);
    last_truncated_ = true;
  }
  // Once the limit is reached, later fields stay empty rather than keep a few bytes each.
  text_bytes_ = last_truncated_ ? max_text_bytes_ : text_bytes_ + text.size();
  post.add_field(name, text);
}

LineOutcome PostReader::parse_line(std::string_view line, std::string_view default_source, Post& post,
                                   std::string& error) {
  post.clear();
  last_repaired_ = false;
  last_truncated_ = false;
  text_bytes_ = 0;
  if (is_blank(line)) return LineOutcome::kBlank;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse from a padded copy.
  line_.reserve(line.size() + simdjson::SIMDJSON_PADDING);
  line_.assign(line);
  simdjson::ondemand::document doc;
  auto fail = [&](simdjson::error_code code) {
    error = std::string("not JSON: ") + simdjson::error_message(code);
    ++counts_.not_json;
    return LineOutcome::kNotJson;
  };
  // iterate() validates the UTF-8 of the whole line as it indexes it, so valid lines (nearly all)
  // are read once; a line with invalid UTF-8 is repaired (each bad sequence one U+FFFD) and
  // indexed again.
  auto indexed = parser_->parser.iterate(line_.data(), line_.size(), line_.capacity()).get(doc);
  if (indexed == simdjson::UTF8_ERROR) {
    repair_utf8(line, parser_->repaired);
    line_.reserve(parser_->repaired.size() + simdjson::SIMDJSON_PADDING);
    line_.assign(parser_->repaired);
    last_repaired_ = true;
    indexed = parser_->parser.iterate(line_.data(), line_.size(), line_.capacity()).get(doc);
  }
  if (indexed) return fail(indexed);
  simdjson::ondemand::object object;
  if (auto code = doc.get_object().get(object)) {
    if (code != simdjson::INCORRECT_TYPE) return fail(code);
    // Valid JSON that is not an object, or not JSON at all ("not json" starts like null)? The
    // DOM parser reads the whole line; it allocates, but only for lines that are skipped anyway.
    simdjson::dom::parser dom;
    if (auto valid = dom.parse(line_.data(), line_.size(), false).error()) return fail(valid);
    error = "not a JSON object";
    ++counts_.not_object;
    return LineOutcome::kNotObject;
  }
  bool has_id = false;
  for (auto field : object) {
    std::string_view key;
    if (auto code = field.unescaped_key().get(key)) return fail(code);
    simdjson::ondemand::value value;
    if (auto code = field.value().get(value)) return fail(code);
    simdjson::ondemand::json_type type;
    if (auto code = value.type().get(type)) return fail(code);
    if (type == simdjson::ondemand::json_type::string) {
      std::string_view text;
      if (auto code = value.get_string().get(text)) return fail(code);
      if (key == "id") {
        post.id.assign(text);
        has_id = !text.empty();
      } else if (key == "source") {
        post.source.assign(text);
      } else {
        add_text_field(post, key, text);
      }
    } else if (type == simdjson::ondemand::json_type::number) {
      if (key == "id") {
        std::string_view raw = value.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
        post.id.assign(raw);
        has_id = true;
      } else if (key != "source") {
        // A number is metadata a rule compares (pushes:>=50), never text to scan.
        double number = 0;
        if (auto code = value.get_double().get(number)) return fail(code);
        post.set_number(key, number);
      }
    }
    // Other values (arrays, objects, booleans, null) are not matched; On-Demand skips them.
  }
  // A token after the object ("{...} x") is an error: the document must end with the object.
  if (!doc.current_location().error()) return fail(simdjson::TRAILING_CONTENT);
  if (post.source.empty()) post.source.assign(default_source);
  bool has_text = false;
  for (const auto& f : post.fields()) has_text = has_text || (!is_metadata_field(f.name) && !is_blank(f.text));
  if (!has_text) {
    error = "no text to match (no non-empty string field besides id, source, url, published)";
    ++counts_.no_text;
    return LineOutcome::kNoText;
  }
  if (!has_id) post.id = sha256_hex32({post.source, post.field("url"), post.field("title"), post.field("body")});
  ++counts_.posts;
  counts_.repaired_utf8 += last_repaired_;
  counts_.truncated += last_truncated_;
  return LineOutcome::kPost;
}

void PostReader::text_post(std::string_view path, std::string_view contents, std::string_view source, Post& post) {
  post.clear();
  last_truncated_ = false;
  text_bytes_ = 0;
  last_repaired_ = repair_utf8(contents, parser_->repaired) > 0;
  post.id.assign(path);
  post.source.assign(source);
  add_text_field(post, "body", parser_->repaired);
  ++counts_.posts;
  counts_.repaired_utf8 += last_repaired_;
  counts_.truncated += last_truncated_;
}

}  // namespace lodestone
