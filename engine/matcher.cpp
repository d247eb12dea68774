// Matching: each field of a post, normalized per form and scanned by that form's database, the
// fields of a form together in one call where no pattern can cross from one field to the next.
#include "engine/matcher.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace lodestone {

namespace {

// Whether the name form `form` is derived from its base form's text rather than normalized from
// the field: when the base form is scanned too, its text is there already.
bool derived_from_base(const compiled::RuleSetData& rules, int form) {
  return is_name_form(form) && rules.databases[base_form(form)] != nullptr;
}

// Where a hit starts, in bytes of the normalized text. Regexes are compiled with
// HS_FLAG_SOM_LEFTMOST and report their start in `from`. Literals are compiled without it (start
// of match tracking slows Hyperscan down, and a literal's length is fixed): `from` is 0 for them,
// and the start is the end less the literal's length in normalized bytes.
uint32_t hit_start(const compiled::Pattern& p, unsigned long long from, unsigned long long to) {
  return static_cast<uint32_t>(p.is_regex ? from : to - p.literal_bytes);
}

[[gnu::cold]] Failure scan_failure(hs_error_t rc, std::string_view what, int form) {
  std::string why = rc == HS_SCRATCH_IN_USE ? "its scratch is in use: one Scanner used by two threads at once"
                                            : "Hyperscan error " + std::to_string(rc);
  return Failure{"cannot scan " + std::string(what) + " (form " + std::to_string(form) + "): " + why};
}

// The separator of joined fields. Normalized text never holds a '\n' (white space is folded to
// ' ', and every form's tables and ICU segments are folded the same way), and neither do the
// literals, normalized alike, so no literal can match across it.
constexpr char kFieldSeparator = '\n';

// Whether a regex (as given to Hyperscan: UTF-8, UCP, no DOTALL, no MULTILINE) provably cannot
// match a '\n' nor tell a field's start or end from the separator, so scanning the fields joined
// gives each field exactly the hits it gives alone: '.' stops at '\n'; \w, \d, \S, \h, \V, \N
// and escaped punctuation never match it; \b and \B see the separator as the non-word edge they
// see at a field's ends. Anything else that could (^, $, [^...], [[:space:]], \s, \W, \D, \x.., \p{..}, ranges
// from an escaped control character, inline flags, \Q) keeps its form's fields scanned one by one.
bool bounded_by_field(const std::string& regex) {
  bool in_class = false;  // inside [...], where \b is a backspace (a range from it could take '\n')
  for (size_t i = 0; i < regex.size(); ++i) {
    const auto c = static_cast<unsigned char>(regex[i]);
    if (c < 0x20 || c == '^' || c == '$') return false;
    if (c == '(' && i + 1 < regex.size() && regex[i + 1] == '?' && (i + 2 >= regex.size() || regex[i + 2] != ':')) {
      return false;
    }
    if (c == '[' && i + 1 < regex.size() && regex[i + 1] == ':') return false;  // [[:space:]], [[:cntrl:]]
    if (c == '[') in_class = true;
    if (c == ']') in_class = false;
    if (c != '\\') continue;
    if (++i == regex.size()) return false;
    const auto e = static_cast<unsigned char>(regex[i]);
    const bool punctuation = e >= 0x21 && e < 0x80 && std::isalnum(e) == 0;
    if (!punctuation && std::strchr(in_class ? "wdShVN" : "wdShVNbB", e) == nullptr) return false;
  }
  return true;
}

}  // namespace

PostHits::PostHits(const compiled::RuleSetData& rules)
    : rules_(rules), pattern_head_(rules.patterns.size(), kNoHit), pattern_gen_(rules.patterns.size(), 0) {}

Matcher::Matcher(const compiled::RuleSetData& rules) : rules_(rules), hits_(rules), rule_gen_(rules.rules.size(), 0) {
  // One scratch serves every form's database: given a scratch already allocated, hs_alloc_scratch
  // grows it to fit the new database as well, so after the loop it fits them all. The forms are
  // scanned one after another, never at once, so one scratch is all a Matcher needs. (When
  // Hyperscan fails it leaves the pointer null or unchanged; scratch_ owns whichever it is.)
  for (hs_database_t* db : rules_.databases) {
    if (!db) continue;
    hs_scratch_t* scratch = scratch_.release();
    const hs_error_t rc = hs_alloc_scratch(db, &scratch);
    scratch_.reset(scratch);
    if (rc != HS_SUCCESS) throw std::runtime_error("cannot allocate Hyperscan scratch");
  }
  for (const auto& t : rules_.terms) scan_text_fields_ = scan_text_fields_ || t.scope.text_fields;
  joinable_.fill(true);
  for (const auto& p : rules_.patterns) {
    if (p.is_regex && !bounded_by_field(p.expression)) joinable_[p.form] = false;
  }
}

