// The feed source: RSS/Atom documents to posts with libxml2 (no DTDs, no external entities, no
// network), HTML reduced to text, feed dates to RFC 3339, and conditional polling with libcurl.
#include "util/clock.h"
#include "net/curl_support.h"
#include "sources/feed/feed.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <future>
#include <initializer_list>

#include "sources/libxml_support.h"
#include "util/ascii.h"
#include "util/ids.h"

// The library target does not define the version (only the binary and the notifiers do).

namespace lodestone {
namespace {

constexpr const char* kAtomNs = "http://www.w3.org/2005/Atom";
constexpr const char* kRss1Ns = "http://purl.org/rss/1.0/";
constexpr const char* kRss090Ns = "http://my.netscape.com/rdf/simple/0.9/";
constexpr const char* kRdfNs = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
constexpr const char* kContentNs = "http://purl.org/rss/1.0/modules/content/";
constexpr const char* kDcNs = "http://purl.org/dc/elements/1.1/";
constexpr long kMaxRedirects = 5;

using ascii::equals_ci;
using ascii::is_space;
using ascii::starts_with_ci;
using ascii::trim;
using libxml::as_view;
using libxml::attribute;
using libxml::node_text;

// Every run of white space made one space, and none at either end: titles, names.
std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : trim(s)) {
    if (is_space(c)) {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Plain text kept line by line: each line's white space collapsed, blank lines dropped.
std::string tidy_lines(std::string_view s) {
  std::string out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    std::string line = collapse_spaces(s.substr(start, end - start));
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    start = end + 1;
  }
  return out;
}



// The element's local name is `name` and its namespace one of `namespaces` (nullptr: none).
// An undeclared prefix leaves libxml2 with the whole "dc:creator" as a name and no namespace,
// which `prefixed` catches.
bool is_element(const xmlNode* n, std::initializer_list<const char*> namespaces, std::string_view name,
                std::string_view prefixed = {}) {
  if (n->type != XML_ELEMENT_NODE) return false;
  const std::string_view local = as_view(n->name);
  const std::string_view ns = n->ns ? as_view(n->ns->href) : std::string_view();
  if (!prefixed.empty() && !n->ns && local == prefixed) return true;
  if (local != name) return false;
  for (const char* want : namespaces) {
    if (want == nullptr ? ns.empty() : ns == want) return true;
  }
  return false;
}



// ---- HTML to text ----

bool is_dropped_element(std::string_view name) {
  for (std::string_view d : {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"}) {
    if (equals_ci(name, d)) return true;
  }
  return false;
}

bool is_block_element(std::string_view name) {
  for (std::string_view b : {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
                             "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
                             "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main", "nav",
                             "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
                             "ul"}) {
    if (equals_ci(name, b)) return true;
  }
  return false;
}

// Text as a browser would lay it out, roughly: blocks on lines of their own, inline white space
// collapsed, <pre> kept as written.
class TextBuilder {
 public:
  void text(std::string_view s, bool pre) {
    for (char c : s) {
      if (pre) {
        if (c == '\n') {
          end_line();
        } else {
          flush_space();
          out_ += c;
        }
        continue;
      }
      if (is_space(c)) {
        space_ = !out_.empty() && out_.back() != '\n';
        continue;
      }
      flush_space();
      out_ += c;
    }
  }
  void space() { space_ = !out_.empty() && out_.back() != '\n'; }
  void end_line() {
    space_ = false;
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (!out_.empty() && out_.back() != '\n') out_ += '\n';
  }
  std::string finish() {
    std::string_view t = trim(out_);
    return std::string(t);
  }

 private:
  void flush_space() {
    if (space_) out_ += ' ';
    space_ = false;
  }
  std::string out_;
  bool space_ = false;
};

void walk_html(const xmlNode* n, TextBuilder& out, int pre_depth) {
  for (; n != nullptr; n = n->next) {
    switch (n->type) {
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        out.text(as_view(n->content), pre_depth > 0);
        break;
      case XML_ELEMENT_NODE: {
        const std::string_view name = as_view(n->name);
        if (is_dropped_element(name)) break;
        if (equals_ci(name, "br")) {
          out.end_line();
          break;
        }
        const bool block = is_block_element(name);
        const bool cell = equals_ci(name, "td") || equals_ci(name, "th");
        const bool pre = equals_ci(name, "pre");
        if (block) out.end_line();
        if (cell) out.space();
        walk_html(n->children, out, pre_depth + (pre ? 1 : 0));
        if (block) out.end_line();
        if (cell) out.space();
        break;
      }
      case XML_ENTITY_REF_NODE:
        // An entity of the feed's own DTD inside XHTML content; external ones have no children.
        walk_html(n->children, out, pre_depth);
        break;
      default:
        break;
    }
  }
}

// Body text: HTML when it has markup or a character reference, else plain lines.
std::string body_text(std::string_view s) {
  if (s.find_first_of("<&") != std::string_view::npos) return html_to_text(s);
  return tidy_lines(s);
}

// An Atom text construct (title, summary, content) by its type attribute.
std::string atom_text(const xmlNode* n, bool is_title) {
  const std::string type = attribute(n, "type");
  if (equals_ci(type, "xhtml")) {
    TextBuilder out;
    walk_html(n->children, out, 0);
    return is_title ? collapse_spaces(out.finish()) : out.finish();
  }
  const std::string text = node_text(n);
  if (equals_ci(type, "html") || equals_ci(type, "text/html")) {
    return is_title ? collapse_spaces(html_to_text(text)) : html_to_text(text);
  }
  return is_title ? collapse_spaces(text) : tidy_lines(text);
}

// ---- dates ----

bool read_digits(std::string_view s, size_t at, size_t count, int& value) {
  if (at + count > s.size()) return false;
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  return true;
}

// "2026-01-11T19:08:03.25+08:00": RFC 3339 with its zone (Z or ±hh:mm); a space for the T too.
std::optional<std::time_t> parse_rfc3339(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !read_digits(s, 5, 2, month) || s[7] != '-' ||
      !read_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !read_digits(s, 11, 2, hour) ||
      s[13] != ':' || !read_digits(s, 14, 2, minute) || s[16] != ':' || !read_digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    ++at;
    const size_t digits_start = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    if (at == digits_start) return std::nullopt;
  }
  long offset = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int zh = 0, zm = 0;
    const bool colon = at + 3 < s.size() && s[at + 3] == ':';
    if (!read_digits(s, at + 1, 2, zh) || !read_digits(s, at + (colon ? 4 : 3), 2, zm) || zh > 23 || zm > 59) {
      return std::nullopt;
    }
    offset = (s[at] == '-' ? -1 : 1) * (zh * 3600L + zm * 60L);
    at += colon ? 6 : 5;
  } else {
    return std::nullopt;  // no zone: the instant is unknown, so the text stays as written
  }
  if (at != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  if (tm.tm_mday != day) return std::nullopt;  // 31 February came back as a day of March
  return t - offset;
}

// ---- charsets ----

// The label of the XML declaration's encoding="...", empty when none.
std::string_view declared_encoding(std::string_view doc) {
  if (doc.substr(0, 3) == "\xEF\xBB\xBF") doc.remove_prefix(3);
  if (doc.substr(0, 5) != "<?xml") return {};
  const std::string_view decl = doc.substr(0, doc.find("?>"));
  size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return {};
  at += 8;
  while (at < decl.size() && (is_space(decl[at]) || decl[at] == '=')) ++at;
  if (at >= decl.size() || (decl[at] != '"' && decl[at] != '\'')) return {};
  const char quote = decl[at++];
  const size_t end = decl.find(quote, at);
  if (end == std::string_view::npos) return {};
  return decl.substr(at, end - at);
}

// Labels whose documents often hold characters of a superset: GB2312-labelled Chinese pages are
// GBK in practice (WHATWG decodes both labels as GBK); GB18030 decodes all of them alike.
std::string decoder_for(std::string_view label) {
  for (std::string_view gb : {"gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "csgb2312", "chinese",
                              "gb_2312-80", "gb_2312", "iso-ir-58", "csiso58gb231280", "euc-cn"}) {
    if (equals_ci(label, gb)) return "GB18030";
  }
  return std::string(label);
}

bool libxml_knows(const std::string& encoding) {
  xmlCharEncodingHandlerPtr handler = xmlFindCharEncodingHandler(encoding.c_str());
  if (!handler) return false;
  xmlCharEncCloseFunc(handler);
  return true;
}

// The charset parameter of a Content-Type value, unquoted; empty when none.
std::string content_type_charset(std::string_view content_type) {
  size_t at = 0;
  while ((at = content_type.find(';', at)) != std::string_view::npos) {
    ++at;
    std::string_view param = trim(content_type.substr(at, content_type.find(';', at) - at));
    if (!starts_with_ci(param, "charset")) continue;
    param = trim(param.substr(7));
    if (param.empty() || param.front() != '=') continue;
    param = trim(param.substr(1));
    if (param.size() >= 2 && param.front() == '"' && param.back() == '"') param = param.substr(1, param.size() - 2);
    return std::string(param);
  }
  return {};
}

// ---- feed documents ----

struct ParseError {
  std::string first_fatal;  // the first error that stopped the parse, with its line
  std::string first;        // the first error of any kind (a namespace error does not stop it)
};

void on_xml_error(void* user, xmlErrorPtr e) {
  // `user` is the parser context (its userData); the context's _private holds our record.
  auto* ctxt = static_cast<xmlParserCtxtPtr>(user);
  if (!ctxt || !ctxt->_private || !e || e->level < XML_ERR_ERROR) return;
  auto* record = static_cast<ParseError*>(ctxt->_private);
  std::string& slot = e->level == XML_ERR_FATAL ? record->first_fatal : record->first;
  if (!slot.empty()) return;
  slot = "line " + std::to_string(e->line) + ": " + collapse_spaces(e->message ? e->message : "error");
}

struct ItemFields {
  std::string id, title, body, url, published, author;
};

void add_post(ItemFields f, std::string_view source, std::vector<Post>& posts, FeedParseCounts& counts) {
  ++counts.items;
  if (f.title.empty() && f.body.empty()) {
    ++counts.skipped;
    return;
  }
  Post& post = posts.emplace_back();
  post.source.assign(source);
  post.id = std::move(f.id);
  if (post.id.empty()) post.id = f.url;
  if (post.id.empty()) post.id = sha256_hex32({source, "", f.title, f.body});
  if (!f.published.empty()) {
    if (std::optional<std::string> utc = feed_date_to_rfc3339(f.published)) f.published = *utc;
  }
  for (auto [name, text] : {std::pair<std::string_view, const std::string*>{"title", &f.title},
                            {"body", &f.body},
                            {"url", &f.url},
                            {"published", &f.published},
                            {"author", &f.author}}) {
    if (!text->empty()) post.add_field(name, *text);
  }
}

// An RSS 2.0, 1.0 or 0.9x <item>.
void read_rss_item(const xmlNode* item, std::string_view source, std::vector<Post>& posts,
                   FeedParseCounts& counts) {
  ItemFields f;
  std::string description, encoded, dc_date, dc_creator;
  const std::initializer_list<const char*> rss = {nullptr, kRss1Ns, kRss090Ns};
  for (const xmlNode* n = item->children; n; n = n->next) {
    if (is_element(n, rss, "title")) {
      f.title = collapse_spaces(node_text(n));
    } else if (is_element(n, rss, "link")) {
      f.url = std::string(trim(node_text(n)));
    } else if (is_element(n, rss, "guid")) {
      f.id = std::string(trim(node_text(n)));
    } else if (is_element(n, rss, "description")) {
      description = node_text(n);
    } else if (is_element(n, {kContentNs}, "encoded", "content:encoded")) {
      encoded = node_text(n);
    } else if (is_element(n, rss, "pubDate")) {
      f.published = std::string(trim(node_text(n)));
    } else if (is_element(n, {kDcNs}, "date", "dc:date")) {
      dc_date = std::string(trim(node_text(n)));
    } else if (is_element(n, rss, "author")) {
      f.author = collapse_spaces(node_text(n));
    } else if (is_element(n, {kDcNs}, "creator", "dc:creator")) {
      dc_creator = collapse_spaces(node_text(n));
    }
  }
  f.body = body_text(encoded);
  if (f.body.empty()) f.body = body_text(description);
  if (f.published.empty()) f.published = std::move(dc_date);
  if (f.author.empty()) f.author = std::move(dc_creator);
  // RSS 1.0 names each item by its rdf:about, the item's URI.
  if (f.id.empty()) {
    xmlChar* about = xmlGetNsProp(item, reinterpret_cast<const xmlChar*>("about"),
                                  reinterpret_cast<const xmlChar*>(kRdfNs));
    f.id = std::string(trim(as_view(about)));
    xmlFree(about);
  }
  add_post(std::move(f), source, posts, counts);
}

std::string atom_author(const xmlNode* author) {
  std::string email;
  for (const xmlNode* n = author->children; n; n = n->next) {
    if (is_element(n, {kAtomNs}, "name")) return collapse_spaces(node_text(n));
    if (is_element(n, {kAtomNs}, "email")) email = collapse_spaces(node_text(n));
  }
  return email;
}

void read_atom_entry(const xmlNode* entry, std::string_view feed_author, std::string_view source,
                     std::vector<Post>& posts, FeedParseCounts& counts) {
  ItemFields f;
  std::string content, summary, updated, first_href;
  bool have_alternate = false;
  for (const xmlNode* n = entry->children; n; n = n->next) {
    if (is_element(n, {kAtomNs}, "title")) {
      f.title = atom_text(n, true);
    } else if (is_element(n, {kAtomNs}, "id")) {
      f.id = std::string(trim(node_text(n)));
    } else if (is_element(n, {kAtomNs}, "link")) {
      const std::string href(trim(attribute(n, "href")));
      const std::string rel = attribute(n, "rel");
      if (href.empty()) continue;
      if (first_href.empty()) first_href = href;
      if (!have_alternate && (rel.empty() || rel == "alternate")) {
        f.url = href;
        have_alternate = true;
      }
    } else if (is_element(n, {kAtomNs}, "content")) {
      // Content given by src="..." lives elsewhere: the summary stands for it.
      if (attribute(n, "src").empty()) content = atom_text(n, false);
    } else if (is_element(n, {kAtomNs}, "summary")) {
      summary = atom_text(n, false);
    } else if (is_element(n, {kAtomNs}, "published")) {
      f.published = std::string(trim(node_text(n)));
    } else if (is_element(n, {kAtomNs}, "updated")) {
      updated = std::string(trim(node_text(n)));
    } else if (is_element(n, {kAtomNs}, "author") && f.author.empty()) {
      f.author = atom_author(n);
    }
  }
  if (f.url.empty()) f.url = first_href;
  f.body = content.empty() ? std::move(summary) : std::move(content);
  if (f.published.empty()) f.published = std::move(updated);
  if (f.author.empty()) f.author = std::string(feed_author);
  add_post(std::move(f), source, posts, counts);
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

// Headers the source sets itself: a configured one would be sent twice or defeat the cache.
bool is_reserved_header(std::string_view name) {
  for (std::string_view r : {"if-none-match", "if-modified-since", "accept-encoding", "user-agent"}) {
    if (equals_ci(name, r)) return true;
  }
  return false;
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

// ---- public helpers ----

std::string html_to_text(std::string_view html) {
  if (trim(html).empty()) return {};
  libxml::init_once();
  if (html.size() > static_cast<size_t>(INT_MAX)) return {};
  std::unique_ptr<xmlDoc, DocFree> doc(htmlReadMemory(
      html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
      HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD));
  if (!doc) return tidy_lines(html);
  TextBuilder out;
  walk_html(doc->children, out, 0);
  return out.finish();
}

std::optional<std::string> feed_date_to_rfc3339(std::string_view date) {
  date = trim(date);
  if (date.empty()) return std::nullopt;
  if (std::optional<std::time_t> t = parse_rfc3339(date)) return rfc3339_utc(*t);
  // RFC 822 names its month in letters; curl_getdate also reads looser forms, which a date
  // without a letter ("2018-09-18 14:38:10", zone unknown) must not pass for.
  const bool has_letter =
      std::any_of(date.begin(), date.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
  const bool has_digit = std::any_of(date.begin(), date.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!has_letter || !has_digit) return std::nullopt;
  const std::time_t t = curl_getdate(std::string(date).c_str(), nullptr);
  if (t == -1) return std::nullopt;
  std::string out = rfc3339_utc(t);
  if (out.empty()) return std::nullopt;
  return out;
}

Result<std::vector<Post>> parse_feed(std::string_view body, std::string_view http_charset, std::string_view source,
                                     FeedParseCounts* counts_out) {
  libxml::init_once();
  FeedParseCounts counts;
  if (counts_out) *counts_out = counts;
  if (body.size() > static_cast<size_t>(INT_MAX)) return Failure{"the document is too large to parse"};
  // The HTTP charset wins; a label libxml2 does not know is ignored rather than fatal.
  std::string encoding = decoder_for(trim(http_charset));
  if (!encoding.empty() && !libxml_knows(encoding)) encoding.clear();
  if (encoding.empty()) {
    const std::string declared = decoder_for(declared_encoding(body));
    if (!declared.empty() && !equals_ci(declared, declared_encoding(body)) && libxml_knows(declared)) {
      encoding = declared;
    }
  }

  std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt) return Failure{"libxml2 could not make a parser"};
  ParseError record;
  // Per call, not global: the record is reached through this context only.
  ctxt->_private = &record;
  ctxt->sax->serror = &on_xml_error;
  // No XML_PARSE_NOENT (entities stay references: an external one is never read), no
  // XML_PARSE_DTDLOAD (no external DTD), NONET as a second lock; no recovery: a broken document
  // is an error for this poll.
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  if (!encoding.empty()) options |= XML_PARSE_IGNORE_ENC;
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(ctxt.get(), body.data(), static_cast<int>(body.size()),
                                                         nullptr, encoding.empty() ? nullptr : encoding.c_str(),
                                                         options));
  if (!doc || !ctxt->wellFormed) {
    if (!record.first_fatal.empty()) record.first = record.first_fatal;
    if (record.first.empty()) {
      const xmlError* last = xmlCtxtGetLastError(ctxt.get());
      record.first = last && last->message
                         ? "line " + std::to_string(last->line) + ": " + collapse_spaces(last->message)
                         : "the document is not well-formed XML";
    }
    return Failure{record.first};
  }

  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root) return Failure{"the document has no root element"};
  std::vector<Post> found;
  const std::string_view root_name = as_view(root->name);
  if (is_element(root, {nullptr}, "rss")) {
    for (const xmlNode* c = root->children; c; c = c->next) {
      if (is_element(c, {nullptr}, "channel")) {
        for (const xmlNode* n = c->children; n; n = n->next) {
          if (is_element(n, {nullptr}, "item")) read_rss_item(n, source, found, counts);
        }
      } else if (is_element(c, {nullptr}, "item")) {
        read_rss_item(c, source, found, counts);  // RSS 0.9x style: items beside the channel
      }
    }
  } else if (is_element(root, {kRdfNs}, "RDF")) {
    for (const xmlNode* n = root->children; n; n = n->next) {
      if (is_element(n, {kRss1Ns, kRss090Ns}, "item")) read_rss_item(n, source, found, counts);
    }
  } else if (is_element(root, {kAtomNs}, "feed")) {
    std::string feed_author;
    for (const xmlNode* n = root->children; n; n = n->next) {
      if (is_element(n, {kAtomNs}, "author")) {
        feed_author = atom_author(n);
        break;
      }
    }
    for (const xmlNode* n = root->children; n; n = n->next) {
      if (is_element(n, {kAtomNs}, "entry")) read_atom_entry(n, feed_author, source, found, counts);
    }
  } else {
    return Failure{"line " + std::to_string(xmlGetLineNo(root)) + ": not an RSS or Atom feed (the root element is <" +
                   std::string(root_name) + ">)"};
  }
  if (counts_out) *counts_out = counts;
  return found;
}


namespace {

// Why the options cannot work, or empty.
std::string why_invalid(const FeedOptions& o) {
  if (o.name.empty()) return "a feed needs a name";
  const std::string who = "feed \"" + o.name + "\": ";
  std::optional<UrlParts> url = split_url(o.url);
  if (o.url.empty()) return who + "url is missing";
  if (!url) return who + "url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "url must start with http:// or https://";
  if (url->host.empty()) return who + "url has no host";
  if (!(o.interval > 0) || !std::isfinite(o.interval)) return who + "interval must be a positive number of seconds";
  if (!(o.jitter >= 0 && o.jitter < 1)) return who + "jitter must be at least 0 and below 1";
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (o.max_bytes == 0) return who + "max_bytes must be positive";
  if (!(o.max_backoff > 0) || !std::isfinite(o.max_backoff)) {
    return who + "max_backoff must be a positive number of seconds";
  }
  if (o.user_agent.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return who + "user_agent has a line break or NUL";
  }
  for (const auto& [name, value] : o.headers) {
    if (!is_header_name(name)) return who + "\"" + name + "\" is not a valid HTTP header name";
    if (is_reserved_header(name)) return who + "header \"" + name + "\" is set by the feed source itself";
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return who + "header \"" + name + "\" has a line break or NUL in its value";
    }
  }
  return {};
}

}  // namespace

Result<void> check_feed_options(const FeedOptions& o) {
  if (std::string why = why_invalid(o); !why.empty()) return Failure{why};
  return {};
}

double feed_wait_seconds(const FeedOptions& o, int errors, double random01) {
  double wait = o.interval;
  if (errors > 0) {
    // 2^errors past 62 is no different from the cap, and ldexp of a huge count would overflow.
    wait = std::min(std::ldexp(o.interval, std::min(errors, 62)), o.max_backoff);
    wait = std::max(wait, o.interval);
  }
  random01 = std::clamp(random01, 0.0, 1.0);
  return wait * (1 + o.jitter * (2 * random01 - 1));
}

// ---- the source ----

// One libcurl handle, reused so a keep-alive connection survives between polls, and what its
// callbacks collect during one transfer.
struct FeedSource::Http {
  CURL* curl = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  size_t max_bytes = 0;
  const std::atomic<bool>* stopping = nullptr;
  std::string body;
  bool too_big = false;
  std::string etag, last_modified;

