// Evaluation: a rule's query over the hits of one post, and the matches an alert reports.
#include "engine/evaluator.h"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace lodestone {

using compiled::Node;

Evaluator::Evaluator(const compiled::RuleSetData& rules, const PostHits& hits)
    : rules_(rules),
      hits_(hits),
      term_gen_(rules.terms.size(), 0),
      term_found_(rules.terms.size(), 0),
      entity_mark_(rules.entities.size(), 0) {}

void Evaluator::start_post() {
  post_serial_ = hits_.serial();
  if (++gen_ == 0) {  // the stamps wrapped: forget every old one
    std::fill(term_gen_.begin(), term_gen_.end(), 0);
    gen_ = 1;
  }
}

bool Evaluator::term_hit_ok(const compiled::Term& term, const Hit& hit) const {
  if (term.need_left_boundary && hit.prev_word) return false;
  if (term.need_right_boundary && hit.next_word) return false;
  const FieldSlot& slot = hits_.slot(hit.slot);
  if (!term.scope.contains(slot.field_id, slot.is_text)) return false;
  return term.exclude_count == 0 || !excluded(term, hit);
}

// Whether the hit lies inside an occurrence of one of the term's exclude phrases (which are
// matched in the same form, so offsets compare).
bool Evaluator::excluded(const compiled::Term& term, const Hit& hit) const {
  for (uint32_t i = 0; i < term.exclude_count; ++i) {
    const compiled::Term& phrase = rules_.terms[rules_.exclude_terms[term.exclude_first + i]];
    for (uint32_t h = hits_.chain(phrase.pattern); h != kNoHit; h = hits_.hit(h).next) {
      const Hit& ex = hits_.hit(h);
      if (ex.slot == hit.slot && ex.start <= hit.start && ex.end >= hit.end && term_hit_ok(phrase, ex)) return true;
    }
  }
  return false;
}

void Evaluator::new_entity_pass() {
  if (++mark_ == 0) {  // wrapped: forget every old mark
    std::fill(entity_mark_.begin(), entity_mark_.end(), 0);
    mark_ = 1;
  }
}

// Decided once per post however many rules share the term.
bool Evaluator::term_occurs(uint32_t t) {
  if (term_gen_[t] == gen_) return term_found_[t];
  const compiled::Term& term = rules_.terms[t];
  bool found_one = false;
  for (uint32_t h = hits_.chain(term.pattern); h != kNoHit && !found_one; h = hits_.hit(h).next) {
    found_one = term_hit_ok(term, hits_.hit(h));
  }
  term_gen_[t] = gen_;
  term_found_[t] = found_one;
  return found_one;
}

// Calls f(term) for each term of a kEntities node whose pattern was hit in this post: through
// the post's hit patterns when they are fewer than the node's terms (the usual case for a list
// of thousands of names), else through the node's terms. Stops when f returns true.
template <typename F>
void Evaluator::for_each_hit_entity_term(const Node& n, F&& f) const {
  const compiled::PatternTerm* begin = rules_.entity_terms.data() + n.first;
  const compiled::PatternTerm* end = begin + n.child_count;
  const auto hit_patterns = hits_.patterns();
  if (hit_patterns.size() < n.child_count) {
    for (uint32_t p : hit_patterns) {
      auto it = std::lower_bound(begin, end, compiled::PatternTerm{p, 0});
      for (; it != end && it->pattern == p; ++it) {
        if (f(it->term)) return;
      }
    }
    return;
  }
  for (auto it = begin; it != end; ++it) {
    if (hits_.was_hit(it->pattern) && f(it->term)) return;
  }
}

// The different entities of a kEntities node that occur, counted up to `need`.
uint32_t Evaluator::count_entities(const Node& n, uint32_t need) {
  new_entity_pass();
  uint32_t count = 0;
  for_each_hit_entity_term(n, [&](uint32_t t) {
    const int32_t entity = rules_.terms[t].entity;
    if (entity_mark_[static_cast<size_t>(entity)] == mark_ || !term_occurs(t)) return false;
    meet_entity(entity);
    return ++count >= need;
  });
  return count;
}

bool Evaluator::holds(uint32_t rule) {
  if (hits_.serial() != post_serial_) start_post();
  eval_form_ = rules_.rules[rule].form;
  return eval_node(rules_.rules[rule].root);
}

