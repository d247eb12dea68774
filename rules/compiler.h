// Stages 2 and 3 of loading rules: resolve names across files, then compile every term into one
// Hyperscan database per text form. Every problem is added to the diagnostics; nothing is built
// unless there are none.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lodestone/diagnostics.h"
#include "rules/compiled.h"
#include "rules/hs_build.h"
#include "rules/loader.h"

namespace lodestone::rules {

// `options`: the database cache and the compile budget (rules/hs_build.h). `known_fields`: field
// names besides standard_field_names() that rules may name without a warning (the config's
// [lodestone] fields).
std::unique_ptr<compiled::RuleSetData> compile_rule_set(const std::vector<RuleFile>& files,
                                                        const BuildOptions& options,
                                                        const std::vector<std::string>& known_fields,
                                                        Diagnostics& diags);

}  // namespace lodestone::rules
