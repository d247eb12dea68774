// The rule language's syntax: one term as written (in a term list or a query) and the boolean
// query of a rule's `match`. Pure functions over strings, no I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone::rules {

// A term as written. Forms (docs/design.md, "Terms"):
//   word, a phrase         -> kLiteral, text = the words ("rare earth")
//   prefix*, "a phrase*"   -> kPrefix,  text without the '*' ("rare earth")
//   /regex/                -> kRegex,   text = the expression between the slashes, with "\/"
//                                         unescaped to "/"
//   @name                  -> kListRef, text = the name without '@'
//   field:>=n (> < <= =)   -> kCompare, field = the number's name, compare and number set,
//                                         text = n as written ("-20", "1.5"); a query-only form
// `field` holds the scope of a `field:term` written in a query, else is empty.
struct TermSyntax {
  enum class Kind { kLiteral, kPrefix, kRegex, kListRef, kCompare };
  enum class Compare { kLess, kLessEqual, kEqual, kGreaterEqual, kGreater };
  Kind kind = Kind::kLiteral;
  std::string text;
  std::string field;
  Compare compare = Compare::kEqual;  // kCompare
  double number = 0;                  // kCompare
};

// ">=", "<", ...: the operator as a query writes it.
const char* compare_operator(TermSyntax::Compare compare);
// Whether `value` compares with `number` as `compare` says.
bool compare_holds(TermSyntax::Compare compare, double value, double number);

struct SyntaxError {
  uint32_t offset = 0;  // byte offset into the parsed string where the problem is
  std::string message;
};

// Parses one string of a term list or an entity's name/aliases: "rare earth*", "稀土",
// "/export (curb|restriction)s?/", "@other_list" is NOT allowed here (kListRef is a query-only
// form; a leading '@' in a list string is literal text). Surrounding white space is trimmed.
// Errors: empty term, a lone "*", "/" without its closing "/", an empty regex "//".
// On error returns false and fills `error`.
bool parse_list_term(std::string_view written, TermSyntax& term, SyntaxError& error);

// A node of a parsed query.
struct QueryNode {
  enum class Kind { kTerm, kAnd, kOr, kNot, kNear, kAtLeast };
  Kind kind = Kind::kTerm;
  TermSyntax term;                  // kTerm
  std::string written;              // kTerm: the term's text exactly as in the query
  uint32_t count = 0;               // kNear: n of NEAR/n; kAtLeast: n of ATLEAST(n, ...)
  std::vector<QueryNode> children;  // kAnd, kOr: two or more; kNot: one; kNear: two; kAtLeast: one or more
  uint32_t offset = 0;              // byte offset of the node's first character in the query
  uint32_t length = 0;              // bytes the node spans
};

// Parses a `match` query (docs/design.md, "Query"):
//   or    := and ("OR" and)*
//   and   := not (["AND"] not)*          two operands side by side mean AND
//   not   := "NOT" not | near
//   near  := primary ("NEAR/" n primary)*   NEAR's operands must be terms (incl. @lists), not
//                                          parenthesised expressions or other NEARs
//   primary := "(" or ")" | "ATLEAST(" n "," or ("," or)* ")" | term
// Terms in a query: a bare word (any run of characters other than white space, ( ) , and "; it
// may end in '*'), a "quoted phrase" (may end in '*' inside the quotes; \" and \\ escape),
// /regex/ (up to the next unescaped '/'), @name (name: [A-Za-z0-9_.-]+), and any of these behind
// `field:` where field is [a-z_][a-z0-9_]*; behind `field:` also a comparison, one of >= > <= < =
// then a decimal number (-?digits, optionally .digits: "pushes:>=50", "score:<-0.5"). Operators are upper case only; "and", "or", "not",
// "near" in lower case are words. n is a decimal integer; ATLEAST needs n >= 1.
// Errors name what was expected and point at the offending byte: "expected ')'", "unexpected ')'",
// "NEAR needs a distance, as in NEAR/10", "ATLEAST needs a number first", "empty query",
// "unterminated quoted phrase", "unterminated /regex/", "NEAR operands must be terms or @lists", ...
// On error returns false and fills `error` (the first error found).
// Fine points: white space is Unicode White_Space (U+3000 separates words like ' '). A field
// prefix is taken wherever its shape appears, so text with `word:` in it (`re:Invent`,
// `http://x`) must be quoted. A "phrase", /regex/ or @name must be followed by white space,
// '(', ')', ',' or the end ("a"b and /usr/bin are errors). In a regex "\\" is one escape, so
// /a\\/ ends after the second backslash. ATLEAST is an operator only when '(' follows. Node
// offset/length cover the node's own text: a parenthesised expression's node excludes the
// parentheses; its parent's span includes them. Nesting deeper than 200 is an error.
bool parse_query(std::string_view query, QueryNode& root, SyntaxError& error);

}  // namespace lodestone::rules