bool Evaluator::eval_node(uint32_t index) {
  const Node& n = rules_.nodes[index];
  const uint32_t* kids = rules_.children.data() + n.first;
  switch (n.kind) {
    case Node::Kind::kTerm:
      return term_occurs(n.term);
    case Node::Kind::kEntities:
      return count_entities(n, 1) == 1;
    case Node::Kind::kAny:
    case Node::Kind::kOr:
      for (uint32_t i = 0; i < n.child_count; ++i) {
        if (eval_node(kids[i])) return true;
      }
      return false;
    case Node::Kind::kAnd:
      for (uint32_t i = 0; i < n.child_count; ++i) {
        if (!eval_node(kids[i])) return false;
      }
      return true;
    case Node::Kind::kNot:
      return !eval_node(kids[0]);
    case Node::Kind::kAtLeast: {
      uint32_t occurring = 0;
      for (uint32_t i = 0; i < n.child_count && occurring < n.count; ++i) {
        const Node& kid = rules_.nodes[kids[i]];
        occurring +=
            kid.kind == Node::Kind::kEntities ? count_entities(kid, n.count - occurring) : uint32_t{eval_node(kids[i])};
      }
      return occurring >= n.count;
    }
    case Node::Kind::kNear:
      return near(n, kids);
    case Node::Kind::kCompare:
      return comparison_holds(n.term);
  }
  return false;
}

bool Evaluator::comparison_holds(uint32_t index) const {
  const compiled::Comparison& c = rules_.comparisons[index];
  const std::optional<double> value = hits_.post().number(c.field);
  return value && rules::compare_holds(c.compare, *value, c.number);
}

// a NEAR/n b: an occurrence of each, in one field, at most n characters of normalized text apart.
bool Evaluator::near(const Node& n, const uint32_t* kids) {
  occurrences_.clear();
  collect_occurrences(kids[0], false);
  collect_occurrences(kids[1], true);
  if (occurrences_.empty()) return false;
  // Distances are counted in one normalized text: an entity name's hit (name form) beside
  // another term's is moved into the rule's own form through the original text.
  uint8_t near_form = occurrences_.front().form;
  for (const Occurrence& o : occurrences_) {
    if (o.form != near_form) near_form = eval_form_;
  }
  for (Occurrence& o : occurrences_) {
    if (o.form == near_form) continue;
    const NormalizedText& from = hits_.mapped(o.slot, o.form);
    const NormalizedText& to = hits_.mapped(o.slot, near_form);
    const uint32_t orig_start = from.src_begin[o.start];
    const uint32_t orig_end = from.src_end[o.end - 1];
    o.start = static_cast<uint32_t>(std::lower_bound(to.src_begin.begin(), to.src_begin.end(), orig_start) -
                                    to.src_begin.begin());
    o.end = static_cast<uint32_t>(std::lower_bound(to.src_begin.begin(), to.src_begin.end(), orig_end) -
                                  to.src_begin.begin());
    o.form = near_form;
  }
  std::sort(occurrences_.begin(), occurrences_.end(), [](const Occurrence& x, const Occurrence& y) {
    return x.slot != y.slot ? x.slot < y.slot : x.start < y.start;
  });
  // One sweep in start order. For each occurrence, the other side's occurrences that start
  // no later are summed up by the largest end among them: that one is the nearest (or
  // overlaps). Every pair is seen from its later-starting member, so the sweep finds the
  // closest pair without comparing all pairs.
  uint32_t slot = UINT32_MAX;
  int64_t max_end[2] = {-1, -1};
  for (const Occurrence& o : occurrences_) {
    if (o.slot != slot) {
      slot = o.slot;
      max_end[0] = max_end[1] = -1;
    }
    const int64_t other_end = max_end[o.is_b ? 0 : 1];
    if (other_end >= 0) {
      if (other_end >= o.start) return true;  // overlapping or touching: 0 apart
      // Characters of normalized text between the two: count code points, but stop once
      // past n (a code point is at most 4 bytes, at least 1).
      const std::string& text = hits_.slot(o.slot).norm[near_form].text;
      const auto from = static_cast<size_t>(other_end);
      if (o.start - from <= n.count) return true;
      uint32_t chars = 0;
      for (size_t i = from; i < o.start && chars <= n.count; ++i) {
        chars += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
      }
      if (chars <= n.count) return true;
    }
    int64_t& mine = max_end[o.is_b ? 1 : 0];
    mine = std::max<int64_t>(mine, o.end);
  }
  return false;
}

