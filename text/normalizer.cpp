// Normalizer: NFKC (with or without case folding), invisible-character dropping,
// Traditional→Simplified and white-space folding, with a map from every output byte back to the
// input code points. Per-code-point results are precomputed into tables once; only segments that
// may compose across code points (combining marks, Hangul jamo, ...) go through ICU per call.
// ASCII goes in blocks (AVX2, 32 bytes for normalize() and 64 for the name form, picked at run
// time; else SSE2, 16), and each block path must give what the code point loop gives, maps
// included: tests/text/normalizer_test.cpp runs them side by side.
#include "text/normalizer.h"

#include "text/normalizer_paths.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LODESTONE_AVX2 1  // the AVX2 functions are built, and run when the CPU has AVX2
#endif

namespace lodestone {
namespace {

NormalizerPath detect_path() {
#if defined(LODESTONE_AVX2)
  __builtin_cpu_init();  // may run before main, from a static initializer
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) return NormalizerPath::kAvx2;
#endif
#if defined(__SSE2__)
  return NormalizerPath::kSse2;
#else
  return NormalizerPath::kScalar;
#endif
}

std::atomic<NormalizerPath>& path_setting() {
  static std::atomic<NormalizerPath> path{detect_path()};
  return path;
}

// A table entry (uint32_t) says what one code point becomes under one form:
//   bits 0-2  kind (below)
//   bit  3    kNoBoundary: the code point may combine with what precedes it
//             (!Normalizer2::hasBoundaryBefore), so its segment goes through ICU
//   bits 4-9  length in bytes of the mapped UTF-8 (kMapped, kMappedWithSpace)
//   bits 10-  offset of the mapped UTF-8 in Tables::pool
// Entry 0 is "itself, no composition context", the value for almost every code point, so
// all-identity blocks of the trie are shared.
enum Kind : uint32_t {
  kIdentity = 0,         // the code point itself (its input bytes are copied)
  kDrop = 1,             // Default_Ignorable, or NFKC_Casefold maps it to nothing
  kSpace = 2,            // one White_Space code point: joins the current white-space run
  kMapped = 3,           // pool bytes, no white space in them
  kMappedWithSpace = 4,  // pool bytes with ' ' in them (runs inside already one ' '), e.g. ¨
};
constexpr uint32_t kKindMask = 7;
constexpr uint32_t kNoBoundary = 8;
constexpr int kLengthShift = 4;
constexpr uint32_t kLengthMask = 63;
constexpr int kOffsetShift = 10;
constexpr size_t kMaxPoolSize = size_t{1} << (32 - kOffsetShift);

// Output room the general path makes before each code point: more than the longest table
// mapping (U+FDFA gives 33 bytes), U+FFFD, and the 4 bytes Cursor::short_bytes writes.
constexpr size_t kMaxCodePointBytes = kLengthMask + 1;
// Slack reserved beyond input.size(): a few expansions grow nothing.
constexpr size_t kSlack = 64;

constexpr int kBlockBits = 8;
constexpr size_t kBlockSize = size_t{1} << kBlockBits;
constexpr size_t kStage1Size = 0x110000 >> kBlockBits;
constexpr int kForms = 4;  // the tables' forms: case × Chinese (names are a pass after)

constexpr char32_t kReplacement = 0xFFFD;
constexpr char kReplacementUtf8[] = "\xEF\xBF\xBD";

// Where the next output byte goes. Kept in locals by the hot loop (never by address), so the
// compiler can hold it in registers although byte stores may alias anything. Without kMaps only
// the text is written: `begin` and `end` are null and the maps are left empty.
template <bool kMaps>
struct Cursor {
  char* text;
  uint32_t* begin;
  uint32_t* end;
  size_t pos;
  size_t cap;

  size_t room() const { return cap - pos; }
  void put(char ch, uint32_t b, uint32_t e) {
    text[pos] = ch;
    if constexpr (kMaps) {
      begin[pos] = b;
      end[pos] = e;
    }
    ++pos;
  }
  // White space: every output ' ' is a whole run (nothing else emits ' '), so a run continues
  // exactly when the last output byte is ' '. The run's byte maps to the whole run
  // [first white-space code point, last one + 1), invisible characters inside included.
  void space(uint32_t b, uint32_t e) {
    if (pos != 0 && text[pos - 1] == ' ') {
      if constexpr (kMaps) end[pos - 1] = e;
    } else {
      put(' ', b, e);
    }
  }
  void bytes(const char* p, size_t len, uint32_t b, uint32_t e) {
    std::memcpy(text + pos, p, len);
    if constexpr (kMaps) {
      for (size_t j = 0; j < len; ++j) {
        begin[pos + j] = b;
        end[pos + j] = e;
      }
    }
    pos += len;
  }
  // 1 to 4 bytes, reading and writing 4 (so both need 4 bytes of room) without branches.
  void short_bytes(const char* p, size_t len, uint32_t b, uint32_t e) {
    std::memcpy(text + pos, p, 4);
    if constexpr (kMaps) {
      for (size_t j = 0; j < 4; ++j) {
        begin[pos + j] = b;
        end[pos + j] = e;
      }
    }
    pos += len;
  }
  void bytes_with_space(const char* p, size_t len, uint32_t b, uint32_t e) {
    for (size_t j = 0; j < len; ++j) {
      if (p[j] == ' ') {
        space(b, e);
      } else {
        put(p[j], b, e);
      }
    }
  }
};

#if defined(__SSE2__)
// The common ASCII case 16 bytes at a time: when the block at `s` is all ASCII and every
// white-space byte in it stands alone (no run of two, none continuing a run already in the
// output), each byte becomes one output byte: A-Z folded when `fold_case`, white space ' '.
// Returns false, writing nothing, otherwise. Needs room for 16 bytes.
template <bool kMaps>
inline bool ascii_block(const uint8_t* s, bool fold_case, uint32_t k, Cursor<kMaps>& cur) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  if (_mm_movemask_epi8(b) != 0) return false;
  const __m128i ws = _mm_or_si128(
      _mm_cmpeq_epi8(b, _mm_set1_epi8(' ')),
      _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8('\t' - 1)), _mm_cmplt_epi8(b, _mm_set1_epi8('\r' + 1))));
  const auto ws_bits = static_cast<unsigned>(_mm_movemask_epi8(ws));
  if ((ws_bits & (ws_bits << 1)) != 0) return false;
  if ((ws_bits & 1) != 0 && cur.pos != 0 && cur.text[cur.pos - 1] == ' ') return false;
  __m128i folded = b;
  if (fold_case) {
    const __m128i upper =
        _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8('A' - 1)), _mm_cmplt_epi8(b, _mm_set1_epi8('Z' + 1)));
    folded = _mm_add_epi8(b, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
  }
  folded = _mm_or_si128(_mm_andnot_si128(ws, folded), _mm_and_si128(ws, _mm_set1_epi8(' ')));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(cur.text + cur.pos), folded);
  if constexpr (!kMaps) {
    cur.pos += 16;
    return true;
  }
  const __m128i iota = _mm_setr_epi32(0, 1, 2, 3);
  const __m128i four = _mm_set1_epi32(4);
  const __m128i one = _mm_set1_epi32(1);
  __m128i begin = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(k)), iota);
  for (int q = 0; q < 4; ++q) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(cur.begin + cur.pos + 4 * q), begin);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(cur.end + cur.pos + 4 * q), _mm_add_epi32(begin, one));
    begin = _mm_add_epi32(begin, four);
  }
  cur.pos += 16;
  return true;
}

inline void iota_store(uint32_t* out, uint32_t first) {
  const __m128i four = _mm_set1_epi32(4);
  __m128i v = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(first)), _mm_setr_epi32(0, 1, 2, 3));
  for (int q = 0; q < 4; ++q) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * q), v);
    v = _mm_add_epi32(v, four);
  }
}
#endif

template <bool kMaps>
Cursor<kMaps> cursor_of(NormalizedText& out, size_t pos) {
  if constexpr (kMaps) {
    return {out.text.data(), out.src_begin.data(), out.src_end.data(), pos, out.text.size()};
  } else {
    return {out.text.data(), nullptr, nullptr, pos, out.text.size()};
  }
}

// Makes room for `need` more bytes; with kMaps, the three output vectors always have the same size.
template <bool kMaps>
[[gnu::noinline]] Cursor<kMaps> grow(NormalizedText& out, Cursor<kMaps> cur, size_t need) {
  const size_t size = std::max(cur.cap + cur.cap / 2, cur.pos + need + kSlack);
  out.text.resize(size);
  if constexpr (kMaps) {
    out.src_begin.resize(size);
    out.src_end.resize(size);
  }
  return cursor_of<kMaps>(out, cur.pos);
}

bool is_han(char32_t c) {
  return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x2FA1F);
}

