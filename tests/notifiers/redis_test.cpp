// The redis notifier against a real redis-server on loopback (skipped when it is not installed):
// each alert XADDed with its id and JSON; a server that is down, refuses the password or answers
// an error gives a retry whose reason names the server but never the password.
#include <catch2/catch.hpp>

#include "lodestone/alert.h"
#include "net/redis.h"
#include "notifiers/redis/redis.h"
#include "support/redis_server.h"
#include "support/sample_alert.h"

using namespace lodestone;
using namespace lodestone::testing;

namespace {

std::unique_ptr<Notifier> notifier(const std::string& url, const std::string& password = "") {
  RedisNotifierOptions o;
  o.name = "stream";
  o.url = url;
  o.password = password;
  o.stream = "alerts";
  o.maxlen = 1000;
  o.timeout = 1;
  auto made = RedisNotifier::make(o);
  REQUIRE(made);
  return std::move(*made);
}

}  // namespace

TEST_CASE("the redis notifier adds each alert to its stream with the alert's id and JSON", "[redis]") {
  require_redis_server();
  RedisServer redis;
  auto n = notifier(redis.url());
  const Alert alert = sample_alert();
  const std::string json = to_json(alert);
  const DeliveryAttempt first = n->send(alert, json);
  CHECK(first.outcome == DeliveryAttempt::Outcome::kDelivered);
  CHECK(n->send(sample_alert("M.2"), to_json(sample_alert("M.2"))).outcome == DeliveryAttempt::Outcome::kDelivered);
  const RedisReply entries = redis.command({"XRANGE", "alerts", "-", "+"});
  REQUIRE(entries.elements.size() == 2);
  const auto& fields = entries.elements[0].elements[1].elements;
  REQUIRE(fields.size() == 4);
  CHECK(fields[0].text() == "id");
  CHECK(fields[1].text() == alert.id);
  CHECK(fields[2].text() == "alert");
  CHECK(fields[3].text() == json);  // byte for byte what the store keeps
}

TEST_CASE("the redis notifier retries while Redis is down or refuses, and never shows the password", "[redis]") {
  require_redis_server();
  RedisServer redis;
  redis.command({"CONFIG", "SET", "requirepass", "s3cret-pw"});
  const Alert alert = sample_alert();
  const std::string json = to_json(alert);

  // The right password, given as the password option: delivered.
  CHECK(notifier(redis.url(), "s3cret-pw")->send(alert, json).outcome == DeliveryAttempt::Outcome::kDelivered);

  // A wrong one, in the URL: a retry naming the server, not the password.
  const std::string url = "redis://:wrong-pw@127.0.0.1:" + std::to_string(redis.port()) + "/0";
  const DeliveryAttempt refused = notifier(url)->send(alert, json);
  CHECK(refused.outcome == DeliveryAttempt::Outcome::kRetry);
  CHECK(refused.error.find("AUTH") != std::string::npos);
  CHECK(refused.error.find(std::to_string(redis.port())) != std::string::npos);
  CHECK(refused.error.find("wrong-pw") == std::string::npos);

  // The server gone: a retry; back again: the same notifier reconnects and delivers.
  auto n = notifier(redis.url(), "s3cret-pw");
  redis.stop();
  const DeliveryAttempt down = n->send(alert, json);
  CHECK(down.outcome == DeliveryAttempt::Outcome::kRetry);
  CHECK(down.error.find("s3cret-pw") == std::string::npos);
  redis.start();
  redis.command({"CONFIG", "SET", "requirepass", "s3cret-pw"});  // a fresh server: no password yet
  CHECK(n->send(alert, json).outcome == DeliveryAttempt::Outcome::kDelivered);
}

TEST_CASE("a redis notifier with a bad URL is refused when it is made", "[redis]") {
  RedisNotifierOptions o;
  o.name = "stream";
  o.url = "redis://:pw@127.0.0.1:0";
  auto made = RedisNotifier::make(o);
  REQUIRE_FALSE(made);
  CHECK(made.error().find("port") != std::string::npos);
  CHECK(made.error().find("pw") == std::string::npos);
}
