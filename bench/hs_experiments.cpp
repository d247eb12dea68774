// hs_experiments: what bounds Hyperscan on a rule set, and what other ways of building its
// databases would give, over the very bytes Lodestone scans (BENCHMARKS.md, "Hyperscan on W3").
//
// Loads a rule set and a JSONL file, normalizes every post untimed as Matcher::match does (each
// scanned field in each form that has a database), then prints
//   - the patterns of each form: literal lengths in bytes, and regexes;
//   - the hits of the rule set's own databases: per post, per pattern (the most frequent ones),
//     and per literal length;
//   - a table of experiments, each one pass over all the buffers, timed in CPU time of the thread,
//     the median of --repeat rounds that each run every experiment once (interleaved, so a change
//     in the load of a shared machine falls on all alike): the rule set's databases as loaded (with
//     a counting, a no-op and a Lodestone-like callback, and form by form), then the same patterns
//     built other ways (hs_compile_lit_multi, no HS_FLAG_UTF8, HS_FLAG_SINGLEMATCH, streaming and
//     vectored modes), split into two databases per form (the short literals or the most frequent
//     ones alone, each buffer scanned by both), each half alone, and random shares of the patterns.
// A name form of many literals is loaded reversed (RuleSetData::reversed) and scanned over its
// text reversed, as Matcher::match does; every other way here builds the patterns forward.
// A row whose hits differ from the loaded databases' says so: SINGLEMATCH reports a pattern once
// per buffer, and a half alone finds only its own patterns.
//
//   hs_experiments --rules bench/rules/ofac.toml --posts ../shared/corpus/reuters21578.jsonl
//                  [--cache-dir DIR] [--repeat 5] [--top 20] [--only loaded,lit_multi]
// --only builds and runs the experiments named (for callgrind, whose counts are repeatable where
// times on a shared machine are not: one round under callgrind takes minutes, not a second).
#include <hs/hs.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_common.h"
#include "engine/post_reader.h"
#include "lodestone/rule_set.h"
#include "rules/compiled.h"

namespace {

using lodestone::NormalizedText;
using lodestone::Post;
using lodestone::bench::Clock;
using lodestone::bench::decode_literal;
using lodestone::bench::seconds_since;
using lodestone::compiled::kForms;
using lodestone::compiled::Pattern;
using lodestone::compiled::RuleSetData;

struct Options {
  std::vector<std::string> rules;
  std::string posts;
  std::string cache_dir;
  int repeat = 5;
  size_t top = 20;
  std::vector<std::string> only;  // experiments to run; all when empty
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "hs_experiments: %s\n"
               "usage: hs_experiments --rules PATH [--rules PATH ...] --posts FILE.jsonl [--cache-dir DIR]\n"
               "                      [--repeat N] [--top N] [--only NAME,NAME...]\n",
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
    auto number = [&]() -> long {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1) usage(("bad number after " + std::string(a) + ": " + v).c_str());
      return n;
    };
    if (a == "--rules") {
      o.rules.push_back(value());
    } else if (a == "--posts") {
      o.posts = value();
    } else if (a == "--cache-dir") {
      o.cache_dir = value();
    } else if (a == "--repeat") {
      o.repeat = static_cast<int>(number());
    } else if (a == "--top") {
      o.top = static_cast<size_t>(number());
    } else if (a == "--only") {
      const std::string names = value();
      for (size_t from = 0; from <= names.size();) {
        const size_t to = std::min(names.find(',', from), names.size());
        if (to > from) o.only.push_back(names.substr(from, to - from));
        from = to + 1;
      }
    } else {
      usage(("unknown option " + std::string(a)).c_str());
    }
  }
  if (o.rules.empty()) usage("--rules is required");
  if (o.posts.empty()) usage("--posts is required");
  return o;
}

// One scanned text: a field of a post normalized in one form.
struct Buffer {
  std::string text;
  uint8_t form;
  uint32_t post;
  std::string reversed;  // the text reversed when the loaded database of its form is (else empty)
  // What the rule set's own (loaded) database of the form scans: Matcher::match reverses the text
  // of a form whose database holds its literals reversed (RuleSetData::reversed).
  const std::string& as_loaded() const { return reversed.empty() ? text : reversed; }
};

struct Corpus {
  size_t posts = 0;
  uint64_t input_bytes = 0;
  std::vector<Buffer> buffers;  // a post's buffers are next to each other
  uint64_t normalized_bytes = 0;
};