  ~Http() {
    if (curl) curl_easy_cleanup(curl);
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Http*>(user);
    const std::string_view line(data, size * count);
    // A redirect's validators are not the feed's: each new status line starts afresh.
    if (starts_with_ci(line, "HTTP/")) {
      self->etag.clear();
      self->last_modified.clear();
    } else if (starts_with_ci(line, "etag:")) {
      self->etag = trim(line.substr(5));
    } else if (starts_with_ci(line, "last-modified:")) {
      self->last_modified = trim(line.substr(14));
    }
    return size * count;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Http*>(user);
    const size_t n = size * count;
    // The cap counts decoded bytes, so a small gzip bomb is stopped as well as a big body.
    if (self->body.size() + n > self->max_bytes) {
      self->too_big = true;
      return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    self->body.append(data, n);
    return n;
  }

  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* self = static_cast<Http*>(user);
    return self->stopping->load() ? 1 : 0;
  }
};

FeedSource::FeedSource(FeedOptions options, Store& store)
    : options_(std::move(options)), store_(store), random_(std::random_device{}()) {
  invalid_ = why_invalid(options_);
  if (!invalid_.empty()) return;
  const UrlParts url = *split_url(options_.url);
  shown_url_ = url.scheme + "://" + url.host + (url.port.empty() ? "" : ":" + url.port) + url.path;
  hidden_ = url.hidden;
  if (options_.user_agent.empty()) options_.user_agent = "lodestone/" LODESTONE_VERSION;

  curl_global_once();
  libxml::init_once();
  http_ = std::make_unique<Http>();
  http_->curl = curl_easy_init();
  if (!http_->curl) {
    invalid_ = "feed \"" + options_.name + "\": libcurl could not make a handle";
    return;
  }
  http_->max_bytes = options_.max_bytes;
  http_->stopping = &stopping_;
  CURL* c = http_->curl;
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  set_http_defaults(c, options_.timeout, kMaxRedirects);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode
  curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http_->error_buffer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Http::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, http_.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Http::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, http_.get());
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Http::on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, http_.get());
}

