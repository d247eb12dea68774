// Evaluation: a rule's query over the hits of one post, and the matches an alert reports.
#include <algorithm>

#include "engine/scanner_state.h"

namespace lodestone {

using compiled::Node;

bool ScannerState::term_hit_ok(const compiled::Term& term, const Hit& hit) const {
  if (term.need_left_boundary && hit.prev_word) return false;
  if (term.need_right_boundary && hit.next_word) return false;
  const FieldSlot& slot = slots[hit.slot];
  if (!term.scope.contains(slot.field_id, slot.is_text)) return false;
  return term.exclude_count == 0 || !excluded(term, hit);
}

// Whether the hit lies inside an occurrence of one of the term's exclude phrases (which are
// matched in the same form, so offsets compare).
bool ScannerState::excluded(const compiled::Term& term, const Hit& hit) const {
  for (uint32_t i = 0; i < term.exclude_count; ++i) {
    const compiled::Term& phrase = rules.terms[rules.exclude_terms[term.exclude_first + i]];
    if (pattern_gen[phrase.pattern] != gen) continue;
    for (uint32_t h = pattern_head[phrase.pattern]; h != kNoHit; h = hits[h].next) {
      const Hit& ex = hits[h];
      if (ex.slot == hit.slot && ex.start <= hit.start && ex.end >= hit.end && term_hit_ok(phrase, ex)) return true;
    }
  }
  return false;
}

void ScannerState::new_entity_pass() {
  if (++mark == 0) {  // wrapped: forget every old mark
    std::fill(entity_mark.begin(), entity_mark.end(), 0);
    mark = 1;
  }
}

// Decided once per post however many rules share the term.
bool ScannerState::term_occurs(uint32_t t) {
  if (term_gen[t] == gen) return term_found[t];
  const compiled::Term& term = rules.terms[t];
  bool found_one = false;
  if (pattern_gen[term.pattern] == gen) {
    for (uint32_t h = pattern_head[term.pattern]; h != kNoHit && !found_one; h = hits[h].next) {
      found_one = term_hit_ok(term, hits[h]);
    }
  }
  term_gen[t] = gen;
  term_found[t] = found_one;
  return found_one;
}

// Calls f(term) for each term of a kEntities node whose pattern was hit in this post: through
// the post's hit patterns when they are fewer than the node's terms (the usual case for a list
// of thousands of names), else through the node's terms. Stops when f returns true.
template <typename F>
void ScannerState::for_each_hit_entity_term(const Node& n, F&& f) const {
  const compiled::PatternTerm* begin = rules.entity_terms.data() + n.first;
  const compiled::PatternTerm* end = begin + n.child_count;
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
    if (pattern_gen[it->pattern] == gen && f(it->term)) return;
  }
}

// The different entities of a kEntities node that occur, counted up to `need`.
uint32_t ScannerState::count_entities(const Node& n, uint32_t need) {
  new_entity_pass();
  uint32_t count = 0;
  for_each_hit_entity_term(n, [&](uint32_t t) {
    const int32_t entity = rules.terms[t].entity;
    if (entity_mark[static_cast<size_t>(entity)] == mark || !term_occurs(t)) return false;
    meet_entity(entity);
    return ++count >= need;
  });
  return count;
}

bool ScannerState::evaluate(uint32_t rule) {
  eval_form = rules.rules[rule].form;
  return eval_node(rules.rules[rule].root);
}

