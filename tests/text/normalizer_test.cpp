// Tests for the normalizer: the folded text (docs/design.md, "Terms") and the map back to the input.
#include "text/normalizer.h"
#include "text/normalizer_paths.h"

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

using lodestone::NormalizedText;
using lodestone::NormalizeOptions;
using lodestone::Normalizer;

namespace {

const Normalizer& normalizer() { return Normalizer::instance(); }

std::string norm(std::string_view input, NormalizeOptions opts = {}) { return normalizer().normalize(input, opts); }

std::string utf8(char32_t c) {
  std::string out;
  lodestone::append_utf8(out, c);
  return out;
}

constexpr NormalizeOptions kKeepCase{false, true};
constexpr NormalizeOptions kKeepChinese{true, false};

// The pipeline of normalizer.h done the slow way: ICU over the whole string, then the
// per-code-point steps.
std::string reference(std::string_view input, NormalizeOptions opts) {
  std::string repaired;
  lodestone::repair_utf8(input, repaired);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      opts.fold_case ? icu::Normalizer2::getNFKCCasefoldInstance(status) : icu::Normalizer2::getNFKCInstance(status);
  const icu::UnicodeString normalized = n->normalize(icu::UnicodeString::fromUTF8(repaired), status);
  REQUIRE(U_SUCCESS(status));
  std::string out;
  for (int32_t p = 0; p < normalized.length();) {
    auto c = static_cast<char32_t>(normalized.char32At(p));
    p += U16_LENGTH(c);
    if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) continue;
    if (opts.fold_chinese) c = normalizer().to_simplified(c);
    if (u_isUWhiteSpace(static_cast<UChar32>(c))) {
      if (out.empty() || out.back() != ' ') out += ' ';
    } else {
      lodestone::append_utf8(out, c);
    }
  }
  return out;
}

// The offset map is well formed: sizes, bounds, src_begin < src_end, src_begin never going back,
// and orig_byte strictly increasing from 0 to the input size.
void check_map_invariants(std::string_view input, const NormalizedText& nt) {
  REQUIRE(nt.src_begin.size() == nt.text.size());
  REQUIRE(nt.src_end.size() == nt.text.size());
  REQUIRE(!nt.orig_byte.empty());
  const uint32_t n = nt.original_code_points();
  REQUIRE(nt.orig_byte.front() == 0);
  REQUIRE(nt.orig_byte.back() == input.size());
  for (size_t k = 0; k + 1 < nt.orig_byte.size(); ++k) REQUIRE(nt.orig_byte[k] < nt.orig_byte[k + 1]);
  for (size_t i = 0; i < nt.text.size(); ++i) {
    INFO("output byte " << i);
    REQUIRE(nt.src_begin[i] < nt.src_end[i]);
    REQUIRE(nt.src_end[i] <= n);
    if (i > 0) REQUIRE(nt.src_begin[i - 1] <= nt.src_begin[i]);
  }
}

// Every run of output bytes that share one source span is exactly what normalizing that span of
// the input alone gives (a white-space run: one space).
void check_round_trip(std::string_view input, NormalizeOptions opts) {
  NormalizedText nt;
  normalizer().normalize(input, opts, nt);
  check_map_invariants(input, nt);
  size_t i = 0;
  while (i < nt.text.size()) {
    size_t j = i + 1;
    while (j < nt.text.size() && nt.src_begin[j] == nt.src_begin[i] && nt.src_end[j] == nt.src_end[i]) ++j;
    const uint32_t from = nt.orig_byte[nt.src_begin[i]];
    const uint32_t to = nt.orig_byte[nt.src_end[i]];
    const std::string_view span = input.substr(from, to - from);
    INFO("input " << input << ", output bytes [" << i << ", " << j << "), input bytes [" << from << ", " << to << ")");
    CHECK(norm(span, opts) == nt.text.substr(i, j - i));
    i = j;
  }
}

}  // namespace

TEST_CASE("full-width Latin and the ideographic space fold to ASCII lower case", "[normalizer]") {
  CHECK(norm("ＲＡＲＥ　ＥＡＲＴＨ") == "rare earth");
  CHECK(norm("Rare EARTH") == "rare earth");
  CHECK(norm("ＲＡＲＥ　ＥＡＲＴＨ", kKeepCase) == "RARE EARTH");
  CHECK(norm("Rare EARTH", kKeepCase) == "Rare EARTH");
}

