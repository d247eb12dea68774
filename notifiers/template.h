// Mustache templates for notifier bodies (webhook `template` format, email text): a file loaded
// once, rendered with an alert's JSON as the context. Render from one thread at a time per Template.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone {

// How `{{name}}` escapes what it inserts (`{{{name}}}` and `{{& name}}` never escape):
// - kJson: for webhook templates, whose bodies are JSON: the text is made safe inside a JSON
//   string ("\" \\ and control characters escaped, invalid UTF-8 replaced), so write `"{{post.title}}"`.
// - kHtml: mustache's own HTML escaping (& < > " ' and more); for HTML mail.
// - kNone: inserted as is; for the text part of a mail.
enum class TemplateEscape { kJson, kHtml, kNone };

class Template {
 public:
  // Reads and parses `path`. Throws std::runtime_error "<path>: <reason>" when the file cannot be
  // read or mustache cannot parse it (its own message, e.g. "Unclosed section \"x\" at 12").
  static Template load(const std::string& path);
  // The same from text in memory; `origin` names it in errors.
  static Template parse(const std::string& text, const std::string& origin);

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  // The template rendered with `context_json` (an alert as docs/design.md, "Alerts" shows it) as its
  // context: objects are mustache objects, arrays lists, strings, numbers and booleans text
  // (true/false), null is false. Throws std::runtime_error when the JSON does not parse.
  std::string render(const std::string& context_json, TemplateEscape escape) const;

 private:
  struct Impl;
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `text` made safe to stand between the quotes of a JSON string, without those quotes.
std::string json_string_escape(const std::string& text);

// The escaping a template body gets from its Content-Type (parameters such as "; charset=utf-8"
// and case ignored): kJson for application/json and every "+json" type, kHtml for text/html and
// the XML types (application/xml, text/xml, "+xml"), kNone for anything else (text/plain).
TemplateEscape escape_for_content_type(std::string_view content_type);

// A tag that puts post text into the output unescaped: `{{{post.title}}}` or `{{& post.title}}`
// naming a post field, or a match's `text` or `snippet`. Line and column count from 1 (columns
// in bytes), at the tag's first brace.
struct UnescapedTag {
  uint32_t line = 0;
  uint32_t column = 0;
  std::string tag;   // as written: "{{{post.title}}}"
  std::string name;  // "post.title"
};
// Every such tag in `text`, in order. Only the standard {{ }} delimiters are read.
std::vector<UnescapedTag> unescaped_post_tags(std::string_view text);

}  // namespace lodestone
