// The per-worker state of a Scanner: Hyperscan scratch, normalized fields, hits and alerts.
// Everything here is cleared, never freed, between posts, so scanning does not allocate once warm.
// Owned by one Scanner and used by one thread at a time.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "text/normalizer.h"
#include "lodestone/alert.h"
#include "lodestone/post.h"
#include "lodestone/rule_set.h"
#include "rules/compiled.h"

namespace lodestone {

constexpr uint32_t kNoHit = UINT32_MAX;

// One occurrence of a pattern in one field, before any term's boundary or scope check.
struct Hit {
  uint32_t pattern;
  uint32_t slot;   // index into ScannerState::slots
  uint32_t start;  // byte offsets into the slot's normalized text of the pattern's form
  uint32_t end;
  bool prev_word;  // a word character touches the start
  bool next_word;  // a word character touches the end
  uint32_t next;   // the pattern's next hit in this post, or kNoHit
};

// A scanned field of the current post.
struct FieldSlot {
  uint32_t post_field = 0;  // index into Post::fields()
  int field_id = -1;        // RuleSetData::field_id of its name
  bool is_text = false;
  std::array<NormalizedText, compiled::kForms> norm;
};

// A span in one slot, for NEAR: byte offsets into the slot's text of `form`.
struct Occurrence {
  uint32_t slot;
  uint32_t start;
  uint32_t end;
  uint8_t form;
  bool is_b;
};

class ScannerState {
 public:
  explicit ScannerState(const compiled::RuleSetData& rules);
  ~ScannerState();
  ScannerState(const ScannerState&) = delete;
  ScannerState& operator=(const ScannerState&) = delete;

  // matcher.cpp: normalizes and scans every field in scope, filling hits and candidate rules.
  void match(const Post& post);
  // evaluator.cpp: whether rule r's query holds for the current post.
  bool evaluate(uint32_t rule);
  // evaluator.cpp: the alert's matches and entities for a rule that holds.
  void describe(uint32_t rule, const Post& post, Alert& alert);

  const compiled::RuleSetData& rules;
  hs_scratch_t* scratch = nullptr;
  std::vector<FieldSlot> slots;
  uint32_t slot_count = 0;
  std::vector<Hit> hits;
  std::vector<uint32_t> pattern_head;  // first hit of each pattern, valid when pattern_gen == gen
  std::vector<uint32_t> pattern_gen;
  std::vector<uint32_t> hit_patterns;  // the patterns hit in this post, in order of first hit
  std::vector<uint32_t> candidates;    // rules with a positive hit in this post
  std::vector<uint32_t> rule_gen;
  std::vector<uint32_t> term_gen;    // a term's occurrence was decided, when term_gen == gen
  std::vector<uint8_t> term_found;   //   and this says whether it occurs
  // Entities met in the current pass (one count_entities(), one describe()): entity e is met
  // when entity_mark[e] == mark. new_entity_pass() starts a pass.
  std::vector<uint32_t> entity_mark;
  uint32_t mark = 0;
  uint32_t gen = 0;
  bool scan_text_fields = false;        // some term's scope takes every text field
  std::vector<Occurrence> occurrences;  // NEAR's work space
  struct Found {
    uint32_t slot, start, end, term;
    uint8_t form;
  };
  std::vector<Found> found;  // describe()'s work space
  uint8_t eval_form = 0;     // the form of the rule being evaluated
  std::vector<Alert> alerts;
  size_t alert_count = 0;
  std::string clock_override;

  // A slot's normalized text of `form` with its maps to the original text. match() scans text
  // made without maps (most posts raise nothing and never need them); the first call for a
  // slot and form makes them, from the same input, so the text and every hit offset stay the same.
  const NormalizedText& mapped(uint32_t slot, int form);

  // Current scan, for the Hyperscan callback.
  const Post* current_post = nullptr;
  uint32_t current_slot = 0;
  const std::string* current_text = nullptr;

 private:
  void new_entity_pass();
  // Marks entity e met in this pass; false when it was met already.
  bool meet_entity(int32_t e) {
    uint32_t& m = entity_mark[static_cast<size_t>(e)];
    if (m == mark) return false;
    m = mark;
    return true;
  }
  bool eval_node(uint32_t node);
  bool term_occurs(uint32_t term);
  bool term_hit_ok(const compiled::Term& term, const Hit& hit) const;
  bool excluded(const compiled::Term& term, const Hit& hit) const;
  uint32_t count_entities(const compiled::Node& node, uint32_t need);
  template <typename F>
  void for_each_hit_entity_term(const compiled::Node& node, F&& f) const;
  void collect_occurrences(uint32_t node, bool is_b);
  void add_occurrences(uint32_t term, bool is_b);
};

}  // namespace lodestone