bool is_unspaced_script(UScriptCode script) {
  switch (script) {
    case USCRIPT_HAN:
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_HANGUL:
    case USCRIPT_THAI:
    case USCRIPT_LAO:
    case USCRIPT_KHMER:
    case USCRIPT_MYANMAR:
      return true;
    default:
      return false;
  }
}

bool compute_word_char(char32_t c) {
  if (c > 0x10FFFF) return false;
  const auto cp = static_cast<UChar32>(c);
  if ((U_GET_GC_MASK(cp) & (U_GC_L_MASK | U_GC_N_MASK)) == 0) return false;
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(cp, &status);
  if (U_FAILURE(status)) return true;
  if (is_unspaced_script(script)) return false;
  if (script != USCRIPT_COMMON && script != USCRIPT_INHERITED) return true;
  // A Common letter used only with unspaced scripts, such as the katakana prolonged sound mark
  // ー (Script_Extensions Hiragana Katakana), belongs to them: "AI" must match in "スーパーAI".
  std::array<UScriptCode, 16> extensions{};
  const int32_t count =
      uscript_getScriptExtensions(cp, extensions.data(), static_cast<int32_t>(extensions.size()), &status);
  if (U_FAILURE(status) || count <= 0) return true;
  for (int32_t j = 0; j < count; ++j) {
    if (!is_unspaced_script(extensions[static_cast<size_t>(j)])) return true;
  }
  return false;
}

// A letter or digit that is not a word character: Han, kana, Hangul, Thai, ...
bool compute_unspaced(char32_t c) {
  if (c > 0x10FFFF) return false;
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & (U_GC_L_MASK | U_GC_N_MASK)) != 0 && !compute_word_char(c);
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// What the name form does with a code point.
enum class NameClass { kKeep, kApostrophe, kPunctuation };

NameClass name_class(char32_t c) {
  switch (c) {
    case U'\'':
    case U'`':
    case U'\u2018':
    case U'\u2019':
    case U'\u02BC':
    case U'\u02BB':
    case U'\u2032':
      return NameClass::kApostrophe;
    case U' ':
      return NameClass::kPunctuation;
    default:
      return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0 ? NameClass::kPunctuation : NameClass::kKeep;
  }
}

// The name form's class of each ASCII byte: 0 kept (1 when a word character), 2 apostrophe,
// 3 punctuation or space.
const std::array<uint8_t, 128>& name_ascii_classes() {
  static const std::array<uint8_t, 128> classes = [] {
    std::array<uint8_t, 128> a{};
    for (int c = 0; c < 128; ++c) {
      const NameClass cls = name_class(static_cast<char32_t>(c));
      const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      a[static_cast<size_t>(c)] = cls == NameClass::kApostrophe ? 2 : cls == NameClass::kPunctuation ? 3 : alnum;
    }
    return a;
  }();
  return classes;
}

// Whether the 8 bytes at p are ASCII: the wide paths are worth their set-up from there.
inline bool ascii8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return (word & 0x8080808080808080ULL) == 0;
}

// What the name form knows between two code points (Normalizer::Tables::fold_names): enough
// for the rules of the next one.
struct NameState {
  size_t w = 0;                // output bytes written
  size_t word_tail = 0;        // word characters ending the output, up to 2 (dropped ones skipped)
  bool tail_letter = false;    //   the last of which is a letter
  bool prev_unspaced = false;  // the output ends in a letter or digit of an unspaced script
  bool space = false;          // a space is due before the next kept character
  uint32_t space_begin = 0;    //   and the input it stands for
  uint32_t space_end = 0;
};

#if defined(LODESTONE_AVX2)
// Sets of ASCII bytes tested 32 at a time by two nibble lookups: bit h of lo[c & 15] is set when
// the byte (h << 4) | (c & 15) is in the set, and classify_half's row table gives bit c >> 4
// (none for non-ASCII).
struct AsciiSet {
  alignas(16) std::array<uint8_t, 16> lo{};
};

template <class In>
AsciiSet ascii_set(In in) {
  AsciiSet set;
  for (int c = 0; c < 128; ++c) {
    if (in(c)) set.lo[static_cast<size_t>(c & 15)] |= static_cast<uint8_t>(1u << (c >> 4));
  }
  return set;
}

// The name form's ASCII classes as sets (built once, from name_ascii_classes()).
struct NameSets {
  AsciiSet separator;  // punctuation that is always one space, and ' ' (not '.', not an apostrophe)
  AsciiSet word;       // letters and digits
  AsciiSet special;    // '.' and the apostrophes, whose rules look at their neighbours
};

const NameSets& name_sets() {
  static const NameSets sets = [] {
    const auto& classes = name_ascii_classes();
    return NameSets{ascii_set([&](int c) { return classes[static_cast<size_t>(c)] == 3 && c != '.'; }),
                    ascii_set([&](int c) { return classes[static_cast<size_t>(c)] == 1; }),
                    ascii_set([&](int c) { return classes[static_cast<size_t>(c)] == 2 || c == '.'; })};
  }();
  return sets;
}

// kCompact[m]: the indices of the set bits of m, lowest first, then 0x80 (pshufb's zero): the
// shuffle that packs the bytes an 8-bit mask keeps.
constexpr std::array<uint64_t, 256> kCompact = [] {
  std::array<uint64_t, 256> table{};
  for (unsigned m = 0; m < 256; ++m) {
    uint64_t entry = 0;
    unsigned j = 0;
    for (unsigned bit = 0; bit < 8; ++bit) {
      if ((m >> bit) & 1) entry |= uint64_t{bit} << (8 * j++);
    }
    for (; j < 8; ++j) entry |= uint64_t{0x80} << (8 * j);
    table[m] = entry;
  }
  return table;
}();

// Stores the bytes of `v` that `keep` selects, packed, at `dst`; returns how many. Writes up to
// 32 bytes: each 8-byte piece goes at or before its own offset from `dst`.
[[gnu::target("avx2,popcnt")]] inline size_t compact_store(__m256i v, uint32_t keep, char* dst) {
  const __m128i halves[2] = {_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)};
  size_t w = 0;
  for (int h = 0; h < 2; ++h) {
    const unsigned m0 = (keep >> (16 * h)) & 0xFF;
    const unsigned m1 = (keep >> (16 * h + 8)) & 0xFF;
    const __m128i shuffle = _mm_set_epi64x(static_cast<long long>(kCompact[m1] + 0x0808080808080808ULL),
                                           static_cast<long long>(kCompact[m0]));
    const __m128i packed = _mm_shuffle_epi8(halves[h], shuffle);
    _mm_storeu_si64(dst + w, packed);
    w += static_cast<size_t>(__builtin_popcount(m0));
    _mm_storeu_si64(dst + w, _mm_unpackhi_epi64(packed, packed));
    w += static_cast<size_t>(__builtin_popcount(m1));
  }
  return w;
}

// The nibble tables of NameSets as registers, loaded once per call of fold_names_ascii.
struct NameLuts {
  __m256i separator;
  __m256i word;
  __m256i special;
};

[[gnu::target("avx2"), gnu::always_inline]] inline __m256i lut_of(const AsciiSet& set) {
  return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(set.lo.data())));
}

// One 32-byte half of a block: its classes as bit masks, and its bytes with every separator,
// period and apostrophe ' ' (only those the rules make a space are ever written).
struct NameHalf {
  uint32_t nonascii;
  uint32_t word;
  uint32_t separator;
  uint32_t special;  // '.' and apostrophes, decided one by one
  __m256i spaced;
};

[[gnu::target("avx2"), gnu::always_inline]] inline NameHalf classify_half(const char* p, const NameLuts& luts) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i nibbles = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(v, nibbles);
  const __m256i row = _mm256_shuffle_epi8(
      _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0,
                       0, 0, 0, 0),
      _mm256_and_si256(_mm256_srli_epi16(v, 4), nibbles));
  const __m256i zero = _mm256_setzero_si256();
  const __m256i not_word = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(luts.word, lo), row), zero);
  const __m256i not_sep = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(luts.separator, lo), row), zero);
  const __m256i not_special = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(luts.special, lo), row), zero);
  return {static_cast<uint32_t>(_mm256_movemask_epi8(v)), ~static_cast<uint32_t>(_mm256_movemask_epi8(not_word)),
          ~static_cast<uint32_t>(_mm256_movemask_epi8(not_sep)),
          ~static_cast<uint32_t>(_mm256_movemask_epi8(not_special)),
          _mm256_blendv_epi8(_mm256_set1_epi8(' '), v, _mm256_and_si256(not_sep, not_special))};
}

inline bool bit(uint64_t mask, int i) { return (mask >> i) & 1; }