TEST_CASE("full case folding expands ß, and keeping case keeps it", "[normalizer]") {
  CHECK(norm("Straße") == "strasse");
  CHECK(norm("Straße", kKeepCase) == "Straße");
  CHECK(norm("ΣΊΣΥΦΟΣ") == "σίσυφοσ");
}

TEST_CASE("compatibility ligatures and symbols decompose", "[normalizer]") {
  CHECK(norm("ﬁnancial") == "financial");
  CHECK(norm("ﬁnancial", kKeepCase) == "financial");
  CHECK(norm("①２℃") == "12°c");
  CHECK(norm("①２℃", kKeepCase) == "12°C");
}

TEST_CASE("Traditional Chinese folds to Simplified", "[normalizer]") {
  CHECK(norm("關鍵礦物") == "关键矿物");
  CHECK(norm("稀土") == "稀土");
  CHECK(norm("中國") == "中国");
  CHECK(norm("中國", kKeepChinese) == "中國");
  CHECK(norm("中國AI", NormalizeOptions{false, false}) == "中國AI");
  CHECK(normalizer().to_simplified(U'國') == U'国');
  CHECK(normalizer().to_simplified(U'国') == U'国');
  CHECK(normalizer().to_simplified(U'a') == U'a');
}

TEST_CASE("the build-time Traditional-Simplified table is ICU's transliterator, character by character",
          "[normalizer]") {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::Transliterator> trans(
      icu::Transliterator::createInstance("Traditional-Simplified", UTRANS_FORWARD, status));
  REQUIRE(U_SUCCESS(status));
  size_t mapped = 0;
  for (const auto& [first, last] : {std::pair{0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}, {0x20000, 0x2FA1F}}) {
    for (UChar32 c = first; c <= last; ++c) {
      icu::UnicodeString one(c);
      trans->transliterate(one);
      const auto expected = static_cast<char32_t>(one.countChar32() == 1 ? one.char32At(0) : c);
      INFO("U+" << std::hex << c);
      REQUIRE(normalizer().to_simplified(static_cast<char32_t>(c)) == expected);
      mapped += expected != static_cast<char32_t>(c);
    }
  }
  CHECK(mapped > 2000);  // ICU 72 maps 2,853
}

TEST_CASE("Traditional characters map one by one, never as phrases", "[normalizer]") {
  // ICU's transliterator has phrase rules (甚麼 > 什么, 畫分 > 划分); the table is per character,
  // so a term folds the same whether or not its neighbours form such a phrase.
  CHECK(norm("甚麼") == "甚么");
  CHECK(norm("畫分") == "画分");
  // A CJK compatibility ideograph goes through NFKC first, then to Simplified.
  CHECK(norm("\uF9B5") == norm("例"));
}

TEST_CASE("invisible format characters are dropped", "[normalizer]") {
  for (NormalizeOptions opts : {NormalizeOptions{}, kKeepCase}) {
    CHECK(norm("稀\u200b土", opts) == "稀土");
    CHECK(norm("ex\u00adport", opts) == "export");
    CHECK(norm("\ufeffexport", opts) == "export");
    CHECK(norm("rare\u200dearth", opts) == "rareearth");
    CHECK(norm("\u2764\ufe0f", opts) == "\u2764");
    CHECK(norm("a\U000E0041b", opts) == "ab");  // a tag character, outside the BMP
  }
}

TEST_CASE("a white-space run becomes one space mapped to the whole run", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize("rare \n\t  earth", {}, nt);
  CHECK(nt.text == "rare earth");
  CHECK(nt.src_begin[4] == 4);
  CHECK(nt.src_end[4] == 9);
  CHECK(nt.src_begin[5] == 9);

  CHECK(norm("rare\u3000earth") == "rare earth");
  CHECK(norm("rare\u00a0earth") == "rare earth");
  CHECK(norm("rare\u2028\u3000 earth") == "rare earth");
  CHECK(norm("  rare earth  ") == " rare earth ");
  CHECK(norm("\u3000") == " ");
}

TEST_CASE("a white-space run interrupted by an invisible character is still one run", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize("a \u200b b", {}, nt);
  CHECK(nt.text == "a b");
  REQUIRE(nt.original_code_points() == 5);
  CHECK(nt.src_begin[1] == 1);
  CHECK(nt.src_end[1] == 4);
  CHECK(norm("a\u3000\u00ad\n\ufeffb", kKeepCase) == "a b");
}

