// Matcher: normalizes the fields of a post and scans them with the rule set's Hyperscan
// databases, one per text form; PostHits is what it found, the read-only input of the Evaluator.
// A form's fields are scanned together, joined by '\n' in one hs_scan call, when none of its
// patterns can match across that separator; else one call per field. A form whose database holds
// its literals reversed (RuleSetData::reversed) is scanned joined and reversed.
// One Matcher per Scanner, used by one thread at a time. Its buffers are cleared, never freed,
// between posts, so matching does not allocate once warm.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lodestone/post.h"
#include "lodestone/result.h"
#include "rules/compiled.h"
#include "text/normalizer.h"

namespace lodestone {

constexpr uint32_t kNoHit = UINT32_MAX;

// One occurrence of a pattern in one field, before any term's boundary or scope check.
struct Hit {
  uint32_t pattern;
  uint32_t slot;   // index into PostHits::slots()
  uint32_t start;  // byte offsets into the slot's normalized text of the pattern's form
  uint32_t end;
  bool prev_word;  // a word character touches the start
  bool next_word;  // a word character touches the end
  uint32_t next;   // the next hit in the pattern's chain (PostHits::chain), found before this one; or kNoHit
};

// A scanned field of the current post.
struct FieldSlot {
  uint32_t post_field = 0;  // index into Post::fields()
  int field_id = -1;        // RuleSetData::field_id of its name
  bool is_text = false;
  // The field's normalized text of each form that has a database (other entries are stale).
  // match() makes the text alone (maps false); PostHits::mapped() adds the maps when asked.
  std::array<NormalizedText, compiled::kForms> norm;
};

// The hits of the post a Matcher matched last: valid until its next match().
class PostHits {
 public:
  PostHits(const PostHits&) = delete;  // a view of its Matcher's buffers: pass it by reference
  PostHits& operator=(const PostHits&) = delete;

  // Every hit, in the order Hyperscan reported them; a Hit's index is its place here.
  std::span<const Hit> hits() const { return hits_; }
  const Hit& hit(uint32_t index) const { return hits_[index]; }

  bool was_hit(uint32_t pattern) const { return pattern_gen_[pattern] == gen_; }
  // The head of pattern p's hits, linked by Hit::next, latest first (a hit is prepended when
  // found); kNoHit when p was not hit.
  uint32_t chain(uint32_t pattern) const { return was_hit(pattern) ? pattern_head_[pattern] : kNoHit; }

  // The patterns hit, each once, in order of first hit.
  std::span<const uint32_t> patterns() const { return hit_patterns_; }
  // The rules with a term outside NOT on a hit pattern, ascending (the order rules alert in).
  // Only these can hold: a rule that would hold with none of its terms is refused at load.
  std::span<const uint32_t> candidates() const { return candidates_; }

  // The fields scanned: those in scope of some term and not empty.
  std::span<const FieldSlot> slots() const { return {slots_.data(), slot_count_}; }
  const FieldSlot& slot(uint32_t index) const { return slots_[index]; }
  const Post& post() const { return *post_; }

  // A slot's normalized text of `form` (one that was scanned, or the base of one) with its maps
  // to the original text. The first call for a slot and form makes them from the same input, so
  // the text and every hit offset stay what they were: a post that raises nothing never pays for
  // maps. Logically const: it fills a cache (the slots are mutable for it).
  const NormalizedText& mapped(uint32_t slot, int form) const;

  // Changes with every match(), never repeating in practice (64 bits): whoever keeps per-post
  // state over these hits (the Evaluator) knows by it when the post changed.
  uint64_t serial() const { return serial_; }

 private:
  friend class Matcher;
  explicit PostHits(const compiled::RuleSetData& rules);

  const compiled::RuleSetData& rules_;
  std::vector<Hit> hits_;
  // Stamps, so nothing is cleared per post: pattern p was hit when pattern_gen_[p] == gen_, and
  // then its chain starts at pattern_head_[p].
  std::vector<uint32_t> pattern_head_;
  std::vector<uint32_t> pattern_gen_;
  uint32_t gen_ = 0;
  uint64_t serial_ = 0;
  std::vector<uint32_t> hit_patterns_;
  std::vector<uint32_t> candidates_;
  mutable std::vector<FieldSlot> slots_;  // [0, slot_count_) are this post's; the rest are spare
  uint32_t slot_count_ = 0;
  const Post* post_ = nullptr;
};

class Matcher {
 public:
  // Allocates the Hyperscan scratch; throws std::runtime_error when Hyperscan cannot (out of
  // memory, or a database it refuses). `rules` must outlive the Matcher.
  explicit Matcher(const compiled::RuleSetData& rules);
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Normalizes every non-empty field of `post` in scope of some term (every text field when a
  // term takes them all, else the fields rules name) in each form that has a database, scans it,
  // and replaces the previous post's hits with its own. `post` must stay unchanged while hits()
  // is read: mapped() reads its text.
  // Fails only when hs_scan does, which a valid database and scratch rule out unless the Matcher
  // is used by two threads at once: the hits are then incomplete and the failure says why.
  Result<void> match(const Post& post);

  const PostHits& hits() const { return hits_; }

 private:
  struct ScratchFree {
    void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
  };
  static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void* ctx);

  // Scans the post's fields of `form` in one call: their texts joined by '\n' into joined_,
  // reversed byte by byte when the form's database is (RuleSetData::reversed).
  hs_error_t scan_joined(int form);
  // Scans the text of `slot` of `form` alone.
  hs_error_t scan_field(int form, uint32_t slot);

  const compiled::RuleSetData& rules_;
  std::unique_ptr<hs_scratch_t, ScratchFree> scratch_;
  PostHits hits_;
  // Per form: whether its fields may be joined for one call (no pattern can cross a '\n').
  std::array<bool, compiled::kForms> joinable_{};
  std::vector<uint32_t> rule_gen_;  // rule r is a candidate of this post when rule_gen_[r] == hits_.gen_
  bool scan_text_fields_ = false;   // some term's scope takes every text field
  // The joined text of a form and where each slot's text starts in it, read forward (slot_start_[i]
  // for slot i, then one past the end); reused post after post.
  std::string joined_;
  std::vector<uint32_t> slot_start_;
  // What is being scanned, for on_match: the form, and either one slot (joined_scan_ false) or
  // every slot of the post through slot_start_.
  int current_form_ = 0;
  bool joined_scan_ = false;
  bool reversed_scan_ = false;  // joined_ is scanned reversed: hits are found by their start
  uint32_t current_slot_ = 0;
};

}  // namespace lodestone
