// The ptt source: PTT's index and article pages to entries and posts with libxml2's HTML parser
// and XPath (no hand-written scraping), and the polite poller around them: libcurl, one request
// at a time with request_interval between them, the over18 cookie, Retry-After, and per-board
// state in the store so a restart neither fetches nor sends an article twice.
#include "sources/ptt/ptt.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <stdexcept>
#include <future>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "net/curl_support.h"
#include "sources/libxml_support.h"
#include "util/ascii.h"
#include "util/clock.h"

namespace lodestone {
namespace {

constexpr long kMaxRedirects = 5;
constexpr size_t kMaxPageBytes = 16 << 20;  // an article with thousands of pushes is a few MiB
constexpr size_t kMaxRecent = 100;          // articles per board whose push summary is followed
constexpr int kMaxAttempts = 3;             // per request, when answered 429/503 with Retry-After
constexpr int kStateVersion = 1;
constexpr int64_t kTaipeiOffset = 8 * 3600;  // Asia/Taipei: UTC+8, no daylight saving since 1979

using ascii::equals_ci;
using ascii::is_space;
using ascii::starts_with_ci;
using ascii::trim;
using libxml::as_view;
using libxml::attribute;
using libxml::node_text;

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}



const xmlChar* as_xml(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }

// An XPath test for one class among an element's classes, as CSS's `.name` means it.
std::string has_class(const char* name) {
  return std::string("contains(concat(' ', normalize-space(@class), ' '), ' ") + name + " ')";
}

// The node is element <div> whose class list holds `name`.
bool is_div_of_class(const xmlNode* n, std::string_view name) {
  if (n->type != XML_ELEMENT_NODE || as_view(n->name) != "div") return false;
  const std::string classes = attribute(n, "class");
  size_t at = 0;
  while (at < classes.size()) {
    while (at < classes.size() && is_space(classes[at])) ++at;
    size_t end = at;
    while (end < classes.size() && !is_space(classes[end])) ++end;
    if (std::string_view(classes).substr(at, end - at) == name) return true;
    at = end;
  }
  return false;
}



// One HTML page parsed, and XPath over it.
class HtmlPage {
 public:
  explicit HtmlPage(std::string_view html) {
    libxml::init_once();
    if (html.empty() || html.size() > static_cast<size_t>(INT_MAX)) return;
    // PTT serves UTF-8 only: the page's own charset declaration is not consulted.
    doc_ = htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
                          HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
    if (doc_) context_ = xmlXPathNewContext(doc_);
  }
  ~HtmlPage() {
    if (context_) xmlXPathFreeContext(context_);
    if (doc_) xmlFreeDoc(doc_);
  }
  HtmlPage(const HtmlPage&) = delete;
  HtmlPage& operator=(const HtmlPage&) = delete;

  bool ok() const { return context_ != nullptr && xmlDocGetRootElement(doc_) != nullptr; }

  // The nodes `expr` selects, relative to `at` (the document when null), in document order.
  std::vector<xmlNode*> nodes(const std::string& expr, xmlNode* at = nullptr) {
    std::vector<xmlNode*> out;
    xmlXPathObjectPtr r = evaluate(expr, at);
    if (r && r->type == XPATH_NODESET && r->nodesetval) {
      for (int i = 0; i < r->nodesetval->nodeNr; ++i) out.push_back(r->nodesetval->nodeTab[i]);
    }
    xmlXPathFreeObject(r);
    return out;
  }
  xmlNode* first(const std::string& expr, xmlNode* at = nullptr) {
    std::vector<xmlNode*> found = nodes(expr, at);
    return found.empty() ? nullptr : found.front();
  }
  // The string value of `expr` ("normalize-space(div[...])"), relative to `at`.
  std::string text(const std::string& expr, xmlNode* at = nullptr) {
    xmlXPathObjectPtr r = evaluate(expr, at);
    std::string out;
    if (r) {
      xmlChar* s = xmlXPathCastToString(r);
      out = as_view(s);
      xmlFree(s);
    }
    xmlXPathFreeObject(r);
    return out;
  }

  // PTT's "are you over 18?" page: its form posts to /ask/over18.
  bool is_over18_question() {
    return first("//form[contains(@action, 'over18')] | //div[" + has_class("over18-notice") + "]") != nullptr;
  }

 private:
  xmlXPathObjectPtr evaluate(const std::string& expr, xmlNode* at) {
    if (!context_) return nullptr;
    return at ? xmlXPathNodeEval(at, as_xml(expr), context_) : xmlXPathEvalExpression(as_xml(expr), context_);
  }