// The set bits of `mask` from bit i up, how many in a row.
inline int ones_from(uint64_t mask, int i) {
  const uint64_t rest = ~(mask >> i);
  return rest == 0 ? 64 - i : __builtin_ctzll(rest);
}

constexpr int kNameBlock = 64;

// The name form of the ASCII bytes at `src` (64 readable; a byte past the text reads as
// non-ASCII), from state `st`, written at `dst`: letters, digits, symbols and separators (' ',
// punctuation but '.' and apostrophes, and those of them the rules make a space) decided 64 at
// a time; a period or apostrophe whose rule needs more context than the block gives ("...",
// a possessive at the block's end), and non-ASCII, end the block's prefix, for the scalar loop.
// Returns the bytes consumed (the prefix, maybe 0). `begin` and `end` are the input maps at
// `src`, `to_begin` and `to_end` the output maps at `dst` (kMaps). Stores may reach 64 bytes
// past `dst` (80 with the due space) but never past the output of the bytes read: in place,
// `dst` is a buffer the caller copies from.
template <bool kMaps>
[[gnu::target("avx2,popcnt"), gnu::always_inline]] inline size_t fold_names_block(
    const char* src, const uint32_t* begin, const uint32_t* end, char* dst, uint32_t* to_begin, uint32_t* to_end,
    NameState& st, const NameLuts& luts) {
  const NameHalf low = classify_half(src, luts);
  const NameHalf high = classify_half(src + 32, luts);
  const auto join = [](uint32_t a, uint32_t b) { return uint64_t{a} | uint64_t{b} << 32; };
  const uint64_t nonascii = join(low.nonascii, high.nonascii);
  const uint64_t word = join(low.word, high.word);
  const uint64_t special = join(low.special, high.special);
  uint64_t sep = join(low.separator, high.separator);
  const uint64_t kept = ~(nonascii | sep | special);  // word characters and symbols
  uint64_t dropped = 0;
  uint64_t hard = nonascii;
  const auto is_letter = [&](int i) { return bit(word, i) && static_cast<unsigned char>(src[i]) > '9'; };

  // Periods and apostrophes, lowest first: each rule looks at the one or two characters before
  // (the state stands for those before the block) and, for an apostrophe, the two after.
  const bool space_before = st.space;
  const bool before_word = !st.space && st.word_tail >= 1;
  for (uint64_t todo = special & ~nonascii; todo != 0; todo &= todo - 1) {
    const int i = __builtin_ctzll(todo);
    if ((hard & ((uint64_t{1} << i) - 1)) != 0) break;  // the prefix already ends before i
    bool prev_word;
    bool prev_letter;
    if (i == 0) {
      prev_word = before_word;
      prev_letter = before_word && st.tail_letter;
    } else if (bit(dropped, i - 1)) {
      hard |= uint64_t{1} << i;  // "a..", "a.'": the rule would look through a dropped one
      break;
    } else {
      prev_word = bit(word, i - 1);
      prev_letter = is_letter(i - 1);
    }
    bool drop = false;
    if (src[i] == '.') {
      // Dropped after a lone letter: the one before that is no word character (a dropped
      // character only ever follows one).
      if (prev_word) {
        const bool lone = i >= 2 ? !bit(word | dropped, i - 2) : i == 1 ? !before_word : st.word_tail == 1;
        drop = lone && prev_letter;
      }
    } else if (prev_word) {  // an apostrophe after a word character
      if (i + 2 >= kNameBlock || bit(nonascii, i + 1)) {
        hard |= uint64_t{1} << i;
        break;
      }
      if (bit(word, i + 1)) {
        if ((src[i + 1] | 0x20) != 's') {
          drop = true;
        } else if (bit(nonascii, i + 2)) {
          hard |= uint64_t{1} << i;
          break;
        } else {
          drop = bit(word, i + 2);  // not a possessive: "o'sullivan"
        }
      }
    }
    if (drop) {
      dropped |= uint64_t{1} << i;
    } else {
      sep |= uint64_t{1} << i;
    }
  }

  const int m = hard == 0 ? kNameBlock : __builtin_ctzll(hard);
  const uint64_t prefix = m == kNameBlock ? ~uint64_t{0} : (uint64_t{1} << m) - 1;
  sep &= prefix;
  const uint64_t keep_chars = kept & prefix;
  if (keep_chars == 0) {  // separators and dropped characters only: the due space grows
    if (sep != 0) {
      if (!st.space) {
        st.space = true;
        if constexpr (kMaps) st.space_begin = begin[__builtin_ctzll(sep)];
      }
      if constexpr (kMaps) st.space_end = end[63 - __builtin_clzll(sep)];
    }
    return static_cast<size_t>(m);
  }
  const int first = __builtin_ctzll(keep_chars);
  const int last = 63 - __builtin_clzll(keep_chars);
  const uint64_t through_last = (uint64_t{2} << last) - 1;  // 2 << 63 wraps to 0: all bits
  const uint64_t lead = sep & ((uint64_t{1} << first) - 1);
  uint64_t keep = keep_chars | (sep & ~(sep << 1) & through_last & ~lead);  // each run's first separator
  size_t w = 0;
  if ((st.space || lead != 0) && st.w != 0 && !st.prev_unspaced) {  // the due space is written
    if (st.space) {
      dst[0] = ' ';
      if constexpr (kMaps) {
        to_begin[0] = st.space_begin;
        to_end[0] = lead != 0 ? end[63 - __builtin_clzll(lead)] : st.space_end;
      }
      w = 1;
    } else {
      keep |= lead & (~lead + 1);
    }
  }
  if (keep == through_last) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + w), low.spaced);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + w + 32), high.spaced);
    w += static_cast<size_t>(last) + 1;
  } else {
    w += compact_store(low.spaced, static_cast<uint32_t>(keep), dst + w);
    w += compact_store(high.spaced, static_cast<uint32_t>(keep >> 32), dst + w);
  }
  if constexpr (kMaps) {
    size_t o = w - static_cast<size_t>(__builtin_popcountll(keep));
    for (uint64_t todo = keep; todo != 0; todo &= todo - 1) {
      const int i = __builtin_ctzll(todo);
      // A separator stands for its whole run.
      to_end[o] = end[bit(sep, i) ? i + ones_from(sep, i) - 1 : i];
      to_begin[o] = begin[i];
      ++o;
    }
  }
  const uint64_t trail = sep & ~through_last;
  if (trail != 0) {
    st.space = true;
    if constexpr (kMaps) {
      st.space_begin = begin[__builtin_ctzll(trail)];
      st.space_end = end[63 - __builtin_clzll(trail)];
    }
  } else {
    st.space = false;
  }
  if (bit(word, last)) {
    const uint64_t before = (sep | keep_chars) & ((uint64_t{1} << last) - 1);
    if (before != 0) {
      st.word_tail = bit(word, 63 - __builtin_clzll(before)) ? 2 : 1;
    } else {
      st.word_tail = space_before ? 1 : std::min<size_t>(2, st.word_tail + 1);
    }
    st.tail_letter = is_letter(last);
  } else {
    st.word_tail = 0;
    st.tail_letter = false;
  }
  st.prev_unspaced = false;
  st.w += w;
  return static_cast<size_t>(m);
}

struct NameProgress {
  NameState st;
  size_t r;  // the input byte it stopped at
};

// fold_names_block over the text from byte r while it consumes whole blocks, until a byte for
// the code point rules or n. The state goes by value, so the caller's stays in registers.
template <bool kMaps>
[[gnu::target("avx2,popcnt")]] NameProgress fold_names_ascii(const char* text, size_t n, size_t r,
                                                             const uint32_t* begin, const uint32_t* end, char* to_text,
                                                             uint32_t* to_begin, uint32_t* to_end, NameState st) {
  const NameSets& sets = name_sets();
  const NameLuts luts{lut_of(sets.separator), lut_of(sets.word), lut_of(sets.special)};
  const bool in_place = to_text == text;
  while (r < n) {
    const uint32_t* from_begin = kMaps ? begin + r : nullptr;
    const uint32_t* from_end = kMaps ? end + r : nullptr;
    uint32_t* into_begin = kMaps ? to_begin + st.w : nullptr;
    uint32_t* into_end = kMaps ? to_end + st.w : nullptr;
    size_t m;
    if (n - r >= kNameBlock && !in_place) {
      m = fold_names_block<kMaps>(text + r, from_begin, from_end, to_text + st.w, into_begin, into_end, st, luts);
    } else {
      // Through copies: the last bytes read as non-ASCII past the end, and in place the block's
      // wide stores would overwrite input past the bytes it consumes.
      alignas(32) char tail[kNameBlock];
      alignas(32) char written[2 * kNameBlock];
      const char* src = text + r;
      if (n - r < kNameBlock) {
        std::memset(tail, 0x80, sizeof tail);
        std::memcpy(tail, text + r, n - r);
        src = tail;
      }
      const size_t w0 = st.w;
      m = fold_names_block<kMaps>(src, from_begin, from_end, written, into_begin, into_end, st, luts);
      std::memcpy(to_text + w0, written, st.w - w0);
    }
    r += m;
    if (m < kNameBlock) break;
  }
  return {st, r};
}

