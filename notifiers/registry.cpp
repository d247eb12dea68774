// The notifier registry: the list of kinds, one line each.
#include "notifiers/registry.h"

#include "util/build_switch.h"

namespace lodestone {

// Every kind, one line each: its build switch (CMake's LODESTONE_NOTIFIER_<KIND>, defined 1 or 0
// for this file) and the NotifierKind its folder's <kind>_kind.cpp defines. A kind switched off
// is neither compiled nor listed.
#define LODESTONE_NOTIFIER_KINDS(X)                       \
  X(LODESTONE_NOTIFIER_WEBHOOK, webhook_notifier_kind)    \
  X(LODESTONE_NOTIFIER_TELEGRAM, telegram_notifier_kind)  \
  X(LODESTONE_NOTIFIER_LINE, line_notifier_kind)          \
  X(LODESTONE_NOTIFIER_NTFY, ntfy_notifier_kind)          \
  X(LODESTONE_NOTIFIER_EMAIL, email_notifier_kind)        \
  X(LODESTONE_NOTIFIER_FILE, file_notifier_kind)          \
  X(LODESTONE_NOTIFIER_STDOUT, stdout_notifier_kind)      \
  X(LODESTONE_NOTIFIER_TEAMS, teams_notifier_kind)        \
  X(LODESTONE_NOTIFIER_MATRIX, matrix_notifier_kind)      \
  X(LODESTONE_NOTIFIER_REDIS, redis_notifier_kind)

#define LODESTONE_DECLARE_KIND(flag, kind) extern const NotifierKind kind;
LODESTONE_NOTIFIER_KINDS(LODESTONE_DECLARE_KIND)

namespace {
#define LODESTONE_LIST_KIND(flag, kind) LODESTONE_LIST_IF_BUILT(flag, &kind)
const NotifierKind* const kKinds[] = {LODESTONE_NOTIFIER_KINDS(LODESTONE_LIST_KIND)};
}  // namespace

std::span<const NotifierKind* const> notifier_kinds() { return kKinds; }

const NotifierKind* find_notifier_kind(std::string_view type) { return find_kind(notifier_kinds(), type); }

}  // namespace lodestone
