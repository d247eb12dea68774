// Entity lists ([[entities]]): the entities of a CSV, TSV or JSONL file and the aliases of a second
// file joined on an id, with the list's options applied (name order, min_alias_length, stoplist).
// A malformed row is a warning at file:line and is skipped; the rest of the list loads.
#pragma once

#include <string>
#include <vector>

#include "lodestone/diagnostics.h"
#include "rules/compiled.h"
#include "rules/loader.h"

namespace lodestone::rules {

struct ListedName {
  std::string written;  // as in the list file: "BIN LADIN, Usama"
  std::string text;     // what is matched: `written`, or its reordering "Usama BIN LADIN"
};

struct ListedEntity {
  std::string id;
  std::string name;
  std::string kind;
  std::vector<ListedName> names;  // the name's first, then the aliases'; none twice
  std::vector<Located> exclude;   // from the list's `exclude` table
};

struct EntityList {
  std::vector<ListedEntity> entities;
  compiled::EntityListInfo info;  // counts loaded and skipped, and why
};

// Reads the files of `def` (declared in `file`). False only when a file cannot be read or a
// named column is not in its header; each is an error in `diags`.
bool read_entity_list(const RuleFile& file, const EntityListDef& def, EntityList& out, Diagnostics& diags);

// "First LAST" for "LAST, First" (exactly one comma, text on both sides); empty otherwise.
std::string reorder_last_first(const std::string& name);

}  // namespace lodestone::rules
