// Matching: each field of a post, normalized per form and scanned once by that form's database.
#include <stdexcept>

#include "engine/scanner_state.h"

namespace lodestone {

ScannerState::ScannerState(const compiled::RuleSetData& r) : rules(r) {
  for (hs_database_t* db : rules.databases) {
    if (db && hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
      throw std::runtime_error("cannot allocate Hyperscan scratch");
  }
  pattern_head.assign(rules.patterns.size(), kNoHit);
  pattern_gen.assign(rules.patterns.size(), 0);
  rule_gen.assign(rules.rules.size(), 0);
  term_gen.assign(rules.terms.size(), 0);
  term_found.assign(rules.terms.size(), 0);
  entity_mark.assign(rules.entities.size(), 0);
  for (const auto& t : rules.terms) scan_text_fields = scan_text_fields || t.scope.text_fields;
}

ScannerState::~ScannerState() { hs_free_scratch(scratch); }

namespace {

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int /*flags*/, void* ctx) {
  auto& s = *static_cast<ScannerState*>(ctx);
  const compiled::Pattern& p = s.rules.patterns[id];
  const auto start = static_cast<uint32_t>(p.is_regex ? from : to - p.literal_bytes);
  const auto end = static_cast<uint32_t>(to);
  const std::string& text = *s.current_text;
  const Normalizer& norm = Normalizer::instance();
  Hit hit;
  hit.pattern = id;
  hit.slot = s.current_slot;
  hit.start = start;
  hit.end = end;
  hit.prev_word = start > 0 && norm.is_word_char(decode_utf8_before(text, start));
  hit.next_word = end < text.size() && norm.is_word_char(decode_utf8_at(text, end));
  if (s.pattern_gen[id] != s.gen) {
    // The pattern's first hit in this post: its rules become candidates, once.
    s.pattern_gen[id] = s.gen;
    s.pattern_head[id] = kNoHit;
    s.hit_patterns.push_back(id);
    for (uint32_t i = s.rules.pattern_rule_start[id]; i < s.rules.pattern_rule_start[id + 1]; ++i) {
      const uint32_t r = s.rules.pattern_rules[i];
      if (s.rule_gen[r] != s.gen) {
        s.rule_gen[r] = s.gen;
        s.candidates.push_back(r);
      }
    }
  }
  // Prepending reverses the order of a pattern's hits; describe() sorts what it reports.
  hit.next = s.pattern_head[id];
  s.pattern_head[id] = static_cast<uint32_t>(s.hits.size());
  s.hits.push_back(hit);
  return 0;
}

}  // namespace

void ScannerState::match(const Post& post) {
  if (++gen == 0) {  // the stamps wrapped: forget every old one
    std::fill(pattern_gen.begin(), pattern_gen.end(), 0);
    std::fill(rule_gen.begin(), rule_gen.end(), 0);
    std::fill(term_gen.begin(), term_gen.end(), 0);
    gen = 1;
  }
  hits.clear();
  hit_patterns.clear();
  candidates.clear();
  slot_count = 0;
  current_post = &post;
  const Normalizer& norm = Normalizer::instance();
  const auto fields = post.fields();
  for (uint32_t i = 0; i < fields.size(); ++i) {
    const PostField& f = fields[i];
    const int id = rules.field_id(f.name);
    const bool is_text = !is_metadata_field(f.name);
    if (!(is_text && scan_text_fields) && id < 0) continue;
    if (f.text.empty()) continue;
    if (slot_count == slots.size()) slots.emplace_back();
    FieldSlot& slot = slots[slot_count];
    slot.post_field = i;
    slot.field_id = id;
    slot.is_text = is_text;
    current_slot = slot_count++;
    for (int form = 0; form < compiled::kForms; ++form) {
      hs_database_t* db = rules.databases[form];
      if (!db) continue;
      NormalizedText& nt = slot.norm[form];
      // The name form is the rule's form with one more step: derived, when that was scanned too.
      const int base = form & 3;
      if (form != base && rules.databases[base]) {
        norm.fold_names(slot.norm[base], nt);
      } else {
        norm.normalize(f.text, NormalizeOptions::from_form(form), nt, /*maps=*/false);
      }
      if (nt.text.empty()) continue;
      current_text = &nt.text;
      hs_scan(db, nt.text.data(), static_cast<unsigned>(nt.text.size()), 0, scratch, on_match, this);
    }
  }
}

const NormalizedText& ScannerState::mapped(uint32_t slot_index, int form) {
  FieldSlot& slot = slots[slot_index];
  NormalizedText& nt = slot.norm[form];
  if (nt.maps) return nt;
  const Normalizer& norm = Normalizer::instance();
  const int base = form & 3;
  if (form != base && rules.databases[base]) {
    norm.fold_names(mapped(slot_index, base), nt);
  } else {
    norm.normalize(current_post->fields()[slot.post_field].text, NormalizeOptions::from_form(form), nt);
  }
  return nt;
}

}  // namespace lodestone