// How many bytes from `s` (n readable) are CJK Unified Ideographs (U+4E00..U+9FFF, three bytes
// each, E4 B8 80..E9 BF BF), checked 10 at a time (30 bytes, the first a lead byte) and copied
// to `dst`, which is not `s` and has room for n bytes. Most Chinese text is little else.
[[gnu::target("avx2")]] size_t copy_han_run(const char* s, size_t n, char* dst) {
  // Per byte of a 32-byte load: -1 where a lead byte must be, at 0, 3, ..., 27.
  const __m256i lead_at = _mm256_setr_epi8(-1, 0, 0, -1, 0, 0, -1, 0, 0, -1, 0, 0, -1, 0, 0, -1, 0, 0, -1, 0, 0, -1,
                                           0, 0, -1, 0, 0, -1, 0, 0, 0, 0);
  const __m256i cont_at = _mm256_setr_epi8(0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1,
                                           0, -1, -1, 0, -1, -1, 0, -1, -1, 0, 0);
  size_t done = 0;
  while (n - done >= 33) {  // the second load reads one byte further
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + done));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + done + 1));
    // As signed bytes: a lead E4..E9 is -28..-23, a continuation 80..BF is -128..-65, B8 is -72.
    const __m256i lead_ok = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(-29)),
                                             _mm256_cmpgt_epi8(_mm256_set1_epi8(-22), v));
    const __m256i below_4e00 = _mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(-28)),
                                                _mm256_cmpgt_epi8(_mm256_set1_epi8(-72), next));
    const __m256i cont_ok = _mm256_cmpgt_epi8(_mm256_set1_epi8(-64), v);
    const __m256i bad = _mm256_and_si256(lead_at, _mm256_or_si256(_mm256_andnot_si256(lead_ok, lead_at), below_4e00));
    const __m256i bad_cont = _mm256_andnot_si256(cont_ok, cont_at);
    if (!_mm256_testz_si256(bad, bad) || !_mm256_testz_si256(bad_cont, bad_cont)) break;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + done), v);
    done += 30;
  }
  return done;
}

// normalize()'s ASCII 32 bytes at a time from `s` (n bytes left, s[0] ASCII), code point `k` at
// input byte `i`: case folded when `fold_case`, each white-space run one ' ' (joining a ' '
// that ends the output), so a run of spaces or "\n    " needs no byte loop. Stops before the
// first non-ASCII byte or when fewer than 32 bytes are left; needs room for all n bytes.
template <bool kMaps>
struct AsciiRun {
  Cursor<kMaps> cur;
  size_t bytes;
};

template <bool kMaps>
[[gnu::target("avx2,popcnt")]] AsciiRun<kMaps> ascii_blocks(const uint8_t* s, size_t n, bool fold_case, uint32_t k,
                                                            size_t i, uint32_t* orig_byte, Cursor<kMaps> cur) {
  size_t done = 0;
  while (n - done >= 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + done));
    const int m = __builtin_ctzll(static_cast<uint32_t>(_mm256_movemask_epi8(v)) | (uint64_t{1} << 32));
    if (m == 0) break;
    const uint32_t prefix = m == 32 ? ~0u : (1u << m) - 1;
    const __m256i ws_vec = _mm256_or_si256(
        _mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')),
        _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('\t' - 1)), _mm256_cmpgt_epi8(_mm256_set1_epi8('\r' + 1), v)));
    const uint32_t ws = static_cast<uint32_t>(_mm256_movemask_epi8(ws_vec)) & prefix;
    const bool after_space = cur.pos != 0 && cur.text[cur.pos - 1] == ' ';
    const uint32_t joined = ws & ((ws << 1) | (after_space ? 1u : 0u));  // white space that joins a run
    __m256i folded = v;
    if (fold_case) {
      const __m256i upper = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('A' - 1)),
                                             _mm256_cmpgt_epi8(_mm256_set1_epi8('Z' + 1), v));
      folded = _mm256_add_epi8(v, _mm256_and_si256(upper, _mm256_set1_epi8(0x20)));
    }
    folded = _mm256_blendv_epi8(folded, _mm256_set1_epi8(' '), ws_vec);
    const uint32_t keep = prefix & ~joined;
    const size_t pos = cur.pos;
    size_t written;
    if (keep == prefix) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(cur.text + pos), folded);
      written = static_cast<size_t>(m);
    } else {
      written = compact_store(folded, keep, cur.text + pos);
    }
    if constexpr (kMaps) {
      const auto k0 = static_cast<uint32_t>(k + done);
      const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      for (int q = 0; q < 32; q += 8) {
        const __m256i first = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i + done) + q), iota);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(orig_byte + k0 + q), first);
      }
      // A white-space byte stands for its run: from it through the run's last byte.
      if (joined & 1) {
        cur.end[pos - 1] = k0 + static_cast<uint32_t>(__builtin_ctzll(~uint64_t{ws}));
      }
      size_t o = pos;
      for (uint32_t todo = keep; todo != 0; todo &= todo - 1) {
        const int j = __builtin_ctz(todo);
        const int last = bit(ws, j) ? j + __builtin_ctzll(~(uint64_t{ws} >> j)) - 1 : j;
        cur.begin[o] = k0 + static_cast<uint32_t>(j);
        cur.end[o] = k0 + static_cast<uint32_t>(last) + 1;
        ++o;
      }
    }
    cur.pos = pos + written;
    done += static_cast<size_t>(m);
    if (m < 32) break;
  }
  return {cur, done};
}
#endif

void append_utf8_unchecked(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool is_default_ignorable(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_DEFAULT_IGNORABLE_CODE_POINT) != 0;
}

bool is_white_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; }

}  // namespace

struct Normalizer::Tables {
  const icu::Normalizer2* nfkc = nullptr;
  const icu::Normalizer2* nfkc_casefold = nullptr;

  // The ASCII fast path: output byte per input byte, [0] folding case, [1] keeping it;
  // white space becomes ' '.
  std::array<std::array<char, 128>, 2> ascii{};
  bool ascii_simd = false;  // `ascii` folds A-Z and white space only (what ascii_block does)

  // A two-stage trie per form (NormalizeOptions::form()): stage1[form][c >> 8] is the index of
  // a 256-entry block of `blocks`. Identical blocks are shared; block 0 is all identity.
  std::array<std::array<uint16_t, kStage1Size>, kForms> stage1{};
  std::vector<uint32_t> blocks;
  // Per form, a bit per BMP code point whose entry is 0: 8 KiB that stay in the L1 cache where
  // the CJK blocks of the trie (80 KiB) would not.
  std::array<std::array<uint64_t, 0x10000 / 64>, kForms> plain_bmp{};
  std::string pool;  // UTF-8 of the mapped entries; white space in it already ' '

  // Traditional → Simplified, sorted by the traditional code point.
  std::vector<std::pair<char32_t, char32_t>> simplified;

  std::array<uint64_t, 0x10000 / 64> word_bmp{};
  std::array<uint64_t, 0x10000 / 64> unspaced_bmp{};  // letters and digits of unspaced scripts
  std::array<uint64_t, 0x10000 / 64> punctuation_bmp{};  // the name form's punctuation (no apostrophe)
  bool han_unspaced = false;  // U+4E00..U+9FFF are all in unspaced_bmp (what copy_han_run checks)

  bool is_word(char32_t c) const {
    if (c < 0x10000) return (word_bmp[c >> 6] >> (c & 63)) & 1;
    return compute_word_char(c);
  }
  bool is_unspaced(char32_t c) const {
    if (c < 0x10000) return (unspaced_bmp[c >> 6] >> (c & 63)) & 1;
    return compute_unspaced(c);
  }
  template <bool kMaps>
  void normalize(std::string_view input, NormalizeOptions opts, NormalizedText& out) const;
  template <bool kMaps>
  void fold_names(const NormalizedText& in, NormalizedText& out) const;

  uint32_t entry(int form, char32_t c) const {
    return blocks[(size_t{stage1[static_cast<size_t>(form)][c >> kBlockBits]} << kBlockBits) | (c & (kBlockSize - 1))];
  }
  const icu::Normalizer2* normalizer(bool fold_case) const { return fold_case ? nfkc_casefold : nfkc; }

  char32_t simplify(char32_t c) const {
    if (!is_han(c)) return c;
    auto it = std::lower_bound(simplified.begin(), simplified.end(), c,
                               [](const auto& pair, char32_t key) { return pair.first < key; });
    return it != simplified.end() && it->first == c ? it->second : c;
  }

