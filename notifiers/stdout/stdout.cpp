// The stdout notifier.
#include "notifiers/stdout/stdout.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace lodestone {
namespace {
std::mutex stdout_mutex;  // one line at a time, whichever notifier writes it
}

StdoutNotifier::StdoutNotifier(StdoutNotifierOptions options) : options_(std::move(options)) {
  color_ = options_.color == "always" || (options_.color == "auto" && ::isatty(STDOUT_FILENO));
}

DeliveryAttempt StdoutNotifier::send(const Alert& alert, const std::string& alert_json) {
  std::string line = options_.format == "text" ? to_text(alert, color_) : alert_json;
  line += '\n';
  std::lock_guard lock(stdout_mutex);
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    std::clearerr(stdout);
    return {DeliveryAttempt::Outcome::kRetry, 0, options_.name + ": cannot write to standard output", -1};
  }
  return {DeliveryAttempt::Outcome::kDelivered, 0, {}, -1};
}

}  // namespace lodestone
