// Normalizer: folds text and rule terms into the one form the matcher scans (docs/design.md, "Terms").
// Tables are built once (instance()); normalize() is const and safe from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone {

// Which foldings apply. Case folding and Traditional→Simplified folding can each be turned off
// per rule (case_sensitive = true, fold_chinese = false); NFKC, dropping invisible format
// characters and folding white-space runs always apply. Entity names are matched in the name
// form (fold_names), where punctuation and spacing variants of a name are one text.
struct NormalizeOptions {
  bool fold_case = true;
  bool fold_chinese = true;
  bool fold_names = false;

  // 0..7, an index for per-form arrays: bit 0 set when case is kept, bit 1 when Chinese is kept,
  // bit 2 (kNameFormBit) when names are folded.
  int form() const { return (fold_case ? 0 : 1) | (fold_chinese ? 0 : 2) | (fold_names ? kNameFormBit : 0); }
  static NormalizeOptions from_form(int form) {
    return {(form & 1) == 0, (form & 2) == 0, (form & kNameFormBit) != 0};
  }
  static constexpr int kNameFormBit = 4;
};

// The name form of a text is its base form (the same case and Chinese folding) with one more
// step, Normalizer::fold_names(): a field whose base form is scanned too gets its name form from
// that text instead of a second normalization, and the folding tables are the base form's.
constexpr bool is_name_form(int form) { return (form & NormalizeOptions::kNameFormBit) != 0; }
constexpr int base_form(int form) { return form & ~NormalizeOptions::kNameFormBit; }

// The normalized text of one input and the map back to the input.
// Positions in `text` are byte offsets. For each byte i of `text`, the normalized character it
// belongs to came from the original code points [src_begin[i], src_end[i]) of the input;
// orig_byte[k] is the byte offset of original code point k, and orig_byte[n] == input size, where
// n is the number of original code points (an invalid UTF-8 sequence counts as one code point).
// Reuse one NormalizedText across calls: normalize() clears it but keeps its capacity.
struct NormalizedText {
  std::string text;
  std::vector<uint32_t> src_begin;
  std::vector<uint32_t> src_end;
  std::vector<uint32_t> orig_byte;
  uint32_t invalid_sequences = 0;  // bad UTF-8 sequences seen in the input, each now one U+FFFD
  bool maps = true;                // false: only `text` was made (normalize(..., false)); the maps are empty

  uint32_t original_code_points() const { return orig_byte.empty() ? 0 : static_cast<uint32_t>(orig_byte.size() - 1); }
};

class Normalizer {
 public:
  // The process-wide normalizer; the first call builds the tables (tens of milliseconds).
  static const Normalizer& instance();

  // Normalizes `input` (any bytes) into `out`:
  //  1. UTF-8 decoding; each invalid sequence (maximal subpart, as ICU's U8_NEXT) becomes U+FFFD;
  //  2. NFKC with full case folding (ICU's NFKC_Casefold) when opts.fold_case, plain NFKC otherwise;
  //  3. Default_Ignorable_Code_Point characters dropped (ZWSP, soft hyphen, BOM, ZWJ, variation
  //     selectors, ...);
  //  4. Traditional→Simplified Chinese, one code point to one, when opts.fold_chinese;
  //  5. every run of White_Space characters becomes one U+0020;
  //  6. with opts.fold_names, the name form (docs/rule-language.md, "Entity names"):
  //     - an apostrophe (' ` ‘ ’ ʼ ʻ ′) between two word characters is dropped ("qa'ida" → "qaida"),
  //       except before a final "s" ("bessent's" → "bessent s", so the possessive keeps the
  //       name's boundary); elsewhere it is punctuation;
  //     - a period after a lone letter (an initial) is dropped: "S.A.", "U.S." → "sa", "us";
  //     - other punctuation (Unicode P*) is a space: "al-qa'ida", "co., ltd." → "al qaida", "co ltd";
  //     - a run of spaces is one space, and no space is kept next to a letter or digit of an
  //       unspaced script (Han, kana, ...): "史考特·貝森特" → "史考特贝森特".
  // Table-driven per code point, with SIMD block paths for ASCII and for runs of CJK (AVX2 when
  // the CPU has it, else SSE2; text/normalizer_paths.h); only a segment that may compose
  // (a combining mark, a Hangul jamo, ...) goes through ICU's normalizer as a whole.
  // With `maps` false only out.text is made, the same bytes, several times faster: the matcher
  // scans that and makes the maps only for the fields of a post that raises an alert.
  void normalize(std::string_view input, NormalizeOptions opts, NormalizedText& out, bool maps = true) const;

  // Step 6 alone: the name form of `in`, which was normalized without fold_names, into `out`
  // (another object), as normalize() with fold_names would give it, with maps when `in` has them.
  void fold_names(const NormalizedText& in, NormalizedText& out) const;

  // Convenience for rule terms and tests: the normalized text only.
  std::string normalize(std::string_view input, NormalizeOptions opts = {}) const;

  // docs/design.md's word character: a letter (L*) or digit (N*) of a script written with spaces,
  // i.e. of any script but Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer and Myanmar.
  bool is_word_char(char32_t c) const;

  // The single code point Traditional→Simplified mapping (c itself when there is none).
  char32_t to_simplified(char32_t c) const;

  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;
  ~Normalizer();

 private:
  Normalizer();
  struct Tables;
  std::unique_ptr<Tables> tables_;
};

// Copies `input` to `out`, replacing each invalid UTF-8 sequence by U+FFFD (EF BF BD);
// returns the number replaced. `out` is cleared first; its capacity is kept.
uint32_t repair_utf8(std::string_view input, std::string& out);

// The length of the UTF-8 sequence a lead byte announces (1 for ASCII); callers bound it by the
// end of their text.
inline size_t utf8_sequence_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// Terminal cells a code point takes: 2 for East Asian Wide and Fullwidth (Han, kana, Hangul,
// full-width forms, most emoji), 1 otherwise.
int cell_width(char32_t c);

// Decodes the code point that starts at byte `pos` of valid UTF-8 `s` (pos < s.size()).
char32_t decode_utf8_at(std::string_view s, size_t pos);
// Decodes the code point that ends just before byte `pos` of valid UTF-8 `s` (pos > 0).
char32_t decode_utf8_before(std::string_view s, size_t pos);
// Appends c as UTF-8.
void append_utf8(std::string& out, char32_t c);

}  // namespace lodestone
