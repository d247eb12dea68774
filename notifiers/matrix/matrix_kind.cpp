// The `matrix` notifier kind (an m.room.message event per alert, through the client-server API):
// its options and its factory, for notifiers/registry.cpp. Each default is MatrixOptions' own.
#include "notifiers/matrix/matrix.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const MatrixOptions kDefaults;

const OptionSpec kMatrixOptions[] = {
    {"homeserver", OptionType::kString, "", "the client-server API's base URL, https://matrix.example.org", true},
    {"room_id", OptionType::kString, "", "the room to post to, \"!AbCdEf:example.org\" (not an #alias)", true},
    {"access_token", OptionType::kSecret, "", "the bot user's access token", true},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one message per interval with every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_matrix(const std::string& name, const OptionValues& v) {
  MatrixOptions o;
  o.name = name;
  o.homeserver = v.string("homeserver");
  o.room_id = v.string("room_id");
  o.access_token = v.string("access_token");
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_matrix_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<MatrixNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind matrix_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind matrix_notifier_kind{"matrix", "an m.room.message per alert or per digest to a Matrix room",
                                        kMatrixOptions, make_matrix};

}  // namespace lodestone