TEST_CASE("each invalid UTF-8 sequence becomes one U+FFFD and one code point", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize(
      "a\xff\xfe"
      "b",
      {}, nt);
  CHECK(nt.text == "a\uFFFD\uFFFDb");
  CHECK(nt.invalid_sequences == 2);
  CHECK(nt.orig_byte == std::vector<uint32_t>{0, 1, 2, 3, 4});
  CHECK(nt.src_begin == std::vector<uint32_t>{0, 1, 1, 1, 2, 2, 2, 3});
  CHECK(nt.src_end == std::vector<uint32_t>{1, 2, 2, 2, 3, 3, 3, 4});

  // A truncated three-byte sequence is one maximal subpart.
  normalizer().normalize(
      "\xe7\xa8"
      "X",
      {}, nt);
  CHECK(nt.text == "\uFFFDx");
  CHECK(nt.invalid_sequences == 1);
  CHECK(nt.orig_byte == std::vector<uint32_t>{0, 2, 3});
  CHECK(nt.src_begin == std::vector<uint32_t>{0, 0, 0, 1});

  // Overlong and surrogate encodings are invalid too, one U+FFFD per byte here.
  normalizer().normalize("\xc0\x80|\xed\xa0\x80", {}, nt);
  CHECK(nt.text == "\uFFFD\uFFFD|\uFFFD\uFFFD\uFFFD");
  CHECK(nt.invalid_sequences == 5);
  check_map_invariants("\xc0\x80|\xed\xa0\x80", nt);

  // The same inside CJK text: an overlong or surrogate three-byte form is not a character.
  normalizer().normalize("稀\xe0\x80\x80土\xed\xa0\x80國", {}, nt);
  CHECK(nt.text == "稀\uFFFD\uFFFD\uFFFD土\uFFFD\uFFFD\uFFFD国");
  CHECK(nt.invalid_sequences == 6);
}

TEST_CASE("a combining mark composes with its base and maps to both", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize("e\u0301", {}, nt);
  CHECK(nt.text == "\u00e9");
  CHECK(nt.src_begin == std::vector<uint32_t>{0, 0});
  CHECK(nt.src_end == std::vector<uint32_t>{2, 2});

  normalizer().normalize("Cafe\u0301 du \u7d71\u0301", {}, nt);
  CHECK(nt.text == "caf\u00e9 du \u7edf\u0301");
  CHECK(nt.src_begin[3] == 3);
  CHECK(nt.src_end[3] == 5);

  CHECK(norm("E\u0301", kKeepCase) == "\u00c9");
  CHECK(norm("\u1100\u1161\u11a8") == "\uac01");             // Hangul jamo compose to a syllable
  CHECK(norm("\uac00\u11a8") == "\uac01");                   // and a syllable takes a final jamo
  CHECK(norm("\u00c5\u0328", kKeepCase) == "\u0104\u030a");  // reordered, then composed
}

TEST_CASE("a combining mark after white space or at the start stands alone", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize("\u0301a \u0301", {}, nt);
  CHECK(nt.text == "\u0301a \u0301");
  CHECK(nt.src_begin == std::vector<uint32_t>{0, 0, 1, 2, 3, 3});
  CHECK(nt.src_end == std::vector<uint32_t>{1, 1, 2, 3, 4, 4});
}

TEST_CASE("expansions and long composition segments grow the output", "[normalizer]") {
  std::string many;
  for (int j = 0; j < 500; ++j) many += "\ufdfa";  // 3 bytes become 33
  NormalizedText nt;
  normalizer().normalize(many, {}, nt);
  CHECK(nt.text == reference(many, {}));
  CHECK(nt.text.size() > 10 * many.size());
  check_map_invariants(many, nt);

  std::string zalgo = "z";
  for (int j = 0; j < 300; ++j) zalgo += (j % 2 != 0) ? "\u0301" : "\u0316";
  zalgo += "o";
  normalizer().normalize(zalgo, {}, nt);
  CHECK(nt.text == reference(zalgo, {}));
  CHECK(nt.src_begin.front() == 0);
  CHECK(nt.src_end.front() == 301);
  CHECK(nt.src_begin.back() == 301);
}

