// The stdout notifier: prints each alert on standard output, as its JSON line or one readable
// line (what `scan --format text` prints). Several stdout notifiers share one lock.
#pragma once

#include <string>

#include "lodestone/notifier.h"

namespace lodestone {

struct StdoutNotifierOptions {
  std::string name;
  std::string format = "json";  // json | text
  std::string color = "auto";   // text only: auto (when stdout is a terminal), always, never
};

class StdoutNotifier : public Notifier {
 public:
  explicit StdoutNotifier(StdoutNotifierOptions options);
  const std::string& name() const override { return options_.name; }
  // Writes and flushes one line; a write error (a closed pipe) is kRetry.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

 private:
  StdoutNotifierOptions options_;
  bool color_ = false;
};

}  // namespace lodestone
