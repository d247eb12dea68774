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
//   naive      std::string_view::find of every term in every peer text (few terms only).
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
// alerts (scanner), posts with any term as a substring (re2_set, naive), terms (re2_compile).
// norm_mb_s is over the normalized buffers for hs_alone, memchr and scanner, and over the peer
// text for re2_set and naive. bench/peers/ahocorasick_peer.py is the Python peer.
#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>

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

#include "text/normalizer.h"
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
using Clock = std::chrono::steady_clock;

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

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Runs f `repeat` times; the median of the wall times.
template <class F>
double median_seconds(int repeat, F&& f) {
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto t = Clock::now();
    f();
    times.push_back(seconds_since(t));
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
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

// Whether Matcher::match scans this field (engine/matcher.cpp).
bool scanned_field(const RuleSetData& d, bool scan_text_fields, const lodestone::PostField& f, int& id, bool& is_text) {
  id = d.field_id(f.name);
  is_text = !lodestone::is_metadata_field(f.name);
  if (!(is_text && scan_text_fields) && id < 0) return false;
  return !f.text.empty();
}

bool scans_text_fields(const RuleSetData& d) {
  for (const auto& t : d.terms) {
    if (t.scope.text_fields) return true;
  }
  return false;
}

// One post's fields, each form normalized as Matcher::match does (engine/matcher.cpp): the name form derived from
// its base form with fold_names when the base form has a database too. Calls emit(form, text,
// field_name, field_id, is_text) for each non-empty text.
template <class Emit>
void normalize_post(const RuleSetData& d, bool scan_text_fields, const Post& post,
                    std::array<NormalizedText, kForms>& norm, Emit&& emit) {
  const Normalizer& normalizer = Normalizer::instance();
  for (const auto& f : post.fields()) {
    int id = -1;
    bool is_text = false;
    if (!scanned_field(d, scan_text_fields, f, id, is_text)) continue;
    for (int form = 0; form < kForms; ++form) {
      if (!d.databases[form]) continue;
      NormalizedText& nt = norm[form];
      const int base = lodestone::base_form(form);
      if (form != base && d.databases[base]) {
        normalizer.fold_names(norm[base], nt);
      } else {
        normalizer.normalize(f.text, NormalizeOptions::from_form(form), nt);
      }
      if (nt.text.empty()) continue;
      emit(form, nt.text, f.name, id, is_text);
    }
  }
}

void normalize_corpus(const RuleSetData& d, int peer_form, Corpus& c) {
  const bool text_fields = scans_text_fields(d);
  std::array<NormalizedText, kForms> norm;
  c.peer_texts.resize(c.posts.size());
  for (size_t p = 0; p < c.posts.size(); ++p) {
    std::string& peer = c.peer_texts[p];
    normalize_post(d, text_fields, c.posts[p], norm,
                   [&](int form, const std::string& text, const std::string& name, int id, bool is_text) {
                     c.buffers.push_back({text, static_cast<uint8_t>(form)});
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

// The bytes of a literal pattern: rules/compiler.cpp's literal_expression() writes ASCII
// punctuation and space as \xHH and every other byte as itself.
std::string decode_literal(const std::string& expression) {
  std::string out;
  for (size_t i = 0; i < expression.size(); ++i) {
    if (expression[i] == '\\' && i + 3 < expression.size() && expression[i + 1] == 'x') {
      out += static_cast<char>(std::strtol(expression.substr(i + 2, 2).c_str(), nullptr, 16));
      i += 3;
    } else {
      out += expression[i];
    }
  }
  return out;
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