TEST_CASE("each output span normalizes back to its output", "[normalizer]") {
  const std::vector<std::string> inputs = {
      "Rare Earth exports: 中國稀土出口 fell 12% in Q3.",
      "ＲＡＲＥ　ＥＡＲＴＨ and ﬁnancial ﬂows\t\t\n(2023)",
      "稀\u200b土 ex\u00adport \ufeffBOM rare\u200dearth \u2764\ufe0f",
      "關鍵礦物 and 关键矿物 Straße İstanbul ΣΊΣΥΦΟΣ",
      "bad \xff\xfe bytes \xe7\xa8 and \xc0\x80 here",
      "Cafe\u0301, \u1100\u1161\u11a8, e\u0301\u0323, \uFB01\u0301",
      "😀 emoji \U0001D400\U0001D401 math, 𠀀 ext-B, \U0002F800 compat",
      "ｶﾀｶﾅ ｶﾞ \u304b\u3099 \u2126 \u212b ①",
  };
  for (const auto& input : inputs) {
    for (int form = 0; form < 4; ++form) check_round_trip(input, NormalizeOptions::from_form(form));
  }
}

TEST_CASE("random mixes of tricky code points normalize like ICU over the whole string", "[normalizer]") {
  // Combining marks, jamo, ligatures, white space, invisibles, Traditional Han, expansions,
  // supplementary characters and invalid bytes, so pieces meet in every order.
  const std::vector<std::string> pool = {
      "a",          "E",          "e",          "o",          " ",          "\n",           "\t",
      "\u00a0",     "\u3000",     "\u2028",     "\u0301",     "\u0308",     "\u0323",       "\u0316",
      "\u0345",     "\u0344",     "\u0f73",     "\u093c",     "\u094d",     "\u0915",       "\u0958",
      "\u1e9b",     "\u212b",     "\u2126",     "\u00a8",     "\u00df",     "\ufb01",       "\u0130",
      "\u03a3",     "\u03c2",     "\u01c5",     "\uff21",     "\uff76",     "\uff9e",       "\u304b",
      "\u3099",     "\u309b",     "\u1100",     "\u1161",     "\u11a8",     "\uac00",       "\u3131",
      "\u200b",     "\u00ad",     "\ufeff",     "\u200d",     "\ufe0f",     "\u034f",       "\u2764",
      "稀",         "土",         "國",         "關",         "中",         "乾",           "\uf9b5",
      "\ufdfa",     "\u2460",     "\U0001F600", "\U0001D400", "\U000E0041", "\U0002F800",   "\U00020000",
      "\U000110B9", "\U000110BA", "\xff",       "\xe7\xa8",   "\xc0\x80",   "\xed\xa0\x80", "\xf0\x9f",
      "7",          "-",
  };
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> length(1, 12);
  NormalizedText nt;
  NormalizedText text_only;
  for (int round = 0; round < 400; ++round) {
    std::string input;
    for (int j = length(rng); j > 0; --j) input += pool[pick(rng)];
    for (int form = 0; form < 8; ++form) {
      const NormalizeOptions opts = NormalizeOptions::from_form(form);
      INFO("round " << round << " form " << form);
      normalizer().normalize(input, opts, nt);
      if (form < 4) REQUIRE(nt.text == reference(input, opts));
      check_map_invariants(input, nt);
      // Without maps (what the matcher scans): the same bytes, and no maps pretending to be there.
      normalizer().normalize(input, opts, text_only, /*maps=*/false);
      REQUIRE(text_only.text == nt.text);
      REQUIRE(!text_only.maps);
      REQUIRE(text_only.src_begin.empty());
      REQUIRE(text_only.orig_byte.empty());
      REQUIRE(text_only.invalid_sequences == nt.invalid_sequences);
    }
  }
}

