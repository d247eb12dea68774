// Post: field access and buffer reuse.
#include "lodestone/post.h"

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

void Post::clear() {
  id.clear();
  source.clear();
  used_ = 0;
}

bool is_metadata_field(std::string_view name) {
  return name == "id" || name == "source" || name == "url" || name == "published";
}

}  // namespace lodestone
