// bench_core: the in-process ceiling of `lodestone scan` and its in-process peers (issue 5).
//
// Loads a rule set and a JSONL file into memory, normalizes every post untimed (exactly the
// fields and forms Matcher::match scans, with the same normalization), then times:
//   hs_alone   hs_scan of every normalized buffer with its form's database, a counting callback:
//              what Lodestone could reach if parsing, normalizing and evaluating cost nothing;
//   hs_one_call the same buffers joined into one per form, one hs_scan call each: the difference
//              from hs_alone is Hyperscan's fixed cost per call;
//   memchr     one memchr pass over the same buffers for a byte that is not there: memory speed;
//   scanner    lodestone::Scanner::scan over the posts in memory (normalize + match + evaluate);
//   re2_set    RE2::Set (every literal term, literal mode) over one "peer text" a post;
//   naive      std::string_view::find of every term in every peer text (few terms only);
//   hs_peer    Hyperscan (hs_compile_lit_multi, the same terms) over the same peer texts;
//   icu_prepare, re2_set_icu, hs_icu: the hand-built peer, timed end to end from the JSONL lines
//              in memory: simdjson, ICU's NFKC_Casefold and white-space folding (IcuPeerText says
//              what that does and doesn't do next to Lodestone), then nothing, RE2::Set or
//              Hyperscan: the cost of exactness beside the cost of speed.
// The peers get less work than Lodestone by design: one text a post, the fields joined with
// " \x1f ", normalized in the one form that holds the most literal terms, substrings only (no
// word boundaries, no query). --peer-text/--peer-terms write their input for grep, rg and
// bench/peers/ahocorasick_peer.py. --crosscheck compares the alerts of the real Scanner with the
// peers' view for rules that are plain ORs of literals (word boundaries applied to the peer hits).
//
//   bench_core --rules rules/packs --posts ../shared/corpus/reuters21578.jsonl [--repeat 5]
//              [--cache-dir DIR] [--peer-text FILE] [--peer-terms FILE] [--naive-max-terms 2000]
//              [--crosscheck]
//
// Each timed figure is the median of --repeat runs. MB/s is given over the JSONL input (lines and
// newlines, as `lodestone scan --stats` counts) and over the bytes actually scanned. The last lines
// are machine-readable: `result name=... seconds=... input_mb_s=... norm_mb_s=... posts_s=... hits=...`
// and `crosscheck rules=... differ=...`. `hits` is what each counts: Hyperscan matches (hs_alone),
// alerts (scanner), posts with any term as a substring (re2_set, naive, hs_peer, re2_set_icu,
// hs_icu), posts parsed (icu_prepare), terms (re2_compile, hs_peer_compile). norm_mb_s is over the
// normalized buffers for hs_alone, memchr and scanner, over the peer text for re2_set, naive and
// hs_peer, and over the ICU-normalized text for the hand-built peer. bench/peers/ahocorasick_peer.py
// is the Python peer.
#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>
#include <simdjson.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/bench_common.h"
#include "engine/post_reader.h"
#include "lodestone/scanner.h"
#include "lodestone/rule_set.h"
#include "rules/compiled.h"

namespace {

using lodestone::NormalizedText;
using lodestone::NormalizeOptions;
using lodestone::Normalizer;
using lodestone::Post;
using lodestone::compiled::kForms;
using lodestone::compiled::Node;
using lodestone::compiled::RuleSetData;
using lodestone::bench::Clock;
using lodestone::bench::decode_literal;
using lodestone::bench::median_seconds;
using lodestone::bench::normalize_post;
using lodestone::bench::scans_text_fields;
using lodestone::bench::seconds_since;

struct Options {
  std::vector<std::string> rules;
  std::string posts;
  std::string cache_dir;
  std::string peer_text;
  std::string peer_terms;
  int repeat = 5;
  size_t naive_max_terms = 2000;
  bool crosscheck = false;
};

void usage(const char* why) {
  std::fprintf(stderr,
               "bench_core: %s\n"
               "usage: bench_core --rules PATH [--rules PATH ...] --posts FILE.jsonl [--repeat N]\n"
               "                  [--cache-dir DIR] [--peer-text FILE] [--peer-terms FILE]\n"
               "                  [--naive-max-terms N] [--crosscheck]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + std::string(a)).c_str());
      return argv[++i];
    };
    auto number = [&](long min) -> long {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < min) usage(("bad number after " + std::string(a) + ": " + v).c_str());
      return n;
    };
    if (a == "--rules") {
      o.rules.push_back(value());
    } else if (a == "--posts") {
      o.posts = value();
    } else if (a == "--cache-dir") {
      o.cache_dir = value();
    } else if (a == "--peer-text") {
      o.peer_text = value();
    } else if (a == "--peer-terms") {
      o.peer_terms = value();
    } else if (a == "--repeat") {
      o.repeat = static_cast<int>(number(1));
    } else if (a == "--naive-max-terms") {
      o.naive_max_terms = static_cast<size_t>(number(0));
    } else if (a == "--crosscheck") {
      o.crosscheck = true;
    } else if (a == "-h" || a == "--help") {
      usage("the in-process ceiling and peers of lodestone scan");
    } else {
      usage(("unknown option " + std::string(a)).c_str());
    }
  }
  if (o.rules.empty()) usage("--rules is required");
  if (o.posts.empty()) usage("--posts is required");
  return o;
}