bool read_corpus(const std::string& path, const RuleSetData& d, Corpus& c) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  lodestone::PostReader reader;
  Post post;
  std::string line;
  std::string error;
  const bool text_fields = lodestone::bench::scans_text_fields(d);
  std::array<NormalizedText, kForms> norm;
  while (std::getline(in, line)) {
    c.input_bytes += line.size() + 1;
    if (reader.parse_line(line, path, post, error) != lodestone::LineOutcome::kPost) continue;
    lodestone::bench::normalize_post(d, text_fields, post, norm,
                                     [&](int form, const std::string& text, const std::string&, int, bool) {
                                       c.buffers.push_back({text, static_cast<uint8_t>(form),
                                                            static_cast<uint32_t>(c.posts),
                                                            d.reversed[form] ? std::string(text.rbegin(), text.rend())
                                                                             : std::string()});
                                       c.normalized_bytes += text.size();
                                     });
    ++c.posts;
  }
  return true;
}

// ---- Databases built from the rule set's patterns ----------------------------------------------

struct DatabaseFree {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using Database = std::unique_ptr<hs_database_t, DatabaseFree>;

// How to build a database from some of a form's patterns.
enum class Build {
  kAsLodestone,   // hs_compile_multi, escaped literals with HS_FLAG_UTF8 (rules/compiler.cpp, a form read forward)
  kNoUtf8,        // the same without HS_FLAG_UTF8 on literals
  kSingleMatch,   // the same with HS_FLAG_SINGLEMATCH on literals
  kLiteralMulti,  // hs_compile_lit_multi over the decoded bytes (literals only)
};

// rules/compiler.cpp's regex_flags(): what every way here keeps for a regex.
unsigned regex_flags(int form) {
  const bool fold_case = lodestone::NormalizeOptions::from_form(form).fold_case;
  return HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_SOM_LEFTMOST | (fold_case ? HS_FLAG_CASELESS : 0u);
}

// A database of `patterns` (indices into d.patterns, all of one form), the pattern index its id;
// null when Hyperscan refuses it (the reason printed). kLiteralMulti needs literals only.
Database build(const RuleSetData& d, const std::vector<uint32_t>& patterns, Build how, unsigned mode, double& seconds) {
  std::vector<std::string> decoded;
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  decoded.reserve(patterns.size());
  for (uint32_t i : patterns) {
    const Pattern& p = d.patterns[i];
    ids.push_back(i);
    if (how == Build::kLiteralMulti) {
      decoded.push_back(decode_literal(p.expression));
      expressions.push_back(decoded.back().data());
      lengths.push_back(decoded.back().size());
      flags.push_back(0);
      continue;
    }
    expressions.push_back(p.expression.c_str());
    unsigned f = p.is_regex ? regex_flags(p.form) : how == Build::kNoUtf8 ? 0u : HS_FLAG_UTF8;
    if (how == Build::kSingleMatch && !p.is_regex) f |= HS_FLAG_SINGLEMATCH;
    flags.push_back(f);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  const auto started = Clock::now();
  const auto n = static_cast<unsigned>(ids.size());
  const hs_error_t rc =
      how == Build::kLiteralMulti
          ? hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(), n, mode, nullptr, &db,
                                 &error)
          : hs_compile_multi(expressions.data(), flags.data(), ids.data(), n, mode, nullptr, &db, &error);
  seconds = seconds_since(started);
  if (rc != HS_SUCCESS) {
    std::printf("  (build failed: %s)\n", error && error->message ? error->message : "?");
    hs_free_compile_error(error);
    return nullptr;
  }
  return Database(db);
}

size_t database_bytes(const hs_database_t* db) {
  size_t size = 0;
  return db && hs_database_size(db, &size) == HS_SUCCESS ? size : 0;
}

// ---- Callbacks ----------------------------------------------------------------------------------

int count_hit(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

int ignore_hit(unsigned int, unsigned long long, unsigned long long, unsigned int, void*) { return 0; }

// What Lodestone's Matcher::on_match does per hit, less its rule bookkeeping: the start from the
// literal's length, both neighbouring characters decoded and classified, the hit stored.
struct LodestoneLikeHits {
  struct Hit {
    uint32_t pattern, start, end;
    bool prev_word, next_word;
  };
  const RuleSetData* d = nullptr;
  const std::string* text = nullptr;
  std::vector<Hit> hits;
};

int store_hit(unsigned int id, unsigned long long, unsigned long long to, unsigned int, void* ctx) {
  auto& h = *static_cast<LodestoneLikeHits*>(ctx);
  const Pattern& p = h.d->patterns[id];
  const auto end = static_cast<uint32_t>(to);
  const uint32_t start = end - p.literal_bytes;
  const std::string& t = *h.text;
  const lodestone::Normalizer& norm = lodestone::Normalizer::instance();
  h.hits.push_back({id, start, end, start > 0 && norm.is_word_char(lodestone::decode_utf8_before(t, start)),
                    end < t.size() && norm.is_word_char(lodestone::decode_utf8_at(t, end))});
  return 0;
}

// ---- Statistics of the loaded databases' hits -----------------------------------------------------

const char* length_bucket(size_t bytes) {
  static const char* const kNames[] = {"1-3", "4", "5", "6", "7", "8", "9-12", "13-16", "17-24", "25+"};
  const size_t i = bytes <= 3 ? 0 : bytes <= 8 ? bytes - 3 : bytes <= 12 ? 6 : bytes <= 16 ? 7 : bytes <= 24 ? 8 : 9;
  return kNames[i];
}

constexpr const char* kBucketOrder[] = {"1-3", "4", "5", "6", "7", "8", "9-12", "13-16", "17-24", "25+"};

std::vector<uint64_t> pattern_hits(const RuleSetData& d, const Corpus& c, hs_scratch_t* scratch,
                                   std::vector<uint32_t>& per_post) {
  std::vector<uint64_t> hits(d.patterns.size(), 0);
  per_post.assign(c.posts, 0);
  struct Ctx {
    std::vector<uint64_t>* hits;
    uint32_t* post;
  };
  for (const Buffer& b : c.buffers) {
    Ctx ctx{&hits, &per_post[b.post]};
    hs_scan(
        d.databases[b.form], b.as_loaded().data(), static_cast<unsigned>(b.as_loaded().size()), 0, scratch,
        [](unsigned int id, unsigned long long, unsigned long long, unsigned int, void* p) {
          auto& x = *static_cast<Ctx*>(p);
          ++(*x.hits)[id];
          ++*x.post;
          return 0;
        },
        &ctx);
  }
  return hits;
}

void print_statistics(const RuleSetData& d, const Corpus& c, hs_scratch_t* scratch, size_t top,
                      std::vector<uint64_t>& hits) {
  std::printf("\npatterns by form and literal length (bytes of normalized text):\n");
  std::printf("  %-6s %8s %7s", "form", "literals", "regexes");
  for (const char* b : kBucketOrder) std::printf(" %7s", b);
  std::printf("\n");
  for (int form = 0; form < kForms; ++form) {
    if (!d.databases[form]) continue;
    std::map<std::string, size_t> buckets;
    size_t literals = 0, regexes = 0;
    for (const Pattern& p : d.patterns) {
      if (p.form != form) continue;
      if (p.is_regex) {
        ++regexes;
        continue;
      }
      ++literals;
      ++buckets[length_bucket(p.literal_bytes)];
    }
    std::printf("  %-6d %8zu %7zu", form, literals, regexes);
    for (const char* b : kBucketOrder) std::printf(" %7zu", buckets[b]);
    std::printf("\n");
  }

  std::vector<uint32_t> per_post;
  hits = pattern_hits(d, c, scratch, per_post);
  uint64_t total = 0;
  size_t patterns_hit = 0;
  for (uint64_t h : hits) {
    total += h;
    patterns_hit += h > 0;
  }
  std::vector<uint32_t> sorted = per_post;
  std::sort(sorted.begin(), sorted.end());
  const size_t posts_hit = static_cast<size_t>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), 0u));
  auto pct = [&](double q) { return sorted.empty() ? 0u : sorted[static_cast<size_t>(q * (sorted.size() - 1))]; };
  std::printf("\nhits of the loaded databases: %llu in %zu posts of %zu (%.2f a post, %.1f a MB of normalized text); "
              "a post's hits: median %u, p90 %u, p99 %u, max %u; %zu of %zu patterns hit at least once\n",
              static_cast<unsigned long long>(total), posts_hit, c.posts,
              c.posts ? static_cast<double>(total) / static_cast<double>(c.posts) : 0.0,
              static_cast<double>(total) / (static_cast<double>(c.normalized_bytes) / 1e6), pct(0.5), pct(0.9),
              pct(0.99), sorted.empty() ? 0u : sorted.back(), patterns_hit, d.patterns.size());

  std::map<std::string, std::pair<uint64_t, size_t>> by_bucket;  // hits, patterns hit
  for (size_t i = 0; i < hits.size(); ++i) {
    if (d.patterns[i].is_regex || !hits[i]) continue;
    auto& b = by_bucket[length_bucket(d.patterns[i].literal_bytes)];
    b.first += hits[i];
    ++b.second;
  }
  std::printf("hits by literal length:");
  for (const char* b : kBucketOrder) {
    if (by_bucket.count(b)) std::printf(" %s: %llu (%zu patterns);", b,
                                        static_cast<unsigned long long>(by_bucket[b].first), by_bucket[b].second);
  }
  std::printf("\n");

  std::vector<uint32_t> order(hits.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return hits[a] > hits[b]; });
  std::printf("the %zu most frequent patterns (hits, share of all, form, bytes, text):\n", top);
  uint64_t running = 0;
  for (size_t k = 0; k < top && k < order.size() && hits[order[k]]; ++k) {
    const Pattern& p = d.patterns[order[k]];
    running += hits[order[k]];
    std::printf("  %6llu %5.1f %% (%5.1f %% so far)  form %d  %2u  %s\n",
                static_cast<unsigned long long>(hits[order[k]]), 100.0 * static_cast<double>(hits[order[k]]) / total,
                100.0 * static_cast<double>(running) / total, p.form, p.literal_bytes,
                p.is_regex ? p.expression.c_str() : decode_literal(p.expression).c_str());
  }
}

