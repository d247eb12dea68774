// Which block paths the normalizer runs (normalizer.cpp): the widest the CPU has, or one a test
// forces, so tests/text/normalizer_test.cpp can run every path over the same input.
// Internal to lodestone_text and its tests; set it only while no other thread normalizes.
#pragma once

namespace lodestone {

enum class NormalizerPath {
  kScalar,  // code point by code point: the reference the block paths must agree with
  kSse2,    // 16-byte ASCII blocks
  kAvx2,    // 32-byte ASCII blocks with compaction (white-space runs, the name form's punctuation)
};

// The widest path this CPU runs; what normalize() and fold_names() use unless told otherwise.
NormalizerPath best_normalizer_path();
NormalizerPath normalizer_path();
void set_normalizer_path(NormalizerPath path);

}  // namespace lodestone
