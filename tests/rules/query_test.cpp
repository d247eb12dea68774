// Specification of the rule language's syntax: term forms, the query grammar, node offsets and
// every syntax error with the byte it points at.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "rules/query.h"

using lodestone::rules::parse_list_term;
using lodestone::rules::parse_query;
using lodestone::rules::QueryNode;
using lodestone::rules::SyntaxError;
using lodestone::rules::TermSyntax;

namespace {

// A term in the tree's notation: word, "a phrase", prefix*, /regex/, @list, field:term.
std::string render_term(const TermSyntax& t) {
  std::string out = t.field.empty() ? "" : t.field + ":";
  const bool spaced = t.text.find(' ') != std::string::npos;
  switch (t.kind) {
    case TermSyntax::Kind::kLiteral:
      return out + (spaced ? "\"" + t.text + "\"" : t.text);
    case TermSyntax::Kind::kPrefix:
      return out + (spaced ? "\"" + t.text + "*\"" : t.text + "*");
    case TermSyntax::Kind::kRegex:
      return out + "/" + t.text + "/";
    case TermSyntax::Kind::kListRef:
      return out + "@" + t.text;
    case TermSyntax::Kind::kCompare:
      return out + std::string(lodestone::rules::compare_operator(t.compare)) + t.text;
  }
  return "?";
}

// The tree as an s-expression: (OR a (AND b c)), (NOT x), (NEAR/3 a b), (ATLEAST/2 a b c).
std::string render(const QueryNode& n) {
  std::string head;
  switch (n.kind) {
    case QueryNode::Kind::kTerm:
      return render_term(n.term);
    case QueryNode::Kind::kAnd:
      head = "AND";
      break;
    case QueryNode::Kind::kOr:
      head = "OR";
      break;
    case QueryNode::Kind::kNot:
      head = "NOT";
      break;
    case QueryNode::Kind::kNear:
      head = std::string("NEAR/").append(std::to_string(n.count));
      break;
    case QueryNode::Kind::kAtLeast:
      head = std::string("ATLEAST/").append(std::to_string(n.count));
      break;
  }
  std::string out = "(" + head;
  for (const auto& c : n.children) {
    out += ' ';
    out += render(c);
  }
  return out + ")";
}

// The parse of a query as a tree, or "error at N: message".
std::string tree(std::string_view query) {
  QueryNode root;
  SyntaxError error;
  if (!parse_query(query, root, error))
    return std::string("error at ").append(std::to_string(error.offset)).append(": ").append(error.message);
  return render(root);
}

QueryNode parsed(std::string_view query) {
  QueryNode root;
  SyntaxError error;
  INFO(query);
  REQUIRE(parse_query(query, root, error));
  return root;
}

// The one term a query consists of.
TermSyntax term_of(std::string_view query) {
  QueryNode root = parsed(query);
  REQUIRE(root.kind == QueryNode::Kind::kTerm);
  return root.term;
}

// A list term as "literal [text]", "prefix [text]", "regex [text]", or "error at N: message".
std::string list_term(std::string_view written) {
  TermSyntax t;
  SyntaxError error;
  if (!parse_list_term(written, t, error))
    return std::string("error at ").append(std::to_string(error.offset)).append(": ").append(error.message);
  const char* kind = t.kind == TermSyntax::Kind::kLiteral  ? "literal"
                     : t.kind == TermSyntax::Kind::kPrefix ? "prefix"
                     : t.kind == TermSyntax::Kind::kRegex  ? "regex"
                                                           : "list";
  return std::string(kind) + " [" + t.text + "]" + (t.field.empty() ? "" : " field " + t.field);
}

void collect_terms(const QueryNode& n, std::vector<const QueryNode*>& out) {
  if (n.kind == QueryNode::Kind::kTerm) out.push_back(&n);
  for (const auto& c : n.children) collect_terms(c, out);
}

std::vector<const QueryNode*> terms_of(const QueryNode& root) {
  std::vector<const QueryNode*> out;
  collect_terms(root, out);
  return out;
}

std::string span(std::string_view query, const QueryNode& n) { return std::string(query.substr(n.offset, n.length)); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Precedence

TEST_CASE("terms side by side mean AND", "[query]") {
  CHECK(tree("a b") == "(AND a b)");
  CHECK(tree("a b") == tree("a AND b"));
  CHECK(tree("稀土 出口") == "(AND 稀土 出口)");
}

TEST_CASE("AND binds tighter than OR, whether written or implied", "[query]") {
  CHECK(tree("a OR b c") == "(OR a (AND b c))");
  CHECK(tree("a OR b AND c") == "(OR a (AND b c))");
  CHECK(tree("a b OR c") == "(OR (AND a b) c)");
}

TEST_CASE("NOT applies to the one operand after it", "[query]") {
  CHECK(tree("NOT a b") == "(AND (NOT a) b)");
  CHECK(tree("a NOT b") == "(AND a (NOT b))");
  CHECK(tree("a AND NOT b OR c") == "(OR (AND a (NOT b)) c)");
  CHECK(tree("NOT (a OR b)") == "(NOT (OR a b))");
}

TEST_CASE("NEAR binds tighter than NOT, NOT tighter than AND, AND tighter than OR", "[query]") {
  CHECK(tree("NOT a NEAR/3 b") == "(NOT (NEAR/3 a b))");
  CHECK(tree("x OR NOT a NEAR/3 b c") == "(OR x (AND (NOT (NEAR/3 a b)) c))");
}

TEST_CASE("parentheses override precedence", "[query]") {
  CHECK(tree("(a OR b) c") == "(AND (OR a b) c)");
  CHECK(tree("a (b OR c) d") == "(AND a (OR b c) d)");
  CHECK(tree("((a))") == "a");
}

TEST_CASE("chains of the same operator are one node with every operand", "[query]") {
  CHECK(tree("a AND b AND c") == "(AND a b c)");
  CHECK(tree("a b c d") == "(AND a b c d)");
  CHECK(tree("a OR b OR c") == "(OR a b c)");
  CHECK(tree("a AND (b AND c)") == "(AND a b c)");
  CHECK(tree("(a OR b) OR (c OR d)") == "(OR a b c d)");
  CHECK(tree("a AND (b OR c)") == "(AND a (OR b c))");
}

TEST_CASE("NOT NOT is allowed and stays two NOTs", "[query]") { CHECK(tree("NOT NOT a") == "(NOT (NOT a))"); }

// ---------------------------------------------------------------------------------------------
// Operators and words

TEST_CASE("operators are upper case, lower- or mixed-case ones are words to match", "[query]") {
  CHECK(tree("a and b") == "(AND a and b)");
  CHECK(tree("a Or b") == "(AND a Or b)");
  CHECK(tree("not a") == "(AND not a)");
  CHECK(tree("a near b") == "(AND a near b)");
  CHECK(tree("a Near/3 b") == "(AND a Near/3 b)");
}

TEST_CASE("a word that only starts with an operator is a word", "[query]") {
  CHECK(tree("ANDROID ORACLE NOTE NEARBY ATLEASTONE") == "(AND ANDROID ORACLE NOTE NEARBY ATLEASTONE)");
  CHECK(tree("ATLEAST") == "ATLEAST");  // an operator only when '(' follows
}

TEST_CASE("operators need no space before a parenthesis or a quote", "[query]") {
  CHECK(tree("NOT(a OR b)") == "(NOT (OR a b))");
  CHECK(tree("a AND\"rare earth\"") == "(AND a \"rare earth\")");
  CHECK(tree("a OR(b)") == "(OR a b)");
}

TEST_CASE("full-width and other Unicode spaces separate words like ASCII spaces", "[query]") {
  CHECK(tree("稀土\u3000出口") == "(AND 稀土 出口)");
  CHECK(tree("a\u00a0OR\tb\n") == "(OR a b)");
  CHECK(tree("稀\u200b土") == "稀\u200b土");  // a zero-width space is not white space
}

// ---------------------------------------------------------------------------------------------
// Term forms

TEST_CASE("a bare word is any run of characters but white space ( ) , and a quote", "[query]") {
  CHECK(tree("中國稀土") == "中國稀土");
  CHECK(tree("U.S.") == "U.S.");
  CHECK(tree("24/7 and/or") == "(AND 24/7 and/or)");
  CHECK(tree("rare(earth)") == "(AND rare earth)");
  CHECK(tree("a,b") == "error at 1: unexpected ','");
  CHECK(term_of("U.S.").kind == TermSyntax::Kind::kLiteral);
}

TEST_CASE("a word ending in '*' is a prefix, a '*' elsewhere is literal text", "[query]") {
  TermSyntax t = term_of("rare-earth*");
  CHECK(t.kind == TermSyntax::Kind::kPrefix);
  CHECK(t.text == "rare-earth");
  CHECK(tree("a*b *x") == "(AND a*b *x)");
  CHECK(term_of("a*b").kind == TermSyntax::Kind::kLiteral);
  CHECK(tree("control*") == "control*");
}

TEST_CASE("a '*' alone is not a term", "[query]") {
  CHECK(tree("*") == "error at 0: expected text before '*'");
  CHECK(tree("a *") == "error at 2: expected text before '*'");
}

TEST_CASE("a quoted phrase keeps its words, a '*' inside the closing quote makes a prefix", "[query]") {
  TermSyntax t = term_of("\"rare earth\"");
  CHECK(t.kind == TermSyntax::Kind::kLiteral);
  CHECK(t.text == "rare earth");
  t = term_of("\"exchange rate*\"");
  CHECK(t.kind == TermSyntax::Kind::kPrefix);
  CHECK(t.text == "exchange rate");
  CHECK(tree("\"a AND b\" (c)") == "(AND \"a AND b\" c)");
  CHECK(term_of("\"a*b\"").text == "a*b");
}

TEST_CASE("in a phrase, \\\" and \\\\ are the only escapes", "[query]") {
  CHECK(term_of(R"("say \"no\"")").text == R"(say "no")");
  CHECK(term_of(R"("back\\slash")").text == R"(back\slash)");
  CHECK(term_of(R"("C:\temp \d")").text == R"(C:\temp \d)");
}

TEST_CASE("a phrase that is empty, blank, unclosed or starred outside is an error", "[query]") {
  CHECK(tree("\"\"") == "error at 0: empty quoted phrase");
  CHECK(tree("a \"   \"") == "error at 2: empty quoted phrase");
  CHECK(tree("a \"rare earth") == "error at 2: unterminated quoted phrase");
  CHECK(tree(R"("ends in \")") == "error at 0: unterminated quoted phrase");
  CHECK(tree("\"*\"") == "error at 1: expected text before '*'");
  CHECK(tree("\"exchange rate\"*") == "error at 15: put '*' inside the quotes, as in \"exchange rate*\"");
  CHECK(tree("\"a\"b") == "error at 3: expected a space after the quoted phrase");
}

TEST_CASE("a /regex/ ends at the next unescaped slash, only \\/ is unescaped", "[query]") {
  TermSyntax t = term_of(R"(/export (curb|restriction)s?/)");
  CHECK(t.kind == TermSyntax::Kind::kRegex);
  CHECK(t.text == "export (curb|restriction)s?");
  CHECK(term_of(R"(/a\/b\d\s/)").text == R"(a/b\d\s)");
  CHECK(term_of(R"(/a\\/)").text == R"(a\\)");  // an escaped backslash does not escape the '/'
  CHECK(tree("/x/ OR y") == "(OR /x/ y)");
}

TEST_CASE("an empty or unclosed /regex/ is an error", "[query]") {
  CHECK(tree("//") == "error at 0: empty /regex/");
  CHECK(tree("a /abc") == "error at 2: unterminated /regex/");
  CHECK(tree(R"(/abc\/)") == "error at 0: unterminated /regex/");
  CHECK(tree("/usr/bin") == "error at 5: expected a space after /regex/");
}

TEST_CASE("@name refers to a list by name", "[query]") {
  TermSyntax t = term_of("@rare_earths");
  CHECK(t.kind == TermSyntax::Kind::kListRef);
  CHECK(t.text == "rare_earths");
  CHECK(term_of("@sdn.v2-list").text == "sdn.v2-list");
  CHECK(tree("(@a)") == "@a");
  CHECK(tree("user@example.com") == "user@example.com");  // '@' inside a word is text
}

TEST_CASE("'@' without a valid name is an error", "[query]") {
  CHECK(tree("@") == "error at 1: expected a list name after '@'");
  CHECK(tree("a @ b") == "error at 3: expected a list name after '@'");
  CHECK(tree("@中国") == "error at 1: expected a list name after '@'");
  CHECK(tree("@list!") == "error at 5: a list name holds only letters, digits, '_', '.' and '-'");
  CHECK(tree("@list*") == "error at 5: a list name holds only letters, digits, '_', '.' and '-'");
}

TEST_CASE("field:term scopes any term form to a field", "[query]") {
  CHECK(tree("title:稀土") == "title:稀土");
  CHECK(tree("body:\"rare earth\"") == "body:\"rare earth\"");
  CHECK(tree("title:/ex+port/") == "title:/ex+port/");
  CHECK(tree("title:@minerals") == "title:@minerals");
  CHECK(tree("summary_2:control*") == "summary_2:control*");
  CHECK(tree("_x:a:b") == "_x:a:b");
  TermSyntax t = term_of("body:\"rare earth\"");
  CHECK(t.field == "body");
  CHECK(t.text == "rare earth");
  CHECK(term_of("title:a:b").text == "a:b");
  CHECK(term_of("title:AND").text == "AND");  // right after a field it is a term
}

TEST_CASE("only [a-z_][a-z0-9_]* before ':' is a field", "[query]") {
  CHECK(term_of("Title:x").field.empty());
  CHECK(term_of("Title:x").text == "Title:x");
  CHECK(term_of("12:30").field.empty());
  CHECK(term_of(":x").text == ":x");
  CHECK(term_of("\"note: x\"").field.empty());  // quotes keep a colon literal
}

TEST_CASE("a field prefix must be followed at once by a term", "[query]") {
  CHECK(tree("a:") == "error at 2: expected a term after 'a:'");
  CHECK(tree("title: 稀土") == "error at 6: expected a term after 'title:'");
  CHECK(tree("title:(a OR b)") == "error at 6: expected a term after 'title:'");
  CHECK(tree("http://x") == "error at 5: empty /regex/");  // quote a URL: "http://x"
  CHECK(term_of("\"http://x\"").text == "http://x");
}

TEST_CASE("written is the term exactly as in the query", "[query]") {
  const char* forms[] = {"word", "pre*", "\"a \\\"b\\\" c*\"", "/x\\/y/", "@list", "title:\"稀土 出口\"", "body:/a b/",
                         "f:@l", "中國"};
  for (const char* form : forms) {
    INFO(form);
    QueryNode root = parsed(form);
    CHECK(root.written == form);
    CHECK(root.offset == 0);
    CHECK(root.length == std::string_view(form).size());
  }
}

// ---------------------------------------------------------------------------------------------
// NEAR and ATLEAST

TEST_CASE("NEAR/n joins two terms at a distance n", "[query]") {
  QueryNode root = parsed("@china NEAR/10 \"export ban*\"");
  CHECK(render(root) == "(NEAR/10 @china \"export ban*\")");
  CHECK(root.count == 10);
  CHECK(tree("a NEAR/0 title:b") == "(NEAR/0 a title:b)");
  CHECK(tree("a NEAR/3 b c") == "(AND (NEAR/3 a b) c)");
  CHECK(tree("a NEAR/003 b") == "(NEAR/3 a b)");
}

TEST_CASE("NEAR needs its distance written with a slash and no spaces", "[query]") {
  CHECK(tree("a NEAR b") == "error at 2: NEAR needs a distance, as in NEAR/10");
  CHECK(tree("a NEAR/ b") == "error at 2: NEAR needs a distance, as in NEAR/10");
  CHECK(tree("a NEAR/x b") == "error at 2: NEAR needs a distance, as in NEAR/10");
  CHECK(tree("a NEAR/3x b") == "error at 2: NEAR needs a distance, as in NEAR/10");
  CHECK(tree("a NEAR /3 b") == "error at 2: NEAR needs a distance, as in NEAR/10");
  CHECK(tree("a NEAR/99999999999 b") == "error at 7: NEAR distance is too large");
}

TEST_CASE("NEAR operands must be terms or @lists", "[query]") {
  CHECK(tree("a NEAR/3 b NEAR/2 c") == "error at 11: NEAR operands must be terms or @lists");
  CHECK(tree("(a OR b) NEAR/3 c") == "error at 0: NEAR operands must be terms or @lists");
  CHECK(tree("x (a) NEAR/3 c") == "error at 2: NEAR operands must be terms or @lists");
  CHECK(tree("a NEAR/3 (b OR c)") == "error at 9: NEAR operands must be terms or @lists");
  CHECK(tree("a NEAR/3 NOT b") == "error at 9: NEAR operands must be terms or @lists");
  CHECK(tree("ATLEAST(1, a) NEAR/3 b") == "error at 0: NEAR operands must be terms or @lists");
  CHECK(tree("a NEAR/3") == "error at 8: expected a term after NEAR/3");
  CHECK(tree("(a NEAR/3)") == "error at 9: expected a term after NEAR/3");
  CHECK(tree("NEAR/3 a") == "error at 0: expected a term before NEAR/3");
}

TEST_CASE("ATLEAST(n, ...) counts its operands, each any expression", "[query]") {
  QueryNode root = parsed("ATLEAST(2, a, b, @c)");
  CHECK(root.kind == QueryNode::Kind::kAtLeast);
  CHECK(root.count == 2);
  CHECK(root.children.size() == 3);
  CHECK(render(root) == "(ATLEAST/2 a b @c)");
  CHECK(tree("ATLEAST(1, a OR b, c d, NOT e)") == "(ATLEAST/1 (OR a b) (AND c d) (NOT e))");
  CHECK(tree("ATLEAST (2,@minerals)") == "(ATLEAST/2 @minerals)");
  CHECK(tree("x ATLEAST(2, a, (b OR c)) OR y") == "(OR (AND x (ATLEAST/2 a (OR b c))) y)");
  CHECK(tree("ATLEAST(1, ATLEAST(1, a))") == "(ATLEAST/1 (ATLEAST/1 a))");
}

TEST_CASE("ATLEAST with n above its operand count parses, the compiler judges it", "[query]") {
  CHECK(tree("ATLEAST(3, a, b)") == "(ATLEAST/3 a b)");
}

TEST_CASE("ATLEAST needs a number n >= 1, then commas between operands and a ')'", "[query]") {
  CHECK(tree("ATLEAST(0, a)") == "error at 8: ATLEAST needs n >= 1");
  CHECK(tree("ATLEAST(a, b)") == "error at 8: ATLEAST needs a number first");
  CHECK(tree("ATLEAST()") == "error at 8: ATLEAST needs a number first");
  CHECK(tree("ATLEAST(") == "error at 8: ATLEAST needs a number first");
  CHECK(tree("ATLEAST(2)") == "error at 9: expected ',' after ATLEAST's number");
  CHECK(tree("ATLEAST(2 a)") == "error at 10: expected ',' after ATLEAST's number");
  CHECK(tree("ATLEAST(2, a") == "error at 12: expected ',' or ')'");
  CHECK(tree("ATLEAST(2, a,)") == "error at 13: expected a term after ','");
  CHECK(tree("ATLEAST(5000000000, a)") == "error at 8: ATLEAST's number is too large");
}

// ---------------------------------------------------------------------------------------------
// Offsets

TEST_CASE("every term's offset and length locate its written text in the query", "[query]") {
  const char* queries[] = {
      "中國稀土 AND (@rare_earths OR title:\"出口 管制\")",
      "  ((a)) b   NOT (c NEAR/5 \"d e*\") ATLEAST(2, 貝森特, /x\\/y/, f:@g)",
      "稀土\u3000出口 OR 關鍵礦物*",
  };
  for (const char* q : queries) {
    INFO(q);
    QueryNode root = parsed(q);
    for (const QueryNode* t : terms_of(root)) CHECK(span(q, *t) == t->written);
  }
}

TEST_CASE("offsets are bytes, counted past multi-byte text before a term", "[query]") {
  // 中國稀土 is 12 bytes; "AND" starts at 13, '(' at 17.
  const std::string q = "中國稀土 AND (@rare_earths OR title:\"出口 管制\")";
  QueryNode root = parsed(q);
  REQUIRE(render(root) == "(AND 中國稀土 (OR @rare_earths title:\"出口 管制\"))");
  const QueryNode& first = root.children[0];
  CHECK(first.offset == 0);
  CHECK(first.length == 12);
  const QueryNode& list = root.children[1].children[0];
  CHECK(list.offset == 18);
  CHECK(list.length == 12);
  CHECK(list.written == "@rare_earths");
  const QueryNode& field = root.children[1].children[1];
  CHECK(field.offset == 34);
  CHECK(field.written == "title:\"出口 管制\"");
  CHECK(field.length == field.written.size());
}

TEST_CASE("an operator node spans its operands, a group's node excludes its parentheses", "[query]") {
  const std::string q = "x (a OR b) NOT c";
  QueryNode root = parsed(q);
  CHECK(span(q, root) == q);
  CHECK(span(q, root.children[1]) == "a OR b");
  CHECK(span(q, root.children[2]) == "NOT c");
  const std::string near = " NOT a NEAR/2 @b ";
  root = parsed(near);
  CHECK(span(near, root) == "NOT a NEAR/2 @b");
  CHECK(span(near, root.children[0]) == "a NEAR/2 @b");
  const std::string atleast = "y ATLEAST(1, (a)) z";
  root = parsed(atleast);
  CHECK(span(atleast, root.children[1]) == "ATLEAST(1, (a))");
  CHECK(span(atleast, root.children[1].children[0]) == "a");
  const std::string grouped = "(a OR b) c";
  CHECK(span(grouped, parsed(grouped)) == grouped);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_CASE("an empty or blank query is an error at 0", "[query]") {
  CHECK(tree("") == "error at 0: empty query");
  CHECK(tree("   \t\n") == "error at 0: empty query");
  CHECK(tree("\u3000") == "error at 0: empty query");
}

TEST_CASE("a missing operand is reported where the operand should be", "[query]") {
  CHECK(tree("a AND") == "error at 5: expected a term after AND");
  CHECK(tree("a AND   ") == "error at 8: expected a term after AND");
  CHECK(tree("a OR OR b") == "error at 5: expected a term after OR");
  CHECK(tree("a OR") == "error at 4: expected a term after OR");
  CHECK(tree("NOT") == "error at 3: expected a term after NOT");
  CHECK(tree("a AND OR b") == "error at 6: expected a term after AND");
  CHECK(tree("()") == "error at 1: expected a term after '('");
  CHECK(tree("AND a") == "error at 0: expected a term before AND");
  CHECK(tree("OR a") == "error at 0: expected a term before OR");
}

TEST_CASE("unbalanced parentheses are reported at the end or at the stray ')'", "[query]") {
  CHECK(tree("(a OR b") == "error at 7: expected ')'");
  CHECK(tree("((a)") == "error at 4: expected ')'");
  CHECK(tree("a )") == "error at 2: unexpected ')'");
  CHECK(tree(")") == "error at 0: unexpected ')'");
  CHECK(tree("(a))") == "error at 3: unexpected ')'");
  CHECK(tree("(a, b)") == "error at 2: expected ')'");
  CHECK(tree(", a") == "error at 0: unexpected ','");
}

TEST_CASE("errors after multi-byte text point at the offending byte", "[query]") {
  CHECK(tree("稀土 AND") == "error at 10: expected a term after AND");
  CHECK(tree("稀土 )") == "error at 7: unexpected ')'");
  CHECK(tree("稀土 NEAR 出口") == "error at 7: NEAR needs a distance, as in NEAR/10");
}

TEST_CASE("nesting deeper than 200 is refused instead of overflowing the stack", "[query]") {
  const std::string ok = std::string(200, '(') + "a" + std::string(200, ')');
  CHECK(tree(ok) == "a");
  const std::string deep = std::string(201, '(') + "a" + std::string(201, ')');
  CHECK(tree(deep) == "error at 200: query nested too deeply");
  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "NOT ";
  CHECK(tree(nots + "a") == "error at 800: query nested too deeply");
  std::string atleast;
  for (int i = 0; i < 300; ++i) atleast += "ATLEAST(1, ";
  CHECK(tree(atleast + "a") == "error at 2200: query nested too deeply");
}

TEST_CASE("a long flat query parses without deep recursion", "[query]") {
  std::string q;
  for (int i = 0; i < 20000; ++i) q += (i % 2 ? "w OR " : "v ");
  q += "z";
  QueryNode root = parsed(q);
  CHECK(root.kind == QueryNode::Kind::kOr);
  CHECK(root.children.size() == 10001);
}

TEST_CASE("random token soup either parses with consistent spans or fails inside the query", "[query]") {
  const char* pieces[] = {"a",  "稀土", "AND",      "OR", "NOT",      "NEAR/2", "NEAR", "(",
                          ")",  ",",    "ATLEAST(", "1",  "\"p q*\"", "\"",     "/r/",  "/",
                          "@l", "@",    "t:",       "x*", "*",        "\\",     " ",    "\u3000"};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1);
  std::uniform_int_distribution<int> length(1, 12);
  int parsed_count = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string q;
    for (int n = length(rng); n > 0; --n) {
      q += pieces[pick(rng)];
      if (rng() % 2) q += ' ';
    }
    INFO(q);
    QueryNode root;
    SyntaxError error;
    if (parse_query(q, root, error)) {
      ++parsed_count;
      CHECK(size_t{root.offset} + root.length <= q.size());
      for (const QueryNode* t : terms_of(root)) REQUIRE(span(q, *t) == t->written);
    } else {
      REQUIRE(error.offset <= q.size());
      REQUIRE(!error.message.empty());
    }
  }
  CHECK(parsed_count > 0);
}

// ---------------------------------------------------------------------------------------------
// List terms (term lists, entity names and aliases)

TEST_CASE("a list term is a phrase as written, trimmed", "[query][list]") {
  CHECK(list_term("rare earth") == "literal [rare earth]");
  CHECK(list_term("  稀土 \t") == "literal [稀土]");
  CHECK(list_term("史考特·貝森特") == "literal [史考特·貝森特]");
  CHECK(list_term("\u3000REE\u3000") == "literal [REE]");
  CHECK(list_term("a*b") == "literal [a*b]");
  CHECK(list_term("title:x") == "literal [title:x]");  // no field scopes in lists
}

TEST_CASE("in a list term a leading '@' is literal text", "[query][list]") {
  CHECK(list_term("@other_list") == "literal [@other_list]");
}

TEST_CASE("a list term ending in '*' is a prefix", "[query][list]") {
  CHECK(list_term("rare earth*") == "prefix [rare earth]");
  CHECK(list_term("export ban* ") == "prefix [export ban]");
  CHECK(list_term("*") == "error at 0: expected text before '*'");
  CHECK(list_term("  *") == "error at 2: expected text before '*'");
}

TEST_CASE("a list term wrapped in double quotes has them stripped", "[query][list]") {
  CHECK(list_term("\"rare earth\"") == "literal [rare earth]");
  CHECK(list_term("\"exchange rate*\"") == "prefix [exchange rate]");
  CHECK(list_term("say \"no\"") == "literal [say \"no\"]");
  CHECK(list_term("\"") == "literal [\"]");
  CHECK(list_term("\"\"") == "error at 0: empty term");
  CHECK(list_term("\"*\"") == "error at 1: expected text before '*'");
}

TEST_CASE("a list term between slashes is a regex", "[query][list]") {
  CHECK(list_term("/export (curb|restriction)s?/") == "regex [export (curb|restriction)s?]");
  CHECK(list_term(" /a\\/b\\d/ ") == "regex [a/b\\d]");
  CHECK(list_term("/a/b/") == "regex [a/b]");  // the whole string is the regex
  CHECK(list_term("//") == "error at 0: empty /regex/");
  CHECK(list_term(" /") == "error at 1: unterminated /regex/");
  CHECK(list_term("/abc") == "error at 0: unterminated /regex/");
  CHECK(list_term("/abc\\/") == "error at 0: unterminated /regex/");
}

TEST_CASE("an empty or blank list term is an error", "[query][list]") {
  CHECK(list_term("") == "error at 0: empty term");
  CHECK(list_term(" \t ") == "error at 0: empty term");
}

// ---------------------------------------------------------------------------------------------
// Comparisons: field:>=n

TEST_CASE("field:>=n is a comparison of the post's number with every operator", "[query][compare]") {
  using Compare = TermSyntax::Compare;
  const struct {
    const char* query;
    Compare compare;
    double number;
  } cases[] = {
      {"pushes:>=50", Compare::kGreaterEqual, 50}, {"pushes:>50", Compare::kGreater, 50},
      {"pushes:<=-20", Compare::kLessEqual, -20},  {"pushes:<0", Compare::kLess, 0},
      {"score:=0.75", Compare::kEqual, 0.75},      {"score:>-0.5", Compare::kGreater, -0.5},
  };
  for (const auto& c : cases) {
    INFO(c.query);
    TermSyntax t = term_of(c.query);
    CHECK(t.kind == TermSyntax::Kind::kCompare);
    CHECK(t.compare == c.compare);
    CHECK(t.number == c.number);
    CHECK(t.field == std::string_view(c.query).substr(0, std::string_view(c.query).find(':')));
  }
  CHECK(tree("pushes:>=50") == "pushes:>=50");
}

TEST_CASE("a comparison binds as a term: AND, OR, NOT, parentheses and ATLEAST", "[query][compare]") {
  CHECK(tree("pushes:>=50 AND 台積電") == "(AND pushes:>=50 台積電)");
  CHECK(tree("台積電 pushes:>=50") == "(AND 台積電 pushes:>=50)");
  CHECK(tree("TSMC OR 台積電 pushes:>=50") == "(OR TSMC (AND 台積電 pushes:>=50))");
  CHECK(tree("(TSMC OR 台積電) AND NOT pushes:<0") == "(AND (OR TSMC 台積電) (NOT pushes:<0))");
  CHECK(tree("ATLEAST(1, pushes:>=100, boo:>=30)") == "(ATLEAST/1 pushes:>=100 boo:>=30)");
}

TEST_CASE("without a field, or with text after the operator, '>=' is text or an error", "[query][compare]") {
  // No field: the words stay words (check warns about them, see compiler_test).
  CHECK(tree(">=50") == ">=50");
  CHECK(tree("pushes >= 50") == "(AND pushes >= 50)");
  CHECK(tree("pushes:>=") == "error at 9: expected a number after 'pushes:>=', as in pushes:>=50");
  CHECK(tree("pushes:>=abc") == "error at 9: expected a number after 'pushes:>=', as in pushes:>=50");
  CHECK(tree("pushes:>=5.") == "error at 9: expected a number after 'pushes:>=', as in pushes:>=50");
  CHECK(tree("pushes:>=50x") == "error at 9: expected a number after 'pushes:>=', as in pushes:>=50");
  CHECK(tree("pushes:=>5") == "error at 8: expected a number after 'pushes:=', as in pushes:=50");
  CHECK(tree("pushes:>=1e999") == "error at 9: expected a number after 'pushes:>=', as in pushes:>=50");
  CHECK(tree("pushes:>=1" + std::string(400, '0')) == "error at 9: the number of a comparison is too large");
}

TEST_CASE("a comparison cannot be a NEAR operand", "[query][compare]") {
  CHECK(tree("pushes:>=50 NEAR/5 台積電") ==
        "error at 0: a comparison has no place in the text, so it cannot be a NEAR operand");
  CHECK(tree("台積電 NEAR/5 pushes:>=50") ==  // offsets are bytes: 台積電 is nine
        "error at 17: a comparison has no place in the text, so it cannot be a NEAR operand");
}

TEST_CASE("compare_holds compares as the operator reads", "[query][compare]") {
  using Compare = TermSyntax::Compare;
  using lodestone::rules::compare_holds;
  CHECK(compare_holds(Compare::kGreaterEqual, 50, 50));
  CHECK_FALSE(compare_holds(Compare::kGreater, 50, 50));
  CHECK(compare_holds(Compare::kLessEqual, -25.5, -20));
  CHECK_FALSE(compare_holds(Compare::kLess, -20, -20));
  CHECK(compare_holds(Compare::kEqual, 0.75, 0.75));
  CHECK_FALSE(compare_holds(Compare::kEqual, 0.75, 0.7));
}