// Hyperscan's FDR literal matcher finds candidates by hashing the text, then confirms each one
// against the literals of its hash slot by their last 8 bytes (and longer literals again in
// full), so a text word that ends many literals (" company", " limited") costs a confirm walk over
// all of them wherever it occurs, hit or not. `tail` is that key: a literal's last 8 bytes.
std::string tail_of(const std::string& literal) {
  return literal.size() <= 8 ? literal : literal.substr(literal.size() - 8);
}

// How many literals share each tail, and how often the most shared tails occur in the text.
std::map<std::string, size_t> print_tails(const RuleSetData& d, const Corpus& c, size_t top) {
  std::map<std::string, size_t> sharing;
  for (const Pattern& p : d.patterns) {
    if (!p.is_regex) ++sharing[tail_of(decode_literal(p.expression))];
  }
  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& [t, n] : sharing) order.emplace_back(n, t);
  std::sort(order.rbegin(), order.rend());
  size_t shared_by_10 = 0;
  for (const auto& [n, t] : order) shared_by_10 += n >= 10 ? n : 0;
  std::printf("\nlast 8 bytes of the literals (FDR's confirm key): %zu distinct tails for %zu literals; %zu literals "
              "have a tail shared by 10 or more\n",
              sharing.size(), d.patterns.size(), shared_by_10);
  std::printf("the %zu most shared tails (literals sharing it, its occurrences in the scanned text, their product):\n",
              top);
  for (size_t k = 0; k < top && k < order.size(); ++k) {
    const auto& [n, t] = order[k];
    uint64_t occurrences = 0;
    for (const Buffer& b : c.buffers) {
      for (size_t at = b.text.find(t); at != std::string::npos; at = b.text.find(t, at + 1)) ++occurrences;
    }
    std::printf("  %5zu  %7llu  %10llu  '%s'\n", n, static_cast<unsigned long long>(occurrences),
                static_cast<unsigned long long>(occurrences * n), t.c_str());
  }
  return sharing;
}