  void build();
  void build_simplified();
  void build_forms();
  void build_ascii();
  void build_word_chars();

  template <bool kMaps>
  struct SegmentEnd {
    Cursor<kMaps> cur;
    size_t byte;     // input byte after the segment
    uint32_t index;  // original code point index after the segment
  };
  template <bool kMaps>
  SegmentEnd<kMaps> compose_segment(NormalizeOptions opts, const uint8_t* s, size_t n, size_t from, uint32_t k0,
                                    uint32_t* orig_byte, NormalizedText& out, Cursor<kMaps> cur) const;
};

void Normalizer::Tables::build() {
  UErrorCode status = U_ZERO_ERROR;
  nfkc = icu::Normalizer2::getNFKCInstance(status);
  nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU normalizer data unavailable: ") + u_errorName(status));
  }
  build_simplified();
  build_forms();
  build_ascii();
  build_word_chars();
}

// The one-to-one part of ICU's Traditional-Simplified transliterator over the Han blocks, each
// character alone, so its phrase rules (甚麼 > 什么, ...) never fire. The table is made at build
// time by text/gen_simplified.cpp with the ICU this binary links: running the transliterator
// at each start took two thirds of the start-up (about 30 ms).
void Normalizer::Tables::build_simplified() {
  static constexpr std::pair<char32_t, char32_t> kTable[] = {
#include "simplified_table.inc"
  };
  simplified.assign(std::begin(kTable), std::end(kTable));
}

// Computes every code point's entry under each form. Only code points that NFKC or
// NFKC_Casefold change or that may compose, Default_Ignorable, White_Space and Traditional
// characters can differ from entry 0; ICU's property sets name them, so this visits ~15,000
// code points rather than 1.1 million. (Checked against ICU 72 for every code point: outside
// this set hasBoundaryBefore is true and both normalizations are the identity.)
void Normalizer::Tables::build_forms() {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeSet candidates(icu::UnicodeString(u"[[:NFKC_QC=N:][:NFKC_QC=M:][:^ccc=0:][:CWKCF:][:DI:][:WSpace:]]"),
                             status);
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU property data unavailable: ") + u_errorName(status));
  }
  for (const auto& pair : simplified) candidates.add(static_cast<UChar32>(pair.first));

  blocks.assign(kBlockSize, 0);
  for (auto& stage : stage1) stage.fill(0);
  std::unordered_map<std::string, uint32_t> interned;
  std::vector<char32_t> mapped;
  std::string utf8;

  auto set_entry = [this](int form, char32_t c, uint32_t e) {
    uint16_t& block = stage1[static_cast<size_t>(form)][c >> kBlockBits];
    if (block == 0) {
      block = static_cast<uint16_t>(blocks.size() / kBlockSize);
      blocks.resize(blocks.size() + kBlockSize, 0);
    }
    blocks[(size_t{block} << kBlockBits) | (c & (kBlockSize - 1))] = e;
  };

  auto make_entry = [&](char32_t c, const icu::UnicodeString& normalized, bool fold_chinese, bool no_boundary) {
    mapped.clear();
    for (int32_t p = 0; p < normalized.length();) {
      auto d = static_cast<char32_t>(normalized.char32At(p));
      p += U16_LENGTH(d);
      if (is_default_ignorable(d)) continue;
      mapped.push_back(fold_chinese ? simplify(d) : d);
    }
    uint32_t e;
    if (mapped.empty()) {
      e = kDrop;
    } else if (mapped.size() == 1 && is_white_space(mapped[0])) {
      e = kSpace;
    } else if (mapped.size() == 1 && mapped[0] == c) {
      e = kIdentity;
    } else {
      utf8.clear();
      bool has_space = false;
      for (char32_t d : mapped) {
        if (!is_white_space(d)) {
          append_utf8_unchecked(utf8, d);
        } else if (utf8.empty() || utf8.back() != ' ') {
          utf8.push_back(' ');
          has_space = true;
        }
      }
      if (utf8.size() > kLengthMask) throw std::logic_error("normalizer: mapping too long");
      auto [it, inserted] = interned.try_emplace(utf8, static_cast<uint32_t>(pool.size()));
      if (inserted) pool += utf8;
      if (pool.size() >= kMaxPoolSize) throw std::logic_error("normalizer: pool too large");
      e = (has_space ? kMappedWithSpace : kMapped) | static_cast<uint32_t>(utf8.size()) << kLengthShift |
          it->second << kOffsetShift;
    }
    return no_boundary ? e | kNoBoundary : e;
  };

  icu::UnicodeString one, folded, kept;
  for (int32_t r = 0; r < candidates.getRangeCount(); ++r) {
    for (UChar32 c = candidates.getRangeStart(r); c <= candidates.getRangeEnd(r); ++c) {
      one.setTo(c);
      if (nfkc_casefold->isInert(c)) {
        folded = one;
      } else {
        nfkc_casefold->normalize(one, folded, status);
      }
      if (nfkc->isInert(c)) {
        kept = one;
      } else {
        nfkc->normalize(one, kept, status);
      }
      if (U_FAILURE(status)) throw std::runtime_error("ICU normalization failed");
      // White space must never compose with what follows: the hot loop relies on it.
      assert(!u_isUWhiteSpace(c) || (nfkc->hasBoundaryAfter(c) && nfkc_casefold->hasBoundaryAfter(c)));
      const bool fold_no_boundary = !nfkc_casefold->hasBoundaryBefore(c);
      const bool keep_no_boundary = !nfkc->hasBoundaryBefore(c);
      const auto cp = static_cast<char32_t>(c);
      for (int form = 0; form < kForms; ++form) {
        const NormalizeOptions opts = NormalizeOptions::from_form(form);
        const uint32_t e = opts.fold_case ? make_entry(cp, folded, opts.fold_chinese, fold_no_boundary)
                                          : make_entry(cp, kept, opts.fold_chinese, keep_no_boundary);
        if (e != 0) set_entry(form, cp, e);
      }
    }
  }

  // Share identical blocks (e.g. the Latin blocks of both case-folding forms).
  std::unordered_map<std::string, uint16_t> unique;
  std::vector<uint32_t> shared;
  std::vector<int32_t> renumbered(blocks.size() / kBlockSize, -1);
  for (auto& stage : stage1) {
    for (uint16_t& block : stage) {
      if (renumbered[block] < 0) {
        std::string key(reinterpret_cast<const char*>(&blocks[size_t{block} << kBlockBits]),
                        kBlockSize * sizeof(uint32_t));
        auto [it, inserted] = unique.try_emplace(key, static_cast<uint16_t>(shared.size() / kBlockSize));
        if (inserted) {
          shared.insert(shared.end(), blocks.begin() + static_cast<ptrdiff_t>(size_t{block} << kBlockBits),
                        blocks.begin() + static_cast<ptrdiff_t>((size_t{block} + 1) << kBlockBits));
        }
        renumbered[block] = it->second;
      }
      block = static_cast<uint16_t>(renumbered[block]);
    }
  }
  blocks = std::move(shared);
  // normalize() copies a short mapping with a 4-byte load, so the last one needs 3 more bytes.
  pool.append(3, '\0');

  for (int form = 0; form < kForms; ++form) {
    auto& bits = plain_bmp[static_cast<size_t>(form)];
    bits.fill(0);
    for (char32_t c = 0; c < 0x10000; ++c) {
      if (entry(form, c) == 0) bits[c >> 6] |= uint64_t{1} << (c & 63);
    }
  }
}

void Normalizer::Tables::build_ascii() {
  for (int fold = 0; fold < 2; ++fold) {
    const int form = NormalizeOptions{fold == 0, true, false}.form();
    for (char32_t c = 0; c < 128; ++c) {
      const uint32_t e = entry(form, c);
      char out;
      if (e == kIdentity) {
        out = static_cast<char>(c);
      } else if (e == kSpace) {
        out = ' ';
      } else if ((e & kKindMask) == kMapped && ((e >> kLengthShift) & kLengthMask) == 1 &&
                 static_cast<unsigned char>(pool[e >> kOffsetShift]) < 0x80) {
        out = pool[e >> kOffsetShift];
      } else {
        throw std::logic_error("normalizer: ASCII maps outside ASCII or composes");
      }
      ascii[static_cast<size_t>(fold)][c] = out;
    }
  }
  ascii_simd = true;
  for (int fold = 0; fold < 2; ++fold) {
    for (char32_t c = 0; c < 128; ++c) {
      const bool ws = c == ' ' || (c >= '\t' && c <= '\r');
      const bool upper = fold == 0 && c >= 'A' && c <= 'Z';
      const char expected = ws ? ' ' : upper ? static_cast<char>(c + 0x20) : static_cast<char>(c);
      if (ascii[static_cast<size_t>(fold)][c] != expected) ascii_simd = false;
    }
  }
}

