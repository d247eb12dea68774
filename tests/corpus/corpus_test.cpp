// Real corpora (../shared/corpus, skipped when absent): the engine agrees with a plain, slow,
// obviously-correct reference on which posts each literal rule matches, and every reported span
// is exactly the original text it claims.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "text/normalizer.h"
#include "engine/post_reader.h"
#include "lodestone/scanner.h"
#include "support/rules.h"

namespace {

using lodestone::Normalizer;

std::string corpus_dir() {
  if (const char* env = std::getenv("LODESTONE_CORPUS")) return env;
  return LODESTONE_SOURCE_DIR "/../shared/corpus";
}

struct RefTerm {
  std::string written;  // as in the query
  std::string text;     // before normalization
  bool prefix = false;
};

// The terms: English words, phrases, prefixes and punctuation; Chinese in both scripts; full-width.
const std::vector<RefTerm> kTerms = {
    {"oil", "oil"},
    {"\"crude oil\"", "crude oil"},
    {"opec", "opec"},
    {"rate*", "rate", true},
    {"bank", "bank"},
    {"japan", "japan"},
    {"yen", "yen"},
    {"gold", "gold"},
    {"wheat", "wheat"},
    {"\"trade deficit\"", "trade deficit"},
    {"tariff*", "tariff", true},
    {"u.s.", "u.s."},
    {"ai", "ai"},
    {"co", "co"},
    {"ＧＤＰ", "ＧＤＰ"},
    {"中国", "中国"},
    {"經濟", "經濟"},
    {"美國", "美國"},
    {"股市", "股市"},
    {"足球", "足球"},
    {"游戏", "游戏"},
    {"房價", "房價"},
    {"nba", "nba"},
    {"新浪", "新浪"},
    {"稀土", "稀土"},
    {"\"bank of japan\"", "bank of japan"},
};

// Rules over those terms: one per term, and a few combinations, each with its reference predicate.
struct RefRule {
  std::string id;
  std::string query;
  std::function<bool(const std::set<size_t>&)> holds;
};

std::vector<RefRule> reference_rules() {
  std::vector<RefRule> rules;
  for (size_t i = 0; i < kTerms.size(); ++i) {
    std::string id = "t";
    id += std::to_string(i);  // not "t" + ...: GCC 12 warns falsely on that (-Wrestrict, PR 105651)
    rules.push_back({id, kTerms[i].written, [i](const std::set<size_t>& s) { return s.count(i) > 0; }});
  }
  rules.push_back({"oil-opec", "oil AND opec", [](const std::set<size_t>& s) { return s.count(0) && s.count(2); }});
  rules.push_back(
      {"bank-not-japan", "bank NOT japan", [](const std::set<size_t>& s) { return s.count(4) && !s.count(5); }});
  rules.push_back({"china-economy", "中国 經濟", [](const std::set<size_t>& s) { return s.count(15) && s.count(16); }});
  rules.push_back(
      {"gold-or-wheat", "gold OR wheat", [](const std::set<size_t>& s) { return s.count(7) || s.count(8); }});
  return rules;
}

// Whether term t occurs in normalized text, by find-every-position and explicit boundary checks.
bool reference_occurs(const std::string& text, const std::string& term, bool prefix) {
  const Normalizer& n = Normalizer::instance();
  const bool left_word = n.is_word_char(lodestone::decode_utf8_at(term, 0));
  const bool right_word = !prefix && n.is_word_char(lodestone::decode_utf8_before(term, term.size()));
  for (size_t pos = text.find(term); pos != std::string::npos; pos = text.find(term, pos + 1)) {
    const size_t end = pos + term.size();
    if (left_word && pos > 0 && n.is_word_char(lodestone::decode_utf8_before(text, pos))) continue;
    if (right_word && end < text.size() && n.is_word_char(lodestone::decode_utf8_at(text, end))) continue;
    return true;
  }
  return false;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void check_corpus(const std::string& file) {
  const std::string path = corpus_dir() + "/" + file;
  if (!std::filesystem::exists(path)) {
    // Not a pass: exit code 4 makes ctest report this test as skipped (SKIP_RETURN_CODE).
    std::fprintf(stderr, "SKIPPED: %s is absent (the corpus lives in ../shared/corpus beside the checkout)\n",
                 path.c_str());
    std::exit(4);
  }
  const auto rules = reference_rules();
  std::string toml;
  for (const auto& r : rules) toml += "[[rule]]\nid = \"" + r.id + "\"\nmatch = '" + r.query + "'\n";
  auto set = lodestone::testing::rules(toml);

  const Normalizer& norm = Normalizer::instance();
  std::vector<std::string> normalized_terms;
  for (const auto& t : kTerms) normalized_terms.push_back(norm.normalize(t.text));

  lodestone::Scanner scanner(set);
  lodestone::PostReader reader;
  lodestone::Post post;
  std::string line, error;
  std::ifstream in(path);
  size_t posts = 0, alerts = 0, mismatches = 0, bad_spans = 0;
  while (std::getline(in, line)) {
    if (reader.parse_line(line, file, post, error) != lodestone::LineOutcome::kPost) continue;
    ++posts;
    std::set<std::string> engine;
    for (const auto& a : scanner.scan(post)) {
      engine.insert(a.rule.id);
      ++alerts;
      for (const auto& m : a.matches) {
        std::string_view original = post.field(m.field);
        bool ok = m.byte_end <= original.size() && m.byte_start < m.byte_end &&
                  original.substr(m.byte_start, m.byte_end - m.byte_start) == m.text &&
                  code_points(original.substr(0, m.byte_start)) == m.start &&
                  code_points(original.substr(0, m.byte_end)) == m.end;
        if (!ok && ++bad_spans <= 5) {
          UNSCOPED_INFO("bad span in " << post.id << ": " << m.field << " [" << m.start << ", " << m.end << ") '"
                                       << m.text << "'");
        }
      }
    }
    std::set<size_t> present;
    for (const auto& f : post.fields()) {
      if (lodestone::is_metadata_field(f.name)) continue;
      const std::string text = norm.normalize(f.text);
      for (size_t i = 0; i < kTerms.size(); ++i) {
        if (!present.count(i) && reference_occurs(text, normalized_terms[i], kTerms[i].prefix)) present.insert(i);
      }
    }
    std::set<std::string> reference;
    for (const auto& r : rules) {
      if (r.holds(present)) reference.insert(r.id);
    }
    if (engine != reference && ++mismatches <= 5) {
      std::string diff;
      for (const auto& id : engine)
        if (!reference.count(id)) diff += " +" + id;
      for (const auto& id : reference)
        if (!engine.count(id)) diff += " -" + id;
      UNSCOPED_INFO("post " << post.id << " differs from the reference:" << diff);
    }
  }
  INFO(file << ": " << posts << " posts, " << alerts << " alerts");
  CHECK(posts > 10000);
  CHECK(alerts > 1000);
  CHECK(mismatches == 0);
  CHECK(bad_spans == 0);
}

}  // namespace

TEST_CASE("Reuters: alerts equal the reference and every span is the original text", "[corpus]") {
  check_corpus("reuters21578.jsonl");
}

TEST_CASE("THUCNews: alerts equal the reference and every span is the original text", "[corpus]") {
  check_corpus("thucnews.jsonl");
}
