// Mustache templates rendered with an alert's JSON: the data model, the three escapings, and
// load errors that name the file.
#include "notifiers/template.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

using lodestone::Template;
using lodestone::TemplateEscape;

namespace {

const std::string kAlert =
    R"({"id":"3f9a","rule":{"id":"r1","title":"Rare \"earth\"","severity":"high","tags":["minerals","china"]},)"
    R"("post":{"id":"M.1","source":"ptt/Stock","title":"稀土 <b>&</b>\nline 2\\","url":"https://x.test/?a=1&b=2"},)"
    R"("matches":[{"field":"body","text":"稀土","start":3,"end":5},{"field":"title","text":"REE","start":0,"end":3}],)"
    R"("entities":[],"score":0.5,"flag":true,"none":null})";

std::string render(const std::string& text, TemplateEscape escape) {
  return Template::parse(text, "inline").render(kAlert, escape);
}

std::string what(auto f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("objects are sections, arrays lists, and scalars text", "[template]") {
  CHECK(render("{{rule.id}}/{{post.source}}", TemplateEscape::kNone) == "r1/ptt/Stock");
  CHECK(render("{{#matches}}[{{field}}:{{text}}@{{start}}]{{/matches}}", TemplateEscape::kNone) ==
        "[body:稀土@3][title:REE@0]");
  CHECK(render("{{#rule.tags}}{{.}};{{/rule.tags}}", TemplateEscape::kNone) == "minerals;china;");
  CHECK(render("{{#rule}}{{severity}}{{/rule}}", TemplateEscape::kNone) == "high");
  CHECK(render("{{^entities}}no entities{{/entities}}", TemplateEscape::kNone) == "no entities");
  CHECK(render("{{score}} {{flag}} [{{none}}]{{#none}}x{{/none}}", TemplateEscape::kNone) == "0.5 true []");
}

TEST_CASE("JSON escaping makes {{x}} safe inside a JSON string", "[template]") {
  const std::string body = render(R"({"title": "{{post.title}}", "rule": "{{rule.title}}"})", TemplateEscape::kJson);
  const nlohmann::json j = nlohmann::json::parse(body);
  CHECK(j["title"] == "稀土 <b>&</b>\nline 2\\");
  CHECK(j["rule"] == "Rare \"earth\"");
  CHECK(lodestone::json_string_escape("a\"b\\c\x01") == "a\\\"b\\\\c\\u0001");
}

TEST_CASE("HTML escaping escapes markup, and triple braces insert as is", "[template]") {
  CHECK(render("<p>{{post.title}}</p>", TemplateEscape::kHtml) == "<p>稀土 &lt;b&gt;&amp;&lt;/b&gt;\nline 2\\</p>");
  CHECK(render("{{rule.title}}", TemplateEscape::kHtml) == "Rare &quot;earth&quot;");
  CHECK(render("{{{post.url}}}", TemplateEscape::kHtml) == "https://x.test/?a=1&b=2");
  CHECK(render("{{post.url}}", TemplateEscape::kHtml) == "https://x.test/?a=1&amp;b=2");
}

TEST_CASE("no escaping inserts text as is", "[template]") {
  CHECK(render("{{post.title}}", TemplateEscape::kNone) == "稀土 <b>&</b>\nline 2\\");
}

TEST_CASE("one template renders with each escaping in turn", "[template]") {
  const Template t = Template::parse("{{rule.title}}", "inline");
  CHECK(t.render(kAlert, TemplateEscape::kHtml) == "Rare &quot;earth&quot;");
  CHECK(t.render(kAlert, TemplateEscape::kJson) == "Rare \\\"earth\\\"");
  CHECK(t.render(kAlert, TemplateEscape::kNone) == "Rare \"earth\"");
}

TEST_CASE("a template file loads and renders the alert", "[template]") {
  const Template t = Template::load(LODESTONE_TEST_DATA "/notifiers/webhook_body.mustache");
  const nlohmann::json j = nlohmann::json::parse(t.render(kAlert, TemplateEscape::kJson));
  CHECK(j["text"] == "high: Rare \"earth\" · 稀土 <b>&</b>\nline 2\\");
  CHECK(j["terms"] == nlohmann::json({"稀土", "REE", nullptr}));
}

TEST_CASE("a template that does not parse is an error naming the file and mustache's reason", "[template]") {
  const std::string path = LODESTONE_TEST_DATA "/notifiers/unclosed_section.mustache";
  const std::string error = what([&] { Template::load(path); });
  CHECK(error.rfind(path + ": ", 0) == 0);
  CHECK(error.find("matches") != std::string::npos);
  CHECK(error.find("nclosed") != std::string::npos);
}

TEST_CASE("a missing template file is an error naming the file", "[template]") {
  const std::string error = what([] { Template::load("/nonexistent/body.mustache"); });
  CHECK(error == "/nonexistent/body.mustache: cannot read the template");
}

TEST_CASE("a context that is not JSON is an error, not an empty body", "[template]") {
  const Template t = Template::parse("{{x}}", "inline");
  CHECK_THROWS_AS(t.render("{not json", TemplateEscape::kNone), std::runtime_error);
}

TEST_CASE("a Content-Type chooses the escaping: JSON types, HTML and XML types, and none for the rest", "[template]") {
  using lodestone::escape_for_content_type;
  CHECK(escape_for_content_type("application/json") == TemplateEscape::kJson);
  CHECK(escape_for_content_type("Application/JSON; charset=utf-8") == TemplateEscape::kJson);
  CHECK(escape_for_content_type("application/vnd.example+json") == TemplateEscape::kJson);
  CHECK(escape_for_content_type("text/html; charset=utf-8") == TemplateEscape::kHtml);
  CHECK(escape_for_content_type("application/xml") == TemplateEscape::kHtml);
  CHECK(escape_for_content_type("application/atom+xml") == TemplateEscape::kHtml);
  CHECK(escape_for_content_type("text/plain") == TemplateEscape::kNone);
  CHECK(escape_for_content_type("application/x-www-form-urlencoded") == TemplateEscape::kNone);
}

TEST_CASE("triple braces and & tags on post text are found with their line and column", "[template]") {
  const auto tags = lodestone::unescaped_post_tags(
      "{\"a\": \"{{post.title}}\", \"b\": \"{{{ post.title }}}\",\n\"c\": \"{{&post.body}}\", \"d\": \"{{{rule.title}}}\",\n"
      "\"e\": [{{#matches}}\"{{{snippet}}}\"{{/matches}}], \"f\": \"{{ & post.url }}\"}");
  REQUIRE(tags.size() == 4);
  CHECK(tags[0].line == 1);
  CHECK(tags[0].column == 31);
  CHECK(tags[0].tag == "{{{ post.title }}}");
  CHECK(tags[0].name == "post.title");
  CHECK(tags[1].line == 2);
  CHECK(tags[1].column == 7);
  CHECK(tags[1].name == "post.body");
  CHECK(tags[2].line == 3);
  CHECK(tags[2].name == "snippet");
  CHECK(tags[3].name == "post.url");
  CHECK(lodestone::unescaped_post_tags("{{post.title}} {{{rule.title}}} {{{id}}}").empty());
}