void Normalizer::Tables::build_word_chars() {
  for (char32_t c = 0; c < 0x10000; ++c) {
    if (compute_word_char(c)) word_bmp[c >> 6] |= uint64_t{1} << (c & 63);
    if (compute_unspaced(c)) unspaced_bmp[c >> 6] |= uint64_t{1} << (c & 63);
    if (name_class(c) == NameClass::kPunctuation) punctuation_bmp[c >> 6] |= uint64_t{1} << (c & 63);
  }
  han_unspaced = true;
  for (char32_t c = 0x4E00; c <= 0x9FFF; ++c) han_unspaced = han_unspaced && is_unspaced(c);
}

// The name form, in place over normalized text (it only ever drops bytes or turns a
// punctuation character into one space, so it writes behind where it reads). A space is
// written only once the next kept character is known, since next to an unspaced letter it goes.
template <bool kMaps>
void Normalizer::Tables::fold_names(const NormalizedText& in, NormalizedText& out) const {
  const std::array<uint8_t, 128>& kAscii = name_ascii_classes();
  // Reads `in`, writes `out`; when they are one object, writing stays behind reading.
  const size_t n = in.text.size();
  if (&in != &out) {
    out.text.resize(n);
    if constexpr (kMaps) {
      out.src_begin.resize(n);
      out.src_end.resize(n);
      out.orig_byte = in.orig_byte;
    } else {
      out.src_begin.clear();
      out.src_end.clear();
      out.orig_byte.clear();
    }
    out.invalid_sequences = in.invalid_sequences;
    out.maps = kMaps;
  }
  const NormalizerPath path = normalizer_path();
  const std::string_view s = in.text;
  const char* text = in.text.data();
  const uint32_t* begin = kMaps ? in.src_begin.data() : nullptr;
  const uint32_t* end = kMaps ? in.src_end.data() : nullptr;
  char* to_text = out.text.data();
  uint32_t* to_begin = kMaps ? out.src_begin.data() : nullptr;
  uint32_t* to_end = kMaps ? out.src_end.data() : nullptr;
  auto word_at = [&](size_t i) {
    const auto b = static_cast<unsigned char>(text[i]);
    return b < 0x80 ? kAscii[b] == 1 : is_word(decode_utf8_at(s, i));
  };
  NameState st;
  // Writes the space due before the next kept character, unless it goes: at the start, or next to
  // a letter of an unspaced script. Something was dropped to make it due, so writing it stays
  // behind reading.
  auto write_due_space = [&](bool next_unspaced) {
    if (st.w != 0 && !st.prev_unspaced && !next_unspaced) {
      to_text[st.w] = ' ';
      if constexpr (kMaps) {
        to_begin[st.w] = st.space_begin;
        to_end[st.w] = st.space_end;
      }
      ++st.w;
      st.word_tail = 0;
    }
    st.space = false;
  };
  for (size_t r = 0; r < n;) {
#if defined(LODESTONE_AVX2)
    if (path == NormalizerPath::kAvx2) {
      // ASCII 64 bytes at a time, until a byte the blocks leave to the code point rules below;
      // not for the few ASCII bytes between two CJK runs, which the loop below does for less.
      if (n - r >= 8 && ascii8(text + r)) {
        const NameProgress progress = fold_names_ascii<kMaps>(text, n, r, begin, end, to_text, to_begin, to_end, st);
        st = progress.st;
        r = progress.r;
        if (r == n) break;
      }
    }
#endif
#if defined(__SSE2__)
    if (path == NormalizerPath::kSse2) {
      // A run of ASCII letters, digits and single spaces, not ending in a space, is the same in
      // the name form: the longest such run at the start of the next 16 bytes is copied as a
      // block with its maps. (A block with punctuation in it still copies what comes before the
      // punctuation.)
      if (st.space && text[r] == ' ') {
        // A space after punctuation (", the"): part of the white-space run already due.
        if constexpr (kMaps) st.space_end = end[r];
        ++r;
        continue;
      }
      if (r + 16 <= n && (!st.space || (static_cast<unsigned char>(text[r]) < 0x80 &&
                                        kAscii[static_cast<unsigned char>(text[r])] == 1))) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + r));
        const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
        const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                             _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
        const __m128i digit =
            _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        const auto spaces = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
        const auto words = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(letter, digit)));
        // A byte is good when a word character, or a space after a word character; a space first
        // in the block is good only where the output may have a space (not at its start, not
        // after an unspaced letter). The run is the good bytes from the start, less a trailing
        // space.
        const unsigned first_space_ok = (st.w != 0 && !st.prev_unspaced) ? 1u : 0u;
        const unsigned good = words | (spaces & ((words << 1) | first_space_ok));
        size_t run = static_cast<size_t>(__builtin_ctz(~good | 0x10000u));
        while (run > 0 && (spaces >> (run - 1) & 1)) --run;
        if (run > 0) {
          if (st.space) write_due_space(false);  // the run starts with an ASCII word character
          const size_t w = st.w;
          if (to_text != text) {
            // Into another object: all 16 bytes stored at once (w <= r and r + 16 <= n, so they
            // fit); what lies past the run is overwritten later.
            _mm_storeu_si128(reinterpret_cast<__m128i*>(to_text + w), v);
          } else if (w != r) {
            std::memmove(to_text + w, text + r, run);  // in place: only the run, or unread input goes
          }
          if (to_text != text || w != r) {
            if constexpr (kMaps) {
              std::memmove(to_begin + w, begin + r, run * sizeof(uint32_t));
              std::memmove(to_end + w, end + r, run * sizeof(uint32_t));
            }
          }
          // The run ends in a word character; is the one before it one too?
          st.word_tail = run >= 2 ? ((words >> (run - 2) & 1) ? 2 : 1) : std::min<size_t>(2, st.word_tail + 1);
          st.tail_letter = static_cast<unsigned char>(text[r + run - 1]) >= 'A';
          st.prev_unspaced = false;
          st.w += run;
          r += run;
          continue;
        }
      }
    }
