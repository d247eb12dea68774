// The redis notifier: XADD of each alert to a Redis stream, for other systems to consume
// (docs/scale-out.md). Entry fields: `id` (the alert id, the same on every retry) and `alert`
// (the alert's JSON, as the store keeps it). One connection, opened on first use and reopened
// after a failure; send() serializes itself.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "lodestone/notifier.h"

namespace lodestone {

class RedisConnection;

struct RedisNotifierOptions {
  std::string name;
  std::string url = "redis://127.0.0.1:6379/0";
  std::string password;  // overrides the URL's; a secret (password_file)
  std::string stream = "lodestone:alerts";
  int64_t maxlen = 100000;  // MAXLEN ~
  double timeout = 5;       // connect and reply timeout
};

class RedisNotifier : public Notifier {
 public:
  // Fails when the URL does not parse (never showing the password).
  static Result<std::unique_ptr<Notifier>> make(RedisNotifierOptions options);
  ~RedisNotifier() override;
  const std::string& name() const override { return options_.name; }
  // One XADD. A lost connection, a timeout or an error reply is kRetry (Redis may come back; a
  // full Redis may be trimmed). A retry after a timeout whose XADD did land adds the alert again:
  // consumers dedup by its `id` field.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

 private:
  RedisNotifier(RedisNotifierOptions options, std::unique_ptr<RedisConnection> redis);
  RedisNotifierOptions options_;
  std::mutex mutex_;
  std::unique_ptr<RedisConnection> redis_;
};

}  // namespace lodestone