void Evaluator::add_occurrences(uint32_t t, bool is_b) {
  const compiled::Term& term = rules_.terms[t];
  const uint8_t form = rules_.patterns[term.pattern].form;
  for (uint32_t h = hits_.chain(term.pattern); h != kNoHit; h = hits_.hit(h).next) {
    const Hit& hit = hits_.hit(h);
    if (term_hit_ok(term, hit)) occurrences_.push_back({hit.slot, hit.start, hit.end, form, is_b});
  }
}

void Evaluator::collect_occurrences(uint32_t index, bool is_b) {
  const Node& n = rules_.nodes[index];
  if (n.kind == Node::Kind::kTerm) return add_occurrences(n.term, is_b);
  if (n.kind == Node::Kind::kEntities) {
    for_each_hit_entity_term(n, [&](uint32_t t) {
      add_occurrences(t, is_b);
      return false;
    });
    return;
  }
  for (uint32_t i = 0; i < n.child_count; ++i) collect_occurrences(rules_.children[n.first + i], is_b);
}

namespace {

// Moves back (or forward) up to `count` code points from byte `pos` of valid UTF-8 `s`.
size_t step_back(const std::string& s, size_t pos, uint32_t count) {
  while (pos > 0 && count > 0) {
    --pos;
    while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
    --count;
  }
  return pos;
}

size_t step_forward(const std::string& s, size_t pos, uint32_t count) {
  while (pos < s.size() && count > 0) {
    ++pos;
    while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
    --count;
  }
  return pos;
}

// Appends s[from, to) with line breaks and tabs flattened to spaces: copied at once, then each
// of them found with memchr, which looks at many bytes a step.
void append_flat(std::string& out, const std::string& s, size_t from, size_t to) {
  const size_t at = out.size();
  out.append(s, from, to - from);
  char* const begin = out.data() + at;
  char* const end = out.data() + out.size();
  for (const char c : {'\n', '\r', '\t'}) {
    for (char* p = begin; (p = static_cast<char*>(std::memchr(p, c, static_cast<size_t>(end - p)))) != nullptr;) {
      *p++ = ' ';
    }
  }
}

// The next element of `v` to fill, [0, used) being filled already. An element a shorter alert
// left over is parked in `spare` (see park_surplus) and taken back here, its strings' capacity
// with it, so describing alert after alert does not allocate once warm.
template <typename T>
T& next_element(std::vector<T>& v, size_t& used, std::vector<T>& spare) {
  if (used == v.size()) {
    if (spare.empty()) {
      v.emplace_back();
    } else {
      v.push_back(std::move(spare.back()));
      spare.pop_back();
    }
  }
  return v[used++];
}

// Cuts `v` to its first `used` elements, moving the rest into `spare`.
template <typename T>
void park_surplus(std::vector<T>& v, size_t used, std::vector<T>& spare) {
  for (size_t i = used; i < v.size(); ++i) spare.push_back(std::move(v[i]));
  v.resize(used);
}

}  // namespace

