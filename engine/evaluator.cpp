// Evaluation: a rule's query over the hits of one post, and the matches an alert reports.
#include <algorithm>

#include "engine/scanner_state.h"

namespace lodestone {

using compiled::Node;

bool ScannerState::term_hit_ok(const compiled::Term& term, const Hit& hit) const {
  if (term.need_left_boundary && hit.prev_word) return false;
  if (term.need_right_boundary && hit.next_word) return false;
  const FieldSlot& slot = slots[hit.slot];
  return term.scope.contains(slot.field_id, slot.is_text);
}

bool ScannerState::evaluate(uint32_t rule) {
  eval_form = rules.rules[rule].form;
  return eval_node(rules.rules[rule].root);
}

bool ScannerState::eval_node(uint32_t index) {
  const Node& n = rules.nodes[index];
  const uint32_t* kids = rules.children.data() + n.first;
  switch (n.kind) {
    case Node::Kind::kTerm: {
      // Decided once per post however many rules share the term.
      if (term_gen[n.term] == gen) return term_found[n.term];
      const compiled::Term& term = rules.terms[n.term];
      bool found_one = false;
      if (pattern_gen[term.pattern] == gen) {
        for (uint32_t h = pattern_head[term.pattern]; h != kNoHit && !found_one; h = hits[h].next) {
          found_one = term_hit_ok(term, hits[h]);
        }
      }
      term_gen[n.term] = gen;
      term_found[n.term] = found_one;
      return found_one;
    }
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
      for (uint32_t i = 0; i < n.child_count && occurring < n.count; ++i) occurring += eval_node(kids[i]);
      return occurring >= n.count;
    }
    case Node::Kind::kNear: {
      occurrences.clear();
      collect_occurrences(kids[0], false);
      collect_occurrences(kids[1], true);
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
          const std::string& text = slots[o.slot].norm[eval_form].text;
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

void ScannerState::collect_occurrences(uint32_t index, bool is_b) {
  const Node& n = rules.nodes[index];
  if (n.kind == Node::Kind::kTerm) {
    const compiled::Term& term = rules.terms[n.term];
    if (pattern_gen[term.pattern] != gen) return;
    for (uint32_t h = pattern_head[term.pattern]; h != kNoHit; h = hits[h].next) {
      const Hit& hit = hits[h];
      if (term_hit_ok(term, hit)) occurrences.push_back({hit.slot, hit.start, hit.end, is_b});
    }
    return;
  }
  for (uint32_t i = 0; i < n.child_count; ++i) collect_occurrences(rules.children[n.first + i], is_b);
}

namespace {

// Moves back (or forward) up to `count` code points from byte `pos` of valid UTF-8 `s`.
size_t step_back(const std::string& s, size_t pos, int count) {
  while (pos > 0 && count > 0) {
    --pos;
    while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
    --count;
  }
  return pos;
}

size_t step_forward(const std::string& s, size_t pos, int count) {
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

constexpr int kSnippetContext = 30;  // code points of context on each side of a match

}  // namespace

void ScannerState::describe(uint32_t rule_index, const Post& post, Alert& alert) {
  const compiled::Rule& rule = rules.rules[rule_index];
  alert.matches.clear();
  alert.entities.clear();
  found.clear();
  if (++alert_stamp == 0) {  // wrapped: forget every old stamp
    std::fill(entity_gen.begin(), entity_gen.end(), 0);
    alert_stamp = 1;
  }
  for (uint32_t t : rule.positive_terms) {
    const compiled::Term& term = rules.terms[t];
    if (pattern_gen[term.pattern] != gen) continue;
    for (uint32_t h = pattern_head[term.pattern]; h != kNoHit; h = hits[h].next) {
      const Hit& hit = hits[h];
      if (term_hit_ok(term, hit)) found.push_back({hit.slot, hit.start, hit.end, t});
    }
  }
  // In field order, then by position; of two spans starting together the longer comes first.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(a.slot, a.start, b.end, a.term) < std::tie(b.slot, b.start, a.end, b.term);
  });
  const auto fields = post.fields();
  for (size_t i = 0; i < found.size(); ++i) {
    const Found& f = found[i];
    if (i > 0 && found[i - 1].slot == f.slot && found[i - 1].start == f.start && found[i - 1].end == f.end) continue;
    const compiled::Term& term = rules.terms[f.term];
    const FieldSlot& slot = slots[f.slot];
    const NormalizedText& nt = slot.norm[rule.form];
    const std::string& original = fields[slot.post_field].text;
    AlertMatch m;
    m.field = fields[slot.post_field].name;
    m.term = term.written;
    m.start = nt.src_begin[f.start];
    m.end = nt.src_end[f.end - 1];
    m.byte_start = nt.orig_byte[m.start];
    m.byte_end = nt.orig_byte[m.end];
    m.text = original.substr(m.byte_start, m.byte_end - m.byte_start);
    const size_t from = step_back(original, m.byte_start, kSnippetContext);
    const size_t to = step_forward(original, m.byte_end, kSnippetContext);
    if (from > 0) m.snippet = "…";
    m.snippet_at = static_cast<uint32_t>(m.snippet.size() + (m.byte_start - from));
    append_flat(m.snippet, original, from, to);
    if (to < original.size()) m.snippet += "…";
    if (term.entity >= 0) {
      const compiled::Entity& e = rules.entities[static_cast<size_t>(term.entity)];
      m.entity = e.id;
      // entity_gen is stamped per alert, so each entity is listed once, with its first alias.
      if (entity_gen[static_cast<size_t>(term.entity)] != alert_stamp) {
        entity_gen[static_cast<size_t>(term.entity)] = alert_stamp;
        alert.entities.push_back({e.id, e.name, term.written});
      }
    }
    alert.matches.push_back(std::move(m));
  }
}

}  // namespace lodestone