// ---- Experiments --------------------------------------------------------------------------------

// The CPU time of this thread: on a shared machine it leaves out the time another process held
// the core, which wall time does not.
double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// One way to scan every buffer: its databases (for each form, those each of its buffers goes
// through, in order) and one pass over the corpus, which returns the hits it counted.
struct Experiment {
  std::string name;
  std::string note;
  std::array<std::vector<Database>, kForms> databases;
  double compile_seconds = 0;
  std::function<uint64_t()> pass;
  bool skipped = false;         // not named by --only: nothing built, never run
  std::vector<double> seconds;  // one a round
  uint64_t hits = 0;
  size_t database_count = 0;
  size_t database_bytes = 0;
};

// A key of scan_cut_tails: the literal it stands for when `full` holds "", and the longer ones
// it stands for with the bytes that must follow it.
struct CutKey {
  std::string key;
  std::vector<std::string> full;
};

struct CutHits {
  const std::vector<CutKey>* keys;
  const std::string* text;
  uint64_t hits;
};

int check_cut(unsigned int id, unsigned long long, unsigned long long to, unsigned int, void* ctx) {
  auto& h = *static_cast<CutHits*>(ctx);
  const std::string& text = *h.text;
  for (const std::string& rest : (*h.keys)[id].full) {
    if (rest.empty() || text.compare(static_cast<size_t>(to), rest.size(), rest) == 0) ++h.hits;
  }
  return 0;
}

class Lab {
 public:
  Lab(const RuleSetData& d, const Corpus& c, std::vector<std::string> only) : d_(d), c_(c), only_(std::move(only)) {
    for (int form = 0; form < kForms; ++form) {
      if (!d.databases[form]) continue;
      grow_scratch(d.databases[form]);
      for (uint32_t i = 0; i < d.patterns.size(); ++i) {
        if (d.patterns[i].form == form) patterns_[form].push_back(i);
      }
    }
  }
  ~Lab() { hs_free_scratch(scratch_); }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // One scratch grown to fit every database built or loaded so far.
  hs_scratch_t* scratch() const { return scratch_; }
  const std::vector<uint32_t>& patterns(int form) const { return patterns_[form]; }

  // A new experiment whose databases `add` then builds; its pass is set by one of the scan_*.
  Experiment& experiment(std::string name, std::string note) {
    experiments_.push_back(std::make_unique<Experiment>());
    Experiment& e = *experiments_.back();
    e.name = std::move(name);
    e.note = std::move(note);
    e.skipped = !only_.empty() && std::find(only_.begin(), only_.end(), e.name) == only_.end();
    return e;
  }