  xmlDocPtr doc_ = nullptr;
  xmlXPathContextPtr context_ = nullptr;
};

const char* const kOver18 = "PTT asks whether the reader is over 18 (the over18=1 cookie was not taken)";

// `href` resolved against `base` with libcurl's URL parser; empty when either does not parse.
std::string resolve_url(const std::string& base, const std::string& href) {
  CURLU* u = curl_url();
  if (!u) return {};
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, href.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && s) out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  return out;
}

// scheme://host[:port] of `url` as libcurl writes it (host in lower case), without a slash.
std::string origin_of(const std::string& url) {
  std::string normal = resolve_url(url, "/");
  if (!normal.empty() && normal.back() == '/') normal.pop_back();
  return normal;
}

// The article id a URL names: its last path segment without ".html".
std::string article_id_of(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const size_t slash = url.rfind('/');
  std::string_view name = slash == std::string_view::npos ? url : url.substr(slash + 1);
  if (name.size() > 5 && name.substr(name.size() - 5) == ".html") name.remove_suffix(5);
  return std::string(name);
}

struct Order {
  int64_t time = 0;
  std::string id;
  bool operator<(const Order& o) const { return std::tie(time, id) < std::tie(o.time, o.id); }
};
Order order_of(const std::string& id) { return {ptt_article_time(id).value_or(0), id}; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// main-content's text as the reader sees the article: no metalines, pushes or embeds; the origin
// and edit lines dropped; cut at the signature's "--".
std::string article_body(const xmlNode* main) {
  std::string text;
  for (const xmlNode* n = main->children; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE &&
        (is_div_of_class(n, "article-metaline") || is_div_of_class(n, "article-metaline-right") ||
         is_div_of_class(n, "push") || is_div_of_class(n, "richcontent"))) {
      continue;
    }
    if (n->type == XML_ELEMENT_NODE && (as_view(n->name) == "script" || as_view(n->name) == "style")) continue;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      text += as_view(n->content);
    } else if (n->type == XML_ELEMENT_NODE) {
      text += node_text(n);
    }
  }
  std::vector<std::string_view> lines;
  const std::string_view all(text);
  for (size_t start = 0; start <= all.size();) {
    size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(start, end - start);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    start = end + 1;
    if (line == "--") break;
    if (starts_with(line, "※ 發信站") || starts_with(line, "※ 文章網址") || starts_with(line, "※ 編輯")) continue;
    lines.push_back(line);
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  size_t first = 0;
  while (first < lines.size() && trim(lines[first]).empty()) ++first;
  std::string body;
  for (size_t i = first; i < lines.size(); ++i) {
    if (i > first) body += '\n';
    body += lines[i];
  }
  return body;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_number(std::string_view s, int& value) {
  if (s.empty() || s.size() > 9) return false;
  value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

}  // namespace

// ---- pure helpers ----

std::optional<int> ptt_nrec_value(std::string_view text) {
  text = trim(text);
  if (text.empty()) return 0;
  if (text == "爆") return 100;
  if (text == "XX") return -100;
  if (text.size() == 2 && text[0] == 'X' && text[1] >= '1' && text[1] <= '9') return -10 * (text[1] - '0');
  int n = 0;
  if (text.size() <= 3 && read_number(text, n)) return n;
  return std::nullopt;
}

std::optional<int64_t> ptt_article_time(std::string_view id) {
  // M.1768131864.A.9E9: a letter, the Unix time, a letter, and an optional hex suffix.
  if (id.size() < 5 || !((id[0] >= 'A' && id[0] <= 'Z') || (id[0] >= 'a' && id[0] <= 'z')) || id[1] != '.') {
    return std::nullopt;
  }
  const size_t dot = id.find('.', 2);
  if (dot == std::string_view::npos || dot == 2 || dot - 2 > 12) return std::nullopt;
  int64_t t = 0;
  for (char c : id.substr(2, dot - 2)) {
    if (c < '0' || c > '9') return std::nullopt;
    t = t * 10 + (c - '0');
  }
  const std::string_view rest = id.substr(dot + 1);
  if (rest.empty() || !((rest[0] >= 'A' && rest[0] <= 'Z') || (rest[0] >= 'a' && rest[0] <= 'z'))) {
    return std::nullopt;
  }
  if (rest.size() > 1) {
    if (rest[1] != '.' || rest.size() == 2) return std::nullopt;
    for (char c : rest.substr(2)) {
      const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
      if (!alnum) return std::nullopt;
    }
  }
  return t;
}

std::optional<std::string> ptt_time_to_rfc3339(std::string_view text) {
  // "Sun Jan 11 19:44:24 2026", as C's asctime() writes it (the day may be padded with a space).
  std::vector<std::string_view> words;
  text = trim(text);
  for (size_t at = 0; at < text.size();) {
    while (at < text.size() && is_space(text[at])) ++at;
    size_t end = at;
    while (end < text.size() && !is_space(text[end])) ++end;
    if (end > at) words.push_back(text.substr(at, end - at));
    at = end;
  }
  if (words.size() != 5) return std::nullopt;
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (words[1] == kMonths[i]) month = i + 1;
  }
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  const std::string_view clock = words[3];
  if (month == 0 || !read_number(words[2], day) || words[4].size() != 4 || !read_number(words[4], year) ||
      clock.size() != 8 || clock[2] != ':' || clock[5] != ':' || !read_number(clock.substr(0, 2), hour) ||
      !read_number(clock.substr(3, 2), minute) || !read_number(clock.substr(6, 2), second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day < 1 || day > kDays[month - 1] || (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  const int64_t local = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                        hour * 3600 + minute * 60 + second;
  std::string out = rfc3339_utc(static_cast<std::time_t>(local - kTaipeiOffset));
  if (out.empty()) return std::nullopt;
  return out;
}

Result<PttIndex> parse_ptt_index(std::string_view html, std::string_view base_url) {
  HtmlPage page(html);
  if (!page.ok()) return Failure{"the page does not parse as HTML"};
  if (page.is_over18_question()) return Failure{kOver18};
  if (!page.first("//div[" + has_class("r-list-container") + "]")) {
    return Failure{"not a board index page (it has no div.r-list-container)"};
  }
  const std::string base(base_url);
  const std::string origin = origin_of(base);
  if (origin.empty()) return Failure{"the base URL does not parse"};
  // An article link must stay on the site: the source fetches it next.
  auto on_site = [&origin](const std::string& url) { return starts_with(url, origin + "/"); };

  static const std::string kEntries = "//div[" + has_class("r-ent") + "]";
  static const std::string kPinned = "preceding::div[" + has_class("r-list-sep") + "]";
  static const std::string kLink = "div[" + has_class("title") + "]//a[@href]";
  static const std::string kAuthor =
      "normalize-space(div[" + has_class("meta") + "]/div[" + has_class("author") + "])";
  static const std::string kDate = "normalize-space(div[" + has_class("meta") + "]/div[" + has_class("date") + "])";
  static const std::string kNrec = "normalize-space(div[" + has_class("nrec") + "])";
  static const std::string kPrevious =
      "//div[" + has_class("btn-group-paging") + "]/a[@href][contains(., '上頁')]";

  PttIndex index;
  for (xmlNode* r : page.nodes(kEntries)) {
    if (page.first(kPinned, r)) {
      ++index.pinned;
      continue;
    }
    xmlNode* link = page.first(kLink, r);
    if (!link) {
      ++index.deleted;
      continue;
    }
    PttIndexEntry e;
    e.url = resolve_url(base, std::string(trim(attribute(link, "href"))));
    e.id = article_id_of(e.url);
    if (e.url.empty() || !on_site(e.url) || !ptt_article_time(e.id)) {
      ++index.unreadable;
      continue;
    }
    e.title = page.text("normalize-space(.)", link);
    e.author = page.text(kAuthor, r);
    e.date = page.text(kDate, r);
    e.nrec_text = page.text(kNrec, r);
    e.pushes = ptt_nrec_value(e.nrec_text).value_or(0);
    index.entries.push_back(std::move(e));
  }
  if (xmlNode* previous = page.first(kPrevious)) {
    std::string url = resolve_url(base, std::string(trim(attribute(previous, "href"))));
    if (on_site(url)) index.previous_url = std::move(url);
  }
  return index;
}

Result<Post> parse_ptt_article(std::string_view html, std::string_view url, std::string_view board) {
  HtmlPage page(html);
  if (!page.ok()) return Failure{"the page does not parse as HTML"};
  if (page.is_over18_question()) return Failure{kOver18};
  xmlNode* main = page.first("//div[@id='main-content']");
  if (!main) return Failure{"the page has no div#main-content (not an article page)"};

  static const std::string kMetalines =
      "div[" + has_class("article-metaline") + " or " + has_class("article-metaline-right") + "]";
  static const std::string kTag = "normalize-space(span[" + has_class("article-meta-tag") + "])";
  static const std::string kValue = "normalize-space(span[" + has_class("article-meta-value") + "])";
  std::string author_line, board_name, title, time;
  for (xmlNode* m : page.nodes(kMetalines, main)) {
    const std::string tag = page.text(kTag, m);
    std::string value = page.text(kValue, m);
    if (tag == "作者" && author_line.empty()) author_line = std::move(value);
    else if (tag == "看板" && board_name.empty()) board_name = std::move(value);
    else if (tag == "標題" && title.empty()) title = std::move(value);
    else if (tag == "時間" && time.empty()) time = std::move(value);
  }
  // An author who deleted the header lines leaves the page's og:title.
  if (title.empty()) title = page.text("normalize-space(//meta[@property='og:title']/@content)");

  // "user (nickname)": the nickname may hold parentheses of its own.
  std::string author = author_line, nickname;
  if (const size_t open = author_line.find(" ("); open != std::string::npos && author_line.back() == ')') {
    author = std::string(trim(std::string_view(author_line).substr(0, open)));
    nickname = std::string(trim(std::string_view(author_line).substr(open + 2, author_line.size() - open - 3)));
  }

  static const std::string kPushes = ".//div[" + has_class("push") + "]";
  static const std::string kPushTag = "normalize-space(span[" + has_class("push-tag") + "])";
  static const std::string kPushUser = "normalize-space(span[" + has_class("push-userid") + "])";
  static const std::string kPushContent = "string(span[" + has_class("push-content") + "])";
  int push = 0, boo = 0, neutral = 0;
  std::string comments;
  for (xmlNode* p : page.nodes(kPushes, main)) {
    const std::string tag = page.text(kPushTag, p);
    if (tag.empty()) continue;  // PTT's notice boxes share the class ("檔案過大！部分文章無法顯示")
    if (tag == "推") ++push;
    else if (tag == "噓") ++boo;
    else if (tag == "→") ++neutral;
    const std::string content_raw = page.text(kPushContent, p);
    std::string_view content = content_raw;
    if (!content.empty() && content.front() == ':') content.remove_prefix(1);
    content = trim(content);
    if (!comments.empty()) comments += '\n';
    comments += page.text(kPushUser, p);
    comments += ": ";
    comments += content;
  }

  Post post;
  post.id = article_id_of(url);
  if (post.id.empty()) post.id = std::string(url);
  post.source = "ptt/" + std::string(board);
  std::string published;
  if (std::optional<int64_t> t = ptt_article_time(post.id)) {
    published = rfc3339_utc(static_cast<std::time_t>(*t));
  } else if (std::optional<std::string> from_metaline = ptt_time_to_rfc3339(time)) {
    published = *from_metaline;
  }
  const std::string body = article_body(main);
  if (board_name.empty()) board_name = board;
  for (auto [name, text] : {std::pair<std::string_view, std::string_view>{"title", title},
                            {"author", author},
                            {"nickname", nickname},
                            {"board", board_name},
                            {"body", body},
                            {"comments", comments},
                            {"url", url},
                            {"published", published}}) {
    if (!text.empty()) post.add_field(name, text);
  }
  post.set_number("push", push);
  post.set_number("boo", boo);
  post.set_number("neutral", neutral);
  post.set_number("pushes", push - boo);
  return post;
}

// ---- options ----

namespace {

bool is_board_name(std::string_view board) {
  if (board.empty() || board.size() > 64) return false;
  for (char c : board) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool positive(double v) { return v > 0 && std::isfinite(v); }

std::string why_invalid(const PttOptions& o) {
  if (o.name.empty()) return "a ptt source needs a name";
  const std::string who = "ptt \"" + o.name + "\": ";
  if (o.boards.empty()) return who + "boards must name at least one board";
  for (size_t i = 0; i < o.boards.size(); ++i) {
    if (!is_board_name(o.boards[i])) {
      return who + "\"" + o.boards[i] + "\" is not a board name (letters, digits, _ and - only)";
    }
    for (size_t j = 0; j < i; ++j) {
      if (equals_ci(o.boards[i], o.boards[j])) return who + "board \"" + o.boards[i] + "\" is listed twice";
    }
  }
  std::optional<UrlParts> url = split_url(o.base_url);
  if (o.base_url.empty()) return who + "base_url is empty";
  if (!url) return who + "base_url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "base_url must start with http:// or https://";
  if (url->host.empty()) return who + "base_url has no host";
  if (!(url->path.empty() || url->path == "/") || !url->hidden.empty() || !url->user.empty()) {
    return who + "base_url must be a site alone, without path, query or user (https://www.ptt.cc)";
  }
  if (!positive(o.interval)) return who + "interval must be a positive number of seconds";
  if (o.pages < 1 || o.pages > 100) return who + "pages must be from 1 to 100";
  if (!(o.request_interval >= 0) || !std::isfinite(o.request_interval)) {
    return who + "request_interval must be a number of seconds, 0 or more";
  }
  if (!positive(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!positive(o.max_backoff)) return who + "max_backoff must be a positive number of seconds";
  if (o.user_agent.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return who + "user_agent has a line break or NUL";
  }
  return {};
}

// The wait before the next poll after `errors` failed polls in a row: interval, doubled per error
// up to max_backoff, never below interval.
double wait_seconds(const PttOptions& o, int errors) {
  if (errors <= 0) return o.interval;
  return std::max(o.interval, std::min(std::ldexp(o.interval, std::min(errors, 62)), o.max_backoff));
}

nlohmann::json post_to_json(const Post& post) {
  nlohmann::json fields = nlohmann::json::array(), numbers = nlohmann::json::array();
  for (const auto& f : post.fields()) fields.push_back({f.name, f.text});
  for (const auto& n : post.numbers()) numbers.push_back({n.name, n.value});
  return {{"fields", std::move(fields)}, {"numbers", std::move(numbers)}};
}

Post post_from_json(const std::string& id, const std::string& source, const nlohmann::json& j) {
  Post post;
  post.id = id;
  post.source = source;
  for (const auto& f : j.at("fields")) post.add_field(f.at(0).get<std::string>(), f.at(1).get<std::string>());
  for (const auto& n : j.at("numbers")) post.set_number(n.at(0).get<std::string>(), n.at(1).get<double>());
  return post;
}

}  // namespace

Result<void> check_ptt_options(const PttOptions& o) {
  if (std::string why = why_invalid(o); !why.empty()) return Failure{why};
  return {};
}

// ---- the source ----

// One libcurl handle (reused, so a keep-alive connection lasts across requests) on a multi handle
// so stop() ends a transfer within 100 ms, and what its callbacks collect during one transfer.
struct PttSource::Http {
  CURL* curl = nullptr;
  CURLM* multi = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::string body;
  bool too_big = false;
  std::string retry_after;

  ~Http() {
    if (curl) curl_easy_cleanup(curl);
    if (multi) curl_multi_cleanup(multi);
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Http*>(user);
    const std::string_view line(data, size * count);
    constexpr std::string_view kRetryAfter = "retry-after:";
    if (starts_with_ci(line, "HTTP/")) {
      self->retry_after.clear();  // a redirect's headers are not the final answer's
    } else if (starts_with_ci(line, kRetryAfter)) {
      self->retry_after = trim(line.substr(kRetryAfter.size()));
    }
    return size * count;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Http*>(user);
    const size_t n = size * count;
    if (self->body.size() + n > kMaxPageBytes) {
      self->too_big = true;
      return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    self->body.append(data, n);
    return n;
  }
};

// What one fetch (with its retries) came to.
struct PttSource::Fetch {
  enum class Kind {
    kOk,       // a 2xx with `body`
    kGone,     // 404 or 410: the article was deleted since the index listed it
    kOver18,   // sent to PTT's over-18 question despite the cookie
    kFailed,   // network, timeout, too big, 429/503, other HTTP errors: worth trying again later
    kStopped,  // stop() came first
  };
  Kind kind = Kind::kFailed;
  std::string body;
  std::string error;  // why, for kGone, kOver18 and kFailed
};

struct PttSource::BoardState {
  struct Recent {
    std::string id;
    std::string nrec;  // the push summary as the index last showed it
    Post post;         // the post as last sent
  };
  std::string newest;  // the newest article handled (sent or rejected); "" before any
  std::vector<Recent> recent;

  static BoardState from_json(const std::string& text, const std::string& source) {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (j.at("version").get<int>() != kStateVersion) throw std::runtime_error("unknown version");
    BoardState s;
    s.newest = j.at("newest").get<std::string>();
    for (const auto& r : j.at("recent")) {
      const std::string id = r.at("id").get<std::string>();
      s.recent.push_back({id, r.at("nrec").get<std::string>(), post_from_json(id, source, r.at("post"))});
    }
    return s;
  }
  std::string to_json() const {
    nlohmann::json recent_json = nlohmann::json::array();
    for (const auto& r : recent) recent_json.push_back({{"id", r.id}, {"nrec", r.nrec}, {"post", post_to_json(r.post)}});
    const nlohmann::json j = {{"version", kStateVersion}, {"newest", newest}, {"recent", std::move(recent_json)}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
};

PttSource::PttSource(PttOptions options, Store& store) : options_(std::move(options)), store_(store) {
  invalid_ = why_invalid(options_);
  if (!invalid_.empty()) return;
  if (options_.user_agent.empty()) options_.user_agent = "lodestone/" LODESTONE_VERSION;
  curl_global_once();
  libxml::init_once();
  origin_ = origin_of(options_.base_url);
  http_ = std::make_unique<Http>();
  http_->curl = curl_easy_init();
  http_->multi = curl_multi_init();
  if (origin_.empty() || !http_->curl || !http_->multi) {
    invalid_ = "ptt \"" + options_.name + "\": libcurl could not make a handle";
    return;
  }
  CURL* c = http_->curl;
  set_http_defaults(c, options_.timeout, kMaxRedirects);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  // PTT's boards for adults send a reader without it to /ask/over18; the web page sets the same.
  curl_easy_setopt(c, CURLOPT_COOKIE, "over18=1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http_->error_buffer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Http::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, http_.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Http::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, http_.get());
}

PttSource::~PttSource() = default;

const std::string& PttSource::name() const { return options_.name; }

bool PttSource::pause_until(std::chrono::steady_clock::time_point when) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_until(lock, when, [this] { return stopping_.load(); });
  return !stopping_;
}

PttSource::Fetch PttSource::fetch(const std::string& url, PttPollResult& result) {
  using Kind = Fetch::Kind;
  Fetch f;
  Http& http = *http_;
  CURL* c = http.curl;
  for (int attempt = 1;; ++attempt) {
    if (!pause_until(next_request_)) {
      f.kind = Kind::kStopped;
      return f;
    }
    http.body.clear();
    http.too_big = false;
    http.retry_after.clear();
    http.error_buffer[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    const CURLcode code = perform_cancellable(http.multi, c, stopping_);
    // The pause runs from the end of this request to the start of the next.
    next_request_ = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(options_.request_interval));
    ++result.requests;
    if (code != CURLE_OK) {
      if (code == CURLE_ABORTED_BY_CALLBACK && stopping_) {
        f.kind = Kind::kStopped;
        return f;
      }
      ++requests_network_error_;
      if (http.too_big) {
        f.error = "the page is larger than " + std::to_string(kMaxPageBytes) + " bytes; not read";
      } else if (code == CURLE_OPERATION_TIMEDOUT) {
        f.error = "no complete answer within the timeout (" + format_seconds(options_.timeout) + " s)";
      } else {
        f.error = http.error_buffer[0] ? http.error_buffer : curl_easy_strerror(code);
      }
      return f;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 429 || status == 503) {
      ++requests_rate_limited_;
      f.error = "HTTP " + std::to_string(status);
      const double after = parse_retry_after(http.retry_after, static_cast<double>(std::time(nullptr)));
      if (after < 0) return f;
      // Whatever comes next from this source (the retry, or the next board) waits as asked.
      const double wait = std::min(after, options_.max_backoff);
      next_request_ = std::max(next_request_, std::chrono::steady_clock::now() +
                                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                      std::chrono::duration<double>(wait)));
      if (attempt >= kMaxAttempts) {
        f.error += " " + std::to_string(attempt) + " times in a row";
        return f;
      }
      spdlog::info("ptt \"{}\" ({}): HTTP {} with Retry-After {}; trying again in {} s", options_.name, url, status,
                   http.retry_after, format_seconds(wait));
      continue;
    }
    char* effective = nullptr;
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
    const std::string final_url = effective ? effective : "";
    if (status >= 200 && status <= 299 && final_url.find("/ask/over18") != std::string::npos) {
      ++requests_ok_;
      f.kind = Kind::kOver18;
      f.error = kOver18;
      return f;
    }
    if (status == 404 || status == 410) {
      ++requests_http_error_;
      f.kind = Kind::kGone;
      f.error = "HTTP " + std::to_string(status);
      return f;
    }
    if (status < 200 || status > 299) {
      ++requests_http_error_;
      f.error = "HTTP " + std::to_string(status);
      return f;
    }
    ++requests_ok_;
    f.kind = Kind::kOk;
    f.body = std::move(http.body);
    return f;
  }
}

void PttSource::board_failed(PttPollResult& result, const std::string& why) {
  spdlog::warn("{}", why);
  if (board_ok_) {
    std::lock_guard<std::mutex> lock(health_mutex_);
    health_ = {false, why};
  }
  if (result.error.empty()) result.error = why;
  board_ok_ = false;
}

void PttSource::poll_board(const std::string& board, PostSink& sink, PttPollResult& result) {
  using Kind = Fetch::Kind;
  const std::string who = "ptt \"" + options_.name + "\"";
  const std::string source = "ptt/" + board;
  const std::string key = "board/" + board;
  const std::string index_url = origin_ + "/bbs/" + board + "/index.html";

  std::optional<BoardState> loaded;
  try {
    if (std::optional<std::string> text = store_.get_state(options_.name, key)) {
      try {
        loaded = BoardState::from_json(*text, source);
      } catch (const std::exception& e) {
        spdlog::warn("{} board {}: its stored state does not read ({}); reading the board as on a first run", who,
                     board, e.what());
      }
    }
  } catch (const StoreError& e) {
    board_failed(result, who + " (" + index_url + "): reading its state from the store: " + e.what());
    return;
  }
  const bool first_run = !loaded;
  BoardState state = loaded ? std::move(*loaded) : BoardState{};

  // The index pages, newest first; older ones through ‹ 上頁.
  std::vector<std::vector<PttIndexEntry>> pages;
  std::string url = index_url;
  bool more_pages = false;
  for (int i = 0; i < options_.pages && !url.empty(); ++i) {
    Fetch f = fetch(url, result);
    if (f.kind == Kind::kStopped) return;
    Result<PttIndex> index = f.kind == Kind::kOk ? parse_ptt_index(f.body, origin_ + "/")
                                                 : Result<PttIndex>(Failure{f.error});
    if (!index) {
      if (i == 0) {
        board_failed(result, who + " (" + url + "): " + index.error());
        return;
      }
      spdlog::warn("{} ({}): {}; going on with the newer pages", who, url, index.error());
      break;
    }
    pages.push_back(std::move(index->entries));
    url = index->previous_url;
    more_pages = !url.empty();
  }

  // Oldest first, each article once (one may move to the next page between two requests).
  std::vector<PttIndexEntry> entries;
  std::unordered_map<std::string, size_t> listed;
  for (auto page = pages.rbegin(); page != pages.rend(); ++page) {
    for (auto& e : *page) {
      if (listed.emplace(e.id, entries.size()).second) entries.push_back(std::move(e));
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const PttIndexEntry& a, const PttIndexEntry& b) { return order_of(a.id) < order_of(b.id); });

  std::unordered_map<std::string, size_t> known;
  for (size_t i = 0; i < state.recent.size(); ++i) known.emplace(state.recent[i].id, i);
  const Order newest = order_of(state.newest);
  bool changed = first_run, blocked = false, reached_known = state.newest.empty();
  std::vector<Post> batch;
  size_t new_articles = 0, updated = 0;
  for (const PttIndexEntry& e : entries) {
    const Order order = order_of(e.id);
    if (!state.newest.empty() && !(newest < order)) reached_known = true;
    if (auto it = known.find(e.id); it != known.end()) {
      BoardState::Recent& r = state.recent[it->second];
      if (r.nrec == e.nrec_text) continue;
      r.nrec = e.nrec_text;
      changed = true;
      // The push summary moved: the post again, with PTT's new count (the article is not fetched).
      // The summary is compared, not the post's count: an article's lines may differ from it.
      const std::optional<int> pushes = ptt_nrec_value(e.nrec_text);
      if (!pushes || r.post.number("pushes") == *pushes) continue;
      r.post.set_number("pushes", *pushes);
      batch.push_back(r.post);
      ++updated;
      continue;
    }
    if (!first_run && !(newest < order)) continue;  // older than what was handled: not new
    if (blocked) continue;

    Post post;
    if (options_.fetch_articles) {
      Fetch f = fetch(e.url, result);
      if (f.kind == Kind::kStopped) return;
      if (f.kind == Kind::kFailed) {
        // Worth another try: this article and the newer ones wait for the next poll.
        board_failed(result, who + " (" + e.url + "): " + f.error);
        blocked = true;
        continue;
      }
      Result<Post> parsed = f.kind == Kind::kOk     ? parse_ptt_article(f.body, e.url, board)
                            : f.kind == Kind::kGone ? Result<Post>(Failure{f.error + ": deleted since the index listed it"})
                                                    : Result<Post>(Failure{f.error});
      if (!parsed) {
        // This page will not improve: counted, logged once, and not asked for again.
        spdlog::warn("{} ({}): {}", who, e.url, parsed.error());
        sink.count_rejected(options_.name, 1);
        ++result.rejected;
        state.newest = e.id;
        changed = true;
        continue;
      }
      ++result.articles;
      post = std::move(*parsed);
      if (post.field("title").empty() && !e.title.empty()) post.add_field("title", e.title);
      if (post.field("author").empty() && !e.author.empty()) post.add_field("author", e.author);
    } else {
      post.id = e.id;
      post.source = source;
      post.add_field("title", e.title);
      if (!e.author.empty()) post.add_field("author", e.author);
      post.add_field("board", board);
      post.add_field("url", e.url);
      if (std::optional<int64_t> t = ptt_article_time(e.id)) {
        post.add_field("published", rfc3339_utc(static_cast<std::time_t>(*t)));
      }
      post.set_number("pushes", e.pushes);
    }
    batch.push_back(post);
    state.recent.push_back({e.id, e.nrec_text, std::move(post)});
    known.emplace(e.id, state.recent.size() - 1);
    state.newest = e.id;
    ++new_articles;
    changed = true;
  }
  if (!first_run && !reached_known && more_pages && !entries.empty()) {
    spdlog::warn("{} ({}): more than {} index pages of new articles since the last poll; the older ones are "
                 "skipped (raise pages, or poll more often)",
                 who, index_url, options_.pages);
  }

  if (!batch.empty()) {
    const size_t count = batch.size();
    result.posts += count;
    result.updated += updated;
    std::optional<std::future<BatchReceipt>> future = sink.submit(batch, PostSink::WhenFull::kWait);
    if (!future) {
      stopping_ = true;  // the pipeline is stopping: so is this source
      return;
    }
    BatchReceipt receipt;
    try {
      receipt = future->get();
    } catch (const std::exception& e) {
      receipt.error = e.what();
    }
    if (!receipt.committed) {
      board_failed(result, who + " (" + index_url + "): the batch of " + std::to_string(count) +
                               " posts was not committed: " +
                               (receipt.error.empty() ? std::string("no reason given") : receipt.error));
      return;
    }
    result.new_posts += receipt.new_posts;
    posts_new_ += new_articles;
    posts_updated_ += updated;
  }
  if (!changed) return;

  // Only now, with the posts in the store, may a later poll take them as handled.
  std::sort(state.recent.begin(), state.recent.end(),
            [](const BoardState::Recent& a, const BoardState::Recent& b) { return order_of(a.id) < order_of(b.id); });
  if (state.recent.size() > kMaxRecent) {
    state.recent.erase(state.recent.begin(), state.recent.end() - static_cast<std::ptrdiff_t>(kMaxRecent));
  }
  try {
    store_.set_state(options_.name, key, state.to_json(), system_now_ms());
  } catch (const StoreError& e) {
    board_failed(result, who + " (" + index_url + "): storing its state: " + e.what());
  }
}

PttPollResult PttSource::poll_once(PostSink& sink) {
  PttPollResult result;
  if (!invalid_.empty()) {
    result.error = invalid_;
    return result;
  }
  board_ok_ = true;
  for (const std::string& board : options_.boards) {
    if (stopping_) break;
    poll_board(board, sink, result);
  }
  if (stopping_) {
    result.outcome = PttPollResult::Outcome::kStopped;
    return result;
  }
  if (board_ok_) {
    errors_ = 0;
    result.outcome = PttPollResult::Outcome::kDone;
    std::lock_guard<std::mutex> lock(health_mutex_);
    health_ = {};
  } else {
    ++errors_;
    result.outcome = PttPollResult::Outcome::kFailed;
  }
  return result;
}

Result<void> PttSource::run(PostSink& sink) {
  if (!invalid_.empty()) return Failure{invalid_};
  while (!stopping_) {
    if (poll_once(sink).outcome == PttPollResult::Outcome::kStopped) break;
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::duration<double>(wait_seconds(options_, errors_)),
                   [this] { return stopping_.load(); });
  }
  return {};
}

void PttSource::stop() {
  {
    // Under the lock, so a wait between its check and its sleep cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

SourceHealth PttSource::health() const {
  std::lock_guard<std::mutex> lock(health_mutex_);
  return health_;
}

void PttSource::collect_metrics(std::vector<MetricSample>& out) const {
  const char* requests_help = "HTTP requests of a ptt source, by outcome (ok, http_error, network_error, rate_limited).";
  const std::pair<const char*, uint64_t> requests[] = {{"ok", requests_ok_.load()},
                                                       {"http_error", requests_http_error_.load()},
                                                       {"network_error", requests_network_error_.load()},
                                                       {"rate_limited", requests_rate_limited_.load()}};
  for (const auto& [outcome, n] : requests) {
    out.push_back({"lodestone_ptt_requests_total", "counter", requests_help,
                   {{"source", options_.name}, {"outcome", outcome}}, static_cast<double>(n)});
  }
  const char* posts_help = "Posts a ptt source sent, by kind (new: a new article; updated: a known one whose push "
                           "count changed).";
  out.push_back({"lodestone_ptt_posts_total", "counter", posts_help, {{"source", options_.name}, {"kind", "new"}},
                 static_cast<double>(posts_new_.load())});
  out.push_back({"lodestone_ptt_posts_total", "counter", posts_help, {{"source", options_.name}, {"kind", "updated"}},
                 static_cast<double>(posts_updated_.load())});
}

}  // namespace lodestone