// One scanned buffer: a field of a post normalized in one form.
struct Buffer {
  std::string text;
  uint8_t form;
};

// A field name as the peer text joins it, with what a term scope is checked against.
struct JoinedField {
  int field_id;
  bool is_text;
};

// Everything read and derived before timing.
struct Corpus {
  std::vector<Post> posts;
  std::vector<std::string> lines;  // the JSONL lines the posts came from, for the hand-built peer
  uint64_t input_bytes = 0;  // lines + newlines, as `lodestone scan --stats`
  std::vector<Buffer> buffers;
  uint64_t normalized_bytes = 0;
  std::vector<std::string> peer_texts;  // one a post
  uint64_t peer_bytes = 0;
  std::map<std::string, JoinedField> joined_fields;  // every field some peer text joins
  size_t newlines_replaced = 0;
};

bool read_posts(const std::string& path, Corpus& c) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  lodestone::PostReader reader;
  Post post;
  std::string line;
  std::string error;
  uint64_t skipped = 0;
  while (std::getline(in, line)) {
    c.input_bytes += line.size() + 1;
    switch (reader.parse_line(line, path, post, error)) {
      case lodestone::LineOutcome::kPost:
        c.posts.push_back(post);
        c.lines.push_back(line);
        break;
      case lodestone::LineOutcome::kBlank:
        break;
      default:
        ++skipped;
        break;
    }
  }
  if (skipped)
    std::printf("posts: %llu lines skipped (not JSON, not an object or no text)\n",
                static_cast<unsigned long long>(skipped));
  return true;
}

void normalize_corpus(const RuleSetData& d, int peer_form, Corpus& c) {
  const bool text_fields = scans_text_fields(d);
  std::array<NormalizedText, kForms> norm;
  c.peer_texts.resize(c.posts.size());
  for (size_t p = 0; p < c.posts.size(); ++p) {
    std::string& peer = c.peer_texts[p];
    normalize_post(d, text_fields, c.posts[p], norm,
                   [&](int form, const std::string& text, const std::string& name, int id, bool is_text) {
                     // A form whose database holds its literals reversed is scanned reversed,
                     // as Matcher::match does (reversing is not timed here).
                     c.buffers.push_back({d.reversed[form] ? std::string(text.rbegin(), text.rend()) : text,
                                          static_cast<uint8_t>(form)});
                     c.normalized_bytes += text.size();
                     if (form != peer_form) return;
                     if (!peer.empty()) peer += " \x1f ";
                     const size_t from = peer.size();
                     peer += text;
                     for (size_t i = from; i < peer.size(); ++i) {
                       if (peer[i] == '\n') {
                         peer[i] = ' ';
                         ++c.newlines_replaced;
                       }
                     }
                     c.joined_fields.emplace(name, JoinedField{id, is_text});
                   });
    c.peer_bytes += peer.size();
  }
}

struct PeerTerms {
  int form = -1;                     // the peer form: the form with the most literal patterns
  std::vector<std::string> terms;    // distinct literal strings of every form
  std::vector<int> pattern_of_term;  // the peer form's pattern with that string, or -1
  std::array<size_t, kForms> literals_per_form{};
  size_t regexes = 0;
  size_t decode_mismatches = 0;
};

PeerTerms peer_terms(const RuleSetData& d) {
  PeerTerms pt;
  for (const auto& p : d.patterns) {
    if (p.is_regex) {
      ++pt.regexes;
    } else {
      ++pt.literals_per_form[p.form];
    }
  }
  size_t most = 0;
  for (int form = 0; form < kForms; ++form) {
    if (pt.literals_per_form[form] > most) {
      most = pt.literals_per_form[form];
      pt.form = form;
    }
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < d.patterns.size(); ++i) {
    const auto& p = d.patterns[i];
    if (p.is_regex) continue;
    std::string text = decode_literal(p.expression);
    if (text.size() != p.literal_bytes) ++pt.decode_mismatches;
    auto [it, added] = index.emplace(text, pt.terms.size());
    if (added) {
      pt.terms.push_back(std::move(text));
      pt.pattern_of_term.push_back(-1);
    }
    if (p.form == pt.form) pt.pattern_of_term[it->second] = static_cast<int>(i);
  }
  return pt;
}

struct Result {
  std::string name;
  double seconds = 0;
  double input_mb_s = 0;
  double norm_mb_s = 0;
  double posts_s = 0;
  uint64_t hits = 0;
  std::string extra;  // more key=value pairs
};