  // Adds a database of `patterns` of `form` to e (nothing when the list is empty).
  void add(Experiment& e, int form, const std::vector<uint32_t>& patterns, Build how, unsigned mode = HS_MODE_BLOCK) {
    if (patterns.empty() || e.skipped) return;
    double s = 0;
    Database db = build(d_, patterns, how, mode, s);
    if (!db) return;
    e.compile_seconds += s;
    grow_scratch(db.get());
    ++e.database_count;
    e.database_bytes += database_bytes(db.get());
    e.databases[form].push_back(std::move(db));
  }

  // Each form's patterns split in two by `first` (a pattern it holds goes to the first database),
  // each part built `how`; with `keep` 1 or 2, only that part (a half alone). Scanned in blocks.
  void split(std::string name, std::string note, const std::function<bool(uint32_t)>& first, int keep = 0,
             Build how = Build::kAsLodestone) {
    Experiment& e = experiment(std::move(name), std::move(note));
    for (int form = 0; form < kForms; ++form) {
      std::vector<uint32_t> a, b;
      for (uint32_t i : patterns_[form]) (first(i) ? a : b).push_back(i);
      if (keep != 2) add(e, form, a, how);
      if (keep != 1) add(e, form, b, how);
    }
    scan_blocks(e);
  }

  // Every buffer through its form's databases in block mode, with `callback` counting in `hits`.
  void scan_blocks(Experiment& e, match_event_handler callback = count_hit) {
    e.pass = [this, &e, callback] {
      uint64_t hits = 0;
      for (const Buffer& b : c_.buffers) {
        for (const Database& db : e.databases[b.form]) {
          hs_scan(db.get(), b.text.data(), static_cast<unsigned>(b.text.size()), 0, scratch_, callback, &hits);
        }
      }
      return hits;
    };
  }

  // The rule set's own databases, as the Matcher scans them (counted, not owned, here).
  void scan_loaded(Experiment& e, match_event_handler callback) {
    for (const hs_database_t* db : d_.databases) {
      if (!db) continue;
      ++e.database_count;
      e.database_bytes += database_bytes(db);
    }
    e.pass = [this, callback] {
      uint64_t hits = 0;
      for (const Buffer& b : c_.buffers) {
        hs_scan(d_.databases[b.form], b.as_loaded().data(), static_cast<unsigned>(b.as_loaded().size()), 0, scratch_, callback,
                &hits);
      }
      return hits;
    };
  }

  // The loaded databases over the buffers of one form only: where the time goes between forms.
  void scan_loaded_form(Experiment& e, int form) {
    ++e.database_count;
    e.database_bytes += database_bytes(d_.databases[form]);
    e.pass = [this, form] {
      uint64_t hits = 0;
      for (const Buffer& b : c_.buffers) {
        if (b.form != form) continue;
        hs_scan(d_.databases[form], b.as_loaded().data(), static_cast<unsigned>(b.as_loaded().size()), 0, scratch_, count_hit,
                &hits);
      }
      return hits;
    };
  }

  // The loaded databases with Lodestone's per-hit work in the callback.
  void scan_lodestone_like(Experiment& e) {
    scan_loaded(e, store_hit);
    e.pass = [this] {
      LodestoneLikeHits h;
      h.d = &d_;
      uint64_t hits = 0;
      for (const Buffer& b : c_.buffers) {
        h.text = &b.as_loaded();
        h.hits.clear();
        hs_scan(d_.databases[b.form], b.as_loaded().data(), static_cast<unsigned>(b.as_loaded().size()), 0, scratch_, store_hit,
                &h);
        hits += h.hits.size();
      }
      return hits;
    };
  }

  // Streaming databases: one stream opened, written and closed per buffer.
  void scan_streams(Experiment& e) {
    e.pass = [this, &e] {
      uint64_t hits = 0;
      for (const Buffer& b : c_.buffers) {
        for (const Database& db : e.databases[b.form]) {
          hs_stream_t* stream = nullptr;
          hs_open_stream(db.get(), 0, &stream);
          hs_scan_stream(stream, b.text.data(), static_cast<unsigned>(b.text.size()), 0, scratch_, count_hit, &hits);
          hs_close_stream(stream, scratch_, count_hit, &hits);
        }
      }
      return hits;
    };
  }

  // Vectored databases, one hs_scan_vector call per post and form over all its buffers of the
  // form (a match may then span two fields; the hits show whether one did).
  void scan_vectors(Experiment& e) {
    for (size_t i = 0; i < c_.buffers.size();) {
      const uint32_t post = c_.buffers[i].post;
      std::array<int, kForms> group_of;
      group_of.fill(-1);
      for (; i < c_.buffers.size() && c_.buffers[i].post == post; ++i) {
        const Buffer& b = c_.buffers[i];
        if (group_of[b.form] < 0) {
          group_of[b.form] = static_cast<int>(groups_.size());
          groups_.push_back({b.form, {}, {}});
        }
        VectorGroup& g = groups_[static_cast<size_t>(group_of[b.form])];
        g.data.push_back(b.text.data());
        g.lengths.push_back(static_cast<unsigned>(b.text.size()));
      }
    }
    e.note += " (" + std::to_string(groups_.size()) + " calls)";
    e.pass = [this, &e] {
      uint64_t hits = 0;
      for (const VectorGroup& g : groups_) {
        for (const Database& db : e.databases[g.form]) {
          hs_scan_vector(db.get(), g.data.data(), g.lengths.data(), static_cast<unsigned>(g.data.size()), 0, scratch_,
                         count_hit, &hits);
        }
      }
      return hits;
    };
  }

