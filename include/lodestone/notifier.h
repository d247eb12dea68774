// Notifier: what every way of telling someone about an alert (webhook, email, ...) implements.
// A notifier may block in send(); the caller gives each notifier its own thread (docs/design.md, "Delivery").
#pragma once

#include <span>
#include <string>

#include "lodestone/alert.h"

namespace lodestone {

// What one attempt to deliver one alert came to. The retry schedule (watch/retry.h) reads it.
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

  // A digest notifier (email with `digest`) is handed every due alert at once, at most once per
  // digest_interval() seconds, through send_digest(); 0 (the default) means one send() per alert.
  virtual double digest_interval() const { return 0; }
  // One attempt to deliver all of `alerts` (aligned with `alert_jsons`) as one message; the outcome
  // is every one of theirs.
  virtual DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
    (void)alerts;
    (void)alert_jsons;
    return {DeliveryAttempt::Outcome::kDead, 0, name() + ": this notifier sends no digests", -1};
  }

  // Called from another thread while send() may be running (shutdown past its deadline): makes the
  // attempt in flight, and every later one, return kRetry soon without delivering.
  virtual void cancel() {}
};

}  // namespace lodestone