Result make_result(std::string name, double seconds, const Corpus& c, uint64_t scanned_bytes, uint64_t hits) {
  Result r;
  r.name = std::move(name);
  r.seconds = seconds;
  if (seconds > 0) {
    r.input_mb_s = static_cast<double>(c.input_bytes) / 1e6 / seconds;
    r.norm_mb_s = static_cast<double>(scanned_bytes) / 1e6 / seconds;
    r.posts_s = static_cast<double>(c.posts.size()) / seconds;
  }
  r.hits = hits;
  return r;
}

void print_result(const Result& r, const char* what_hits, const char* norm_of) {
  std::printf("%-10s %9.4f s  %8.1f MB/s input  %8.1f MB/s %s  %10.0f posts/s  %llu %s\n", r.name.c_str(), r.seconds,
              r.input_mb_s, r.norm_mb_s, norm_of, r.posts_s, static_cast<unsigned long long>(r.hits), what_hits);
}

int count_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

// ---- The hand-built peer: simdjson, ICU, then RE2::Set or Hyperscan, timed end to end --------
//
// What a careful user would build by hand for Lodestone's job, paying for its own parsing and
// normalizing inside the timed loop. Next to Lodestone's normalizer (text/normalizer.h) it
//  - does steps 1-3 and 5: UTF-8 to UTF-16 with each invalid sequence as U+FFFD
//    (u_strFromUTF8WithSub), ICU's NFKC_Casefold (Normalizer2::getNFKCCasefoldInstance(): NFKC,
//    full case folding, Default_Ignorable_Code_Point characters dropped), then back to UTF-8 with
//    every run of White_Space code points written as one space;
//  - does not do step 4 (Traditional to Simplified) nor step 6 (the name form: apostrophes and
//    initials dropped, other punctuation as a space, no space beside Han), so where the terms are in
//    the name form it misses text Lodestone finds: "al qaida" is not in "al-qa'ida", "sa" not in "s.a.";
//  - makes no offset maps (Lodestone makes them only for a post that alerts), and like the other
//    peers finds substrings only: no word boundaries, no query, no alerts.
// The fields it keeps are those the peer text joins (the ones Lodestone scans in the peer form),
// in the order of the line, joined by " \x1f " as the peer text is.
class IcuPeerText {
 public:
  explicit IcuPeerText(const std::map<std::string, JoinedField>& fields) {
    for (const auto& [name, f] : fields) fields_.push_back(name);
    UErrorCode status = U_ZERO_ERROR;
    nfkc_casefold_ = icu::Normalizer2::getNFKCCasefoldInstance(status);
    if (U_FAILURE(status)) {
      std::fprintf(stderr, "bench_core: ICU has no NFKC_Casefold data: %s\n", u_errorName(status));
      std::exit(2);
    }
  }

  // The peer text of one JSONL line into `out`; false when the line is not a JSON object.
  bool make(std::string_view line, std::string& out) {
    out.clear();
    padded_.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    padded_.assign(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (parser_.iterate(padded_.data(), padded_.size(), padded_.capacity()).get(doc) || doc.get_object().get(object))
      return false;
    for (auto field : object) {
      std::string_view key;
      simdjson::ondemand::value value;
      if (field.unescaped_key().get(key) || field.value().get(value)) return false;
      if (std::find(fields_.begin(), fields_.end(), key) == fields_.end()) continue;
      std::string_view text;
      if (value.get_string().get(text) || text.empty()) continue;  // not a string: not a field
      if (!out.empty()) out += " \x1f ";
      append_normalized(text, out);
    }
    return true;
  }

 private:
  void append_normalized(std::string_view utf8, std::string& out) {
    UErrorCode status = U_ZERO_ERROR;
    utf16_.resize(utf8.size() + 1);  // never more UTF-16 units than UTF-8 bytes
    int32_t length = 0;
    u_strFromUTF8WithSub(utf16_.data(), static_cast<int32_t>(utf16_.size()), &length, utf8.data(),
                         static_cast<int32_t>(utf8.size()), 0xFFFD, nullptr, &status);
    const icu::UnicodeString source(false, utf16_.data(), length);  // a read-only alias, no copy
    nfkc_casefold_->normalize(source, folded_, status);
    if (U_FAILURE(status)) return;
    // Back to UTF-8 with white-space runs folded, in one pass into room made up front (3 bytes
    // a UTF-16 unit at most); ASCII, almost all of it, without a call per character.
    const char16_t* s = folded_.getBuffer();
    const int32_t n = folded_.length();
    const size_t from = out.size();
    out.resize(from + 3 * static_cast<size_t>(n));
    char* w = out.data() + from;
    bool in_space = false;
    for (int32_t i = 0; i < n;) {
      UChar32 c = s[i];
      if (c < 0x80) {
        ++i;
        const bool space = c == ' ' || (c >= '\t' && c <= '\r');
        if (space && in_space) continue;
        *w++ = space ? ' ' : static_cast<char>(c);
        in_space = space;
        continue;
      }
      U16_NEXT(s, i, n, c);
      if (u_isUWhiteSpace(c)) {
        if (!in_space) *w++ = ' ';
        in_space = true;
        continue;
      }
      in_space = false;
      int32_t k = 0;
      U8_APPEND_UNSAFE(w, k, c);
      w += k;
    }
    out.resize(static_cast<size_t>(w - out.data()));
  }

  std::vector<std::string> fields_;
  const icu::Normalizer2* nfkc_casefold_ = nullptr;
  simdjson::ondemand::parser parser_;
  std::string padded_;
  std::vector<UChar> utf16_;
  icu::UnicodeString folded_;
};

// Every distinct literal term in one Hyperscan database (hs_compile_lit_multi: no escaping, no
// flags, as the text is folded already), each term's id its index; null when it cannot compile.
hs_database_t* compile_literal_terms(const std::vector<std::string>& terms, double& seconds) {
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags(terms.size(), 0);
  std::vector<unsigned> ids;
  for (size_t i = 0; i < terms.size(); ++i) {
    expressions.push_back(terms[i].data());
    lengths.push_back(terms[i].size());
    ids.push_back(static_cast<unsigned>(i));
  }
  const auto started = Clock::now();
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                           static_cast<unsigned>(terms.size()), HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
    std::printf("hs_compile_lit_multi failed: %s\n", error && error->message ? error->message : "?");
    hs_free_compile_error(error);
    return nullptr;
  }
  seconds = seconds_since(started);
  return db;
}