int Matcher::on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int /*flags*/,
                      void* ctx) {
  Matcher& m = *static_cast<Matcher*>(ctx);
  PostHits& h = m.hits_;
  const compiled::Pattern& p = m.rules_.patterns[id];
  uint32_t start = 0;
  uint32_t end = 0;
  if (m.reversed_scan_) {
    // The literal's reversed bytes end at `to` of the reversed text: its own bytes start where
    // they end there, counted from the other end.
    start = static_cast<uint32_t>(m.joined_.size() - to);
    end = start + p.literal_bytes;
  } else {
    start = hit_start(p, from, to);
    end = static_cast<uint32_t>(to);
  }
  uint32_t slot = m.current_slot_;
  if (m.joined_scan_) {
    // The slot whose text holds the hit: the last that starts at or before it (a hit never
    // crosses a separator, so it ends in the same slot). Posts have a few fields: a linear walk.
    while (m.slot_start_[slot + 1] <= start) ++slot;
    while (m.slot_start_[slot] > start) --slot;
    m.current_slot_ = slot;  // hits come in order of their end (or start): the next is likely here too
    start -= m.slot_start_[slot];
    end -= m.slot_start_[slot];
  }
  const std::string& text = h.slots_[slot].norm[m.current_form_].text;
  const Normalizer& norm = Normalizer::instance();
  Hit hit;
  hit.pattern = id;
  hit.slot = slot;
  hit.start = start;
  hit.end = end;
  hit.prev_word = start > 0 && norm.is_word_char(decode_utf8_before(text, start));
  hit.next_word = end < text.size() && norm.is_word_char(decode_utf8_at(text, end));
  if (h.pattern_gen_[id] != h.gen_) {
    // The pattern's first hit in this post: its rules become candidates, once.
    h.pattern_gen_[id] = h.gen_;
    h.pattern_head_[id] = kNoHit;
    h.hit_patterns_.push_back(id);
    for (uint32_t i = m.rules_.pattern_rule_start[id]; i < m.rules_.pattern_rule_start[id + 1]; ++i) {
      const uint32_t r = m.rules_.pattern_rules[i];
      if (m.rule_gen_[r] != h.gen_) {
        m.rule_gen_[r] = h.gen_;
        h.candidates_.push_back(r);
      }
    }
  }
  // Prepending reverses the order of a pattern's hits; the Evaluator sorts what it reports.
  hit.next = h.pattern_head_[id];
  h.pattern_head_[id] = static_cast<uint32_t>(h.hits_.size());
  h.hits_.push_back(hit);
  return 0;  // go on: every hit counts
}