  // Every literal reversed, in one database per form, over the buffers reversed (untimed): FDR
  // then keys on a literal's first 8 bytes instead of its last. Literal forms only.
  void scan_reversed(Experiment& e) {
    if (e.skipped) return;
    for (int form = 0; form < kForms; ++form) {
      if (patterns_[form].empty()) continue;
      std::vector<std::string> texts;
      std::vector<const char*> expressions;
      std::vector<size_t> lengths;
      std::vector<unsigned> ids;
      for (uint32_t i : patterns_[form]) {
        std::string t = decode_literal(d_.patterns[i].expression);
        std::reverse(t.begin(), t.end());
        texts.push_back(std::move(t));
        ids.push_back(i);
      }
      for (const auto& t : texts) {
        expressions.push_back(t.data());
        lengths.push_back(t.size());
      }
      if (!add_literal_database(e, form, expressions, lengths, ids)) return;
    }
    reversed_.clear();
    for (const Buffer& b : c_.buffers) reversed_.emplace_back(b.text.rbegin(), b.text.rend());
    e.pass = [this, &e] {
      uint64_t hits = 0;
      for (size_t i = 0; i < c_.buffers.size(); ++i) {
        for (const Database& db : e.databases[c_.buffers[i].form]) {
          hs_scan(db.get(), reversed_[i].data(), static_cast<unsigned>(reversed_[i].size()), 0, scratch_, count_hit,
                  &hits);
        }
      }
      return hits;
    };
  }