// Hyperscan's count of one text: every occurrence (Lodestone needs them all), and whether any.
struct Occurrences {
  uint64_t occurrences = 0;
  uint64_t texts_with_one = 0;
  void scan(const hs_database_t* db, hs_scratch_t* scratch, std::string_view text) {
    uint64_t found = 0;
    hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, count_match, &found);
    occurrences += found;
    texts_with_one += found > 0;
  }
};

// ---- Cross-check ----------------------------------------------------------------------------

struct LiteralRule {
  uint32_t rule;
  std::vector<uint32_t> terms;
};

// Collects the terms of a query made of kTerm, kAny, kOr and kEntities only; "" or why not.
std::string literal_terms(const RuleSetData& d, uint32_t node, std::vector<uint32_t>& terms) {
  const Node& n = d.nodes[node];
  switch (n.kind) {
    case Node::Kind::kTerm:
      terms.push_back(n.term);
      return "";
    case Node::Kind::kEntities:
      for (uint32_t i = 0; i < n.child_count; ++i) terms.push_back(d.entity_terms[n.first + i].term);
      return "";
    case Node::Kind::kAny:
    case Node::Kind::kOr:
      for (uint32_t i = 0; i < n.child_count; ++i) {
        std::string why = literal_terms(d, d.children[n.first + i], terms);
        if (!why.empty()) return why;
      }
      return "";
    default:
      return "query uses AND, NOT, NEAR or ATLEAST";
  }
}

// Whether a term can be checked on the peer text: "" or why not.
std::string peer_checkable(const RuleSetData& d, const lodestone::compiled::Term& t, int peer_form,
                           const std::map<std::string, JoinedField>& joined) {
  const auto& p = d.patterns[t.pattern];
  if (p.is_regex) return "a regex term";
  if (p.form != peer_form) return "a term of another form than the peer's";
  if (t.exclude_count) return "entity exclude phrases";
  for (const auto& [name, f] : joined) {
    if (!t.scope.contains(f.field_id, f.is_text)) return "a term scoped to fewer fields than the peer text joins";
  }
  return "";
}

struct CrosscheckResult {
  size_t rules = 0;
  size_t differ = 0;
};