FeedSource::~FeedSource() = default;

const std::string& FeedSource::name() const { return options_.name; }

PollResult FeedSource::failed(PollResult result, std::string why) {
  ++errors_;
  result.outcome = PollResult::Outcome::kFailed;
  result.error = "feed \"" + options_.name + "\" (" + shown_url_ + "): " + why;
  spdlog::warn("{}", result.error);
  return result;
}

PollResult FeedSource::poll_once(PostSink& sink) {
  PollResult result;
  if (!invalid_.empty()) {
    result.error = invalid_;
    return result;
  }
  if (stopping_) {
    result.outcome = PollResult::Outcome::kStopped;
    return result;
  }
  const std::string& name = options_.name;

  // Validators count only for the URL they were given for: a changed URL starts afresh.
  std::string etag, last_modified;
  try {
    if (store_.get_state(name, "url").value_or("") == options_.url) {
      etag = store_.get_state(name, "etag").value_or("");
      last_modified = store_.get_state(name, "last_modified").value_or("");
    }
  } catch (const StoreError& e) {
    spdlog::warn("feed \"{}\" ({}): reading its ETag from the store: {}", name, shown_url_, e.what());
  }

  std::vector<std::string> lines = {
      "Accept: application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
      "text/xml;q=0.9, */*;q=0.8"};
  if (!etag.empty()) lines.push_back("If-None-Match: " + etag);
  if (!last_modified.empty()) lines.push_back("If-Modified-Since: " + last_modified);
  for (const auto& [header, value] : options_.headers) {
    // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
    lines.push_back(value.empty() ? header + ";" : header + ": " + value);
  }
  curl_slist* headers = nullptr;
  for (const auto& line : lines) {
    curl_slist* next = curl_slist_append(headers, line.c_str());
    if (!next) {
      curl_slist_free_all(headers);
      return failed(std::move(result), "out of memory");
    }
    headers = next;
  }

  Http& http = *http_;
  http.body.clear();
  http.too_big = false;
  http.etag.clear();
  http.last_modified.clear();
  http.error_buffer[0] = '\0';
  CURL* c = http.curl;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);

  if (code != CURLE_OK) {
    if (code == CURLE_ABORTED_BY_CALLBACK && stopping_) {
      result.outcome = PollResult::Outcome::kStopped;
      return result;
    }
    if (http.too_big) {
      return failed(std::move(result), "the body is larger than max_bytes (" + std::to_string(options_.max_bytes) +
                                           " bytes); not parsed");
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return failed(std::move(result), "no complete answer within the timeout (" + format_seconds(options_.timeout) +
                                           " s)");
    }
    // libcurl's message may quote the URL; one holding a secret is replaced by the bare reason.
    std::string message = http.error_buffer[0] ? http.error_buffer : curl_easy_strerror(code);
    for (const auto& h : hidden_) {
      if (message.find(h) != std::string::npos) {
        message = curl_easy_strerror(code);
        break;
      }
    }
    return failed(std::move(result), message);
  }
  if (status == 304) {
    errors_ = 0;
    result.outcome = PollResult::Outcome::kNotModified;
    return result;
  }
  if (status < 200 || status > 299) return failed(std::move(result), "HTTP " + std::to_string(status));

  char* content_type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type);
  const std::string charset = content_type ? content_type_charset(content_type) : std::string();

  FeedParseCounts counts;
  Result<std::vector<Post>> parsed = parse_feed(http.body, charset, name, &counts);
  if (!parsed) return failed(std::move(result), "the feed does not parse: " + parsed.error());
  std::vector<Post> posts = std::move(*parsed);
  result.skipped = counts.skipped;
  if (counts.skipped > 0) {
    sink.count_rejected(name, counts.skipped);
    spdlog::warn("feed \"{}\" ({}): {} of {} items have no title and no text; skipped", name, shown_url_,
                 counts.skipped, counts.items);
  }

  if (!posts.empty()) {
    result.posts = posts.size();
    std::optional<std::future<BatchReceipt>> future = sink.submit(posts, PostSink::WhenFull::kWait);
    if (!future) {
      result.outcome = PollResult::Outcome::kStopped;
      return result;
    }
    BatchReceipt receipt;
    try {
      receipt = future->get();
    } catch (const std::exception& e) {
      receipt.error = e.what();
    }
    if (!receipt.committed) {
      return failed(std::move(result), "the batch of " + std::to_string(result.posts) +
                                           " posts was not committed: " +
                                           (receipt.error.empty() ? std::string("no reason given") : receipt.error));
    }
    result.new_posts = receipt.new_posts;
  }

  // Only now, with the posts in the store, may the next poll ask "changed since this?".
  try {
    const int64_t now_ms = system_now_ms();
    store_.set_state(name, "url", options_.url, now_ms);
    store_.set_state(name, "etag", http.etag, now_ms);
    store_.set_state(name, "last_modified", http.last_modified, now_ms);
  } catch (const StoreError& e) {
    return failed(std::move(result), std::string("storing its ETag: ") + e.what());
  }
  errors_ = 0;
  result.outcome = PollResult::Outcome::kPosts;
  return result;
}

Result<void> FeedSource::run(PostSink& sink) {
  if (!invalid_.empty()) return Failure{invalid_};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!stopping_) {
    if (poll_once(sink).outcome == PollResult::Outcome::kStopped) break;
    const double wait = feed_wait_seconds(options_, errors_, uniform(random_));
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::duration<double>(wait), [this] { return stopping_.load(); });
  }
  return {};
}

void FeedSource::stop() {
  {
    // Under the lock, so a run() between its check and its wait cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

}  // namespace lodestone