bool ScannerState::eval_node(uint32_t index) {
  const Node& n = rules.nodes[index];
  const uint32_t* kids = rules.children.data() + n.first;
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
        const Node& kid = rules.nodes[kids[i]];
        occurring +=
            kid.kind == Node::Kind::kEntities ? count_entities(kid, n.count - occurring) : uint32_t{eval_node(kids[i])};
      }
      return occurring >= n.count;
    }
    case Node::Kind::kNear: {
      occurrences.clear();
      collect_occurrences(kids[0], false);
      collect_occurrences(kids[1], true);
      if (occurrences.empty()) return false;
      // Distances are counted in one normalized text: an entity name's hit (name form) beside
      // another term's is moved into the rule's own form through the original text.
      uint8_t near_form = occurrences.front().form;
      for (const Occurrence& o : occurrences) {
        if (o.form != near_form) near_form = eval_form;
      }
      for (Occurrence& o : occurrences) {
        if (o.form == near_form) continue;
        const NormalizedText& from = mapped(o.slot, o.form);
        const NormalizedText& to = mapped(o.slot, near_form);
        const uint32_t orig_start = from.src_begin[o.start];
        const uint32_t orig_end = from.src_end[o.end - 1];
        o.start = static_cast<uint32_t>(std::lower_bound(to.src_begin.begin(), to.src_begin.end(), orig_start) -
                                        to.src_begin.begin());
        o.end = static_cast<uint32_t>(std::lower_bound(to.src_begin.begin(), to.src_begin.end(), orig_end) -
                                      to.src_begin.begin());
        o.form = near_form;
      }
      std::sort(occurrences.begin(), occurrences.end(), [](const Occurrence& x, const Occurrence& y) {
        return x.slot != y.slot ? x.slot < y.slot : x.start < y.start;
      });
      // One sweep in start order. For each occurrence, the other side's occurrences that start
      // no later are summed up by the largest end among them: that one is the nearest (or
      // overlaps). Every pair is seen from its later-starting member, so the sweep finds the
      // closest pair without comparing all pairs.
      uint32_t slot = UINT32_MAX;
      int64_t max_end[2] = {-1, -1};
      for (const Occurrence& o : occurrences) {
        if (o.slot != slot) {
          slot = o.slot;
          max_end[0] = max_end[1] = -1;
        }
        const int64_t other_end = max_end[o.is_b ? 0 : 1];
        if (other_end >= 0) {
          if (other_end >= o.start) return true;  // overlapping or touching: 0 apart
          // Characters of normalized text between the two: count code points, but stop once
          // past n (a code point is at most 4 bytes, at least 1).
          const std::string& text = slots[o.slot].norm[near_form].text;
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
  }
  return false;
}

void ScannerState::add_occurrences(uint32_t t, bool is_b) {
  const compiled::Term& term = rules.terms[t];
  if (pattern_gen[term.pattern] != gen) return;
  const uint8_t form = rules.patterns[term.pattern].form;
  for (uint32_t h = pattern_head[term.pattern]; h != kNoHit; h = hits[h].next) {
    const Hit& hit = hits[h];
    if (term_hit_ok(term, hit)) occurrences.push_back({hit.slot, hit.start, hit.end, form, is_b});
  }
}

void ScannerState::collect_occurrences(uint32_t index, bool is_b) {
  const Node& n = rules.nodes[index];
  if (n.kind == Node::Kind::kTerm) return add_occurrences(n.term, is_b);
  if (n.kind == Node::Kind::kEntities) {
    for_each_hit_entity_term(n, [&](uint32_t t) {
      add_occurrences(t, is_b);
      return false;
    });
    return;
  }
  for (uint32_t i = 0; i < n.child_count; ++i) collect_occurrences(rules.children[n.first + i], is_b);
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

void append_flat(std::string& out, const std::string& s, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    char c = s[i];
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
}

}  // namespace

void ScannerState::describe(uint32_t rule_index, const Post& post, Alert& alert) {
  const compiled::Rule& rule = rules.rules[rule_index];
  alert.matches.clear();
  alert.entities.clear();
  found.clear();
  new_entity_pass();
  // Every hit of term t that counts for it, as a span in original code points (spans of different
  // forms compare there).
  auto add_hits = [&](uint32_t t) {
    const compiled::Term& term = rules.terms[t];
    const uint32_t p = term.pattern;
    const uint8_t form = rules.patterns[p].form;
    for (uint32_t h = pattern_head[p]; h != kNoHit; h = hits[h].next) {
      const Hit& hit = hits[h];
      if (!term_hit_ok(term, hit)) continue;
      const NormalizedText& nt = mapped(hit.slot, form);
      found.push_back({hit.slot, nt.src_begin[hit.start], nt.src_end[hit.end - 1], t, form});
    }
  };
  if (rule.positive_terms.size() <= hit_patterns.size()) {
    // A rule of a few terms in a post that hit many patterns (a large rule set): its own terms,
    // each looked up by its pattern's stamp.
    for (uint32_t t : rule.positive_terms) {
      if (pattern_gen[rules.terms[t].pattern] == gen) add_hits(t);
    }
  } else {
    // Through the patterns this post hit, to the terms on them that count for this rule: a rule
    // naming a list of thousands of names does not look at each of them.
    for (uint32_t p : hit_patterns) {
      for (uint32_t i = rules.pattern_term_start[p]; i < rules.pattern_term_start[p + 1]; ++i) {
        const uint32_t t = rules.pattern_terms[i];
        if (std::binary_search(rule.positive_terms.begin(), rule.positive_terms.end(), t)) add_hits(t);
      }
    }
  }
  // In field order, then by position; of two spans starting together the longer comes first.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(a.slot, a.start, b.end, a.term) < std::tie(b.slot, b.start, a.end, b.term);
  });
  const auto fields = post.fields();
  size_t run = 0;  // the first of the entries with this one's span
  for (size_t i = 0; i < found.size(); ++i) {
    const Found& f = found[i];
    const compiled::Term& term = rules.terms[f.term];
    if (i == 0 || found[run].slot != f.slot || found[run].start != f.start || found[run].end != f.end) run = i;
    // One match per span, or one per entity when a span is a name of several.
    bool repeat = false;
    for (size_t j = run; j < i && !repeat; ++j) repeat = rules.terms[found[j].term].entity == term.entity;
    if (repeat) continue;
    const FieldSlot& slot = slots[f.slot];
    const NormalizedText& nt = mapped(f.slot, f.form);
    const std::string& original = fields[slot.post_field].text;
    AlertMatch m;
    m.field = fields[slot.post_field].name;
    m.term = term.written;
    m.start = f.start;
    m.end = f.end;
    m.byte_start = nt.orig_byte[m.start];
    m.byte_end = nt.orig_byte[m.end];
    m.text = original.substr(m.byte_start, m.byte_end - m.byte_start);
    const size_t from = step_back(original, m.byte_start, kSnippetContext);
    const size_t to = step_forward(original, m.byte_end, kSnippetContext);
    if (from > 0) m.snippet = "…";
    append_flat(m.snippet, original, from, to);
    if (to < original.size()) m.snippet += "…";
    if (term.entity >= 0) {
      const compiled::Entity& e = rules.entities[static_cast<size_t>(term.entity)];
      m.entity = e.id;
      m.entity_list = e.list;
      // Each entity is listed once, with its first alias.
      if (meet_entity(term.entity)) alert.entities.push_back({e.id, e.name, e.kind, e.list, term.written});
    }
    alert.matches.push_back(std::move(m));
  }
}

}  // namespace lodestone