Result<void> Matcher::match(const Post& post) {
  PostHits& h = hits_;
  if (++h.gen_ == 0) {  // the stamps wrapped: forget every old one
    std::fill(h.pattern_gen_.begin(), h.pattern_gen_.end(), 0);
    std::fill(rule_gen_.begin(), rule_gen_.end(), 0);
    h.gen_ = 1;
  }
  ++h.serial_;
  h.hits_.clear();
  h.hit_patterns_.clear();
  h.candidates_.clear();
  h.slot_count_ = 0;
  h.post_ = &post;
  const Normalizer& norm = Normalizer::instance();
  const auto fields = post.fields();
  for (uint32_t i = 0; i < fields.size(); ++i) {
    const PostField& f = fields[i];
    const int id = rules_.field_id(f.name);
    const bool is_text = !is_metadata_field(f.name);
    if (!(is_text && scan_text_fields_) && id < 0) continue;
    if (f.text.empty()) continue;
    if (h.slot_count_ == h.slots_.size()) h.slots_.emplace_back();
    FieldSlot& slot = h.slots_[h.slot_count_++];
    slot.post_field = i;
    slot.field_id = id;
    slot.is_text = is_text;
    for (int form = 0; form < compiled::kForms; ++form) {
      if (!rules_.databases[form]) continue;
      NormalizedText& nt = slot.norm[form];
      if (derived_from_base(rules_, form)) {
        norm.fold_names(slot.norm[base_form(form)], nt);
      } else {
        norm.normalize(f.text, NormalizeOptions::from_form(form), nt, /*maps=*/false);
      }
    }
  }
  for (int form = 0; form < compiled::kForms; ++form) {
    if (!rules_.databases[form] || h.slot_count_ == 0) continue;
    if (joinable_[form] && (h.slot_count_ > 1 || rules_.reversed[form])) {
      // on_match never stops a scan, so HS_SCAN_TERMINATED does not happen; any other code means
      // the hits are incomplete, and a post that silently raised fewer alerts would be wrong.
      const hs_error_t rc = scan_joined(form);
      if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) return scan_failure(rc, "post '" + post.id + "'", form);
      continue;
    }
    for (uint32_t s = 0; s < h.slot_count_; ++s) {
      const hs_error_t rc = scan_field(form, s);
      if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
        return scan_failure(rc, "field '" + fields[h.slots_[s].post_field].name + "'", form);
      }
    }
  }
  // Rules that may hold with no hit at all (a comparison alone, NOT x) are candidates of every post.
  for (uint32_t r : rules_.unconditional_rules) {
    if (rule_gen_[r] != h.gen_) {
      rule_gen_[r] = h.gen_;
      h.candidates_.push_back(r);
    }
  }
  std::sort(h.candidates_.begin(), h.candidates_.end());
  return {};
}

hs_error_t Matcher::scan_joined(int form) {
  const PostHits& h = hits_;
  slot_start_.clear();
  size_t size = 0;
  for (uint32_t s = 0; s < h.slot_count_; ++s) {
    size += s > 0;  // the separator
    slot_start_.push_back(static_cast<uint32_t>(size));
    size += h.slots_[s].norm[form].text.size();
  }
  slot_start_.push_back(static_cast<uint32_t>(size) + 1);  // the end, as if a separator followed
  joined_.resize(size);
  reversed_scan_ = rules_.reversed[form];
  for (uint32_t s = 0; s < h.slot_count_; ++s) {
    const std::string& text = h.slots_[s].norm[form].text;
    if (reversed_scan_) {
      // The joined text read from its end: the slot's bytes end where its forward copy starts.
      std::reverse_copy(text.begin(), text.end(), joined_.end() - slot_start_[s] - text.size());
      if (s > 0) joined_[size - slot_start_[s]] = kFieldSeparator;
    } else {
      std::copy(text.begin(), text.end(), joined_.begin() + slot_start_[s]);
      if (s > 0) joined_[slot_start_[s] - 1] = kFieldSeparator;
    }
  }
  current_form_ = form;
  joined_scan_ = true;
  current_slot_ = reversed_scan_ ? h.slot_count_ - 1 : 0;  // where the first hit likely is
  return hs_scan(rules_.databases[form], joined_.data(), static_cast<unsigned>(joined_.size()), 0, scratch_.get(),
                 on_match, this);
}

hs_error_t Matcher::scan_field(int form, uint32_t slot) {
  const std::string& text = hits_.slots_[slot].norm[form].text;
  if (text.empty()) return HS_SUCCESS;
  current_form_ = form;
  joined_scan_ = false;
  reversed_scan_ = false;  // a reversed form is always scanned joined
  current_slot_ = slot;
  return hs_scan(rules_.databases[form], text.data(), static_cast<unsigned>(text.size()), 0, scratch_.get(), on_match,
                 this);
}

const NormalizedText& PostHits::mapped(uint32_t slot_index, int form) const {
  FieldSlot& slot = slots_[slot_index];
  NormalizedText& nt = slot.norm[form];
  if (nt.maps) return nt;
  const Normalizer& norm = Normalizer::instance();
  if (derived_from_base(rules_, form)) {
    norm.fold_names(mapped(slot_index, base_form(form)), nt);
  } else {
    norm.normalize(post_->fields()[slot.post_field].text, NormalizeOptions::from_form(form), nt);
  }
  return nt;
}

}  // namespace lodestone