CrosscheckResult crosscheck(const std::shared_ptr<const lodestone::RuleSet>& rule_set, const Corpus& c,
                            const PeerTerms& pt, const re2::RE2::Set* re2_set) {
  const RuleSetData& d = rule_set->data();
  CrosscheckResult out;
  std::printf("\ncross-check (Lodestone's alerts vs literal hits in the peer text, form %d):\n", pt.form);
  if (!re2_set) {
    std::printf("  skipped: no RE2::Set to find candidate terms\n");
    return out;
  }
  std::vector<LiteralRule> rules;
  std::vector<int> literal_index(d.rules.size(), -1);
  std::map<std::string, size_t> skipped;
  for (uint32_t r = 0; r < d.rules.size(); ++r) {
    LiteralRule lr{r, {}};
    std::string why = literal_terms(d, d.rules[r].root, lr.terms);
    for (size_t i = 0; why.empty() && i < lr.terms.size(); ++i) {
      why = peer_checkable(d, d.terms[lr.terms[i]], pt.form, c.joined_fields);
    }
    if (!why.empty()) {
      ++skipped[why];
      continue;
    }
    std::sort(lr.terms.begin(), lr.terms.end());
    lr.terms.erase(std::unique(lr.terms.begin(), lr.terms.end()), lr.terms.end());
    literal_index[r] = static_cast<int>(rules.size());
    rules.push_back(std::move(lr));
  }
  out.rules = rules.size();
  std::printf("  rules compared: %zu of %zu\n", rules.size(), d.rules.size());
  for (const auto& [why, n] : skipped) std::printf("  rules skipped: %zu (%s)\n", n, why.c_str());
  std::printf("  fields joined in the peer text:");
  for (const auto& [name, f] : c.joined_fields) std::printf(" %s", name.c_str());
  std::printf("\n");
  if (rules.empty()) return out;

  // term -> literal rules that use it
  std::vector<std::vector<uint32_t>> rules_of_term(d.terms.size());
  for (uint32_t i = 0; i < rules.size(); ++i) {
    for (uint32_t t : rules[i].terms) rules_of_term[t].push_back(i);
  }

  // Lodestone: the real Scanner.
  std::unordered_map<std::string, uint32_t> rule_by_id;
  for (uint32_t r = 0; r < d.rules.size(); ++r) rule_by_id.emplace(d.rules[r].id, r);
  std::set<std::pair<uint32_t, uint32_t>> lodestone_alerts;  // (literal rule, post)
  std::set<uint32_t> lodestone_posts;
  lodestone::Scanner scanner(rule_set);
  for (uint32_t p = 0; p < c.posts.size(); ++p) {
    for (const auto& alert : scanner.scan(c.posts[p])) {
      const int li = literal_index[rule_by_id.at(alert.rule.id)];
      if (li < 0) continue;
      lodestone_alerts.emplace(static_cast<uint32_t>(li), p);
      lodestone_posts.insert(p);
    }
  }

  // The peer: candidates from RE2::Set, then every occurrence of those terms with the boundaries.
  const Normalizer& norm = Normalizer::instance();
  std::set<std::pair<uint32_t, uint32_t>> peer_alerts;
  std::set<uint32_t> peer_posts;
  std::vector<int> ids;
  for (uint32_t p = 0; p < c.posts.size(); ++p) {
    const std::string_view text = c.peer_texts[p];
    ids.clear();
    re2_set->Match(text, &ids);
    for (int id : ids) {
      const int pattern = pt.pattern_of_term[static_cast<size_t>(id)];
      if (pattern < 0) continue;
      const std::string& term = pt.terms[static_cast<size_t>(id)];
      // ok[need_left][need_right]: some occurrence passes those boundary checks.
      bool ok[2][2] = {{false, false}, {false, false}};
      for (size_t at = text.find(term); at != std::string_view::npos; at = text.find(term, at + 1)) {
        const size_t end = at + term.size();
        const bool left_free = at == 0 || !norm.is_word_char(lodestone::decode_utf8_before(text, at));
        const bool right_free = end == text.size() || !norm.is_word_char(lodestone::decode_utf8_at(text, end));
        ok[0][0] = true;
        ok[1][0] = ok[1][0] || left_free;
        ok[0][1] = ok[0][1] || right_free;
        ok[1][1] = ok[1][1] || (left_free && right_free);
      }
      const auto u = static_cast<uint32_t>(pattern);
      for (uint32_t i = d.pattern_term_start[u]; i < d.pattern_term_start[u + 1]; ++i) {
        const uint32_t t = d.pattern_terms[i];
        const auto& term_info = d.terms[t];
        if (!ok[term_info.need_left_boundary][term_info.need_right_boundary]) continue;
        for (uint32_t li : rules_of_term[t]) {
          peer_alerts.emplace(li, p);
          peer_posts.insert(p);
        }
      }
    }
  }

  std::vector<std::pair<std::pair<uint32_t, uint32_t>, const char*>> differences;
  for (const auto& a : lodestone_alerts) {
    if (!peer_alerts.count(a)) differences.push_back({a, "Lodestone only"});
  }
  for (const auto& a : peer_alerts) {
    if (!lodestone_alerts.count(a)) differences.push_back({a, "peer only"});
  }
  std::set<uint32_t> differing_posts;
  for (const auto& [a, side] : differences) differing_posts.insert(a.second);
  out.differ = differences.size();
  std::printf(
      "  posts alerting (on a compared rule): Lodestone %zu, peer check %zu; (rule, post) alerts: "
      "Lodestone %zu, peer check %zu\n",
      lodestone_posts.size(), peer_posts.size(), lodestone_alerts.size(), peer_alerts.size());
  std::printf("  differences: %zu (rule, post) pairs in %zu posts\n", differences.size(), differing_posts.size());
  for (size_t i = 0; i < differences.size() && i < 5; ++i) {
    const auto& [a, side] = differences[i];
    std::printf("    %s: post %s, rule %s\n", side, c.posts[a.second].id.c_str(),
                d.rules[rules[a.first].rule].id.c_str());
  }
  return out;
}