TEST_CASE("long mixed texts normalize like ICU over the whole string", "[normalizer]") {
  // Long enough for the 16-byte ASCII blocks and the runs of three-byte code points, with
  // white-space runs, composition and invalid bytes falling on every alignment.
  const std::vector<std::string> pool = {
      "Rare",
      "EARTH",
      "exports",
      "of",
      "Gallium",
      "2023",
      ",",
      ".",
      " ",
      " ",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      "\u3000",
      "\u00a0",
      "稀土",
      "出口",
      "關鍵礦物",
      "中國",
      "的",
      "。",
      "，",
      "\u0301",
      "e\u0301",
      "\u3099",
      "\u200b",
      "\u00ad",
      "ﬁ",
      "Ｇａｌｌｉｕｍ",
      "\ufffd",
      "\xff",
      "\xe7\xa8",
      "\xe0\x80\x80",
      "\xed\xa0\x80",
      "\xef\xbf",
      "😀",
      "\U00020000",
      "ß",
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> length(1, 150);
  NormalizedText nt;
  for (int round = 0; round < 150; ++round) {
    std::string input;
    for (int j = length(rng); j > 0; --j) input += pool[pick(rng)];
    for (int form = 0; form < 4; ++form) {
      const NormalizeOptions opts = NormalizeOptions::from_form(form);
      INFO("round " << round << " form " << form << " input " << input);
      normalizer().normalize(input, opts, nt);
      REQUIRE(nt.text == reference(input, opts));
      check_map_invariants(input, nt);
    }
  }
}

TEST_CASE("a white-space run across a 16-byte boundary is still one space", "[normalizer]") {
  NormalizedText nt;
  const std::string input = "abcdefghijklmno  pqrstuvwxyz0123456789 \t\n ABCDEFGHIJKLMN";
  normalizer().normalize(input, {}, nt);
  CHECK(nt.text == "abcdefghijklmno pqrstuvwxyz0123456789 abcdefghijklmn");
  CHECK(nt.src_begin[15] == 15);
  CHECK(nt.src_end[15] == 17);
  CHECK(nt.src_begin[16] == 17);
  CHECK(nt.src_begin[37] == 38);
  CHECK(nt.src_end[37] == 42);
  check_round_trip(input, {});
}

TEST_CASE("word characters are letters and digits of scripts written with spaces", "[normalizer]") {
  for (char32_t c : {U'a', U'Z', U'7', U'é', U'Ж', U'α', U'٣', U'ß', U'\U0001D400'}) {
    INFO("U+" << std::hex << static_cast<uint32_t>(c));
    CHECK(normalizer().is_word_char(c));
  }
  for (char32_t c : {U'稀', U'ア', U'あ', U'한', U'ก', U' ', U'-', U'。', U'_', U'\U00020000', U'ー', U'\u0301'}) {
    INFO("U+" << std::hex << static_cast<uint32_t>(c));
    CHECK_FALSE(normalizer().is_word_char(c));
  }
}

TEST_CASE("normalizing again into the same NormalizedText does not allocate", "[normalizer]") {
  std::string first, second;
  for (int j = 0; j < 2000; ++j) {
    first += "Rare ＥＡＲＴＨ 關鍵礦物 e\u0301 \xff ";
    second += "rARE earth\u3000关键矿物 \u00e9 \xfe ";
  }
  REQUIRE(first.size() >= second.size());
  NormalizedText nt;
  normalizer().normalize(first, {}, nt);
  const auto* text = nt.text.data();
  const auto* begin = nt.src_begin.data();
  const auto* end = nt.src_end.data();
  const auto* orig = nt.orig_byte.data();
  const size_t capacities[] = {nt.text.capacity(), nt.src_begin.capacity(), nt.src_end.capacity(),
                               nt.orig_byte.capacity()};

  normalizer().normalize(second, {}, nt);
  CHECK(nt.text == reference(second, {}));
  CHECK(nt.text.data() == text);
  CHECK(nt.src_begin.data() == begin);
  CHECK(nt.src_end.data() == end);
  CHECK(nt.orig_byte.data() == orig);
  CHECK(nt.text.capacity() == capacities[0]);
  CHECK(nt.src_begin.capacity() == capacities[1]);
  CHECK(nt.src_end.capacity() == capacities[2]);
  CHECK(nt.orig_byte.capacity() == capacities[3]);
}

TEST_CASE("an empty input gives an empty text and one orig_byte entry", "[normalizer]") {
  NormalizedText nt;
  normalizer().normalize("abc", {}, nt);
  normalizer().normalize("", {}, nt);
  CHECK(nt.text.empty());
  CHECK(nt.src_begin.empty());
  CHECK(nt.orig_byte == std::vector<uint32_t>{0});
  CHECK(nt.original_code_points() == 0);
  CHECK(nt.invalid_sequences == 0);
}

TEST_CASE("repair_utf8 replaces each invalid sequence and keeps valid text", "[normalizer]") {
  std::string out = "old contents";
  CHECK(lodestone::repair_utf8("a\xff\xfe"
                               "b\xe7\xa8",
                               out) == 3);
  CHECK(out == "a\uFFFD\uFFFDb\uFFFD");
  CHECK(lodestone::repair_utf8("稀土 ok", out) == 0);
  CHECK(out == "稀土 ok");
}

TEST_CASE("UTF-8 helpers decode and encode one code point", "[normalizer]") {
  const std::string s = "a稀😀";
  CHECK(lodestone::decode_utf8_at(s, 0) == U'a');
  CHECK(lodestone::decode_utf8_at(s, 1) == U'稀');
  CHECK(lodestone::decode_utf8_at(s, 4) == U'😀');
  CHECK(lodestone::decode_utf8_before(s, 1) == U'a');
  CHECK(lodestone::decode_utf8_before(s, 4) == U'稀');
  CHECK(lodestone::decode_utf8_before(s, 8) == U'😀');
  CHECK(utf8(U'a') == "a");
  CHECK(utf8(U'é') == "\u00e9");
  CHECK(utf8(U'稀') == "稀");
  CHECK(utf8(U'😀') == "😀");
  CHECK(utf8(0xD800) == "\uFFFD");
  CHECK(utf8(0x110000) == "\uFFFD");
}

// ---- the name form (entity names) ----

namespace {
constexpr NormalizeOptions kNames{true, true, true};
}  // namespace

TEST_CASE("the name form folds punctuation and spacing variants of a name into one text", "[normalizer][names]") {
  CHECK(norm("Al-Qa'ida", kNames) == "al qaida");
  CHECK(norm("Al Qaida", kNames) == "al qaida");
  CHECK(norm("AL QA'IDA", kNames) == "al qaida");
  CHECK(norm("al\u2014qa\u2019ida", kNames) == "al qaida");
  CHECK(norm("ANGLO-CARIBBEAN CO., LTD.", kNames) == "anglo caribbean co ltd");
  CHECK(norm("  (Anglo -- Caribbean)  Co  Ltd ", kNames) == "anglo caribbean co ltd");
  CHECK(norm("ＡＬ－ＱＡ'ＩＤＡ", kNames) == "al qaida");
}

TEST_CASE("the name form drops the periods of initials", "[normalizer][names]") {
  CHECK(norm("Rosneft Trading S.A.", kNames) == "rosneft trading sa");
  CHECK(norm("Rosneft Trading SA", kNames) == "rosneft trading sa");
  CHECK(norm("U.S. Steel", kNames) == "us steel");
  CHECK(norm("J. Smith", kNames) == "j smith");
  CHECK(norm("é.g.", kNames) == "ég");
  // Not after a word of two letters or more, nor after a digit.
  CHECK(norm("Co. Ltd.", kNames) == "co ltd");
  CHECK(norm("version 3.5", kNames) == "version 3 5");
  CHECK(norm("AB.C", kNames) == "ab c");
}

TEST_CASE("the name form keeps a possessive s apart, so the name keeps its boundary", "[normalizer][names]") {
  CHECK(norm("Bessent's remarks", kNames) == "bessent s remarks");
  CHECK(norm("BESSENT\u2019S", NormalizeOptions{false, true, true}) == "BESSENT S");
  CHECK(norm("Rifa'i Ahmad", kNames) == "rifai ahmad");
  CHECK(norm("the Houthis' leader", kNames) == "the houthis leader");
  CHECK(norm("'Abd al-'Aziz", kNames) == "abd al aziz");
}

TEST_CASE("the name form drops spaces and dots next to Han and kana", "[normalizer][names]") {
  CHECK(norm("史考特·貝森特", kNames) == "史考特贝森特");
  CHECK(norm("史考特・貝森特", kNames) == "史考特贝森特");
  CHECK(norm("史考特 貝森特", kNames) == "史考特贝森特");
  CHECK(norm("史考特貝森特", kNames) == "史考特贝森特");
  CHECK(norm("財長·Bessent 說", kNames) == "财长bessent说");
  CHECK(norm("「貝森特」", kNames) == "贝森特");
}

TEST_CASE("the name form leaves symbols and letters alone and maps back to the input", "[normalizer][names]") {
  CHECK(norm("AT&T + $5", kNames) == "at t + $5");
  CHECK(norm("O'Brien", NormalizeOptions{false, true, true}) == "OBrien");
  const std::vector<std::string> inputs = {
      "Al-Qa'ida's chief, Dr. Ayman AL-ZAWAHIRI (a.k.a. 'the Doctor')",
      "史考特·貝森特表示，「稀土」出口 — 'quoted' ‘curly’",
      "  leading and trailing punctuation... ",
      "bad \xff\xfe bytes's \xe7\xa8 here",
  };
  NormalizedText nt;
  NormalizedText base;
  NormalizedText derived;
  for (const auto& input : inputs) {
    INFO(input);
    normalizer().normalize(input, kNames, nt);
    check_map_invariants(input, nt);
    // Derived from the plain form (what the matcher does), the same text and maps.
    normalizer().normalize(input, NormalizeOptions{}, base);
    normalizer().fold_names(base, derived);
    CHECK(derived.text == nt.text);
    CHECK(derived.src_begin == nt.src_begin);
    CHECK(derived.src_end == nt.src_end);
    CHECK(derived.orig_byte == nt.orig_byte);
    CHECK(nt.text.find("  ") == std::string::npos);
    CHECK((nt.text.empty() || (nt.text.front() != ' ' && nt.text.back() != ' ')));
  }
}

namespace {

// The name form's rules one code point at a time over the plain normalized text, as
// normalizer.h states them: the reference for the table- and block-driven pass.
std::string reference_names(const std::string& plain) {
  const Normalizer& n = normalizer();
  std::vector<char32_t> cps;
  for (size_t i = 0; i < plain.size(); i += lodestone::utf8_sequence_length(static_cast<unsigned char>(plain[i]))) {
    cps.push_back(lodestone::decode_utf8_at(plain, i));
  }
  auto word = [&](char32_t c) { return n.is_word_char(c); };
  auto letter = [](char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; };
  auto unspaced = [&](char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & (U_GC_L_MASK | U_GC_N_MASK)) != 0 && !word(c);
  };
  auto apostrophe = [](char32_t c) {
    return c == U'\'' || c == U'`' || c == U'\u2018' || c == U'\u2019' || c == U'\u02BC' || c == U'\u02BB' ||
           c == U'\u2032';
  };
  auto punct = [](char32_t c) { return c == U' ' || (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0; };
  std::vector<char32_t> out;
  bool pending = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    bool as_punct = punct(c);
    if (apostrophe(c)) {
      if (!pending && !out.empty() && word(out.back()) && i + 1 < cps.size() && word(cps[i + 1])) {
        const bool possessive =
            (cps[i + 1] == U's' || cps[i + 1] == U'S') && (i + 2 == cps.size() || !word(cps[i + 2]));
        if (!possessive) continue;
      }
      as_punct = true;
    }
    if (c == U'.' && !pending && !out.empty() && word(out.back()) && letter(out.back()) &&
        (out.size() == 1 || !word(out[out.size() - 2]))) {
      continue;
    }
    if (as_punct) {
      pending = true;
      continue;
    }
    if (pending && !out.empty() && !unspaced(out.back()) && !unspaced(c)) out.push_back(U' ');
    pending = false;
    out.push_back(c);
  }
  std::string text;
  for (char32_t c : out) lodestone::append_utf8(text, c);
  return text;
}

}  // namespace