#endif
    const auto b = static_cast<unsigned char>(text[r]);
    if ((b & 0xF0) == 0xE0 && r + 3 <= n) {
      // A run of letters of unspaced scripts (most Chinese and Japanese text): kept as they are,
      // and a space due before one of them goes (no space is kept next to them). Such a letter is
      // never punctuation or an apostrophe, so it needs no class lookup. Punctuation among them
      // ("，", "。", "“") only makes a space due, as below, and stays in the run on the block
      // paths. Normalized text is valid UTF-8, so three bytes led by 0xE_ are one code point.
      const size_t run_start = r;
      const bool run_punctuation = path != NormalizerPath::kScalar;
      size_t w = st.w;
      bool letters = false;
      // Tried where a stretch of Han may start: the run's start, after punctuation.
      bool try_han = path == NormalizerPath::kAvx2 && han_unspaced && to_text != text;
      do {
#if defined(LODESTONE_AVX2)
        if (try_han && n - r >= 33) {
          try_han = false;
          const size_t han = copy_han_run(text + r, n - r, to_text + w);
          if (han != 0) {
            if constexpr (kMaps) {
              std::memcpy(to_begin + w, begin + r, han * sizeof(uint32_t));
              std::memcpy(to_end + w, end + r, han * sizeof(uint32_t));
            }
            w += han;
            r += han;
            letters = true;
            st.space = false;
            if (r + 3 > n || (static_cast<unsigned char>(text[r]) & 0xF0) != 0xE0) break;
          }
        }
#endif
        const char32_t cp = (char32_t{text[r] & 0x0Fu} << 12) | (char32_t{text[r + 1] & 0x3Fu} << 6) |
                            char32_t{text[r + 2] & 0x3Fu};
        if (((unspaced_bmp[cp >> 6] >> (cp & 63)) & 1) != 0) {
          if (to_text + w != text + r) {
            to_text[w] = text[r];
            to_text[w + 1] = text[r + 1];
            to_text[w + 2] = text[r + 2];
            if constexpr (kMaps) {
              for (size_t j = 0; j < 3; ++j) {
                to_begin[w + j] = begin[r + j];
                to_end[w + j] = end[r + j];
              }
            }
          }
          w += 3;
          letters = true;
          st.space = false;
        } else if (run_punctuation && ((punctuation_bmp[cp >> 6] >> (cp & 63)) & 1) != 0) {
          if constexpr (kMaps) {
            if (!st.space) st.space_begin = begin[r];
            st.space_end = end[r + 2];
          }
          st.space = true;
          try_han = path == NormalizerPath::kAvx2 && han_unspaced && to_text != text;
        } else {
          break;
        }
        r += 3;
      } while (r + 3 <= n && (static_cast<unsigned char>(text[r]) & 0xF0) == 0xE0);
      if (r != run_start) {
        st.w = w;
        if (letters) {
          st.word_tail = 0;
          st.tail_letter = false;
          st.prev_unspaced = true;
        }
        continue;
      }
    }
    size_t len = 1;
    NameClass cls;
    char32_t c = b;
    if (b < 0x80) {
      const uint8_t k = kAscii[b];
      if (k <= 1 && !st.space) {
        // Kept ASCII, the bulk of most text: one byte, no decoding, no call.
        to_text[st.w] = text[r];
        if constexpr (kMaps) {
          to_begin[st.w] = begin[r];
          to_end[st.w] = end[r];
        }
        ++st.w;
        ++r;
        st.word_tail = k == 1 ? std::min<size_t>(2, st.word_tail + 1) : 0;
        st.tail_letter = k == 1 && b >= 'A';  // a word character at or above 'A' is a letter
        st.prev_unspaced = false;
        continue;
      }
      cls = k == 2 ? NameClass::kApostrophe : k == 3 ? NameClass::kPunctuation : NameClass::kKeep;
    } else {
      len = std::min(utf8_sequence_length(b), n - r);
      c = decode_utf8_at(s, r);
      cls = name_class(c);
    }
    if (cls == NameClass::kApostrophe) {
      const size_t next = r + len;
      if (!st.space && st.word_tail > 0 && next < n && word_at(next)) {
        const char following = text[next];
        const bool possessive = (following == 's' || following == 'S') && (next + 1 == n || !word_at(next + 1));
        if (!possessive) {
          r += len;  // dropped: "qa'ida" is "qaida"
          continue;
        }
      }
      cls = NameClass::kPunctuation;
    }
    if (cls == NameClass::kPunctuation && c == U'.' && !st.space && st.word_tail == 1 && st.tail_letter) {
      r += len;  // the period of an initial: "s.a." is "sa", "u.s." is "us"
      continue;
    }
    if (cls == NameClass::kPunctuation) {
      if constexpr (kMaps) {
        if (!st.space) st.space_begin = begin[r];
        st.space_end = end[r + len - 1];
      }
      st.space = true;
      r += len;
      continue;
    }
    const bool word = b < 0x80 ? kAscii[b] == 1 : is_word(c);
    const bool unspaced = b >= 0x80 && !word && is_unspaced(c);
    if (st.space) write_due_space(unspaced);
    st.word_tail = word ? std::min<size_t>(2, st.word_tail + 1) : 0;
    st.tail_letter = word && (b < 0x80 ? is_ascii_letter(static_cast<char>(b))
                                       : (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0);
    if (to_text + st.w != text + r) {
      for (size_t j = 0; j < len; ++j) {
        to_text[st.w + j] = text[r + j];
        if constexpr (kMaps) {
          to_begin[st.w + j] = begin[r + j];
          to_end[st.w + j] = end[r + j];
        }
      }
    }
    st.w += len;
    r += len;
    st.prev_unspaced = unspaced;
  }
  out.text.resize(st.w);
  if constexpr (kMaps) {
    out.src_begin.resize(st.w);
    out.src_end.resize(st.w);
  }
}

// A code point that may combine with what precedes it: ICU normalizes the whole segment,
// from the code point at `from` (the last one before it that may start a composition, or
// itself) through every following code point that may combine too. All output bytes of the
// segment map to the segment's original code points [k0, end).
template <bool kMaps>
Normalizer::Tables::SegmentEnd<kMaps> Normalizer::Tables::compose_segment(NormalizeOptions opts, const uint8_t* s,
                                                                          size_t n, size_t from, uint32_t k0,
                                                                          uint32_t* orig_byte, NormalizedText& out,
                                                                          Cursor<kMaps> cur) const {
  const int form = base_form(opts.form());
  icu::UnicodeString segment;
  size_t j = from;
  uint32_t k = k0;
  UChar32 c;
  U8_NEXT(s, j, n, c);
  if constexpr (kMaps) orig_byte[k] = static_cast<uint32_t>(from);
  ++k;
  segment.append(c < 0 ? static_cast<UChar32>(kReplacement) : c);
  while (j < n && s[j] >= 0x80) {  // ASCII always starts a segment of its own
    const size_t start = j;
    U8_NEXT(s, j, n, c);
    if (c < 0 || (entry(form, static_cast<char32_t>(c)) & kNoBoundary) == 0) {
      j = start;
      break;
    }
    if constexpr (kMaps) orig_byte[k] = static_cast<uint32_t>(start);
    ++k;
    segment.append(c);
  }

  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString normalized;
  normalizer(opts.fold_case)->normalize(segment, normalized, status);
  if (U_FAILURE(status)) normalized = segment;  // not expected; keep the text rather than lose it

  if (cur.room() < static_cast<size_t>(normalized.length()) * 3 + 4) {
    cur = grow<kMaps>(out, cur, static_cast<size_t>(normalized.length()) * 3 + 4);
  }
  char utf8[4];
  for (int32_t p = 0; p < normalized.length();) {
    auto d = static_cast<char32_t>(normalized.char32At(p));
    p += U16_LENGTH(d);
    if (is_default_ignorable(d)) continue;
    if (opts.fold_chinese) d = simplify(d);
    if (is_white_space(d)) {
      cur.space(k0, k);
    } else {
      size_t len = 0;
      U8_APPEND_UNSAFE(utf8, len, d);
      cur.bytes(utf8, len, k0, k);
    }
  }
  return {cur, j, k};
}

Normalizer::Normalizer() : tables_(std::make_unique<Tables>()) { tables_->build(); }

Normalizer::~Normalizer() = default;

const Normalizer& Normalizer::instance() {
  static const Normalizer normalizer;
  return normalizer;
}

void Normalizer::normalize(std::string_view input, NormalizeOptions opts, NormalizedText& out, bool maps) const {
  if (maps) {
    tables_->normalize<true>(input, opts, out);
  } else {
    tables_->normalize<false>(input, opts, out);
  }
}

