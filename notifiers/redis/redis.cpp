// The redis notifier: one XADD per alert.
#include "notifiers/redis/redis.h"

#include "net/redis.h"

namespace lodestone {

RedisNotifier::RedisNotifier(RedisNotifierOptions options, std::unique_ptr<RedisConnection> redis)
    : options_(std::move(options)), redis_(std::move(redis)) {}

RedisNotifier::~RedisNotifier() = default;

Result<std::unique_ptr<Notifier>> RedisNotifier::make(RedisNotifierOptions options) {
  auto address = parse_redis_url(options.url);
  if (!address) return Failure{"url: " + address.error()};
  if (options.stream.empty()) return Failure{"stream must not be empty"};
  if (options.maxlen < 1) return Failure{"maxlen must be at least 1"};
  if (!options.password.empty()) address->password = options.password;
  auto redis = std::make_unique<RedisConnection>(std::move(*address), options.timeout);
  return std::unique_ptr<Notifier>(new RedisNotifier(std::move(options), std::move(redis)));
}

DeliveryAttempt RedisNotifier::send(const Alert& alert, const std::string& alert_json) {
  std::lock_guard lock(mutex_);
  auto reply = redis_->command({"XADD", options_.stream, "MAXLEN", "~", std::to_string(options_.maxlen), "*", "id",
                                alert.id, "alert", alert_json});
  if (!reply) return {DeliveryAttempt::Outcome::kRetry, 0, options_.name + ": " + reply.error(), -1};
  if (reply->is_error()) {
    return {DeliveryAttempt::Outcome::kRetry, 0,
            options_.name + ": " + redis_->address().shown + ": XADD " + options_.stream + ": " + reply->str, -1};
  }
  return {DeliveryAttempt::Outcome::kDelivered, 0, {}, -1};
}

}  // namespace lodestone
