// The `teams` notifier kind (an Adaptive Card to a Teams Workflows webhook): its options and its
// factory, for notifiers/registry.cpp. Each default is TeamsOptions' own.
#include "notifiers/registry.h"
#include "notifiers/teams/teams.h"

namespace lodestone {
namespace {

const TeamsOptions kDefaults;

const OptionSpec kTeamsOptions[] = {
    {"url", OptionType::kSecret, "",
     "the workflow's HTTP POST URL (its query holds the signature: ${ENV} or url_file keeps it out of the file)", true},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one card per interval with every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_teams(const std::string& name, const OptionValues& v) {
  TeamsOptions o;
  o.name = name;
  o.url = v.string("url");
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_teams_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<TeamsNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind teams_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind teams_notifier_kind{"teams", "an Adaptive Card per alert or per digest to a Teams Workflows webhook",
                                       kTeamsOptions, make_teams};

}  // namespace lodestone
