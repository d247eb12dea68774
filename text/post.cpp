// Post: field access and buffer reuse.
#include "lodestone/post.h"

#include <cmath>

namespace lodestone {

std::string_view Post::field(std::string_view name) const {
  for (const auto& f : fields()) {
    if (f.name == name) return f.text;
  }
  return {};
}

PostField& Post::add_field(std::string_view name, std::string_view text) {
  for (size_t i = 0; i < used_; ++i) {
    if (fields_[i].name == name) {  // a repeated key: the last one wins, as in most JSON readers
      fields_[i].text.assign(text);
      return fields_[i];
    }
  }
  if (used_ == fields_.size()) fields_.emplace_back();
  PostField& f = fields_[used_++];
  f.name.assign(name);
  f.text.assign(text);
  return f;
}

std::optional<double> Post::number(std::string_view name) const {
  for (const auto& n : numbers()) {
    if (n.name == name) return n.value;
  }
  return std::nullopt;
}

void Post::set_number(std::string_view name, double value) {
  for (size_t i = 0; i < numbers_used_; ++i) {
    if (numbers_[i].name == name) {
      numbers_[i].value = value;
      return;
    }
  }
  if (numbers_used_ == numbers_.size()) numbers_.emplace_back();
  PostNumber& n = numbers_[numbers_used_++];
  n.name.assign(name);
  n.value = value;
}

void Post::clear() {
  id.clear();
  source.clear();
  used_ = 0;
  numbers_used_ = 0;
}

std::optional<long long> whole_number(double value) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (!(value > -kExact && value < kExact) || std::trunc(value) != value) return std::nullopt;
  return static_cast<long long>(value);
}

std::span<const std::string_view> standard_field_names() {
  // Feeds: title, body, url, published, author. PTT boards: also nickname, board, comments and
  // the numbers push, boo, neutral, pushes.
  static constexpr std::string_view kNames[] = {"title",    "body",  "author", "nickname", "board", "comments",
                                                "url",      "published", "push", "boo",    "neutral", "pushes"};
  return kNames;
}

bool is_metadata_field(std::string_view name) {
  return name == "id" || name == "source" || name == "url" || name == "published";
}

}  // namespace lodestone
