// Notifier: what every way of telling someone about an alert (webhook, email, ...) implements.
// A notifier may block in send(); the caller gives each notifier its own thread (DESIGN.md "Delivery").
#pragma once

#include <string>

#include "lodestone/alert.h"

namespace lodestone {

// What one attempt to deliver one alert came to. The retry schedule (engine/retry.h) reads it.
struct DeliveryAttempt {
  enum class Outcome { kDelivered, kRetry, kDead };
  Outcome outcome = Outcome::kRetry;
  int status = 0;           // HTTP status; 0 when no response (network error, timeout)
  std::string error;        // empty when delivered; never contains a secret
  double retry_after = -1;  // seconds the receiver asked to wait (Retry-After), -1 when none
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The name the config gives it and rules' `notify` lists use.
  virtual const std::string& name() const = 0;
  // One attempt. `alert_json` is to_json(alert), stored once and byte-identical on every attempt.
  // Never throws: every failure is an outcome with a reason.
  virtual DeliveryAttempt send(const Alert& alert, const std::string& alert_json) = 0;
};

}  // namespace lodestone