void Evaluator::describe(uint32_t rule_index, Alert& alert) {
  const compiled::Rule& rule = rules_.rules[rule_index];
  found_.clear();
  new_entity_pass();
  // Every hit of term t that counts for it, as a span in original code points (spans of different
  // forms compare there).
  auto add_hits = [&](uint32_t t) {
    const compiled::Term& term = rules_.terms[t];
    const uint32_t p = term.pattern;
    const uint8_t form = rules_.patterns[p].form;
    for (uint32_t h = hits_.chain(p); h != kNoHit; h = hits_.hit(h).next) {
      const Hit& hit = hits_.hit(h);
      if (!term_hit_ok(term, hit)) continue;
      const NormalizedText& nt = hits_.mapped(hit.slot, form);
      found_.push_back({hit.slot, nt.src_begin[hit.start], nt.src_end[hit.end - 1], t, form});
    }
  };
  const auto hit_patterns = hits_.patterns();
  if (rule.positive_terms.size() <= hit_patterns.size()) {
    // A rule of a few terms in a post that hit many patterns (a large rule set): its own terms,
    // each looked up by its pattern's stamp.
    for (uint32_t t : rule.positive_terms) {
      if (hits_.was_hit(rules_.terms[t].pattern)) add_hits(t);
    }
  } else {
    // Through the patterns this post hit, to the terms on them that count for this rule: a rule
    // naming a list of thousands of names does not look at each of them.
    for (uint32_t p : hit_patterns) {
      for (uint32_t i = rules_.pattern_term_start[p]; i < rules_.pattern_term_start[p + 1]; ++i) {
        const uint32_t t = rules_.pattern_terms[i];
        if (std::binary_search(rule.positive_terms.begin(), rule.positive_terms.end(), t)) add_hits(t);
      }
    }
  }
  // In field order, then by position; of two spans starting together the longer comes first.
  std::sort(found_.begin(), found_.end(), [](const Found& a, const Found& b) {
    return std::tie(a.slot, a.start, b.end, a.term) < std::tie(b.slot, b.start, a.end, b.term);
  });
  const auto fields = hits_.post().fields();
  size_t match_count = 0;
  size_t entity_count = 0;
  size_t run = 0;  // the first of the entries with this one's span
  for (size_t i = 0; i < found_.size(); ++i) {
    const Found& f = found_[i];
    const compiled::Term& term = rules_.terms[f.term];
    if (i == 0 || found_[run].slot != f.slot || found_[run].start != f.start || found_[run].end != f.end) run = i;
    // One match per span, or one per entity when a span is a name of several.
    bool repeat = false;
    for (size_t j = run; j < i && !repeat; ++j) repeat = rules_.terms[found_[j].term].entity == term.entity;
    if (repeat) continue;
    const FieldSlot& slot = hits_.slot(f.slot);
    const NormalizedText& nt = hits_.mapped(f.slot, f.form);
    const std::string& original = fields[slot.post_field].text;
    // Every member is assigned: the element may hold another alert's match.
    AlertMatch& m = next_element(alert.matches, match_count, spare_matches_);
    m.comparison = false;
    m.value = 0;
    m.field = fields[slot.post_field].name;
    m.term = term.written;
    m.start = f.start;
    m.end = f.end;
    m.byte_start = nt.orig_byte[m.start];
    m.byte_end = nt.orig_byte[m.end];
    m.text.assign(original, m.byte_start, m.byte_end - m.byte_start);
    const size_t from = step_back(original, m.byte_start, kSnippetContext);
    const size_t to = step_forward(original, m.byte_end, kSnippetContext);
    m.snippet.clear();
    if (from > 0) m.snippet = "…";
    append_flat(m.snippet, original, from, to);
    if (to < original.size()) m.snippet += "…";
    m.entity.clear();
    m.entity_list.clear();
    if (term.entity >= 0) {
      const compiled::Entity& e = rules_.entities[static_cast<size_t>(term.entity)];
      m.entity = e.id;
      m.entity_list = e.list;
      // Each entity is listed once, with its first alias.
      if (meet_entity(term.entity)) {
        AlertEntity& listed = next_element(alert.entities, entity_count, spare_entities_);
        listed.id = e.id;
        listed.name = e.name;
        listed.kind = e.kind;
        listed.list = e.list;
        listed.alias = term.written;
      }
    }
  }
  // Then each comparison that held, with the number it read.
  for (uint32_t c : rule.positive_comparisons) {
    if (!comparison_holds(c)) continue;
    const compiled::Comparison& comparison = rules_.comparisons[c];
    AlertMatch& m = next_element(alert.matches, match_count, spare_matches_);
    m.field = comparison.field;
    m.term = comparison.written;
    m.comparison = true;
    m.value = *hits_.post().number(comparison.field);
    format_number(m.value, m.text);
    m.snippet = m.text;
    m.start = m.byte_start = 0;
    m.end = m.byte_end = 0;
    m.entity.clear();
    m.entity_list.clear();
  }
  park_surplus(alert.matches, match_count, spare_matches_);
  park_surplus(alert.entities, entity_count, spare_entities_);
}

}  // namespace lodestone
