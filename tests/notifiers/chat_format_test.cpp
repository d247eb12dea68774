// What every chat message is made of: the alert's summary (engine/alert_render.h) and the
// lengths, escapes, cuts and fitting of notifiers/chat_format.h.
#include "notifiers/chat_format.h"

#include <catch2/catch.hpp>

#include "support/sample_alert.h"

using lodestone::AlertSummary;
using lodestone::SnippetPiece;

namespace {

std::string marked(const AlertSummary& s) {
  std::string out;
  for (const auto& p : s.snippet) out += p.marked ? "[" + p.text + "]" : p.text;
  return out;
}

}  // namespace

TEST_CASE("the summary holds what a chat message shows, one line each, and links only web URLs", "[chat]") {
  const AlertSummary s = lodestone::summarize_alert(lodestone::testing::sample_alert());
  CHECK(s.severity == "high");
  CHECK(s.rule == "Rare \"earth\" export controls");
  CHECK(s.title == "中國對稀土出口管制 <@everyone> & more");
  CHECK(s.url == "https://example.com/p/1?x=1&y=2");
  CHECK(s.source == "ptt/Stock");
  CHECK(s.field == "body");
  CHECK(marked(s) == "…中國對[稀土]出口…");
  CHECK(s.entity == "Scott Bessent");
  CHECK(s.alias == "貝森特");
  CHECK(s.tags == std::vector<std::string>{"minerals"});

  lodestone::Alert a = lodestone::testing::sample_alert();
  a.post.title = "line one\nline two\ttab";
  for (const char* url : {"javascript:alert(1)", "data:text/html,x", "https://example.com/a b", "http://", "ftp://x/y"}) {
    a.post.url = url;
    INFO(url);
    CHECK(lodestone::summarize_alert(a).url.empty());
  }
  a.post.url = "HTTPS://example.com/x";
  CHECK(lodestone::summarize_alert(a).url == "HTTPS://example.com/x");
  CHECK(lodestone::summarize_alert(a).title == "line one line two tab");
  // A comparison shows as its value, and every match of the field inside the snippet is marked.
  a.matches.clear();
  lodestone::AlertMatch c;
  c.field = "pushes";
  c.comparison = true;
  c.value = 55;
  a.matches.push_back(c);
  CHECK(lodestone::summarize_alert(a).values == std::vector<std::string>{"pushes 55"});
  CHECK(lodestone::summarize_alert(a).snippet.empty());
}

TEST_CASE("lengths count as the services count them", "[chat]") {
  CHECK(lodestone::code_points("稀土 ok") == 5);
  CHECK(lodestone::utf16_units("稀土 ok") == 5);
  CHECK(lodestone::utf16_units("😀") == 2);
  CHECK(lodestone::cut_code_points("稀土出口管制", 4) == "稀土出…");
  CHECK(lodestone::cut_code_points("稀土", 2) == "稀土");
}

TEST_CASE("the escapes leave no markup of the post's", "[chat]") {
  CHECK(lodestone::html_escape("<b>\"a\" & b</b>") == "&lt;b&gt;&quot;a&quot; &amp; b&lt;/b&gt;");
  CHECK(lodestone::slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;");
  CHECK(lodestone::markdown_escape("[x](https://e.x) *b* _i_ `c` # ~s~ |t| \\") ==
        "\\[x\\]\\(https://e\\.x\\) \\*b\\* \\_i\\_ \\`c\\` \\# \\~s\\~ \\|t\\| \\\\");
}

TEST_CASE("a snippet cut to fit keeps its match in view, whatever stands before it", "[chat]") {
  AlertSummary s;
  s.title = "t";
  s.snippet = {{std::string(3000, 'a'), false}, {"稀土", true}, {std::string(3000, 'b'), false}};
  const AlertSummary cut = lodestone::shortened(s, 22, 10);
  CHECK(marked(cut) == "…aaaaaaaaa[稀土]bbbbbbbbb…");
  CHECK(lodestone::code_points(lodestone::snippet_text(cut)) <= 22);
  // Little after the match: the text before it gets the rest.
  s.snippet = {{std::string(3000, 'a'), false}, {"稀土", true}, {"b", false}};
  CHECK(marked(lodestone::shortened(s, 12, 10)) == "…aaaaaaaa[稀土]b");
  // A snippet that fits is left as it is; the title is cut on its own.
  s.title = "稀土出口管制";
  s.snippet = {{"a", false}, {"稀土", true}};
  const AlertSummary whole = lodestone::shortened(s, 10, 3);
  CHECK(marked(whole) == "a[稀土]");
  CHECK(whole.title == "稀土…");
}

TEST_CASE("a message is fitted by cutting the snippet, then the title, and keeps its link", "[chat]") {
  AlertSummary s;
  s.title = std::string(500, 't');
  s.url = "https://example.com/p";
  s.snippet = {{std::string(500, 'a'), false}, {"x", true}};
  const auto render = [](const AlertSummary& x) { return x.url + " " + x.title + " " + marked(x); };
  const auto bytes = [](std::string_view t) { return t.size(); };
  const std::string out = lodestone::fit_message(s, 300, render, bytes);
  CHECK(out.size() <= 300);
  CHECK(out.rfind("https://example.com/p ", 0) == 0);
  CHECK(out.find("[x]") != std::string::npos);
}

TEST_CASE("a digest lists what fits and says how many more", "[chat]") {
  const std::vector<std::string> items(50, std::string(10, 'i'));
  const auto bytes = [](std::string_view t) { return t.size(); };
  const auto more = [](size_t n) { return "and " + std::to_string(n) + " more"; };
  const std::string out = lodestone::fit_digest("50 alerts", items, "\n", 100, more, bytes);
  CHECK(out.size() <= 100);
  CHECK(out.rfind("50 alerts\niiiiiiiiii\n", 0) == 0);
  CHECK(out.substr(out.rfind('\n') + 1) == "and 43 more");
  CHECK(lodestone::fit_digest("2 alerts", {"a", "b"}, "\n", 100, more, bytes) == "2 alerts\na\nb");
  // The same alerts give the same key; other alerts another; one alert its own id.
  const auto a = lodestone::testing::sample_alert("M.1"), b = lodestone::testing::sample_alert("M.2");
  const std::vector<lodestone::Alert> ab = {a, b}, ba = {b, a};
  CHECK(lodestone::digest_key(ab) == lodestone::digest_key(ab));
  CHECK(lodestone::digest_key(ab) != lodestone::digest_key(ba));
  CHECK(lodestone::digest_key(ab).size() == 32);
  CHECK(lodestone::digest_key(std::span<const lodestone::Alert>(&a, 1)) == a.id);
}