template <bool kMaps>
void Normalizer::Tables::normalize(std::string_view input, NormalizeOptions opts, NormalizedText& out) const {
  const Tables& t = *this;
  const int form = base_form(opts.form());  // the tables' form: names are folded after
  const auto& stage = t.stage1[static_cast<size_t>(form)];
  const uint32_t* block_data = t.blocks.data();
  const uint64_t* plain = t.plain_bmp[static_cast<size_t>(form)].data();
  const char* pool_data = t.pool.data();
  const char* ascii_map = t.ascii[opts.fold_case ? 0 : 1].data();
  const auto* s = reinterpret_cast<const uint8_t*>(input.data());
  const size_t n = input.size();
  assert(n < UINT32_MAX);  // offsets are 32-bit; posts are limited to a few MiB
  const NormalizerPath path = normalizer_path();

  // Size (not just reserve) the outputs so the loop writes through plain pointers; shrink at
  // the end. Growing a container that is already big enough only zero-fills the difference.
  const size_t size = std::max(n + kSlack, out.text.size());
  if (out.text.size() != size) out.text.resize(size);
  if constexpr (kMaps) {
    if (out.src_begin.size() != size) out.src_begin.resize(size);
    if (out.src_end.size() != size) out.src_end.resize(size);
    if (out.orig_byte.size() < n + 1) out.orig_byte.resize(n + 1);
  }
  uint32_t* orig_byte = kMaps ? out.orig_byte.data() : nullptr;
  Cursor<kMaps> cur = cursor_of<kMaps>(out, 0);
  uint32_t invalid = 0;

  // The last code point handled by the table, in case the next one composes with it
  // (ASCII code points are recovered from the input instead, see below).
  uint32_t snap_k = UINT32_MAX;  // its index; only useful when it is k - 1
  size_t snap_byte = 0;          // its input offset
  size_t snap_pos = 0;           // cur.pos before it
  uint32_t snap_run_end = 0;     // the open white-space run's src_end before it, if it touched it

  size_t i = 0;
  uint32_t k = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      if (cur.room() < n - i) cur = grow<kMaps>(out, cur, n - i);  // ASCII never expands
      do {
#if defined(LODESTONE_AVX2)
        if (path == NormalizerPath::kAvx2 && n - i >= 32 && t.ascii_simd && ascii8(input.data() + i)) {
          const AsciiRun<kMaps> run = ascii_blocks<kMaps>(s + i, n - i, opts.fold_case, k, i, orig_byte, cur);
          cur = run.cur;
          i += run.bytes;
          k += static_cast<uint32_t>(run.bytes);
          if (run.bytes != 0) continue;
        }
#endif
#if defined(__SSE2__)
        if (path != NormalizerPath::kScalar && n - i >= 16 && t.ascii_simd &&
            ascii_block<kMaps>(s + i, opts.fold_case, k, cur)) {
          if constexpr (kMaps) iota_store(orig_byte + k, static_cast<uint32_t>(i));
          i += 16;
          k += 16;
          continue;
        }
#endif
        // Byte by byte up to the next block (or the first non-ASCII byte).
        const size_t stop = std::min(n, i + 16);
        do {
          const char ch = ascii_map[s[i]];
          if constexpr (kMaps) orig_byte[k] = static_cast<uint32_t>(i);
          if (ch != ' ') {
            cur.put(ch, k, k + 1);
          } else {
            cur.space(k, k + 1);
          }
          ++i;
          ++k;
        } while (i < stop && s[i] < 0x80);
      } while (i < n && s[i] < 0x80);
      continue;
    }

    if ((s[i] & 0xF0) == 0xE0 && n - i >= 4) {
      // A run of three-byte code points that stay as they are (most CJK text): no trie, no
      // U8_NEXT. Output is input-sized, so one room check covers the run.
      if (cur.room() < n - i + 4) cur = grow<kMaps>(out, cur, n - i + 4);
      const size_t run_start = i;
      size_t last_len = 0;  // output bytes of the run's last code point
      do {
        const uint32_t t1 = s[i + 1];
        const uint32_t t2 = s[i + 2];
        const char32_t cp = (char32_t{s[i] & 0x0Fu} << 12) | ((t1 & 0x3F) << 6) | (t2 & 0x3F);
        // Valid when both are continuation bytes and neither overlong (< U+0800) nor a surrogate.
        if (((t1 & 0xC0) | ((t2 & 0xC0) << 8)) != 0x8080 || cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) break;
        if (((plain[cp >> 6] >> (cp & 63)) & 1) != 0) {
          cur.short_bytes(input.data() + i, 3, k, k + 1);
          last_len = 3;
        } else {
          // A code point the table maps to 1 to 3 bytes with no composing (a Traditional
          // character to its Simplified one, a full-width form to ASCII) stays in the run too:
          // the general path below would do the same, code point by code point.
          if (path == NormalizerPath::kScalar) break;
          const uint32_t e = block_data[(size_t{stage[cp >> kBlockBits]} << kBlockBits) | (cp & (kBlockSize - 1))];
          const uint32_t len = (e >> kLengthShift) & kLengthMask;
          if ((e & (kKindMask | kNoBoundary)) != kMapped || len > 3) break;
          cur.short_bytes(pool_data + (e >> kOffsetShift), len, k, k + 1);  // the pool has 3 bytes of slack
          last_len = len;
        }
        if constexpr (kMaps) orig_byte[k] = static_cast<uint32_t>(i);
        i += 3;
        ++k;
      } while (n - i >= 4 && (s[i] & 0xF0) == 0xE0);
      if (i != run_start) {
        snap_k = k - 1;
        snap_byte = i - 3;
        snap_pos = cur.pos - last_len;
        snap_run_end = 0;
        continue;
      }
    }

    const size_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if constexpr (kMaps) orig_byte[k] = static_cast<uint32_t>(start);
    if (cur.room() < kMaxCodePointBytes) cur = grow<kMaps>(out, cur, kMaxCodePointBytes);
    if (c < 0) {  // an invalid sequence (maximal subpart): one U+FFFD
      ++invalid;
      snap_k = k;
      snap_byte = start;
      snap_pos = cur.pos;
      snap_run_end = 0;
      cur.bytes(kReplacementUtf8, 3, k, k + 1);
      ++k;
      continue;
    }
    const auto cp = static_cast<char32_t>(c);
    uint32_t e = 0;
    if (cp >= 0x10000 || ((plain[cp >> 6] >> (cp & 63)) & 1) == 0) {
      e = block_data[(size_t{stage[cp >> kBlockBits]} << kBlockBits) | (cp & (kBlockSize - 1))];
    }

    if (e & kNoBoundary) {
      // Re-normalize from the previous code point when it may compose with this one: undo its
      // output and start the segment there. White space never composes with what follows, so
      // after white space (and at the start) the segment starts here.
      size_t from = start;
      uint32_t k0 = k;
      if (snap_k != UINT32_MAX && snap_k + 1 == k) {
        from = snap_byte;
        k0 = snap_k;
        cur.pos = snap_pos;
        if constexpr (kMaps) {
          if (snap_run_end != 0) cur.end[cur.pos - 1] = snap_run_end;
        }
      } else if (k > 0 && s[start - 1] < 0x80 && ascii_map[s[start - 1]] != ' ') {
        from = start - 1;  // an ASCII code point, one output byte
        k0 = k - 1;
        cur.pos -= 1;
      }
      const Tables::SegmentEnd<kMaps> end = t.compose_segment<kMaps>(opts, s, n, from, k0, orig_byte, out, cur);
      cur = end.cur;
      i = end.byte;
      k = end.index;
      continue;
    }

    const uint32_t kind = e & kKindMask;
    if (kind == kSpace) {
      cur.space(k, k + 1);
    } else {
      snap_k = k;
      snap_byte = start;
      snap_pos = cur.pos;
      snap_run_end = 0;
      if (kind == kIdentity) {
        if (n - start >= 4) {
          cur.short_bytes(input.data() + start, i - start, k, k + 1);
        } else {
          cur.bytes(input.data() + start, i - start, k, k + 1);
        }
      } else if (kind == kMapped) {
        cur.bytes(pool_data + (e >> kOffsetShift), (e >> kLengthShift) & kLengthMask, k, k + 1);
      } else if (kind == kMappedWithSpace) {
        if constexpr (kMaps) {
          if (cur.pos != 0 && cur.text[cur.pos - 1] == ' ') snap_run_end = cur.end[cur.pos - 1];
        }
        cur.bytes_with_space(pool_data + (e >> kOffsetShift), (e >> kLengthShift) & kLengthMask, k, k + 1);
      }  // kDrop: nothing
    }
    ++k;
  }

  out.text.resize(cur.pos);
  if constexpr (kMaps) {
    orig_byte[k] = static_cast<uint32_t>(n);
    out.orig_byte.resize(size_t{k} + 1);
    out.src_begin.resize(cur.pos);
    out.src_end.resize(cur.pos);
  } else {
    out.orig_byte.clear();
    out.src_begin.clear();
    out.src_end.clear();
  }
  out.invalid_sequences = invalid;
  out.maps = kMaps;
  if (opts.fold_names) t.fold_names<kMaps>(out, out);
}

std::string Normalizer::normalize(std::string_view input, NormalizeOptions opts) const {
  NormalizedText out;
  normalize(input, opts, out);
  return std::move(out.text);
}

void Normalizer::fold_names(const NormalizedText& in, NormalizedText& out) const {
  if (in.maps) {
    tables_->fold_names<true>(in, out);
  } else {
    tables_->fold_names<false>(in, out);
  }
}

NormalizerPath best_normalizer_path() { return detect_path(); }

NormalizerPath normalizer_path() { return path_setting().load(std::memory_order_relaxed); }

void set_normalizer_path(NormalizerPath path) {
  // Never one wider than the CPU runs (the paths are in order of width).
  path_setting().store(std::min(path, detect_path()), std::memory_order_relaxed);
}

bool Normalizer::is_word_char(char32_t c) const { return tables_->is_word(c); }

char32_t Normalizer::to_simplified(char32_t c) const { return tables_->simplify(c); }

uint32_t repair_utf8(std::string_view input, std::string& out) {
  out.clear();
  if (out.capacity() < input.size()) out.reserve(input.size());
  const auto* s = reinterpret_cast<const uint8_t*>(input.data());
  const size_t n = input.size();
  uint32_t replaced = 0;
  size_t copied = 0;  // input before this is in `out`
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) {
      out.append(input.data() + copied, start - copied);
      out.append(kReplacementUtf8, 3);
      copied = i;
      ++replaced;
    }
  }
  out.append(input.data() + copied, n - copied);
  return replaced;
}

int cell_width(char32_t c) {
  const int width = u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_EAST_ASIAN_WIDTH);
  return width == U_EA_WIDE || width == U_EA_FULLWIDTH ? 2 : 1;
}

char32_t decode_utf8_at(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  UChar32 c;
  U8_NEXT(p, pos, s.size(), c);
  return c < 0 ? kReplacement : static_cast<char32_t>(c);
}

char32_t decode_utf8_before(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (p[start] & 0xC0) == 0x80) --start;
  size_t i = start;
  UChar32 c;
  U8_NEXT(p, i, pos, c);
  return c < 0 || i != pos ? kReplacement : static_cast<char32_t>(c);
}

void append_utf8(std::string& out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = kReplacement;
  append_utf8_unchecked(out, c);
}

}  // namespace lodestone