TEST_CASE("the name form agrees with a code point reference on long random mixes", "[normalizer][names]") {
  const std::vector<std::string> pool = {
      "a",  "B", "z", "q", "7", " ", "  ", ".", ",", "-", "'", "\u2019", "s", "S", "'s ", "co", "ltd", "U", "x.",
      "(", ")", "\"", "稀", "國", "·", "・", "、", "é", "\u0301", "Ω", "+", "$", "&", "\t", "\n", "AB", "\u3000",
      "abcdefghijklmnop", "QRSTUVWXYZ012345", "the quick brown fox ",
  };
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> length(1, 80);
  NormalizedText plain;
  NormalizedText names;
  NormalizedText derived;
  NormalizedText text_only;
  for (int round = 0; round < 3000; ++round) {
    std::string input;
    for (int j = length(rng); j > 0; --j) input += pool[pick(rng)];
    for (bool fold_case : {true, false}) {
      INFO("round " << round << " input '" << input << "' fold_case " << fold_case);
      normalizer().normalize(input, NormalizeOptions{fold_case, true, false}, plain);
      normalizer().normalize(input, NormalizeOptions{fold_case, true, true}, names);
      REQUIRE(names.text == reference_names(plain.text));
      check_map_invariants(input, names);
      normalizer().fold_names(plain, derived);
      REQUIRE(derived.text == names.text);
      REQUIRE(derived.src_begin == names.src_begin);
      REQUIRE(derived.src_end == names.src_end);
      // Without maps, directly and derived from a plain form made without maps: the same text.
      normalizer().normalize(input, NormalizeOptions{fold_case, true, true}, text_only, /*maps=*/false);
      REQUIRE(text_only.text == names.text);
      normalizer().normalize(input, NormalizeOptions{fold_case, true, false}, text_only, /*maps=*/false);
      normalizer().fold_names(text_only, derived);
      REQUIRE(derived.text == names.text);
      REQUIRE(!derived.maps);
    }
  }
}

