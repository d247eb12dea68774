// Building the Hyperscan databases of a rule set: from the on-disk cache when a valid entry is
// there, otherwise compiled in a child process held to a time and memory budget, so a rule set
// too large to compile fails with an error naming the budget instead of an out-of-memory kill.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/compiled.h"

namespace lodestone::rules {

// What one form's database is compiled from: hs_compile_multi's three arrays.
struct DatabaseInput {
  std::vector<std::string> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  bool empty() const { return expressions.empty(); }
};

// With a time or memory limit the compile runs in a forked child the caller watches; with
// neither it runs in this process.
struct BuildOptions {
  // Folder of the cache; empty: no cache (always compile, write nothing).
  std::string cache_dir;
  // Names the cache entry: the same rule set (e.g. its sorted file paths) maps to the same file,
  // which a changed rule set overwrites, so the folder does not grow with every edit.
  std::string cache_name;
  double time_limit_seconds = 0;  // wall time of the compile; 0: no limit
  // Resident memory the compile may add to what the caller already holds (the child starts out
  // resident in the pages it shares with the caller); 0: no limit.
  uint64_t memory_limit_bytes = 0;
};

struct BuildStats {
  bool from_cache = false;
  std::string cache_file;     // the entry used or written; empty without a cache
  std::string cache_problem;  // why a present entry was not used ("stale: ...", "corrupt: ...",
                              // "foreign: ..."), or why it could not be written; empty when none
  double seconds = 0;         // compile or load time, wall
  uint64_t database_bytes = 0;     // sum of hs_database_size over the forms
  uint64_t compile_peak_bytes = 0;  // peak resident memory the compiling child added; 0 from cache
};

struct BuildError {
  int form = -1;        // the form whose compile failed, -1 when not form-specific
  int expression = -1;  // index into that form's DatabaseInput, -1 when none is to blame
  std::string message;  // e.g. "compiling the rule set took longer than the time budget of 2 s
                        // (compile_time_limit)"; Hyperscan's own message otherwise
};

// Fills `out[form]` for every form whose input is not empty (others stay null). Returns false
// and fills `error` when a form cannot be compiled or a budget is exceeded; nothing is left
// allocated in `out` then. A cache entry is used only when its key (a SHA-256 over every input,
// hs_version() and the hs_populate_platform() features) and its checksum match; anything else
// is recompiled and rewritten, atomically (temporary file + rename).
// The entry is checked in this order: magic ("corrupt"), format version ("foreign"), checksum
// ("corrupt"), the header naming the Hyperscan version and CPU features ("foreign"), the key
// ("stale"), then each form's hs_deserialize_database() ("foreign" for a version, platform or
// mode error, else "corrupt").
// Inputs with no expression at all build nothing and leave the cache alone. When fork() fails the
// compile runs in this process, without the budgets. Call it from one thread at a time per
// cache_name: two callers in one process share the temporary file's name.
bool build_databases(const std::array<DatabaseInput, compiled::kForms>& inputs, const BuildOptions& options,
                     std::array<hs_database_t*, compiled::kForms>& out, BuildStats& stats, BuildError& error);

}  // namespace lodestone::rules
