// The rule language's parser: one term of a term list (parse_list_term) and the boolean `match`
// query of a rule (parse_query), a hand-written recursive descent over byte offsets.
#include "rules/query.h"

#include <charconv>
#include <limits>
#include <utility>

namespace lodestone::rules {
namespace {

// Nesting of '(' , ATLEAST( and NOT beyond this is refused, so a hostile query cannot exhaust the
// stack (each level costs a handful of frames here, and more in the compiler's walk).
constexpr int kMaxDepth = 200;

constexpr const char* kNearComparison = "a comparison has no place in the text, so it cannot be a NEAR operand";

// Byte length of the white-space character that starts at s[i], or 0. White space is Unicode's
// White_Space set, not only ASCII: a query typed with a Chinese IME often holds U+3000 between
// words, and treating it as part of a word would silently turn `稀土　出口` into one phrase.
size_t space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  if (c == 0xC2 && (b(1) == 0x85 || b(1) == 0xA0)) return 2;  // NEL, NBSP
  if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;    // U+1680
  if (c == 0xE2 && b(1) == 0x80) {                            // U+2000..200A, 2028, 2029, 202F
    const unsigned d = b(2);
    return (d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF ? 3 : 0;
  }
  if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  return 0;
}

// Byte length of a white-space character that ends just before s[end], or 0.
size_t space_before(std::string_view s, size_t end) {
  for (size_t len = 1; len <= 3 && len <= end; ++len) {
    if (space_at(s, end - len) == len) return len;
  }
  return 0;
}

std::string_view trim(std::string_view s, size_t& begin) {
  begin = 0;
  while (size_t n = space_at(s, begin)) begin += n;
  size_t end = s.size();
  while (end > begin) {
    size_t n = space_before(s, end);
    if (n == 0) break;
    end -= n;
  }
  return s.substr(begin, end - begin);
}

bool is_blank(std::string_view s) {
  size_t begin;
  return trim(s, begin).empty();
}

// A bare word runs up to white space or one of ( ) , " (or the end).
bool ends_word(std::string_view s, size_t i) {
  if (i >= s.size()) return true;
  const char c = s[i];
  return c == '(' || c == ')' || c == ',' || c == '"' || space_at(s, i) > 0;
}

// After a closing quote or slash, or a list name, the term must visibly end.
bool ends_term(std::string_view s, size_t i) {
  if (i >= s.size()) return true;
  const char c = s[i];
  return c == '(' || c == ')' || c == ',' || space_at(s, i) > 0;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_field_start(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
bool is_field_char(char c) { return is_field_start(c) || is_digit(c); }
bool is_list_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '.' || c == '-';
}

// Reads a decimal number at s[i...]; false if it does not fit in 32 bits.
bool read_number(std::string_view s, size_t& i, uint32_t& n) {
  uint64_t value = 0;
  while (i < s.size() && is_digit(s[i])) {
    value = value * 10 + static_cast<uint64_t>(s[i] - '0');
    if (value > std::numeric_limits<uint32_t>::max()) return false;
    ++i;
  }
  n = static_cast<uint32_t>(value);
  return true;
}

struct Token {
  enum class Kind { kEnd, kOpen, kClose, kComma, kAnd, kOr, kNot, kNear, kAtLeast, kTerm };
  Kind kind = Kind::kEnd;
  size_t begin = 0;
  size_t end = 0;      // kAtLeast: just past its '('
  uint32_t count = 0;  // kNear: the distance
};

class QueryParser {
 public:
  QueryParser(std::string_view query, SyntaxError& error) : query_(query), error_(error) {}

  bool parse(QueryNode& root) {
    if (query_.size() > std::numeric_limits<uint32_t>::max()) return fail(0, "query too long");
    if (is_blank(query_)) return fail(0, "empty query");
    Parsed parsed;
    if (!parse_or("", parsed)) return false;
    Token t;
    if (!peek(t)) return false;
    if (t.kind != Token::Kind::kEnd) return fail(t.begin, "unexpected " + describe(t));
    root = std::move(parsed.node);
    return true;
  }

 private:
  // A node with the extent of query text it was parsed from: a parenthesised expression's
  // extent includes its parentheses, its node's offset/length do not.
  struct Parsed {
    QueryNode node;
    size_t begin = 0;
    size_t end = 0;
  };

  using Kind = Token::Kind;

  bool fail(size_t offset, std::string message) {
    error_.offset = static_cast<uint32_t>(offset);
    error_.message = std::move(message);
    return false;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Kind::kEnd:
        return "end of query";
      case Kind::kOpen:
        return "'('";
      case Kind::kClose:
        return "')'";
      case Kind::kComma:
        return "','";
      case Kind::kAtLeast:
        return "ATLEAST";
      default:
        return std::string(query_.substr(t.begin, t.end - t.begin));
    }
  }

  static bool starts_operand(const Token& t) {
    return t.kind == Kind::kTerm || t.kind == Kind::kOpen || t.kind == Kind::kNot || t.kind == Kind::kAtLeast;
  }

  // The error for a token found where an operand should start; `after` names what came before
  // it ("AND", "'('"), or is empty at the start of the query.
  bool missing_operand(const Token& t, std::string_view after) {
    if (!after.empty()) return fail(t.begin, "expected a term after " + std::string(after));
    if (t.kind == Kind::kClose || t.kind == Kind::kComma) return fail(t.begin, "unexpected " + describe(t));
    return fail(t.begin, "expected a term before " + describe(t));
  }

  bool enter(size_t offset) {
    if (++depth_ > kMaxDepth) return fail(offset, "query nested too deeply");
    return true;
  }

  // Skips white space and reads the next token without consuming it (pos_ moves past the white
  // space only). A term is reported by where it starts; parse_term reads it.
  bool peek(Token& t) {
    while (size_t n = space_at(query_, pos_)) pos_ += n;
    t = Token{};
    t.begin = pos_;
    t.end = pos_ + 1;
    if (pos_ >= query_.size()) {
      t.kind = Kind::kEnd;
      t.end = pos_;
      return true;
    }
    switch (query_[pos_]) {
      case '(':
        t.kind = Kind::kOpen;
        return true;
      case ')':
        t.kind = Kind::kClose;
        return true;
      case ',':
        t.kind = Kind::kComma;
        return true;
      case '"':
        t.kind = Kind::kTerm;
        return true;
      default:
        break;
    }
    size_t end = pos_;
    while (!ends_word(query_, end)) ++end;
    const std::string_view word = query_.substr(pos_, end - pos_);
    t.end = end;
    t.kind = Kind::kTerm;
    if (word == "AND") {
      t.kind = Kind::kAnd;
    } else if (word == "OR") {
      t.kind = Kind::kOr;
    } else if (word == "NOT") {
      t.kind = Kind::kNot;
    } else if (word == "NEAR" || word.starts_with("NEAR/")) {
      size_t i = pos_ + 5;
      if (word.size() <= 5 || !is_digit(query_[i])) return fail(pos_, "NEAR needs a distance, as in NEAR/10");
      if (!read_number(query_, i, t.count)) return fail(pos_ + 5, "NEAR distance is too large");
      if (i != end) return fail(pos_, "NEAR needs a distance, as in NEAR/10");
      t.kind = Kind::kNear;
    } else if (word == "ATLEAST") {
      // ATLEAST is an operator only when a '(' follows; alone it is a word like any other.
      size_t i = end;
      while (size_t n = space_at(query_, i)) i += n;
      if (i < query_.size() && query_[i] == '(') {
        t.kind = Kind::kAtLeast;
        t.end = i + 1;
      }
    }
    return true;
  }

  // or := and ("OR" and)*
  bool parse_or(std::string_view after, Parsed& out) {
    if (!parse_and(after, out)) return false;
    Token t;
    if (!peek(t)) return false;
    if (t.kind != Kind::kOr) return true;
    Parsed group;
    group.node.kind = QueryNode::Kind::kOr;
    group.begin = out.begin;
    add_child(group, std::move(out));
    while (t.kind == Kind::kOr) {
      pos_ = t.end;
      Parsed next;
      if (!parse_and("OR", next)) return false;
      add_child(group, std::move(next));
      if (!peek(t)) return false;
    }
    out = finish(std::move(group));
    return true;
  }

  // and := not (["AND"] not)*
  bool parse_and(std::string_view after, Parsed& out) {
    if (!parse_not(after, out)) return false;
    Parsed group;
    group.node.kind = QueryNode::Kind::kAnd;
    group.begin = out.begin;
    bool grouped = false;
    for (;;) {
      Token t;
      if (!peek(t)) return false;
      std::string_view next_after = "";
      if (t.kind == Kind::kAnd) {
        pos_ = t.end;
        next_after = "AND";
      } else if (!starts_operand(t)) {
        break;
      }
      if (!grouped) {
        add_child(group, std::move(out));
        grouped = true;
      }
      Parsed next;
      if (!parse_not(next_after, next)) return false;
      add_child(group, std::move(next));
    }
    if (grouped) out = finish(std::move(group));
    return true;
  }

  // not := "NOT" not | near
  bool parse_not(std::string_view after, Parsed& out) {
    Token t;
    if (!peek(t)) return false;
    if (!starts_operand(t)) return missing_operand(t, after);
    if (t.kind != Kind::kNot) return parse_near(out);
    if (!enter(t.begin)) return false;
    pos_ = t.end;
    Parsed inner;
    if (!parse_not("NOT", inner)) return false;
    --depth_;
    out = Parsed{};
    out.node.kind = QueryNode::Kind::kNot;
    out.begin = t.begin;
    add_child(out, std::move(inner));
    out = finish(std::move(out));
    return true;
  }

  // near := primary ("NEAR/" n primary)?, where a NEAR's operands are terms. The caller has
  // seen that an operand other than NOT starts here.
  bool parse_near(Parsed& out) {
    Token t;
    if (!peek(t)) return false;
    if (t.kind != Kind::kTerm) {
      if (!parse_primary(out)) return false;
      if (!peek(t)) return false;
      if (t.kind == Kind::kNear) return fail(out.begin, "NEAR operands must be terms or @lists");
      return true;
    }
    if (!parse_term(out)) return false;
    Token near;
    if (!peek(near)) return false;
    if (near.kind != Kind::kNear) return true;
    if (out.node.term.kind == TermSyntax::Kind::kCompare) return fail(out.begin, kNearComparison);
    pos_ = near.end;
    Token right_start;
    if (!peek(right_start)) return false;
    if (right_start.kind != Kind::kTerm) {
      if (starts_operand(right_start)) return fail(right_start.begin, "NEAR operands must be terms or @lists");
      return missing_operand(right_start, describe(near));
    }
    Parsed right;
    if (!parse_term(right)) return false;
    if (right.node.term.kind == TermSyntax::Kind::kCompare) return fail(right.begin, kNearComparison);
    Parsed node;
    node.node.kind = QueryNode::Kind::kNear;
    node.node.count = near.count;
    node.begin = out.begin;
    add_child(node, std::move(out));
    add_child(node, std::move(right));
    out = finish(std::move(node));
    if (!peek(t)) return false;
    if (t.kind == Kind::kNear) return fail(t.begin, "NEAR operands must be terms or @lists");
    return true;
  }

  // primary := "(" or ")" | "ATLEAST(" n "," or ("," or)* ")"   (terms are read by parse_term)
  bool parse_primary(Parsed& out) {
    Token open;
    if (!peek(open)) return false;
    if (!enter(open.begin)) return false;
    pos_ = open.end;
    if (open.kind == Kind::kOpen) {
      if (!parse_or("'('", out)) return false;
      Token close;
      if (!peek(close)) return false;
      if (close.kind != Kind::kClose) return fail(close.begin, "expected ')'");
      pos_ = close.end;
      --depth_;
      out.begin = open.begin;
      out.end = close.end;
      return true;
    }

    // ATLEAST(
    while (size_t n = space_at(query_, pos_)) pos_ += n;
    const size_t number_at = pos_;
    if (pos_ >= query_.size() || !is_digit(query_[pos_])) return fail(pos_, "ATLEAST needs a number first");
    Parsed node;
    node.node.kind = QueryNode::Kind::kAtLeast;
    node.begin = open.begin;
    if (!read_number(query_, pos_, node.node.count)) return fail(number_at, "ATLEAST's number is too large");
    if (node.node.count == 0) return fail(number_at, "ATLEAST needs n >= 1");
    Token t;
    if (!peek(t)) return false;
    if (t.kind != Kind::kComma) return fail(t.begin, "expected ',' after ATLEAST's number");
    while (t.kind == Kind::kComma) {
      pos_ = t.end;
      Parsed operand;
      if (!parse_or("','", operand)) return false;
      node.node.children.push_back(std::move(operand.node));
      if (!peek(t)) return false;
    }
    if (t.kind != Kind::kClose) return fail(t.begin, "expected ',' or ')'");
    pos_ = t.end;
    --depth_;
    node.end = t.end;
    out = finish(std::move(node));
    return true;
  }

  // term := [field ":"] (word | "phrase" | /regex/ | @name), starting at pos_.
  bool parse_term(Parsed& out) {
    const size_t begin = pos_;
    out = Parsed{};
    TermSyntax& term = out.node.term;
    size_t i = pos_;
    if (is_field_start(query_[i])) {
      size_t j = i + 1;
      while (j < query_.size() && is_field_char(query_[j])) ++j;
      if (j < query_.size() && query_[j] == ':') {
        term.field = std::string(query_.substr(i, j - i));
        i = j + 1;
        if (i >= query_.size() || (ends_word(query_, i) && query_[i] != '"')) {
          return fail(i, "expected a term after '" + term.field + ":'");
        }
      }
    }

    const char first = query_[i];
    if (!term.field.empty() && (first == '<' || first == '>' || first == '=')) {
      if (!read_comparison(i, term)) return false;
    } else if (first == '"') {
      if (!read_phrase(i, term)) return false;
    } else if (first == '/') {
      if (!read_regex(i, term)) return false;
    } else if (first == '@') {
      ++i;
      const size_t name_at = i;
      while (i < query_.size() && is_list_name_char(query_[i])) ++i;
      if (i == name_at) return fail(name_at, "expected a list name after '@'");
      if (!ends_term(query_, i)) return fail(i, "a list name holds only letters, digits, '_', '.' and '-'");
      term.kind = TermSyntax::Kind::kListRef;
      term.text = std::string(query_.substr(name_at, i - name_at));
    } else {
      const size_t word_at = i;
      while (!ends_word(query_, i)) ++i;
      std::string_view word = query_.substr(word_at, i - word_at);
      if (word.ends_with('*')) {
        if (word.size() == 1) return fail(word_at, "expected text before '*'");
        word.remove_suffix(1);
        term.kind = TermSyntax::Kind::kPrefix;
      }
      term.text = std::string(word);
    }

    pos_ = i;
    out.node.kind = QueryNode::Kind::kTerm;
    out.node.written = std::string(query_.substr(begin, i - begin));
    out.begin = begin;
    out.end = i;
    out = finish(std::move(out));
    return true;
  }

  // field:>=n, from the operator at i: one of >= > <= < =, then -?digits[.digits], then the end
  // of the term. On success i is just past the number.
  bool read_comparison(size_t& i, TermSyntax& term) {
    using Compare = TermSyntax::Compare;
    const size_t op_at = i;
    const char c = query_[i++];
    const bool or_equal = c != '=' && i < query_.size() && query_[i] == '=';
    if (or_equal) ++i;
    term.compare = c == '=' ? Compare::kEqual
                   : c == '<' ? (or_equal ? Compare::kLessEqual : Compare::kLess)
                              : (or_equal ? Compare::kGreaterEqual : Compare::kGreater);
    const std::string written_op(query_.substr(op_at, i - op_at));
    const size_t number_at = i;
    size_t j = i;
    if (j < query_.size() && query_[j] == '-') ++j;
    const size_t digits_at = j;
    while (j < query_.size() && is_digit(query_[j])) ++j;
    bool ok = j > digits_at;
    if (ok && j < query_.size() && query_[j] == '.') {
      const size_t fraction_at = ++j;
      while (j < query_.size() && is_digit(query_[j])) ++j;
      ok = j > fraction_at;
    }
    if (!ok || !ends_term(query_, j)) {
      return fail(number_at, "expected a number after '" + term.field + ":" + written_op + "', as in " + term.field +
                                 ":" + written_op + "50");
    }
    term.text = std::string(query_.substr(number_at, j - number_at));
    const auto parsed = std::from_chars(term.text.data(), term.text.data() + term.text.size(), term.number);
    if (parsed.ec != std::errc()) return fail(number_at, "the number of a comparison is too large");
    term.kind = TermSyntax::Kind::kCompare;
    i = j;
    return true;
  }

  // Reads from just past an opening delimiter to the first unescaped `close`. A backslash
  // escapes the next character: the backslash is dropped before a character in `unescape` and
  // kept, with the character, before any other. On success i is just past `close`.
  bool read_delimited(size_t& i, char close, std::string_view unescape, std::string& text) {
    while (i < query_.size()) {
      const char c = query_[i];
      if (c == '\\' && i + 1 < query_.size()) {
        if (unescape.find(query_[i + 1]) == std::string_view::npos) text += c;
        text += query_[i + 1];
        i += 2;
      } else if (c == close) {
        ++i;
        return true;
      } else {
        text += c;
        ++i;
      }
    }
    return false;
  }

  // "quoted phrase": \" and \\ are its only escapes; a '*' just inside the closing quote makes
  // it a prefix. On success i is just past the closing quote.
  bool read_phrase(size_t& i, TermSyntax& term) {
    const size_t open = i++;
    std::string text;
    if (!read_delimited(i, '"', "\"\\", text)) return fail(open, "unterminated quoted phrase");
    if (is_blank(text)) return fail(open, "empty quoted phrase");
    if (query_[i - 2] == '*') {  // the last character inside the quotes; '*' is never escaped
      text.pop_back();
      if (is_blank(text)) return fail(i - 2, "expected text before '*'");
      term.kind = TermSyntax::Kind::kPrefix;
    }
    if (i < query_.size() && query_[i] == '*') {
      return fail(i, "put '*' inside the quotes, as in \"exchange rate*\"");
    }
    if (!ends_term(query_, i)) return fail(i, "expected a space after the quoted phrase");
    term.text = std::move(text);
    return true;
  }

  // /regex/: ends at the first '/' not escaped by a backslash. "\/" becomes "/"; every other
  // escape stays as written, since it is regex syntax ("\d", "\\").
  bool read_regex(size_t& i, TermSyntax& term) {
    const size_t open = i++;
    std::string text;
    if (!read_delimited(i, '/', "/", text)) return fail(open, "unterminated /regex/");
    if (text.empty()) return fail(open, "empty /regex/");
    if (!ends_term(query_, i)) return fail(i, "expected a space after /regex/");
    term.kind = TermSyntax::Kind::kRegex;
    term.text = std::move(text);
    return true;
  }

  // Adds a child, merging a nested AND into an AND (OR into OR): a AND (b AND c) is one AND.
  static void add_child(Parsed& parent, Parsed child) {
    parent.end = child.end;
    const bool same = child.node.kind == parent.node.kind &&
                      (child.node.kind == QueryNode::Kind::kAnd || child.node.kind == QueryNode::Kind::kOr);
    if (!same) {
      parent.node.children.push_back(std::move(child.node));
      return;
    }
    for (auto& grandchild : child.node.children) parent.node.children.push_back(std::move(grandchild));
  }

  // Sets the node's offset and length from the extent.
  static Parsed finish(Parsed p) {
    p.node.offset = static_cast<uint32_t>(p.begin);
    p.node.length = static_cast<uint32_t>(p.end - p.begin);
    return p;
  }

  std::string_view query_;
  SyntaxError& error_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

bool parse_list_term(std::string_view written, TermSyntax& term, SyntaxError& error) {
  const auto fail = [&](size_t offset, std::string message) {
    error.offset = static_cast<uint32_t>(offset);
    error.message = std::move(message);
    return false;
  };
  if (written.size() > std::numeric_limits<uint32_t>::max()) return fail(0, "term too long");
  size_t begin;
  std::string_view s = trim(written, begin);
  if (s.empty()) return fail(0, "empty term");

  term = TermSyntax{};
  if (s.front() == '/') {
    // The whole string is the regex, so an unescaped '/' inside it is part of the expression;
    // only the last '/' closes it, and it must not be escaped.
    std::string text;
    bool closed = false;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        if (s[i + 1] != '/') text += s[i];
        text += s[i + 1];
        ++i;
      } else if (s[i] == '/' && i + 1 == s.size()) {
        closed = true;
      } else {
        text += s[i];
      }
    }
    if (!closed) return fail(begin, "unterminated /regex/");
    if (text.empty()) return fail(begin, "empty /regex/");
    term.kind = TermSyntax::Kind::kRegex;
    term.text = std::move(text);
    return true;
  }

  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    s = s.substr(1, s.size() - 2);
    ++begin;
    if (is_blank(s)) return fail(0, "empty term");
  }
  if (s.ends_with('*')) {
    s.remove_suffix(1);
    if (is_blank(s)) return fail(begin + s.size(), "expected text before '*'");
    term.kind = TermSyntax::Kind::kPrefix;
  }
  term.text = std::string(s);
  return true;
}

const char* compare_operator(TermSyntax::Compare compare) {
  switch (compare) {
    case TermSyntax::Compare::kLess:
      return "<";
    case TermSyntax::Compare::kLessEqual:
      return "<=";
    case TermSyntax::Compare::kEqual:
      return "=";
    case TermSyntax::Compare::kGreaterEqual:
      return ">=";
    case TermSyntax::Compare::kGreater:
      return ">";
  }
  return "=";
}

bool compare_holds(TermSyntax::Compare compare, double value, double number) {
  switch (compare) {
    case TermSyntax::Compare::kLess:
      return value < number;
    case TermSyntax::Compare::kLessEqual:
      return value <= number;
    case TermSyntax::Compare::kEqual:
      return value == number;
    case TermSyntax::Compare::kGreaterEqual:
      return value >= number;
    case TermSyntax::Compare::kGreater:
      return value > number;
  }
  return false;
}

bool parse_query(std::string_view query, QueryNode& root, SyntaxError& error) {
  QueryParser parser(query, error);
  return parser.parse(root);
}

}  // namespace lodestone::rules
