// Lengths, cuts, escapes and fitting for chat messages (see chat_format.h).
#include "notifiers/chat_format.h"

#include <algorithm>

#include "util/ids.h"

namespace lodestone {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string escape(std::string_view text, std::string_view (*entity)(char)) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const std::string_view e = entity(c);
    if (e.empty()) {
      out += c;
    } else {
      out += e;
    }
  }
  return out;
}

}  // namespace

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return !is_continuation(c); }));
}

size_t utf16_units(std::string_view s) {
  size_t n = 0;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (is_continuation(c)) continue;
    n += b >= 0xF0 ? 2 : 1;  // a code point past U+FFFF is a surrogate pair
  }
  return n;
}

std::string cut_code_points(std::string_view s, size_t max) {
  if (code_points(s) <= max) return std::string(s);
  if (max == 0) return {};
  size_t kept = 0, at = 0;
  for (; at < s.size(); ++at) {
    if (is_continuation(s[at])) continue;
    if (kept == max - 1) break;
    ++kept;
  }
  return std::string(s.substr(0, at)) + "…";
}

std::string upper_ascii(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

std::string entity_line(const AlertSummary& s) {
  return s.alias.empty() ? s.entity : std::string(s.entity).append(" (matched as ").append(s.alias).append(")");
}

std::string html_escape(std::string_view text) {
  return escape(text, [](char c) -> std::string_view {
    switch (c) {
      case '&': return "&amp;";
      case '<': return "&lt;";
      case '>': return "&gt;";
      case '"': return "&quot;";
      default: return {};
    }
  });
}

std::string slack_escape(std::string_view text) {
  return escape(text, [](char c) -> std::string_view {
    switch (c) {
      case '&': return "&amp;";
      case '<': return "&lt;";
      case '>': return "&gt;";
      default: return {};
    }
  });
}

std::string markdown_escape(std::string_view text) {
  static constexpr std::string_view kMarkup = "\\`*_{}[]()<>#+-.!|~";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    if (kMarkup.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

namespace {

// The last `max` code points of `utf8`, the first of them "…" when it is cut.
std::string keep_tail(const std::string& utf8, size_t max) {
  const size_t n = code_points(utf8);
  if (n <= max) return utf8;
  if (max == 0) return {};
  size_t skip = n - (max - 1), at = 0;
  for (; at < utf8.size(); ++at) {
    if (is_continuation(utf8[at])) continue;
    if (skip == 0) break;
    --skip;
  }
  return std::string("…").append(utf8, at);
}

}  // namespace

std::string markdown_link_target(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kEncoded = "()<>[]\\ ";
  std::string out;
  for (const char c : url) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80 || kEncoded.find(c) != std::string_view::npos) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

AlertSummary shortened(const AlertSummary& summary, size_t snippet_max, size_t title_max) {
  AlertSummary s = summary;
  s.title = cut_code_points(s.title, title_max);
  if (code_points(snippet_text(s)) <= snippet_max) return s;
  s.snippet.clear();
  if (snippet_max == 0) return s;
  // The first marked piece stays in view: it keeps what it needs of the budget, the text before
  // it keeps its end (at most half of the rest, unless little follows), then what follows, in
  // order, as far as the budget goes.
  const auto& pieces = summary.snippet;
  size_t mark = 0;
  while (mark < pieces.size() && !pieces[mark].marked) ++mark;
  if (mark == pieces.size()) mark = 0;
  std::string before;
  for (size_t i = 0; i < mark; ++i) before += pieces[i].text;
  SnippetPiece kept_mark{cut_code_points(pieces[mark].text, snippet_max), pieces[mark].marked};
  size_t left = snippet_max - code_points(kept_mark.text);
  size_t after_total = 0;
  for (size_t i = mark + 1; i < pieces.size(); ++i) after_total += code_points(pieces[i].text);
  const size_t before_budget = std::min(code_points(before), std::max(left / 2, left > after_total ? left - after_total : 0));
  if (before_budget > 0) s.snippet.push_back({keep_tail(before, before_budget), false});
  left -= before_budget;
  s.snippet.push_back(std::move(kept_mark));
  size_t next = mark + 1;
  for (; next < pieces.size() && left > 0; ++next) {
    std::string text = cut_code_points(pieces[next].text, left);
    left -= std::min(left, code_points(text));
    s.snippet.push_back({std::move(text), pieces[next].marked});
  }
  const std::string& last = s.snippet.back().text;
  const bool ends_cut = last.size() >= 3 && last.compare(last.size() - 3, 3, "…") == 0;
  if (next < pieces.size() && !ends_cut) s.snippet.push_back({"…", false});
  return s;
}

std::string fit_message(const AlertSummary& summary, size_t limit,
                        const std::function<std::string(const AlertSummary&)>& render,
                        const std::function<size_t(std::string_view)>& measure) {
  std::string out = render(summary);
  if (measure(out) <= limit) return out;
  // Halved in turn: the snippet down to a few words around its match, then the title, then the
  // snippet to nothing and the title to a few words. The link is not touched.
  constexpr size_t kFloor = 40, kTitleFloor = 16;
  size_t snippet = code_points(snippet_text(summary));
  size_t title = code_points(summary.title);
  const auto fits = [&](size_t snippet_max, size_t title_max) {
    out = render(shortened(summary, snippet_max, title_max));
    return measure(out) <= limit;
  };
  while (snippet > kFloor) {
    snippet /= 2;
    if (fits(snippet, title)) return out;
  }
  while (title > kFloor) {
    title /= 2;
    if (fits(snippet, title)) return out;
  }
  while (snippet > 0) {
    snippet /= 2;
    if (fits(snippet, title)) return out;
  }
  while (title > kTitleFloor) {
    title /= 2;
    if (fits(0, title)) return out;
  }
  AlertSummary s = shortened(summary, 0, title);
  s.url.clear();
  out = render(s);
  if (measure(out) <= limit) return out;
  // Only the rule, the source and the entity are left to be too long: cut the text itself.
  while (!out.empty() && measure(out) > limit) out = cut_code_points(out, code_points(out) * 9 / 10);
  return out;
}

std::string fit_digest(const std::string& head, const std::vector<std::string>& items, const std::string& separator,
                       size_t limit, const std::function<std::string(size_t)>& more,
                       const std::function<size_t(std::string_view)>& measure) {
  std::string out = head;
  size_t shown = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string next = out + separator + items[i];
    const size_t left = items.size() - i - 1;
    // Room for this item and, unless it is the last, the "and N more" that may follow it.
    const size_t need = measure(next) + (left > 0 ? measure(separator + more(left)) : 0);
    if (need > limit) break;
    out = next;
    ++shown;
  }
  if (shown < items.size()) out += separator + more(items.size() - shown);
  return out;
}

std::string digest_key(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return alerts.front().id;
  std::string ids;
  for (const auto& a : alerts) ids.append(a.id).push_back('\0');
  return sha256_hex32({"digest", ids});
}

}  // namespace lodestone
