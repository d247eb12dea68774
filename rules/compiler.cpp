// Resolving names and compiling terms: definitions → RuleSetData with Hyperscan databases.
#include "rules/compiler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "lodestone/post.h"
#include "text/normalizer.h"
#include "rules/entity_list.h"
#include "rules/hs_build.h"
#include "rules/query.h"

namespace lodestone::rules {
namespace {

using compiled::Node;
using compiled::RuleSetData;

// A term of a term list or an entity's names, parsed once per file.
struct ListTerm {
  TermSyntax syntax;
  const Located* where;
};

// A name (or exclude phrase) of an entity, parsed: [[entity]] names may be prefixes or regexes,
// list names are literal.
struct NameTerm {
  TermSyntax syntax;
  std::string written;
  SourcePlace place;
};

struct EntityInfo {
  uint32_t index;               // into RuleSetData::entities
  std::vector<NameTerm> names;  // the name, then the aliases
  std::vector<NameTerm> exclude;
};

struct ListInfo {
  const RuleFile* file;
  const EntityListDef* def;
  std::vector<EntityInfo> entities;
};

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string place_text(const SourcePlace& p) {
  return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// Appends byte c to a Hyperscan expression: as itself when it is a letter or a digit (or, with
// `high_bytes_plain`, 0x80 and above), else as \xHH.
void append_expression_byte(std::string& out, unsigned char c, bool high_bytes_plain) {
  static const char kHex[] = "0123456789abcdef";
  if ((high_bytes_plain && c >= 0x80) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    out += static_cast<char>(c);
  } else {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

// Escapes a normalized literal for Hyperscan: ASCII punctuation and space as \xHH (which, under
// HS_FLAG_UTF8, names the code point U+00HH), everything else as its own UTF-8 bytes.
std::string literal_expression(const std::string& text) {
  std::string out;
  for (unsigned char c : text) append_expression_byte(out, c, /*high_bytes_plain=*/true);
  return out;
}

// The bytes of a literal pattern's expression, reversed and escaped for a database compiled
// without HS_FLAG_UTF8 (the reversed bytes are not UTF-8): every byte but a letter or digit as
// \xHH, which then names the byte itself.
std::string reversed_literal_expression(const std::string& expression) {
  const auto hex_value = [](char h) { return h <= '9' ? h - '0' : h - 'a' + 10; };
  std::string out;
  out.reserve(4 * expression.size());
  // literal_expression's output read from its end: an escape \xHH ends in two hex digits, a plain
  // byte is a letter, a digit or a byte of 0x80 and above.
  for (size_t i = expression.size(); i > 0;) {
    auto c = static_cast<unsigned char>(expression[--i]);
    if (i >= 3 && expression[i - 3] == '\\' && expression[i - 2] == 'x') {
      c = static_cast<unsigned char>(hex_value(expression[i - 1]) * 16 + hex_value(expression[i]));
      i -= 3;
    }
    append_expression_byte(out, c, /*high_bytes_plain=*/false);
  }
  return out;
}

// The construct Hyperscan can't take, named as a user would look for it, or empty.
std::string unsupported_regex_construct(const std::string& re) {
  for (size_t i = 0; i + 2 < re.size(); ++i) {
    if (re[i] == '\\') {
      ++i;
      continue;
    }
    if (re[i] == '(' && re[i + 1] == '?') {
      char c = re[i + 2];
      if (c == '=' || c == '!') return "lookaround is not supported";
      if (c == '<' && i + 3 < re.size() && (re[i + 3] == '=' || re[i + 3] == '!')) return "lookaround is not supported";
    }
  }
  return {};
}

unsigned regex_flags(bool fold_case) {
  return HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_SOM_LEFTMOST | (fold_case ? HS_FLAG_CASELESS : 0u);
}

class Compiler {
 public:
  Compiler(const std::vector<RuleFile>& files, const BuildOptions& options, const std::vector<std::string>& known_fields,
           Diagnostics& diags, RuleSetData& out)
      : files_(files), options_(options), diags_(diags), out_(out), norm_(Normalizer::instance()) {
    for (std::string_view name : standard_field_names()) known_fields_.emplace_back(name);
    known_fields_.insert(known_fields_.end(), known_fields.begin(), known_fields.end());
  }

  void run() {
    using Clock = std::chrono::steady_clock;
    auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    for (const auto& f : files_) out_.files.push_back(f.path);
    parse_lists();
    auto started = Clock::now();
    collect_entities();
    out_.stats.read_seconds = seconds_since(started);
    started = Clock::now();
    for (const auto& file : files_) {
      for (const auto& list : file.term_lists) {
        if (entities_.count(list.name) || entity_lists_.count(list.name)) {
          file.warning(diags_, "shadowed-name", list.place,
                       "term list '" + list.name + "' hides the entity of the same id in this file's rules");
        }
      }
    }
    for (const auto& file : files_) {
      for (const auto& rule : file.rules) compile_rule(file, rule);
    }
    if (diags_.has_errors()) return;
    release_rule_indexes();
    index_patterns();
    out_.stats.resolve_seconds = seconds_since(started);
    build_databases();
  }

 private:
  // ---- stage 2: names ----

  void parse_lists() {
    for (const auto& file : files_) {
      auto& lists = lists_[&file];
      for (const auto& list : file.term_lists) {
        std::vector<ListTerm> parsed;
        for (const auto& t : list.terms) {
          if (auto term = parse_located(file, t)) parsed.push_back({*term, &t});
        }
        if (lists.count(list.name)) {
          file.error(diags_, "duplicate-id", list.place, "term list '" + list.name + "' is defined twice");
        }
        lists[list.name] = std::move(parsed);
      }
    }
  }

  std::optional<TermSyntax> parse_located(const RuleFile& file, const Located& t) {
    TermSyntax syntax;
    SyntaxError err;
    if (!parse_list_term(t.value, syntax, err)) {
      file.error(diags_, "bad-term", file.place_in_string(t.place, err.offset), err.message);
      return std::nullopt;
    }
    return syntax;
  }

  std::optional<NameTerm> name_term(const RuleFile& file, const Located& t) {
    auto syntax = parse_located(file, t);
    if (!syntax) return std::nullopt;
    return NameTerm{std::move(*syntax), t.value, file.place_in_string(t.place, 0)};
  }

  // A name from a list is literal text, whatever it holds ('*', '/', '@').
  static NameTerm literal_name(const std::string& text, std::string written, const SourcePlace& place) {
    NameTerm t;
    t.syntax.kind = TermSyntax::Kind::kLiteral;
    t.syntax.text = text;
    t.written = std::move(written);
    t.place = place;
    return t;
  }

  // Entity and entity-list ids share one namespace across the rule set.
  bool claim_entity_id(const RuleFile& file, const Located& id, const char* what) {
    if (auto it = entity_ids_.find(id.value); it != entity_ids_.end()) {
      file.error(diags_, "duplicate-id", id.place,
                 std::string(what) + " id '" + id.value + "' is also defined at " + place_text(it->second));
      return false;
    }
    entity_ids_.emplace(id.value, id.place);
    return true;
  }

  void collect_entities() {
    for (const auto& file : files_) {
      for (const auto& e : file.entities) {
        if (!claim_entity_id(file, e.id, "entity")) continue;
        EntityInfo info{static_cast<uint32_t>(out_.entities.size()), {}, {}};
        if (auto t = name_term(file, e.name)) info.names.push_back(std::move(*t));
        for (const auto& alias : e.aliases) {
          if (auto t = name_term(file, alias)) info.names.push_back(std::move(*t));
        }
        for (const auto& phrase : e.exclude) {
          if (auto t = name_term(file, phrase)) info.exclude.push_back(std::move(*t));
        }
        out_.entities.push_back({e.id.value, e.name.value, e.kind, {}});
        entities_.emplace(e.id.value, std::move(info));
      }
      for (const auto& def : file.entity_lists) {
        if (!claim_entity_id(file, def.id, "entity list")) continue;
        EntityList list;
        if (!read_entity_list(file, def, list, diags_)) continue;
        ListInfo info{&file, &def, {}};
        info.entities.reserve(list.entities.size());
        for (auto& e : list.entities) {
          EntityInfo entity{static_cast<uint32_t>(out_.entities.size()), {}, {}};
          for (auto& n : e.names) entity.names.push_back(literal_name(n.text, std::move(n.written), def.place));
          for (const auto& phrase : e.exclude) {
            if (auto t = name_term(file, phrase)) entity.exclude.push_back(std::move(*t));
          }
          out_.entities.push_back({std::move(e.id), std::move(e.name), std::move(e.kind), def.id.value});
          info.entities.push_back(std::move(entity));
        }
        out_.entity_lists.push_back(std::move(list.info));
        entity_lists_.emplace(def.id.value, std::move(info));
      }
    }
  }

  // ---- the rules ----

  struct RuleContext {
    const RuleFile* file;
    const RuleDef* def;
    compiled::Rule* rule;
    NormalizeOptions opts;
    compiled::FieldScope scope;
    std::vector<std::string> explicit_fields;
    bool ok = true;
  };

  void compile_rule(const RuleFile& file, const RuleDef& def) {
    if (auto it = rule_ids_.find(def.id.value); it != rule_ids_.end()) {
      file.error(diags_, "duplicate-id", def.id.place,
                 "rule id '" + def.id.value + "' is also defined at " + place_text(it->second));
      return;
    }
    rule_ids_.emplace(def.id.value, def.id.place);

    compiled::Rule rule;
    rule.id = def.id.value;
    rule.title = def.title.value.empty() ? def.id.value : def.title.value;
    rule.severity = def.severity.value;
    for (const auto& t : def.tags) rule.tags.push_back(t.value);
    for (const auto& n : def.notify) rule.notify.push_back(n.value);
    for (const auto& glob : def.sources) rule.sources.push_back(glob.value);
    rule.max_alerts_per_hour = def.max_alerts_per_hour;
    rule.place = def.place;

    RuleContext ctx{&file, &def, &rule, {!def.case_sensitive, def.fold_chinese}, {}, {}, true};
    rule.form = static_cast<uint8_t>(ctx.opts.form());
    if (def.has_fields) {
      for (const auto& f : def.fields) {
        check_field_name(file, f.value, f.place);
        int id = field_id(file, f.value, f.place);
        if (id < 0) {
          ctx.ok = false;
          continue;
        }
        ctx.scope.named |= uint64_t{1} << id;
        ctx.explicit_fields.push_back(f.value);
      }
    } else {
      ctx.scope.text_fields = true;
    }

    QueryNode root;
    SyntaxError err;
    if (!parse_query(def.match.value, root, err)) {
      file.error(diags_, "query-syntax", file.place_in_string(def.match.place, err.offset), err.message);
      return;
    }
    warn_query(ctx, root);
    const size_t errors_before = diags_.error_count();
    uint32_t root_index = build(ctx, root, false);
    if (!ctx.ok || diags_.error_count() > errors_before) return;
    rule.root = root_index;

    // A term written twice in one rule is one Term: report its hits once. Sorting and dropping
    // repeats once per rule stays linear-logarithmic for rules naming lists of many thousand terms.
    std::sort(rule.positive_terms.begin(), rule.positive_terms.end());
    rule.positive_terms.erase(std::unique(rule.positive_terms.begin(), rule.positive_terms.end()),
                              rule.positive_terms.end());
    std::sort(rule.positive_comparisons.begin(), rule.positive_comparisons.end());
    rule.positive_comparisons.erase(std::unique(rule.positive_comparisons.begin(), rule.positive_comparisons.end()),
                                    rule.positive_comparisons.end());
    if ((rule.positive_terms.empty() && rule.positive_comparisons.empty()) || eval_absent(root_index)) {
      file.error(
          diags_, "never-positive", def.match.place,
          "query '" + def.match.value + "' would match a post that has none of its terms; give it a term outside NOT");
      return;
    }
    if (may_hold_unhit(root_index).first) out_.unconditional_rules.push_back(static_cast<uint32_t>(out_.rules.size()));

    rule.test_fields = def.has_fields ? ctx.explicit_fields : std::vector<std::string>{"body"};
    for (const auto& t : def.tests) {
      compiled::RuleTest test;
      test.expect_match = t.expect_match;
      test.place = t.place;
      test.source_line = file.line(t.place.line);
      for (const auto& [name, text] : t.fields) {
        test.fields.emplace_back(name.empty() ? rule.test_fields.front() : name, text);
      }
      test.numbers = t.numbers;
      test.source = t.source;
      rule.tests.push_back(std::move(test));
    }
    out_.rules.push_back(std::move(rule));
  }

  int field_id(const RuleFile& file, const std::string& name, const SourcePlace& place) {
    if (name == "id" || name == "source") {
      file.error(diags_, "bad-field", place, "'" + name + "' names the post, it is not a field to match");
      return -1;
    }
    auto it = std::find(out_.field_names.begin(), out_.field_names.end(), name);
    if (it != out_.field_names.end()) return static_cast<int>(it - out_.field_names.begin());
    if (out_.field_names.size() == 64) {
      file.error(diags_, "too-many-fields", place, "a rule set may name at most 64 different fields");
      return -1;
    }
    out_.field_names.push_back(name);
    return static_cast<int>(out_.field_names.size() - 1);
  }

  uint32_t add_node(Node n, const std::vector<uint32_t>& kids) {
    n.first = static_cast<uint32_t>(out_.children.size());
    n.child_count = static_cast<uint32_t>(kids.size());
    out_.children.insert(out_.children.end(), kids.begin(), kids.end());
    out_.nodes.push_back(n);
    return static_cast<uint32_t>(out_.nodes.size() - 1);
  }

  // The scope of a term written `field:term` (or with no field) in this rule.
  std::optional<compiled::FieldScope> term_scope(RuleContext& ctx, const std::string& field, const SourcePlace& place) {
    if (field.empty()) return ctx.scope;
    int id = field_id(*ctx.file, field, place);
    if (id < 0) return std::nullopt;
    compiled::FieldScope s;
    s.named = uint64_t{1} << id;
    if (!ctx.scope.text_fields && !(ctx.scope.named & s.named)) {
      ctx.file->error(diags_, "field-scope", place, "field '" + field + "' is not among this rule's fields");
      return std::nullopt;
    }
    return s;
  }

  // Builds the node for a query node; `negated` is true under an odd number of NOTs.
  uint32_t build(RuleContext& ctx, const QueryNode& q, bool negated) {
    const SourcePlace place = ctx.file->place_in_string(ctx.def->match.place, q.offset);
    switch (q.kind) {
      case QueryNode::Kind::kTerm:
        return build_term(ctx, q, place, negated);
      case QueryNode::Kind::kAnd:
      case QueryNode::Kind::kOr: {
        std::vector<uint32_t> kids;
        for (const auto& c : q.children) kids.push_back(build(ctx, c, negated));
        Node n;
        n.kind = q.kind == QueryNode::Kind::kAnd ? Node::Kind::kAnd : Node::Kind::kOr;
        return add_node(n, kids);
      }
      case QueryNode::Kind::kNot: {
        uint32_t kid = build(ctx, q.children.at(0), !negated);
        Node n;
        n.kind = Node::Kind::kNot;
        return add_node(n, {kid});
      }
      case QueryNode::Kind::kNear: {
        std::vector<uint32_t> kids;
        for (const auto& c : q.children) kids.push_back(build(ctx, c, negated));
        Node n;
        n.kind = Node::Kind::kNear;
        n.count = q.count;
        return add_node(n, kids);
      }
      case QueryNode::Kind::kAtLeast: {
        std::vector<uint32_t> kids;
        for (const auto& c : q.children) {
          uint32_t kid = build(ctx, c, negated);
          if (!ctx.ok) return 0;  // the operand was reported and built nothing
          // An @list of terms stands for each of its terms; an entity (list) for each entity.
          const Node& built = out_.nodes[kid];
          if (c.kind == QueryNode::Kind::kTerm && c.term.kind == TermSyntax::Kind::kListRef &&
              built.kind == Node::Kind::kAny && lists_[ctx.file].count(c.term.text)) {
            for (uint32_t i = 0; i < built.child_count; ++i) kids.push_back(out_.children[built.first + i]);
          } else {
            kids.push_back(kid);
          }
        }
        // An entity list counts its different entities.
        size_t operands = 0;
        for (uint32_t kid : kids) {
          const Node& k = out_.nodes[kid];
          operands += k.kind == Node::Kind::kEntities ? k.count : 1;
        }
        if (q.count > operands) {
          ctx.file->error(diags_, "atleast-count", place,
                          "ATLEAST(" + std::to_string(q.count) + ", …) has only " + std::to_string(operands) +
                              " operand" + (operands == 1 ? "" : "s") + ", so it can never match");
        }
        Node n;
        n.kind = Node::Kind::kAtLeast;
        n.count = q.count;
        return add_node(n, kids);
      }
    }
    return 0;
  }

  // A field name no source is known to produce is likely a typo (`titel:`), which would make the
  // term match nothing, silently.
  void check_field_name(const RuleFile& file, const std::string& name, const SourcePlace& place) {
    if (name == "id" || name == "source") return;  // an error of its own (field_id)
    if (std::find(known_fields_.begin(), known_fields_.end(), name) != known_fields_.end()) return;
    std::string msg = "field '" + name +
                      "' is none the sources produce (title, body, author, comments, ...) nor in the config's "
                      "[lodestone] fields";
    if (auto near = did_you_mean(name, known_fields_)) {
      msg += " (did you mean '" + *near + "'?)";
    } else {
      msg += "; add it to [lodestone] fields if your posts have it";
    }
    file.warning(diags_, "unknown-field", place, msg);
  }

  // Warnings for queries that likely say something else than their author meant: a lower-case
  // operator between terms (`TSMC and NVIDIA` asks for the word "and"), and a comparison written
  // without its field (`pushes >= 50` asks for the text ">=").
  void warn_query(RuleContext& ctx, const QueryNode& q) {
    for (size_t i = 0; i < q.children.size(); ++i) {
      const QueryNode& c = q.children[i];
      if (c.kind != QueryNode::Kind::kTerm) {
        warn_query(ctx, c);
        continue;
      }
      const SourcePlace place = ctx.file->place_in_string(ctx.def->match.place, c.offset);
      const std::string& w = c.written;
      const bool between = q.kind == QueryNode::Kind::kAnd && i > 0 && i + 1 < q.children.size();
      if (between && (w == "and" || w == "or" || w == "not" || w == "near")) {
        std::string upper = w;
        for (char& ch : upper) ch = static_cast<char>(ch - 'a' + 'A');
        ctx.file->warning(diags_, "lowercase-operator", place,
                          "'" + w + "' is matched as a word; write " + upper + " for the operator" +
                              (w == "near" ? " (NEAR/n)" : "") + ", or \"" + w + "\" to match the word");
      } else if (w.starts_with("near/") && w.size() > 5 && w.find_first_not_of("0123456789", 5) == std::string::npos) {
        ctx.file->warning(diags_, "lowercase-operator", place,
                          "'" + w + "' is matched as a word; write NEAR" + w.substr(4) + " for the operator");
      } else if (c.term.field.empty() && (w.starts_with('<') || w.starts_with('>') || w.starts_with('=') ||
                                          w.find(">=") != std::string::npos || w.find("<=") != std::string::npos)) {
        warn_comparison_word(ctx, q, i, place);
      }
    }
  }

  // `>=` outside a comparison: suggest the comparison the neighbours spell (`pushes >= 50`).
  void warn_comparison_word(RuleContext& ctx, const QueryNode& group, size_t i, const SourcePlace& place) {
    const std::string& w = group.children[i].written;
    std::string msg = "'" + w + "' is matched as text, not compared; a comparison is written field:>=n";
    const auto bare = [&](size_t k) -> const std::string* {
      if (k >= group.children.size()) return nullptr;
      const QueryNode& n = group.children[k];
      if (n.kind != QueryNode::Kind::kTerm || !n.term.field.empty()) return nullptr;
      return &n.written;
    };
    const std::string* before = i > 0 ? bare(i - 1) : nullptr;
    const std::string* after = bare(i + 1);
    const bool field_like = before && !before->empty() && std::all_of(before->begin(), before->end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    });
    const bool op_alone = w == ">=" || w == "<=" || w == ">" || w == "<" || w == "=";
    if (group.kind == QueryNode::Kind::kAnd && op_alone && field_like && after &&
        after->find_first_not_of("-.0123456789") == std::string::npos) {
      msg += " (did you mean '" + *before + ":" + w + *after + "'?)";
    } else {
      msg += ", as in pushes:>=50";
    }
    ctx.file->warning(diags_, "comparison-word", place, msg);
  }

  // field:>=n: a comparison of the post's number `field`; fields = [...] does not bound it.
  uint32_t comparison_node(RuleContext& ctx, const QueryNode& q, const SourcePlace& place, bool negated) {
    const TermSyntax& t = q.term;
    if (t.field == "id" || t.field == "source") {
      ctx.file->error(diags_, "bad-field", place, "'" + t.field + "' names the post, it is not a number to compare");
      ctx.ok = false;
      return 0;
    }
    check_field_name(*ctx.file, t.field, place);
    const auto index = static_cast<uint32_t>(out_.comparisons.size());
    out_.comparisons.push_back({t.field, t.compare, t.number, q.written});
    if (!negated) ctx.rule->positive_comparisons.push_back(index);
    Node n;
    n.kind = Node::Kind::kCompare;
    n.term = index;
    return add_node(n, {});
  }

  uint32_t build_term(RuleContext& ctx, const QueryNode& q, const SourcePlace& place, bool negated) {
    if (q.term.kind == TermSyntax::Kind::kCompare) return comparison_node(ctx, q, place, negated);
    if (!q.term.field.empty()) check_field_name(*ctx.file, q.term.field, place);
    auto scope = term_scope(ctx, q.term.field, place);
    if (!scope) {
      ctx.ok = false;
      return 0;
    }
    if (q.term.kind != TermSyntax::Kind::kListRef) {
      return term_node(ctx, q.term, q.written, place, *scope, nullptr, negated);
    }
    std::vector<uint32_t> kids;
    const auto& lists = lists_[ctx.file];
    if (auto it = lists.find(q.term.text); it != lists.end()) {
      for (const ListTerm& t : it->second) {
        kids.push_back(term_node(ctx, t.syntax, t.where->value, ctx.file->place_in_string(t.where->place, 0), *scope,
                                 nullptr, negated));
      }
    } else if (auto e = entities_.find(q.term.text); e != entities_.end()) {
      for (const NameTerm& t : e->second.names) {
        kids.push_back(term_node(ctx, t.syntax, t.written, t.place, *scope, &e->second, negated));
      }
    } else if (auto l = entity_lists_.find(q.term.text); l != entity_lists_.end()) {
      return entity_list_node(ctx, l->second, *scope, negated);
    } else {
      std::vector<std::string> names;
      for (const auto& [name, terms] : lists) names.push_back(name);
      for (const auto& [id, info] : entities_) names.push_back(id);
      for (const auto& [id, info] : entity_lists_) names.push_back(id);
      std::string msg = "unknown term list '@" + q.term.text + "'";
      if (auto near = did_you_mean(q.term.text, names)) msg += " (did you mean '@" + *near + "'?)";
      ctx.file->error(diags_, "unknown-name", place, msg);
      ctx.ok = false;
      return 0;
    }
    Node n;
    n.kind = Node::Kind::kAny;
    return add_node(n, kids);
  }

  // @list of an [[entities]] list: one kEntities node over every name of every entity, built
  // once per text form and scope however many rules name the list.
  uint32_t entity_list_node(RuleContext& ctx, ListInfo& list, const compiled::FieldScope& scope, bool negated) {
    auto key = std::make_tuple(list.def, ctx.opts.form(), scope.named, scope.text_fields);
    auto cached = list_nodes_.find(key);
    if (cached == list_nodes_.end()) {
      std::vector<compiled::PatternTerm> pairs;
      for (EntityInfo& entity : list.entities) {
        for (const NameTerm& t : entity.names) {
          auto term = add_term(ctx, t.syntax, t.written, t.place, scope, &entity, true);
          if (!term) continue;
          pairs.push_back({out_.terms[*term].pattern, *term});
        }
      }
      std::sort(pairs.begin(), pairs.end());
      pairs.erase(std::unique(pairs.begin(), pairs.end(),
                              [](const auto& a, const auto& b) { return a.pattern == b.pattern && a.term == b.term; }),
                  pairs.end());
      Node n;
      n.kind = Node::Kind::kEntities;
      n.first = static_cast<uint32_t>(out_.entity_terms.size());
      n.child_count = static_cast<uint32_t>(pairs.size());
      n.count = static_cast<uint32_t>(list.entities.size());
      out_.entity_terms.insert(out_.entity_terms.end(), pairs.begin(), pairs.end());
      out_.nodes.push_back(n);
      cached = list_nodes_.emplace(key, static_cast<uint32_t>(out_.nodes.size() - 1)).first;
    }
    if (!negated) {
      const Node& n = out_.nodes[cached->second];
      for (uint32_t i = 0; i < n.child_count; ++i) ctx.rule->positive_terms.push_back(out_.entity_terms[n.first + i].term);
    }
    return cached->second;
  }

  uint32_t term_node(RuleContext& ctx, const TermSyntax& syntax, const std::string& written, const SourcePlace& place,
                     const compiled::FieldScope& scope, EntityInfo* entity, bool negated) {
    auto index = add_term(ctx, syntax, written, place, scope, entity, entity != nullptr);
    if (!index) {
      ctx.ok = false;
      return 0;
    }
    if (!negated) ctx.rule->positive_terms.push_back(*index);  // made unique once the rule is built
    Node n;
    n.kind = Node::Kind::kTerm;
    n.term = *index;
    return add_node(n, {});
  }

  // The Term for a term in a rule's form and scope; the same term in many rules is one Term, so
  // a scanner decides it once per post. An entity's names are matched in the name form (with
  // punctuation and spacing folded), as are its exclude phrases, which the Term carries.
  std::optional<uint32_t> add_term(RuleContext& ctx, const TermSyntax& syntax, const std::string& written,
                                   const SourcePlace& place, const compiled::FieldScope& scope, EntityInfo* entity,
                                   bool name_form) {
    compiled::Term term;
    term.scope = scope;
    term.written = written;
    NormalizeOptions opts = ctx.opts;
    opts.fold_names = name_form && syntax.kind != TermSyntax::Kind::kRegex;
    auto pattern = pattern_for(ctx, opts, syntax, written, place, term);
    if (!pattern) return std::nullopt;
    term.pattern = *pattern;
    if (entity) {
      term.entity = static_cast<int32_t>(entity->index);
      auto [first, count] = exclude_terms(ctx, *entity, scope);
      term.exclude_first = first;
      term.exclude_count = count;
    }
    auto key = std::make_tuple(term.pattern, term.need_left_boundary, term.need_right_boundary, term.scope.named,
                               term.scope.text_fields, term.entity, term.written);
    auto [it, added] = term_index_.emplace(std::move(key), static_cast<uint32_t>(out_.terms.size()));
    if (added) out_.terms.push_back(std::move(term));
    return it->second;
  }

  // The exclude phrases of an entity as terms of this form and scope, once per (entity, form, scope).
  std::pair<uint32_t, uint32_t> exclude_terms(RuleContext& ctx, const EntityInfo& entity,
                                              const compiled::FieldScope& scope) {
    if (entity.exclude.empty()) return {0, 0};
    auto key = std::make_tuple(entity.index, ctx.opts.form(), scope.named, scope.text_fields);
    if (auto it = exclude_ranges_.find(key); it != exclude_ranges_.end()) return it->second;
    std::vector<uint32_t> terms;
    // Phrases are matched like names, in the name form, so both are positions in one text.
    for (const NameTerm& t : entity.exclude) {
      if (auto term = add_term(ctx, t.syntax, t.written, t.place, scope, nullptr, true)) terms.push_back(*term);
    }
    std::pair<uint32_t, uint32_t> range{static_cast<uint32_t>(out_.exclude_terms.size()),
                                        static_cast<uint32_t>(terms.size())};
    out_.exclude_terms.insert(out_.exclude_terms.end(), terms.begin(), terms.end());
    exclude_ranges_.emplace(key, range);
    return range;
  }

  std::optional<uint32_t> pattern_for(RuleContext& ctx, const NormalizeOptions& opts, const TermSyntax& syntax,
                                      const std::string& written, const SourcePlace& place, compiled::Term& term) {
    const int form = opts.form();
    compiled::Pattern p;
    p.form = static_cast<uint8_t>(form);
    if (syntax.kind == TermSyntax::Kind::kRegex) {
      p.is_regex = true;
      p.expression = fold_regex(syntax.text, opts);
      if (!check_regex(ctx, p.expression, written, place)) return std::nullopt;
    } else {
      std::string text = norm_.normalize(syntax.text, opts);
      if (text == " ") text.clear();
      if (!text.empty() && text.front() == ' ') text.erase(0, 1);
      if (!text.empty() && text.back() == ' ') text.pop_back();
      if (text.empty()) {
        report_once(place, "empty-term", "term '" + written + "' is empty after normalization");
        return std::nullopt;
      }
      p.expression = literal_expression(text);
      p.literal_bytes = static_cast<uint32_t>(text.size());
      term.need_left_boundary = norm_.is_word_char(decode_utf8_at(text, 0));
      term.need_right_boundary =
          syntax.kind != TermSyntax::Kind::kPrefix && norm_.is_word_char(decode_utf8_before(text, text.size()));
    }
    auto key = std::make_tuple(form, p.is_regex, p.expression);
    if (auto it = pattern_index_.find(key); it != pattern_index_.end()) return it->second;
    out_.patterns.push_back(std::move(p));
    pattern_place_.push_back(place);
    uint32_t index = static_cast<uint32_t>(out_.patterns.size() - 1);
    pattern_index_.emplace(std::move(key), index);
    return index;
  }

  // Han characters in a regex are folded like the text; the syntax itself is left alone.
  std::string fold_regex(const std::string& re, const NormalizeOptions& opts) const {
    if (!opts.fold_chinese) return re;
    std::string out;
    for (size_t i = 0; i < re.size();) {
      const size_t len = utf8_sequence_length(static_cast<unsigned char>(re[i]));
      if (len == 1 || i + len > re.size()) {
        out += re[i++];
        continue;
      }
      append_utf8(out, norm_.to_simplified(decode_utf8_at(re, i)));
      i += len;
    }
    return out;
  }

  bool check_regex(RuleContext& ctx, const std::string& expression, const std::string& written,
                   const SourcePlace& place) {
    std::string problem = unsupported_regex_construct(expression);
    if (problem.empty()) {
      auto key = std::make_pair(expression, ctx.opts.fold_case);
      auto cached = regex_checked_.find(key);
      if (cached == regex_checked_.end()) {
        // Hyperscan's analysis, not a compile: milliseconds for thousands of regexes, where
        // compiling each alone took seconds outside the compile budget. What only the compile
        // can find is reported by it, at the pattern's place, with its index.
        hs_expr_info_t* info = nullptr;
        hs_compile_error_t* err = nullptr;
        std::string result;
        if (hs_expression_info(expression.c_str(), regex_flags(ctx.opts.fold_case), &info, &err) != HS_SUCCESS) {
          result = lower_first(err ? err->message : "cannot be compiled");
          if (result.rfind("pattern matches empty buffer", 0) == 0) result = "matches the empty string";
          hs_free_compile_error(err);
        } else if (info && info->min_width == 0) {
          result = "matches the empty string";
        }
        std::free(info);  // from Hyperscan's misc allocator, malloc by default
        cached = regex_checked_.emplace(key, result).first;
      }
      problem = cached->second;
    }
    if (problem.empty()) return true;
    std::string shown = written.size() >= 2 && written.front() == '/' ? written : "/" + expression + "/";
    report_once(place, "bad-regex", shown + ": " + problem);
    return false;
  }

  // A list term is used by every rule that names its list; its problem is reported once, at the
  // term in its list (whose file may differ from the rule's).
  void report_once(const SourcePlace& place, const char* code, const std::string& message) {
    if (reported_.insert(place_text(place) + message).second) report_at(place, code, message);
  }

  // An error at a place in any of the files, with that file's line under it.
  void report_at(const SourcePlace& place, const char* code, const std::string& message) {
    for (const auto& f : files_) {
      if (f.path == place.file) {
        f.error(diags_, code, place, message);
        return;
      }
    }
    diags_.error(code, place, message);
  }

  // Whether a post hitting none of the rule's patterns may still make the query (first) hold
  // and (second) fail, a comparison being free to go either way: a rule that may hold so is a
  // candidate of every post (RuleSetData::unconditional_rules). Over-approximate where exactness
  // would cost (ATLEAST may fail), which only makes a rule a candidate more often.
  std::pair<bool, bool> may_hold_unhit(uint32_t index) const {
    const Node& n = out_.nodes[index];
    auto kid = [&](uint32_t i) { return may_hold_unhit(out_.children[n.first + i]); };
    switch (n.kind) {
      case Node::Kind::kTerm:
      case Node::Kind::kNear:
      case Node::Kind::kEntities:
        return {false, true};
      case Node::Kind::kCompare:
        return {true, true};
      case Node::Kind::kAny:
      case Node::Kind::kOr: {
        std::pair<bool, bool> r{false, true};
        for (uint32_t i = 0; i < n.child_count; ++i) {
          const auto k = kid(i);
          r = {r.first || k.first, r.second && k.second};
        }
        return r;
      }
      case Node::Kind::kAnd: {
        std::pair<bool, bool> r{true, false};
        for (uint32_t i = 0; i < n.child_count; ++i) {
          const auto k = kid(i);
          r = {r.first && k.first, r.second || k.second};
        }
        return r;
      }
      case Node::Kind::kNot: {
        const auto k = kid(0);
        return {k.second, k.first};
      }
      case Node::Kind::kAtLeast: {
        uint32_t can = 0;
        for (uint32_t i = 0; i < n.child_count; ++i) can += kid(i).first;
        return {can >= n.count, true};
      }
    }
    return {true, true};
  }

  // True when the query holds even though none of its terms occurs (and the post has no numbers).
  bool eval_absent(uint32_t index) const {
    const Node& n = out_.nodes[index];
    auto kid = [&](uint32_t i) { return out_.children[n.first + i]; };
    switch (n.kind) {
      case Node::Kind::kTerm:
      case Node::Kind::kNear:
      case Node::Kind::kEntities:
      case Node::Kind::kCompare:
        return false;
      case Node::Kind::kAny:
      case Node::Kind::kOr:
        for (uint32_t i = 0; i < n.child_count; ++i)
          if (eval_absent(kid(i))) return true;
        return false;
      case Node::Kind::kAnd:
        for (uint32_t i = 0; i < n.child_count; ++i)
          if (!eval_absent(kid(i))) return false;
        return true;
      case Node::Kind::kNot:
        return !eval_absent(kid(0));
      case Node::Kind::kAtLeast: {
        uint32_t count = 0;
        for (uint32_t i = 0; i < n.child_count; ++i) count += eval_absent(kid(i));
        return count >= n.count;
      }
    }
    return false;
  }

  // ---- stage 3: Hyperscan ----

  // The maps that merge equal patterns, terms and list nodes across rules are done with once every
  // rule is compiled: freed before the databases are built (or loaded), so a rule set of 100,000
  // terms does not hold them and the databases' inputs at once (peak memory).
  void release_rule_indexes() {
    lists_ = {};
    list_nodes_ = {};
    exclude_ranges_ = {};
    pattern_index_ = {};
    term_index_ = {};
    regex_checked_ = {};
  }

  void index_patterns() {
    const size_t np = out_.patterns.size();
    std::vector<std::vector<uint32_t>> by_pattern(np);
    for (uint32_t r = 0; r < out_.rules.size(); ++r) {
      for (uint32_t t : out_.rules[r].positive_terms) {
        auto& v = by_pattern[out_.terms[t].pattern];
        if (v.empty() || v.back() != r) v.push_back(r);
      }
    }
    out_.pattern_rule_start.assign(1, 0);
    for (const auto& v : by_pattern) {
      out_.pattern_rules.insert(out_.pattern_rules.end(), v.begin(), v.end());
      out_.pattern_rule_start.push_back(static_cast<uint32_t>(out_.pattern_rules.size()));
    }
    out_.pattern_term_start.assign(np + 1, 0);
    for (const auto& t : out_.terms) ++out_.pattern_term_start[t.pattern + 1];
    for (size_t p = 0; p < np; ++p) out_.pattern_term_start[p + 1] += out_.pattern_term_start[p];
    out_.pattern_terms.resize(out_.terms.size());
    std::vector<uint32_t> next(out_.pattern_term_start.begin(), out_.pattern_term_start.end() - 1);
    for (uint32_t t = 0; t < out_.terms.size(); ++t) out_.pattern_terms[next[out_.terms[t].pattern]++] = t;
  }

  // A name form of many literals and no regex gets its database built from the literals
  // reversed, and the Matcher scans its text reversed. Hyperscan's literal matcher (FDR) picks
  // candidates by a literal's last bytes, and names share their last bytes far more than their
  // first (' company', ' limited', ' bank'): on the SDN list, 11,475 of 48,192 names share their
  // last 8 bytes with 9 or more others, and the reversed database scans 1.25-1.74 times faster
  // (bench/BENCHMARKS.md, "Hyperscan on W3"). Below kReversedMinLiterals its buckets hold too few
  // literals for the end it keys on to matter, and the reversed copy of the text would be pure cost.
  static constexpr size_t kReversedMinLiterals = 1024;

  void choose_reversed_forms() {
    std::array<size_t, compiled::kForms> literals{};
    std::array<bool, compiled::kForms> has_regex{};
    for (const auto& p : out_.patterns) {
      if (p.is_regex) {
        has_regex[p.form] = true;
      } else {
        ++literals[p.form];
      }
    }
    for (int form = 0; form < compiled::kForms; ++form) {
      out_.reversed[form] = is_name_form(form) && !has_regex[form] && literals[form] >= kReversedMinLiterals;
    }
  }

  void build_databases() {
    choose_reversed_forms();
    std::array<DatabaseInput, compiled::kForms> inputs;
    for (uint32_t i = 0; i < out_.patterns.size(); ++i) {
      const auto& p = out_.patterns[i];
      const bool fold_case = NormalizeOptions::from_form(p.form).fold_case;
      DatabaseInput& in = inputs[p.form];
      if (out_.reversed[p.form]) {
        in.expressions.push_back(reversed_literal_expression(p.expression));
        in.flags.push_back(0);
      } else {
        in.expressions.push_back(p.expression);
        in.flags.push_back(p.is_regex ? regex_flags(fold_case) : HS_FLAG_UTF8);
      }
      in.ids.push_back(i);
    }
    BuildStats stats;
    BuildError error;
    const bool built = rules::build_databases(inputs, options_, out_.databases, stats, error);
    out_.stats.database_seconds = stats.seconds;
    out_.stats.from_cache = stats.from_cache;
    out_.stats.cache_file = stats.cache_file;
    out_.stats.cache_problem = stats.cache_problem;
    out_.stats.database_bytes = stats.database_bytes;
    out_.stats.compile_peak_bytes = stats.compile_peak_bytes;
    if (built) return;
    // Each regex compiled alone already, so this is a budget or a resource limit; when
    // Hyperscan names an expression, its index leads back to the term's place in its file.
    std::string msg = lower_first(error.message);
    SourcePlace place;
    if (error.form >= 0 && error.expression >= 0) {
      const uint32_t pattern = inputs[static_cast<size_t>(error.form)].ids[static_cast<size_t>(error.expression)];
      place = pattern_place_[pattern];
      msg = "/" + out_.patterns[pattern].expression + "/: " + msg;
    }
    if (place.file.empty()) {
      diags_.error("compile", place, "cannot compile the rule set: " + msg);
    } else {
      report_at(place, "hyperscan", "cannot compile the rule set: " + msg);
    }
  }

  const std::vector<RuleFile>& files_;
  const BuildOptions& options_;
  Diagnostics& diags_;
  RuleSetData& out_;
  const Normalizer& norm_;
  std::map<const RuleFile*, std::map<std::string, std::vector<ListTerm>>> lists_;
  std::map<std::string, EntityInfo> entities_;
  std::map<std::string, ListInfo> entity_lists_;
  std::map<std::string, SourcePlace> entity_ids_;
  std::map<std::tuple<const EntityListDef*, int, uint64_t, bool>, uint32_t> list_nodes_;
  std::map<std::tuple<uint32_t, int, uint64_t, bool>, std::pair<uint32_t, uint32_t>> exclude_ranges_;
  std::map<std::string, SourcePlace> rule_ids_;
  std::map<std::tuple<int, bool, std::string>, uint32_t> pattern_index_;
  std::map<std::tuple<uint32_t, bool, bool, uint64_t, bool, int32_t, std::string>, uint32_t> term_index_;
  std::vector<SourcePlace> pattern_place_;  // where each pattern was first written
  std::map<std::pair<std::string, bool>, std::string> regex_checked_;
  std::set<std::string> reported_;
  std::vector<std::string> known_fields_;  // standard_field_names() and the config's [lodestone] fields
};

}  // namespace

std::unique_ptr<compiled::RuleSetData> compile_rule_set(const std::vector<RuleFile>& files,
                                                        const BuildOptions& options,
                                                        const std::vector<std::string>& known_fields,
                                                        Diagnostics& diags) {
  auto out = std::make_unique<RuleSetData>();
  Compiler(files, options, known_fields, diags, *out).run();
  if (diags.has_errors()) return nullptr;
  return out;
}

}  // namespace lodestone::rules
