// Test support: the sample alert as Store::commit() takes it, for the store and dispatcher tests.
// Plain values, made fresh on each call: safe from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lodestone/alert.h"
#include "support/sample_alert.h"
#include "watch/store.h"

namespace lodestone::testing {

// Alert `id`: sample_alert() of rule "rule-<id>" on post "post-<id>" of ptt/Stock, due for each of
// `notifiers`. Its json is to_json() of that alert, as the pipeline stores it, so a dispatcher
// reads it back as an alert with this id.
inline NewAlert stored_alert(const std::string& id, std::vector<std::string> notifiers = {"ops"}) {
  Alert a = sample_alert("post-" + id, "rule-" + id);
  a.id = id;
  return {a.id, a.rule.id, a.post.source, a.post.id, to_json(a), std::move(notifiers), false};
}

}  // namespace lodestone::testing