  // Compiles plain literals (no flags, block mode) into one database of `form` for experiment e,
  // counting its compile time and size; false, with e skipped, when Hyperscan refuses them.
  bool add_literal_database(Experiment& e, int form, const std::vector<const char*>& expressions,
                            const std::vector<size_t>& lengths, const std::vector<unsigned>& ids) {
    const std::vector<unsigned> flags(ids.size(), 0);
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    const auto started = Clock::now();
    if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                             static_cast<unsigned>(ids.size()), HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
      hs_free_compile_error(error);
      e.skipped = true;
      return false;
    }
    e.compile_seconds += seconds_since(started);
    grow_scratch(db);
    ++e.database_count;
    e.database_bytes += database_bytes(db);
    e.databases[form].emplace_back(db);
    return true;
  }

  // A literal whose last 8 bytes `shared` or more literals share is cut before its last word
  // (when at least 6 bytes are left), so FDR keys on the rest: the database holds the cut keys,
  // and the callback checks the cut words in the text after a key's hit, literal by literal. The
  // hits are the full literals' occurrences, so they must equal the loaded databases' hits.
  void scan_cut_tails(Experiment& e, const std::map<std::string, size_t>& sharing, size_t shared) {
    if (e.skipped) return;
    cut_keys_.push_back(std::make_unique<std::vector<CutKey>>());
    std::vector<CutKey>& cut = *cut_keys_.back();
    std::map<std::pair<int, std::string>, uint32_t> key_index;
    std::array<std::vector<uint32_t>, kForms> keys_of_form;
    for (int form = 0; form < kForms; ++form) {
      for (uint32_t i : patterns_[form]) {
        const std::string literal = decode_literal(d_.patterns[i].expression);
        std::string key = literal;
        const size_t space = literal.rfind(' ');
        if (literal.size() > 8 && sharing.at(tail_of(literal)) >= shared && space != std::string::npos && space >= 6)
          key = literal.substr(0, space);
        auto [it, added] = key_index.emplace(std::make_pair(form, key), static_cast<uint32_t>(cut.size()));
        if (added) {
          cut.push_back({key, {}});
          keys_of_form[form].push_back(it->second);
        }
        cut[it->second].full.push_back(literal.substr(key.size()));
      }
    }
    for (int form = 0; form < kForms; ++form) {
      const auto& keys = keys_of_form[form];
      if (keys.empty()) continue;
      std::vector<const char*> expressions;
      std::vector<size_t> lengths;
      for (uint32_t k : keys) {
        expressions.push_back(cut[k].key.data());
        lengths.push_back(cut[k].key.size());
      }
      if (!add_literal_database(e, form, expressions, lengths, keys)) return;
    }
    e.note += " (" + std::to_string(cut.size()) + " keys)";
    e.pass = [this, &e, keys = &cut] {
      CutHits h{keys, nullptr, 0};
      for (const Buffer& b : c_.buffers) {
        h.text = &b.as_loaded();
        for (const Database& db : e.databases[b.form]) {
          hs_scan(db.get(), b.text.data(), static_cast<unsigned>(b.text.size()), 0, scratch_, check_cut, &h);
        }
      }
      return h.hits;
    };
  }

  // `rounds` rounds, each timing every experiment once in turn, so a change in the machine's
  // load falls on all of them alike; each experiment's figure is its median.
  void run(int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (auto& e : experiments_) {
        if (e->skipped) continue;
        const double started = thread_seconds();
        e->hits = e->pass();
        e->seconds.push_back(thread_seconds() - started);
      }
    }
  }

  const std::vector<std::unique_ptr<Experiment>>& experiments() const { return experiments_; }

 private:
  struct VectorGroup {
    int form;
    std::vector<const char*> data;
    std::vector<unsigned> lengths;
  };

  void grow_scratch(const hs_database_t* db) {
    if (hs_alloc_scratch(db, &scratch_) != HS_SUCCESS) {
      std::fprintf(stderr, "hs_experiments: cannot allocate scratch\n");
      std::exit(2);
    }
  }

  const RuleSetData& d_;
  const Corpus& c_;
  std::vector<std::string> only_;
  std::array<std::vector<uint32_t>, kForms> patterns_;
  std::vector<std::unique_ptr<Experiment>> experiments_;
  std::vector<VectorGroup> groups_;
  std::vector<std::string> reversed_;  // the buffers reversed, for scan_reversed
  std::vector<std::unique_ptr<std::vector<CutKey>>> cut_keys_;  // each scan_cut_tails' keys, by id
  hs_scratch_t* scratch_ = nullptr;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  lodestone::LoadOptions load_options;
  load_options.cache_dir = opt.cache_dir;
  lodestone::LoadResult loaded = lodestone::load_rule_set(opt.rules, load_options);
  if (!loaded.rule_set) {
    std::cerr << lodestone::format_diagnostics(loaded.diagnostics);
    return 2;
  }
  const RuleSetData& d = loaded.rule_set->data();
  Corpus c;
  if (!read_corpus(opt.posts, d, c)) {
    std::fprintf(stderr, "hs_experiments: cannot read %s\n", opt.posts.c_str());
    return 2;
  }
  std::printf("%zu posts, %.1f MB of JSONL; %zu buffers, %.1f MB normalized; %zu patterns\n", c.posts,
              static_cast<double>(c.input_bytes) / 1e6, c.buffers.size(), static_cast<double>(c.normalized_bytes) / 1e6,
              d.patterns.size());

  Lab lab(d, c, opt.only);
  std::vector<uint64_t> hits;
  print_statistics(d, c, lab.scratch(), opt.top, hits);
  const std::map<std::string, size_t> tail_sharing = print_tails(d, c, opt.top);

  lab.scan_loaded(lab.experiment("loaded", "the rule set's databases, counting callback"), count_hit);
  lab.scan_loaded(lab.experiment("loaded_noop", "the same, a callback that does nothing"), ignore_hit);
  lab.scan_lodestone_like(lab.experiment("lodestone_callback",
                                         "the same, Lodestone's per-hit work in the callback (start, neighbours, store)"));
  for (int form = 0; form < kForms; ++form) {
    if (!d.databases[form]) continue;
    lab.scan_loaded_form(lab.experiment("form" + std::to_string(form) + "_only",
                                        "the loaded database of form " + std::to_string(form) + " over its buffers only, " +
                                            std::to_string(lab.patterns(form).size()) + " patterns"),
                         form);
  }
  auto all = [](uint32_t) { return true; };
  lab.split("rebuilt", "hs_compile_multi as rules/hs_build.cpp does (a check of the rebuild)", all);
  lab.split("no_utf8", "hs_compile_multi, literals without HS_FLAG_UTF8", all, 0, Build::kNoUtf8);
  const bool all_literals = std::none_of(d.patterns.begin(), d.patterns.end(), [](const Pattern& p) { return p.is_regex; });
  if (all_literals) lab.split("lit_multi", "hs_compile_lit_multi over the decoded bytes", all, 0, Build::kLiteralMulti);
  lab.split("singlematch", "HS_FLAG_SINGLEMATCH on every literal (hits: once a buffer)", all, 0, Build::kSingleMatch);
  {
    Experiment& e = lab.experiment("stream", "HS_MODE_STREAM, a stream opened and closed per buffer");
    for (int form = 0; form < kForms; ++form)
      lab.add(e, form, lab.patterns(form), Build::kAsLodestone, HS_MODE_STREAM | HS_MODE_SOM_HORIZON_SMALL);
    lab.scan_streams(e);
  }
  {
    Experiment& e = lab.experiment("vectored", "HS_MODE_VECTORED, one hs_scan_vector per post and form");
    for (int form = 0; form < kForms; ++form) lab.add(e, form, lab.patterns(form), Build::kAsLodestone, HS_MODE_VECTORED);
    lab.scan_vectors(e);
  }
  for (uint32_t n : {4u, 5u, 6u, 8u, 12u}) {
    auto short_literal = [&d, n](uint32_t i) { return !d.patterns[i].is_regex && d.patterns[i].literal_bytes <= n; };
    const std::string up = "literals of <= " + std::to_string(n) + " bytes";
    lab.split("split_len" + std::to_string(n), up + " in a database of their own", short_literal);
    lab.split("short_len" + std::to_string(n), up + " alone", short_literal, 1);
    lab.split("long_len" + std::to_string(n), "the longer ones alone", short_literal, 2);
  }
  std::vector<uint32_t> by_hits(d.patterns.size());
  for (uint32_t i = 0; i < by_hits.size(); ++i) by_hits[i] = i;
  std::stable_sort(by_hits.begin(), by_hits.end(), [&](uint32_t a, uint32_t b) { return hits[a] > hits[b]; });
  for (size_t k : {16u, 64u, 256u}) {
    std::vector<bool> in_top(d.patterns.size(), false);
    for (size_t j = 0; j < k && j < by_hits.size(); ++j) in_top[by_hits[j]] = true;
    auto top = [in_top](uint32_t i) { return static_cast<bool>(in_top[i]); };
    const std::string what = "the " + std::to_string(k) + " most hit patterns";
    lab.split("split_top" + std::to_string(k), what + " in a database of their own", top);
    lab.split("without_top" + std::to_string(k), "all but " + what + " alone", top, 2);
  }
  for (size_t n : {10u, 50u}) {
    auto shared_tail = [&d, &tail_sharing, n](uint32_t i) {
      return !d.patterns[i].is_regex && tail_sharing.at(tail_of(decode_literal(d.patterns[i].expression))) >= n;
    };
    const std::string what = "the literals whose last 8 bytes " + std::to_string(n) + " or more share";
    lab.split("split_tail" + std::to_string(n), what + " in a database of their own", shared_tail);
    lab.split("without_tail" + std::to_string(n), "all but " + what + " alone", shared_tail, 2);
    lab.split("tail" + std::to_string(n), what + " alone", shared_tail, 1);
  }
  if (all_literals) {
    for (size_t n : {10u, 50u}) {
      lab.scan_cut_tails(lab.experiment("cut_tail" + std::to_string(n),
                                        "lit_multi, literals whose last 8 bytes " + std::to_string(n) +
                                            " or more share cut before their last word, checked in the callback"),
                         tail_sharing, n);
    }
  }
  if (all_literals)
    lab.scan_reversed(lab.experiment("reversed", "hs_compile_lit_multi, literals and text reversed (FDR keys on the "
                                                 "first 8 bytes of a name)"));
  // How the scan's cost grows with the number of literals: a random share of every form's.
  for (uint32_t share : {2u, 8u, 25u, 50u}) {
    auto in_share = [share](uint32_t i) { return (i * 2654435761u) % 100 < share; };
    lab.split("random_" + std::to_string(share) + "pct", std::to_string(share) + " % of the patterns, drawn at random",
              in_share, 1);
  }

  lab.run(opt.repeat);
  std::vector<const Experiment*> ex;
  for (const auto& e : lab.experiments()) {
    if (!e->skipped) ex.push_back(e.get());
  }
  if (ex.empty()) {
    std::fprintf(stderr, "hs_experiments: --only names no experiment\n");
    return 2;
  }
  const double reference = median(ex[0]->seconds);
  const uint64_t reference_hits = ex[0]->hits;
  std::printf("\nexperiments: CPU seconds of the thread, median of %d interleaved rounds; MB/s over the %.1f MB of "
              "normalized buffers; hits as the first row's unless noted\n",
              opt.repeat, static_cast<double>(c.normalized_bytes) / 1e6);
  std::printf("  %-20s %8s %8s %8s %4s %7s %9s  %s\n", "name", "seconds", "MB/s", "vs 1st", "dbs", "MiB", "compile s",
              "what");
  for (const auto& e : ex) {
    const double s = median(e->seconds);
    std::string note = e->note;
    if (e->hits != reference_hits) note += " [hits " + std::to_string(e->hits) + "]";
    std::printf("  %-20s %8.4f %8.1f %7.2fx %4zu %7.2f %9.2f  %s\n", e->name.c_str(), s,
                static_cast<double>(c.normalized_bytes) / 1e6 / s, reference / s, e->database_count,
                static_cast<double>(e->database_bytes) / (1 << 20), e->compile_seconds, note.c_str());
  }
  for (const auto& e : ex) {
    std::printf("experiment name=%s seconds=%.6f hits=%llu databases=%zu bytes=%zu compile_seconds=%.3f\n",
                e->name.c_str(), median(e->seconds), static_cast<unsigned long long>(e->hits), e->database_count,
                e->database_bytes, e->compile_seconds);
  }
  return 0;
}