// ---- the block paths against the code point path ----

namespace {

// What one normalization gives, everything of it, to compare across paths.
struct Outcome {
  std::string text;
  std::vector<uint32_t> src_begin;
  std::vector<uint32_t> src_end;
  std::vector<uint32_t> orig_byte;
  uint32_t invalid_sequences;
  bool operator==(const Outcome&) const = default;
};

Outcome outcome(const NormalizedText& nt) {
  return {nt.text, nt.src_begin, nt.src_end, nt.orig_byte, nt.invalid_sequences};
}

// Every form, with and without maps, directly and (the name forms) derived from the base form,
// out of place and in place.
std::vector<Outcome> all_forms(const std::string& input) {
  std::vector<Outcome> out;
  NormalizedText base;
  NormalizedText derived;
  for (int form = 0; form < 8; ++form) {
    const NormalizeOptions opts = NormalizeOptions::from_form(form);
    for (bool maps : {true, false}) {
      normalizer().normalize(input, opts, base, maps);
      out.push_back(outcome(base));
      if (!opts.fold_names) {
        normalizer().fold_names(base, derived);
        out.push_back(outcome(derived));
      }
    }
  }
  return out;
}

// Restores the best path when a test that forced another ends, however it ends.
struct PathGuard {
  ~PathGuard() { lodestone::set_normalizer_path(lodestone::best_normalizer_path()); }
};

}  // namespace

