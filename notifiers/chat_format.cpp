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

AlertSummary shortened(const AlertSummary& summary, size_t snippet_max, size_t title_max) {
  AlertSummary s = summary;
  s.title = cut_code_points(s.title, title_max);
  size_t left = snippet_max;
  std::vector<SnippetPiece> kept;
  for (const auto& piece : s.snippet) {
    if (left == 0) break;
    const size_t n = code_points(piece.text);
    if (n <= left) {
      kept.push_back(piece);
      left -= n;
      continue;
    }
    // The text before the first mark is cut at its start, so the mark stays in view.
    if (!piece.marked && kept.empty() && &piece != &s.snippet.back()) {
      std::string text = piece.text;
      size_t drop = n - left + 1, at = 0;
      for (; at < text.size() && drop > 0; ++at) {
        if (!is_continuation(text[at])) --drop;
      }
      while (at < text.size() && is_continuation(text[at])) ++at;
      kept.push_back({std::string("…").append(text, at), false});
      left = 0;
      break;
    }
    kept.push_back({cut_code_points(piece.text, left), piece.marked});
    left = 0;
  }
  const auto cut = [](const std::string& t) { return t.size() >= 3 && t.compare(t.size() - 3, 3, "…") == 0; };
  if (kept.size() < s.snippet.size() && !kept.empty() && !cut(kept.back().text)) kept.back().text += "…";
  s.snippet = std::move(kept);
  return s;
}

std::string fit_message(const AlertSummary& summary, size_t limit,
                        const std::function<std::string(const AlertSummary&)>& render,
                        const std::function<size_t(std::string_view)>& measure) {
  std::string out = render(summary);
  if (measure(out) <= limit) return out;
  size_t snippet = code_points(snippet_text(summary));
  size_t title = code_points(summary.title);
  AlertSummary s = summary;
  while (snippet > 0) {
    snippet /= 2;
    s = shortened(summary, snippet, title);
    out = render(s);
    if (measure(out) <= limit) return out;
  }
  while (title > 16) {
    title /= 2;
    s = shortened(summary, 0, title);
    out = render(s);
    if (measure(out) <= limit) return out;
  }
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
