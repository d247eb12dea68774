// The compiled, immutable form of a rule set: Hyperscan databases, the pattern and term tables,
// and each rule's query as a flat node array. Built by rules/compiler.cpp, read by engine/.
// Nothing here changes after compile_rule_set() returns, so any number of threads may read it.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/diagnostics.h"
#include "lodestone/rule_set.h"
#include "rules/query.h"

namespace lodestone::compiled {

using rules_compare = rules::TermSyntax::Compare;

constexpr int kForms = 8;  // NormalizeOptions::form(): case × Chinese folded or not, × the name form

// One Hyperscan expression. Identical expressions of the same form are compiled once, however
// many terms and rules use them; the pattern's index is its Hyperscan id.
struct Pattern {
  std::string expression;  // as given to Hyperscan
  uint8_t form = 0;
  bool is_regex = false;  // regexes report their start (SOM); literals know their length
  uint32_t literal_bytes = 0;
};

// Where a term may match: the post fields named in the rule set (bit i = field_names[i]) and,
// when `text_fields`, every non-metadata field.
struct FieldScope {
  uint64_t named = 0;
  bool text_fields = false;
  bool contains(int field_id, bool is_text) const {
    return (field_id >= 0 && (named >> field_id & 1)) || (text_fields && is_text);
  }
  bool empty() const { return named == 0 && !text_fields; }
};

// One occurrence of a term in one rule, with the checks a pattern hit must pass to count for it.
struct Term {
  uint32_t pattern = 0;
  bool need_left_boundary = false;   // first character is a word character
  bool need_right_boundary = false;  // last character is a word character and no '*'
  FieldScope scope;                  // the rule's fields ∩ the term's own field:
  std::string written;               // as in the rule file or list: "rare earth*", "稀土", "/re/"
  int32_t entity = -1;               // index into RuleSetData::entities, -1 for none
  // The entity's `exclude` phrases: RuleSetData::exclude_terms[exclude_first, + exclude_count).
  // An occurrence inside an occurrence of one of them does not count.
  uint32_t exclude_first = 0;
  uint32_t exclude_count = 0;
};

// A term of an entity list's node, by the pattern it is matched with.
struct PatternTerm {
  uint32_t pattern;
  uint32_t term;
  bool operator<(const PatternTerm& o) const { return pattern != o.pattern ? pattern < o.pattern : term < o.term; }
};

// A comparison of one of a post's numbers (`pushes:>=50`): Post::number(field) compare number.
// A post without that number fails it.
struct Comparison {
  std::string field;
  rules_compare compare = rules_compare::kEqual;
  double number = 0;
  std::string written;  // as in the rule file: "pushes:>=50"
};

struct Entity {
  std::string id;
  std::string name;
  std::string kind;
  std::string list;  // the [[entities]] list it came from; empty for an [[entity]]
};

using lodestone::EntityListInfo;
using lodestone::LoadStats;

// A query node. Children are indices into RuleSetData::children[first, first + count).
struct Node {
  enum class Kind : uint8_t {
    kTerm,  // `term` occurs
    kAny,   // any child occurs (an @list or an entity's names; an OR that ATLEAST may expand)
    kAnd,
    kOr,
    kNot,      // the one child occurs nowhere in scope
    kNear,     // two children, each kTerm or kAny of kTerm/kAny: occurrences at most `count` apart
    kAtLeast,  // at least `count` children occur
    // Any entity of an entity list occurs. Its terms are RuleSetData::entity_terms[first, +
    // child_count), sorted by pattern, so a post is checked by the patterns it hit, not by every
    // name of a list of thousands; `count` is the number of entities. Under kAtLeast it counts
    // its different entities that occur.
    kEntities,
    kCompare,  // the comparison RuleSetData::comparisons[term] holds for the post's number
  };
  Kind kind = Kind::kTerm;
  uint32_t term = 0;   // kTerm: index into RuleSetData::terms; kCompare: into RuleSetData::comparisons
  uint32_t count = 0;  // kNear: n; kAtLeast: n
  uint32_t first = 0;
  uint32_t child_count = 0;
};

struct RuleTest {
  bool expect_match = true;
  std::vector<std::pair<std::string, std::string>> fields;  // (field, text) of the test post
  std::vector<std::pair<std::string, double>> numbers;      // its numbers
  std::string source;                                       // its source; empty: sources not applied
  SourcePlace place;
  std::string source_line;
};

// What RuleSet::rule() shows (id, title, severity, tags, notify, max_alerts_per_hour, place), and
// the compiled query.
struct Rule : RuleInfo {
  uint8_t form = 0;
  uint32_t root = 0;                     // index into RuleSetData::nodes
  std::vector<uint32_t> positive_terms;  // terms whose hits are reported (not under NOT)
  std::vector<uint32_t> positive_comparisons;  // comparisons reported when they hold (not under NOT)
  // RuleInfo::sources, the globs on a post's source (fnmatch); empty: every source.
  std::vector<RuleTest> tests;
  std::vector<std::string> test_fields;  // where a plain test string goes
};

struct RuleSetData {
  std::vector<Pattern> patterns;
  std::vector<Term> terms;
  std::vector<Node> nodes;
  std::vector<uint32_t> children;
  std::vector<Rule> rules;
  std::vector<Entity> entities;
  std::vector<Comparison> comparisons;
  // Rules that may hold in a post that hit none of their patterns, through a comparison
  // (`pushes:>=100`, `pushes:>=100 OR 稀土`): candidates of every post, ascending.
  std::vector<uint32_t> unconditional_rules;
  std::vector<std::string> field_names;  // fields named by any rule or term scope (≤ 64)
  std::vector<std::string> files;

  // For each pattern, the rules with a term on it outside NOT: CSR layout,
  // rules of pattern p are pattern_rules[pattern_rule_start[p], pattern_rule_start[p + 1]).
  std::vector<uint32_t> pattern_rule_start;
  std::vector<uint32_t> pattern_rules;

  std::vector<PatternTerm> entity_terms;   // kEntities nodes' terms
  std::vector<uint32_t> exclude_terms;     // Term::exclude_first/exclude_count
  // For each pattern, every term on it (CSR, as pattern_rules).
  std::vector<uint32_t> pattern_term_start;
  std::vector<uint32_t> pattern_terms;

  std::array<hs_database_t*, kForms> databases{};  // null for a form no rule uses
  // Forms whose database holds its literals with their bytes reversed (a name form of many
  // literals and no regex: rules/compiler.cpp says why); their text is scanned reversed too.
  std::array<bool, kForms> reversed{};

  std::vector<EntityListInfo> entity_lists;
  LoadStats stats;

  RuleSetData() = default;
  RuleSetData(const RuleSetData&) = delete;
  RuleSetData& operator=(const RuleSetData&) = delete;
  ~RuleSetData();

  int field_id(std::string_view name) const;  // -1 when no rule names it
};

}  // namespace lodestone::compiled
