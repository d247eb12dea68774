// Post: one document to match (a news item, a forum post, a text file), as sources deliver it.
// A plain value; a scanner reads it without keeping it, so one thread may refill one Post per line.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone {

// One string field of a post, by its name in the input ("title", "body", "author", ...).
struct PostField {
  std::string name;
  std::string text;  // UTF-8; readers repair invalid sequences before a post reaches a scanner
};

// One number of a post's metadata ("pushes": 51): what a rule's comparison (`pushes:>=50`) reads.
// Numbers are not text: they are never scanned for terms.
struct PostNumber {
  std::string name;
  double value = 0;
};

class Post {
 public:
  std::string id;
  std::string source;

  // The fields in input order; `id` and `source` are not among them.
  std::span<const PostField> fields() const { return {fields_.data(), used_}; }
  // The text of field `name`, or an empty view when the post has none.
  std::string_view field(std::string_view name) const;
  // Appends a field, reusing a buffer left by clear(), so refilling a Post does not allocate.
  // A field of the same name is replaced instead: field names are unique in a post.
  PostField& add_field(std::string_view name, std::string_view text);
  // The numbers in input order, and one by name (nullopt when the post has none of that name).
  std::span<const PostNumber> numbers() const { return {numbers_.data(), numbers_used_}; }
  std::optional<double> number(std::string_view name) const;
  // Sets a number, replacing one of the same name; reuses a buffer left by clear().
  void set_number(std::string_view name, double value);

  // Empties the post but keeps every buffer's capacity.
  void clear();

 private:
  std::vector<PostField> fields_;  // [0, used_) are live; the rest are spare buffers
  size_t used_ = 0;
  std::vector<PostNumber> numbers_;  // [0, numbers_used_) are live, as fields_
  size_t numbers_used_ = 0;
};

// The number as an integer when it is a whole one that a double holds exactly (|v| < 2^53), so
// that JSON written from a post says 51 where its input said 51, not 51.0; else nullopt.
std::optional<long long> whole_number(double value);

// The names the built-in sources give their fields and numbers (title, body, author, comments,
// pushes, ...): what `check` knows a rule may name without a warning.
std::span<const std::string_view> standard_field_names();

// Fields that describe a post rather than hold its text: id, source, url, published.
// They are matched only where a rule names them (fields = ["url"] or url:term); every other
// string field is text and is matched by default.
bool is_metadata_field(std::string_view name);

}  // namespace lodestone
