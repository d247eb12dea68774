// What bench_core and hs_experiments share: timing by medians, and the texts Matcher::match scans
// (each scanned field normalized in each form that has a database, exactly as engine/matcher.cpp
// does), so both tools time Hyperscan over the very bytes Lodestone gives it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "lodestone/post.h"
#include "rules/compiled.h"
#include "text/normalizer.h"

namespace lodestone::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

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

// Whether Matcher::match scans this field (engine/matcher.cpp), with its id and kind.
inline bool scanned_field(const compiled::RuleSetData& d, bool scan_text_fields, const PostField& f, int& id,
                          bool& is_text) {
  id = d.field_id(f.name);
  is_text = !is_metadata_field(f.name);
  if (!(is_text && scan_text_fields) && id < 0) return false;
  return !f.text.empty();
}

inline bool scans_text_fields(const compiled::RuleSetData& d) {
  for (const auto& t : d.terms) {
    if (t.scope.text_fields) return true;
  }
  return false;
}

// One post's fields, each form normalized as Matcher::match does: the name form derived from its
// base form with fold_names when the base form has a database too. Calls emit(form, text,
// field_name, field_id, is_text) for each non-empty text.
template <class Emit>
void normalize_post(const compiled::RuleSetData& d, bool scan_text_fields, const Post& post,
                    std::array<NormalizedText, compiled::kForms>& norm, Emit&& emit) {
  const Normalizer& normalizer = Normalizer::instance();
  for (const auto& f : post.fields()) {
    int id = -1;
    bool is_text = false;
    if (!scanned_field(d, scan_text_fields, f, id, is_text)) continue;
    for (int form = 0; form < compiled::kForms; ++form) {
      if (!d.databases[form]) continue;
      NormalizedText& nt = norm[form];
      const int base = base_form(form);
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

// The bytes of a literal pattern: rules/compiler.cpp's literal_expression() writes ASCII
// punctuation and space as \xHH and every other byte as itself.
inline std::string decode_literal(const std::string& expression) {
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

}  // namespace lodestone::bench
