// Evaluator: decides rules' queries over the hits a Matcher found in one post, and describes the
// alert of a rule that holds (its matches and entities).
// One per Scanner, beside its Matcher, used by one thread at a time. Its work space (term
// stamps, entity marks, NEAR's occurrences) is reused, so deciding does not allocate once warm.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/matcher.h"
#include "lodestone/alert.h"
#include "rules/compiled.h"

namespace lodestone {

class Evaluator {
 public:
  // Reads `hits`, which its Matcher refills post after post; `rules` and `hits` must outlive it.
  Evaluator(const compiled::RuleSetData& rules, const PostHits& hits);
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Whether rule r's query holds for the post of the hits. Whether a term occurs is decided
  // once per post, however many rules share it; a new post (PostHits::serial) forgets it all.
  bool holds(uint32_t rule);

  // The alert's matches and entities for rule r, which holds: a match per span of a term outside
  // NOT that counts (one per entity when a span names several), in field order then by position,
  // offsets in the original text; each entity once, with its first alias. Sets alert.matches and
  // alert.entities, nothing else, reusing the strings they (or an earlier alert's) held.
  void describe(uint32_t rule, Alert& alert);

 private:
  // A span in one slot, for NEAR: byte offsets into the slot's text of `form`.
  struct Occurrence {
    uint32_t slot;
    uint32_t start;
    uint32_t end;
    uint8_t form;
    bool is_b;  // of NEAR's right operand
  };
  // A hit describe() reports: a span in original code points, where spans of two forms compare.
  struct Found {
    uint32_t slot, start, end, term;
    uint8_t form;
  };

  void start_post();
  // Entities met in the current pass (one count_entities(), one describe()): entity e is met
  // when entity_mark_[e] == mark_. new_entity_pass() starts a pass.
  void new_entity_pass();
  // Marks entity e met in this pass; false when it was met already.
  bool meet_entity(int32_t e) {
    uint32_t& m = entity_mark_[static_cast<size_t>(e)];
    if (m == mark_) return false;
    m = mark_;
    return true;
  }
  bool eval_node(uint32_t node);
  bool near(const compiled::Node& node, const uint32_t* kids);
  bool comparison_holds(uint32_t comparison) const;
  bool term_occurs(uint32_t term);
  bool term_hit_ok(const compiled::Term& term, const Hit& hit) const;
  bool excluded(const compiled::Term& term, const Hit& hit) const;
  uint32_t count_entities(const compiled::Node& node, uint32_t need);
  template <typename F>
  void for_each_hit_entity_term(const compiled::Node& node, F&& f) const;
  void collect_occurrences(uint32_t node, bool is_b);
  void add_occurrences(uint32_t term, bool is_b);

  const compiled::RuleSetData& rules_;
  const PostHits& hits_;
  uint64_t post_serial_ = 0;  // the PostHits::serial the stamps below are of
  uint32_t gen_ = 0;
  std::vector<uint32_t> term_gen_;   // a term's occurrence was decided, when term_gen_ == gen_,
  std::vector<uint8_t> term_found_;  //   and this says whether it occurs
  std::vector<uint32_t> entity_mark_;
  uint32_t mark_ = 0;
  uint8_t eval_form_ = 0;                // the form of the rule being decided
  std::vector<Occurrence> occurrences_;  // NEAR's work space
  std::vector<Found> found_;             // describe()'s work space
  // Matches and entities a shorter alert left over, kept for their strings' capacity.
  std::vector<AlertMatch> spare_matches_;
  std::vector<AlertEntity> spare_entities_;
};

}  // namespace lodestone
