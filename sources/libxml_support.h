// The libxml2 pieces the feed and ptt sources share: set-up once, and a node's text and
// attributes as std::string. Header-only, so a build without those kinds needs no libxml2.
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <mutex>
#include <string>
#include <string_view>

namespace lodestone::libxml {

// libxml2 sets up its globals (and its thread-local error state) once, before any thread parses.
inline void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

inline std::string_view as_view(const xmlChar* s) {
  return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

inline std::string node_text(const xmlNode* n) {
  xmlChar* content = xmlNodeGetContent(n);
  std::string text(as_view(content));
  xmlFree(content);
  return text;
}

inline std::string attribute(const xmlNode* n, const char* name) {
  xmlChar* value = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string text(as_view(value));
  xmlFree(value);
  return text;
}

}  // namespace lodestone::libxml