bool write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << '\n';
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);

  // Rules.
  lodestone::LoadOptions load_options;
  load_options.cache_dir = opt.cache_dir;
  auto started = Clock::now();
  lodestone::LoadResult loaded = lodestone::load_rule_set(opt.rules, load_options);
  if (!loaded.rule_set) {
    std::cerr << lodestone::format_diagnostics(loaded.diagnostics);
    std::fprintf(stderr, "bench_core: the rule set did not load\n");
    return 2;
  }
  const double load_seconds = seconds_since(started);
  const RuleSetData& d = loaded.rule_set->data();
  const PeerTerms pt = peer_terms(d);
  std::printf("rules: %zu rules, %zu terms, %zu patterns (%zu regex) loaded in %.3f s%s\n", d.rules.size(),
              d.terms.size(), d.patterns.size(), pt.regexes, load_seconds,
              d.stats.from_cache ? " (databases from the cache)" : "");
  std::printf("literal patterns per form:");
  for (int form = 0; form < kForms; ++form) {
    if (pt.literals_per_form[form] || d.databases[form]) {
      std::printf(" form %d: %zu%s;", form, pt.literals_per_form[form], d.databases[form] ? "" : " (no database)");
    }
  }
  std::printf("\n");

  // Posts, normalized untimed.
  Corpus c;
  if (!read_posts(opt.posts, c)) {
    std::fprintf(stderr, "bench_core: cannot read %s\n", opt.posts.c_str());
    return 2;
  }
  started = Clock::now();
  normalize_corpus(d, pt.form, c);
  const double first_normalize = seconds_since(started);
  std::printf("posts: %zu from %s (%.1f MB of JSONL); %zu buffers, %.1f MB normalized (untimed, maps too: %.3f s)\n",
              c.posts.size(), opt.posts.c_str(), static_cast<double>(c.input_bytes) / 1e6, c.buffers.size(),
              static_cast<double>(c.normalized_bytes) / 1e6, first_normalize);
  if (c.newlines_replaced)
    std::printf("peer text: %zu newlines left by normalization, replaced by spaces\n", c.newlines_replaced);
  std::vector<Result> results;

  // Ceiling 1: Hyperscan alone.
  hs_scratch_t* scratch = nullptr;
  for (hs_database_t* db : d.databases) {
    if (db && hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
      std::fprintf(stderr, "bench_core: cannot allocate Hyperscan scratch\n");
      return 2;
    }
  }
  uint64_t hs_hits = 0;
  const double hs_seconds = median_seconds(opt.repeat, [&] {
    hs_hits = 0;
    for (const Buffer& b : c.buffers) {
      hs_scan(d.databases[b.form], b.text.data(), static_cast<unsigned>(b.text.size()), 0, scratch, count_match,
              &hs_hits);
    }
  });
  results.push_back(make_result("hs_alone", hs_seconds, c, c.normalized_bytes, hs_hits));

  // The same bytes in one hs_scan call per form (the buffers of a form joined by '\n'): beside
  // hs_alone, what Hyperscan's fixed cost per call adds up to. A match across the join would
  // count one hit more; the hits printed for both show whether any did.
  {
    std::array<std::string, kForms> joined;
    for (const Buffer& b : c.buffers) (joined[b.form] += b.text) += '\n';
    uint64_t one_call_hits = 0;
    const double one_call_seconds = median_seconds(opt.repeat, [&] {
      one_call_hits = 0;
      for (int form = 0; form < kForms; ++form) {
        if (joined[form].empty()) continue;
        hs_scan(d.databases[form], joined[form].data(), static_cast<unsigned>(joined[form].size()), 0, scratch,
                count_match, &one_call_hits);
      }
    });
    results.push_back(make_result("hs_one_call", one_call_seconds, c, c.normalized_bytes, one_call_hits));
    const double per_call_ns = (hs_seconds - one_call_seconds) / static_cast<double>(c.buffers.size()) * 1e9;
    std::printf("hs_scan calls: %zu (one per field and form) take %.3f s; the same bytes in one call per form "
                "%.3f s: %.0f ns a call of fixed cost\n",
                c.buffers.size(), hs_seconds, one_call_seconds, per_call_ns);
  }
  hs_free_scratch(scratch);

  // Ceiling 2: memchr for a byte that valid UTF-8 never holds.
  constexpr int kAbsent = 0xff;
  uint64_t memchr_hits = 0;
  const double memchr_seconds = median_seconds(opt.repeat, [&] {
    memchr_hits = 0;
    for (const Buffer& b : c.buffers) memchr_hits += std::memchr(b.text.data(), kAbsent, b.text.size()) != nullptr;
  });
  results.push_back(make_result("memchr", memchr_seconds, c, c.normalized_bytes, memchr_hits));

  // What the ceiling leaves out (parsing aside): the whole Scanner, normalizing and evaluating.
  {
    lodestone::Scanner scanner(loaded.rule_set);
    scanner.set_clock_override("2000-01-01T00:00:00Z");
    uint64_t alerts = 0;
    const double scan_seconds = median_seconds(opt.repeat, [&] {
      alerts = 0;
      for (const Post& post : c.posts) alerts += scanner.scan(post).size();
    });
    results.push_back(make_result("scanner", scan_seconds, c, c.normalized_bytes, alerts));
  }

  std::printf("\nceiling: median of %d runs; MB/s over the JSONL input and over the normalized buffers\n", opt.repeat);
  print_result(results[0], "matches", "norm");
  print_result(results[1], "found (none expected)", "norm");
  print_result(results[2], "alerts (Scanner::scan, posts in memory)", "norm");

  // Peers.
  std::printf(
      "\npeers: form %d, %zu distinct literal terms (%zu of them in the peer form), %zu regex patterns "
      "excluded, %.1f MB of peer text\n",
      pt.form, pt.terms.size(), pt.form >= 0 ? pt.literals_per_form[pt.form] : 0, pt.regexes,
      static_cast<double>(c.peer_bytes) / 1e6);
  if (pt.decode_mismatches)
    std::printf("WARNING: %zu literal patterns decoded to a length other than literal_bytes\n", pt.decode_mismatches);
  if (!opt.peer_text.empty() && !write_lines(opt.peer_text, c.peer_texts)) {
    std::fprintf(stderr, "bench_core: cannot write %s\n", opt.peer_text.c_str());
    return 2;
  }
  if (!opt.peer_terms.empty() && !write_lines(opt.peer_terms, pt.terms)) {
    std::fprintf(stderr, "bench_core: cannot write %s\n", opt.peer_terms.c_str());
    return 2;
  }

  std::unique_ptr<re2::RE2::Set> re2_set;
  uint64_t re2_posts = 0;
  bool have_re2 = false;
  if (!pt.terms.empty()) {
    re2::RE2::Options ro;
    ro.set_literal(true);
    ro.set_log_errors(false);
    ro.set_max_mem(int64_t{4} << 30);
    re2_set = std::make_unique<re2::RE2::Set>(ro, re2::RE2::UNANCHORED);
    size_t add_failures = 0;
    started = Clock::now();
    for (const auto& t : pt.terms) {
      std::string error;
      if (re2_set->Add(t, &error) < 0) ++add_failures;
    }
    const bool compiled = add_failures == 0 && re2_set->Compile();
    const double compile_seconds = seconds_since(started);
    Result rc;
    rc.name = "re2_compile";
    rc.seconds = compile_seconds;
    rc.hits = pt.terms.size();
    rc.extra = compiled ? " ok=1" : " ok=0";
    results.push_back(rc);
    std::printf("re2_compile %.3f s for %zu terms%s\n", compile_seconds, pt.terms.size(),
                compiled       ? ""
                : add_failures ? " FAILED: some terms could not be added"
                               : " FAILED: RE2::Set::Compile returned false (out of memory?)");
    if (compiled) {
      std::vector<int> ids;
      uint64_t failures = 0;
      const double s = median_seconds(opt.repeat, [&] {
        re2_posts = 0;
        failures = 0;
        for (const auto& text : c.peer_texts) {
          re2::RE2::Set::ErrorInfo info{};
          if (re2_set->Match(text, &ids, &info)) {
            ++re2_posts;
          } else if (info.kind != re2::RE2::Set::kNoError) {
            ++failures;
          }
        }
      });
      results.push_back(make_result("re2_set", s, c, c.peer_bytes, re2_posts));
      if (failures) {
        std::printf("re2_set: Match failed on %llu posts (DFA out of memory?): its count is low\n",
                    static_cast<unsigned long long>(failures));
        results.back().extra = " failed_posts=" + std::to_string(failures);
      }
      print_result(results.back(), "posts with a hit", "peer");
      have_re2 = failures == 0;
    } else {
      re2_set.reset();
    }
  } else {
    std::printf("peers skipped: no literal terms\n");
  }

  bool have_naive = false;
  uint64_t naive_posts = 0;
  if (!pt.terms.empty() && pt.terms.size() <= opt.naive_max_terms) {
    std::vector<std::string_view> terms(pt.terms.begin(), pt.terms.end());
    uint64_t occurrences = 0;
    const double s = median_seconds(opt.repeat, [&] {
      naive_posts = 0;
      occurrences = 0;
      for (const std::string_view text : c.peer_texts) {
        uint64_t found = 0;
        for (const std::string_view term : terms) {
          for (size_t at = text.find(term); at != std::string_view::npos; at = text.find(term, at + 1)) ++found;
        }
        occurrences += found;
        naive_posts += found > 0;
      }
    });
    results.push_back(make_result("naive", s, c, c.peer_bytes, naive_posts));
    results.back().extra = " occurrences=" + std::to_string(occurrences);
    print_result(results.back(), "posts with a hit", "peer");
    std::printf("naive: %llu occurrences in all\n", static_cast<unsigned long long>(occurrences));
    have_naive = true;
  } else if (!pt.terms.empty()) {
    std::printf("naive skipped: %zu terms > --naive-max-terms %zu (it would take terms x text finds)\n",
                pt.terms.size(), opt.naive_max_terms);
  }
  if (have_re2 && have_naive) {
    if (re2_posts == naive_posts) {
      std::printf("posts with any hit agree: RE2::Set %llu, naive %llu\n", static_cast<unsigned long long>(re2_posts),
                  static_cast<unsigned long long>(naive_posts));
    } else {
      std::printf("MISMATCH: posts with any hit: RE2::Set %llu, naive %llu\n",
                  static_cast<unsigned long long>(re2_posts), static_cast<unsigned long long>(naive_posts));
    }
  }

  // Hyperscan as a peer: the same literal terms in one database, over the same peer text as
  // RE2::Set (hs_peer), then the hand-built peer end to end (icu_prepare alone, then with RE2::Set
  // and with Hyperscan): parsing and normalizing are timed, the cost of exactness beside the cost
  // of speed.
  if (!pt.terms.empty()) {
    double compile_seconds = 0;
    hs_database_t* literal_db = compile_literal_terms(pt.terms, compile_seconds);
    hs_scratch_t* peer_scratch = nullptr;
    if (literal_db && hs_alloc_scratch(literal_db, &peer_scratch) != HS_SUCCESS) {
      std::fprintf(stderr, "bench_core: cannot allocate Hyperscan scratch\n");
      return 2;
    }
    if (literal_db) {
      Result rc;
      rc.name = "hs_peer_compile";
      rc.seconds = compile_seconds;
      rc.hits = pt.terms.size();
      results.push_back(rc);
      Occurrences found;
      const double s = median_seconds(opt.repeat, [&] {
        found = {};
        for (const auto& text : c.peer_texts) found.scan(literal_db, peer_scratch, text);
      });
      results.push_back(make_result("hs_peer", s, c, c.peer_bytes, found.texts_with_one));
      results.back().extra = " occurrences=" + std::to_string(found.occurrences);
      print_result(results.back(), "posts with a hit", "peer");
      if (have_re2 && found.texts_with_one != re2_posts)
        std::printf("MISMATCH: posts with any hit: RE2::Set %llu, Hyperscan %llu\n",
                    static_cast<unsigned long long>(re2_posts),
                    static_cast<unsigned long long>(found.texts_with_one));
    }

    IcuPeerText icu(c.joined_fields);
    std::string text;
    uint64_t unparsed = 0;
    uint64_t icu_bytes = 0;
    auto each_text = [&](auto&& match) {
      unparsed = 0;
      icu_bytes = 0;
      for (const auto& line : c.lines) {
        if (!icu.make(line, text)) {
          ++unparsed;
          continue;
        }
        icu_bytes += text.size();
        match(std::string_view(text));
      }
    };
    const double prepare_seconds = median_seconds(opt.repeat, [&] { each_text([](std::string_view) {}); });
    results.push_back(make_result("icu_prepare", prepare_seconds, c, icu_bytes, c.lines.size() - unparsed));
    print_result(results.back(), "posts parsed and normalized (simdjson + ICU, no matching)", "icu");
    if (unparsed) std::printf("icu_prepare: %llu lines not parsed\n", static_cast<unsigned long long>(unparsed));
    if (re2_set) {
      std::vector<int> ids;
      uint64_t posts = 0;
      const double s = median_seconds(opt.repeat, [&] {
        posts = 0;
        each_text([&](std::string_view t) { posts += re2_set->Match(t, &ids); });
      });
      results.push_back(make_result("re2_set_icu", s, c, icu_bytes, posts));
      print_result(results.back(), "posts with a hit", "icu");
    }
    if (literal_db) {
      Occurrences found;
      const double s = median_seconds(opt.repeat, [&] {
        found = {};
        each_text([&](std::string_view t) { found.scan(literal_db, peer_scratch, t); });
      });
      results.push_back(make_result("hs_icu", s, c, icu_bytes, found.texts_with_one));
      results.back().extra = " occurrences=" + std::to_string(found.occurrences);
      print_result(results.back(), "posts with a hit", "icu");
    }
    hs_free_scratch(peer_scratch);
    hs_free_database(literal_db);
  }

  CrosscheckResult cc;
  if (opt.crosscheck) cc = crosscheck(loaded.rule_set, c, pt, have_re2 ? re2_set.get() : nullptr);

  std::printf("\n");
  for (const Result& r : results) {
    std::printf("result name=%s seconds=%.6f input_mb_s=%.2f norm_mb_s=%.2f posts_s=%.1f hits=%llu%s\n", r.name.c_str(),
                r.seconds, r.input_mb_s, r.norm_mb_s, r.posts_s, static_cast<unsigned long long>(r.hits),
                r.extra.c_str());
  }
  if (opt.crosscheck) std::printf("crosscheck rules=%zu differ=%zu\n", cc.rules, cc.differ);
  return 0;
}