TEST_CASE("the SIMD block paths give what the code point path gives, text and maps", "[normalizer][paths]") {
  using lodestone::NormalizerPath;
  const std::vector<std::string> pool = {
      "a", "B", "s", "S", "z", "7", "0", " ", "  ", "\n    ", "\t", "\r\n", ".", ",", "-", "'", "`", "\u2019",
      "\u02BC", ";", ":", "!", "?", "(", ")", "\"", "/", "&", "_", "@", "#", "%", "[", "}", "$", "+", "<", "=", "^",
      "|", "~", "\x01", "\x7F", "U.S.", "S.A.", "'s", "'s ", "o'", "...", ". ", ", ", "co., ltd.", "al-qa'ida",
      "稀土", "中国", "國", "貝森特", "，", "。", "Ａ", "１", "\u3000", "\u0301", "e\u0301", "\u1100\u1161", "\xFF",
      "\xC3", "\xE4\xB8", "\u200B", "\u00AD", "\uFEFF", "Ω", "é", "·", "・", "史考特·貝森特", "ＡＢ，ｃ",
      "abcdefghijklmnop", "QRSTUVWXYZ012345", "the quick brown fox jumps over", "Reuters said. The",
      "0123456789012345678901234567890",   // 31: with one more byte, a block edge
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef",  // 32
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do",  // 63
      // Han runs long enough for the 10-character blocks, their range's edges and neighbours.
      "中华人民共和国国务院新闻办公室今天举行發布會", "一丁七万丈三上下不与丐丑专且丕世", "\u4DFF", "\u9FFF", "\uA000",
      "\u3400", "\u4DB5\u4E00",
  };
  const std::vector<NormalizerPath> paths = [] {
    std::vector<NormalizerPath> p{NormalizerPath::kSse2, NormalizerPath::kAvx2};
    std::erase_if(p, [](NormalizerPath path) { return path > lodestone::best_normalizer_path(); });
    return p;
  }();
  INFO("block paths this CPU runs: " << paths.size());
  PathGuard guard;
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> pieces(1, 60);
  std::uniform_int_distribution<int> shift(0, 65);
  for (int round = 0; round < 4000; ++round) {
    // A plain ASCII prefix of 0 to 65 bytes moves the mix across the 16-, 32- and 64-byte block edges.
    std::string input(static_cast<size_t>(shift(rng)), 'w');
    for (int j = pieces(rng); j > 0; --j) input += pool[pick(rng)];
    lodestone::set_normalizer_path(NormalizerPath::kScalar);
    const std::vector<Outcome> expected = all_forms(input);
    for (NormalizerPath path : paths) {
      INFO("round " << round << " path " << static_cast<int>(path) << " input '" << input << "'");
      lodestone::set_normalizer_path(path);
      const std::vector<Outcome> got = all_forms(input);
      REQUIRE(got.size() == expected.size());
      for (size_t c = 0; c < got.size(); ++c) {
        INFO("case " << c << " (form " << c / 3 << ")");
        REQUIRE(got[c].text == expected[c].text);
        REQUIRE(got[c] == expected[c]);
      }
    }
  }
}
