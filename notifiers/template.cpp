// Mustache templates over kainjow::mustache: loading with errors that name the file, alert JSON
// turned into mustache data, and the three escapings (JSON, HTML, none).
#include "notifiers/template.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

namespace lodestone {
namespace {

using Data = kainjow::mustache::data;

std::string number_text(const nlohmann::json& j) {
  return j.dump();  // integers as written, floats in the shortest form that reads back the same
}

Data to_data(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      Data d{Data::type::object};
      for (const auto& [key, value] : j.items()) d.set(key, to_data(value));
      return d;
    }
    case nlohmann::json::value_t::array: {
      Data d{Data::type::list};
      for (const auto& value : j) d.push_back(to_data(value));
      return d;
    }
    case nlohmann::json::value_t::string:
      return Data{j.get_ref<const std::string&>()};
    case nlohmann::json::value_t::boolean:
      return Data{std::string(j.get<bool>() ? "true" : "false")};
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return Data{false};
    default:
      return Data{number_text(j)};
  }
}

}  // namespace

std::string json_string_escape(const std::string& text) {
  // nlohmann writes a valid JSON string (invalid UTF-8 replaced by U+FFFD); the quotes come off.
  const std::string quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

struct Template::Impl {
  explicit Impl(const std::string& text) : mustache(text) {}
  // kainjow's render() is not const; one Template renders from one thread at a time.
  kainjow::mustache::mustache mustache;
};

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Template Template::parse(const std::string& text, const std::string& origin) {
  auto impl = std::make_unique<Impl>(text);
  if (!impl->mustache.is_valid()) {
    throw std::runtime_error(origin + ": not a valid mustache template: " + impl->mustache.error_message());
  }
  return Template(std::move(impl));
}

Template Template::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the template");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": cannot read the template");
  return parse(text.str(), path);
}

std::string Template::render(const std::string& context_json, TemplateEscape escape) const {
  nlohmann::json j = nlohmann::json::parse(context_json, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("the template context is not valid JSON");
  auto& m = impl_->mustache;
  switch (escape) {
    case TemplateEscape::kJson:
      m.set_custom_escape([](const std::string& s) { return json_string_escape(s); });
      break;
    case TemplateEscape::kHtml:
      m.set_custom_escape([](const std::string& s) { return kainjow::mustache::html_escape<std::string>(s); });
      break;
    case TemplateEscape::kNone:
      m.set_custom_escape([](const std::string& s) { return s; });
      break;
  }
  return m.render(to_data(j));
}

namespace {

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool names_post_text(std::string_view name) {
  return name == "post" || name.substr(0, 5) == "post." || name == "text" || name == "snippet" ||
         name == "matches.text" || name == "matches.snippet";
}

}  // namespace

TemplateEscape escape_for_content_type(std::string_view content_type) {
  std::string type(trim_ws(content_type.substr(0, content_type.find(';'))));
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const auto ends_with = [&type](std::string_view suffix) {
    return type.size() >= suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (type == "application/json" || ends_with("+json")) return TemplateEscape::kJson;
  if (type == "text/html" || type == "application/xhtml+xml" || type == "application/xml" || type == "text/xml" ||
      ends_with("+xml")) {
    return TemplateEscape::kHtml;
  }
  return TemplateEscape::kNone;
}

std::vector<UnescapedTag> unescaped_post_tags(std::string_view text) {
  std::vector<UnescapedTag> out;
  uint32_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
      continue;
    }
    if (text[i] != '{' || text[i + 1] != '{') continue;
    const bool triple = i + 2 < text.size() && text[i + 2] == '{';
    const size_t open = triple ? 3 : 2;
    const std::string_view close = triple ? "}}}" : "}}";
    const size_t end = text.find(close, i + open);
    if (end == std::string_view::npos) break;
    std::string_view inside = text.substr(i + open, end - i - open);
    bool unescaped = triple;
    if (!triple) {
      inside = trim_ws(inside);
      unescaped = !inside.empty() && inside.front() == '&';
      if (unescaped) inside.remove_prefix(1);
    }
    const std::string_view name = trim_ws(inside);
    if (unescaped && names_post_text(name)) {
      out.push_back({line, static_cast<uint32_t>(i - line_start + 1), std::string(text.substr(i, end + close.size() - i)),
                     std::string(name)});
    }
    i = end + close.size() - 1;
  }
  return out;
}

}  // namespace lodestone
