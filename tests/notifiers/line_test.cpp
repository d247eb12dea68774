// The line notifier against a real HTTP receiver on loopback standing in for the Messaging API:
// the push request and its retry key, the plain text and its limit, the API's answers (409 as
// delivered), digests, and errors that never hold the channel access token.
#include "notifiers/line/line.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "notifiers/chat_format.h"
#include "support/closed_port.h"
#include "support/golden.h"
#include "support/http_receiver.h"
#include "support/sample_alert.h"

using lodestone::Alert;
using lodestone::DeliveryAttempt;
using lodestone::LineNotifier;
using lodestone::LineOptions;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ReceivedRequest;
using lodestone::testing::sample_alert;
using test_support::ClosedPort;
using Outcome = DeliveryAttempt::Outcome;

namespace {

constexpr const char* kToken = "Zx9vQm2Lk8PqR4sT7uVw1XyA3bCdEfGhIjKlMnOp/QrStUvWx+YzAbCdEfGh=";
constexpr const char* kTo = "U4af4980629a3b6c7d8e9f0a1b2c3d4e5";

LineOptions options_for(const HttpReceiver& receiver) {
  LineOptions o;
  o.name = "ops";
  o.channel_access_token = kToken;
  o.to = kTo;
  o.base_url = receiver.url("");
  o.timeout = 5;
  return o;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void answer_json(HttpReceiver& receiver, int status, const std::string& body) {
  receiver.answer([status, body](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  });
}

constexpr const char* kSent = R"({"sentMessages":[{"id":"461230966842064897","quoteToken":"IStG5h1Tz7b..."}]})";

// 8-4-4-4-12 lower-case hex.
bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

std::string text_of(const ReceivedRequest& r) { return nlohmann::json::parse(r.body)["messages"][0]["text"]; }

}  // namespace

TEST_CASE("line options that cannot work are refused naming the notifier and never the token", "[line]") {
  HttpReceiver receiver;
  CHECK(lodestone::check_line_options(options_for(receiver)).ok());
  auto refused = [](const LineOptions& o) {
    const std::string why = lodestone::check_line_options(o).error();
    CHECK(contains(why, "line \"ops\": "));
    CHECK_FALSE(contains(why, "Zx9vQm2Lk8PqR4sT7uVw"));
    return why;
  };
  LineOptions o = options_for(receiver);
  o.channel_access_token.clear();
  CHECK(refused(o) == "line \"ops\": channel_access_token is required");
  o.channel_access_token = std::string(kToken) + "\r\nX-Evil: 1";
  CHECK(contains(refused(o), "channel_access_token"));
  o = options_for(receiver);
  o.to.clear();
  CHECK(refused(o) == "line \"ops\": to is required");
  for (const char* bad : {"bob", "X4af4980629a3b6c7d8e9f0a1b2c3d4e5", "U4af4980629a3b6c7d8e9f0a1b2c3d4e",
                          "Ug4f4980629a3b6c7d8e9f0a1b2c3d4e5"}) {
    o.to = bad;
    CHECK(contains(refused(o), "to must be"));
  }
  o = options_for(receiver);
  o.base_url = "file:///etc";
  CHECK(contains(refused(o), "base_url"));
  o = options_for(receiver);
  o.timeout = -1;
  CHECK(contains(refused(o), "timeout"));
  o = options_for(receiver);
  o.digest = -5;
  CHECK(contains(refused(o), "digest"));

  o = options_for(receiver);
  o.to.clear();
  LineNotifier notifier(o);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.error == "line \"ops\": to is required");
  CHECK(receiver.requests().empty());
}

TEST_CASE("line retry keys are the alert id as a lower-case UUID", "[line]") {
  CHECK(lodestone::line_retry_key("0123456789abcdef0123456789ABCDEF") == "01234567-89ab-cdef-0123-456789abcdef");
  CHECK(lodestone::line_retry_key("0123456789abcdef0123456789abcde").empty());
  CHECK(lodestone::line_retry_key("0123456789abcdef0123456789abcdeg").empty());
  CHECK(is_uuid(lodestone::line_retry_key(sample_alert().id)));
}

TEST_CASE("line pushes the plain text with a bearer token and a retry key from the alert id", "[line][http]") {
  HttpReceiver receiver;
  answer_json(receiver, 200, kSent);
  LineNotifier notifier(options_for(receiver));
  CHECK(notifier.name() == "ops");
  CHECK(notifier.digest_interval() == 0);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 200);

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const ReceivedRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.path == "/v2/bot/message/push");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("Authorization") == std::string("Bearer ") + kToken);
  const std::string key = r.header("X-Line-Retry-Key");
  CHECK(is_uuid(key));
  std::string hex = key;
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  CHECK(hex == alert.id);
  lodestone::testing::check_golden("line.json", r.body);
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["to"] == kTo);
  REQUIRE(body["messages"].size() == 1);
  CHECK(body["messages"][0]["type"] == "text");
  CHECK(body["messages"][0]["text"] ==
        "HIGH · Rare \"earth\" export controls\n"
        "中國對稀土出口管制 <@everyone> & more\n"
        "https://example.com/p/1?x=1&y=2\n"
        "…中國對«稀土»出口…\n"
        "Entity: Scott Bessent (matched as 貝森特)\n"
        "Source: ptt/Stock");
}

TEST_CASE("every line attempt of one alert has the same retry key and body and a 409 is delivered", "[line][http]") {
  HttpReceiver receiver;
  LineNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);
  answer_json(receiver, 500, R"({"message":"An internal server error occurred."})");
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "HTTP 500: An internal server error occurred."));
  // The first push got through after all: LINE says the key was already accepted.
  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 409;
    res.set_header("x-line-accepted-request-id", "c5fe1b4c-1ea5-4f21-8c3d-5ea6f7a1b2c3");
    res.set_content(
        R"({"message":"The retry key is already accepted","sentMessages":[{"id":"461230966842064897","quoteToken":"IStG5h1Tz7b..."}]})",
        "application/json");
  });
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 409);
  CHECK(got.error.empty());
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("X-Line-Retry-Key") == lodestone::line_retry_key(alert.id));
  CHECK(requests[1].header("X-Line-Retry-Key") == requests[0].header("X-Line-Retry-Key"));
  CHECK(requests[1].body == requests[0].body);
}

TEST_CASE("line's 429 is retried and 400 and 401 are dead with the API's message and details", "[line][http]") {
  HttpReceiver receiver;
  LineNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);

  answer_json(receiver, 429, R"({"message":"The API rate limit has been exceeded. Try again later."})");
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == -1);
  CHECK(got.error == "line \"ops\" (http://127.0.0.1:" + std::to_string(receiver.port()) +
                         "/v2/bot/message/push): HTTP 429: The API rate limit has been exceeded. Try again later.");
  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "30");
    res.set_content(R"({"message":"The API rate limit has been exceeded. Try again later."})", "application/json");
  });
  CHECK(notifier.send(alert, json).retry_after == 30);

  answer_json(receiver, 400,
              R"json({"message":"The request body has 1 error(s)","details":)json"
              R"json([{"message":"Length must be between 0 and 5000","property":"messages[0].text"}]})json");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 400);
  CHECK(contains(got.error,
                 "HTTP 400: The request body has 1 error(s); messages[0].text: Length must be between 0 and 5000"));

  answer_json(
      receiver, 401,
      R"({"message":"Authentication failed. Confirm that the access token in the authorization header is valid."})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 401);
  CHECK(contains(got.error, "HTTP 401: Authentication failed. Confirm that the access token"));

  receiver.answer_status(503, "upstream down");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "HTTP 503: upstream down"));
}

TEST_CASE("line errors never hold the channel access token", "[line][http]") {
  HttpReceiver receiver;
  // A server that echoes the Authorization header back.
  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 401;
    nlohmann::json body = {{"message", "Authentication failed: " + req.get_header_value("Authorization")}};
    res.set_content(body.dump(), "application/json");
  });
  LineNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "Authentication failed: Bearer ***"));
  CHECK_FALSE(contains(got.error, kToken));

  ClosedPort closed;
  LineOptions o = options_for(receiver);
  o.base_url = "http://127.0.0.1:" + std::to_string(closed.port());
  LineNotifier unreachable(o);
  got = unreachable.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(
      contains(got.error, "line \"ops\" (http://127.0.0.1:" + std::to_string(closed.port()) + "/v2/bot/message/push)"));
  CHECK_FALSE(contains(got.error, kToken));
}

TEST_CASE("a line alert whose id cannot make a retry key is dead and sends nothing", "[line][http]") {
  HttpReceiver receiver;
  LineNotifier notifier(options_for(receiver));
  for (const char* id : {"", "not-hex", "0123456789abcdef0123456789abcdef0"}) {
    Alert alert = sample_alert();
    alert.id = id;
    const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
    CHECK(got.outcome == Outcome::kDead);
    CHECK(contains(got.error, "X-Line-Retry-Key"));
  }
  CHECK(receiver.requests().empty());
}

TEST_CASE("a hostile post reaches line as literal text within 5000 UTF-16 units and keeps a real link",
          "[line][http]") {
  HttpReceiver receiver;
  LineNotifier notifier(options_for(receiver));
  const Alert alert = lodestone::testing::hostile_alert();
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  std::string text = text_of(receiver.requests().back());
  CHECK(text.rfind("HIGH · Rare earths <b>bold</b>\n<a href=\"https://evil.example\">@everyone</a> <!channel> @room",
                   0) == 0);
  // A javascript: URL is not shown on a line of its own, or anywhere.
  CHECK_FALSE(contains(text, "javascript:"));
  CHECK(contains(text, "\n[x](https://evil.example) <b>«稀土»</b> @everyone\n"));
  CHECK(lodestone::utf16_units(text) <= lodestone::kLineTextMax);

  Alert linked = alert;
  linked.post.url = "https://example.com/p/666?x=1&y=2";
  REQUIRE(notifier.send(linked, lodestone::to_json(linked)).outcome == Outcome::kDelivered);
  text = text_of(receiver.requests().back());
  CHECK(contains(text, "…\nhttps://example.com/p/666?x=1&y=2\n[x](https://evil.example) <b>«稀土»</b> @everyone\n"));
  CHECK(lodestone::utf16_units(text) <= lodestone::kLineTextMax);

  // Characters past U+FFFF count twice: 3000 emoji are 6000 units and must be cut.
  Alert emoji = sample_alert();
  emoji.post.title.clear();
  for (int i = 0; i < 3000; ++i) emoji.post.title += "😀";
  emoji.matches.front().snippet.clear();
  for (int i = 0; i < 3000; ++i) emoji.matches.front().snippet += "😀";
  emoji.matches.front().snippet += "稀土";
  REQUIRE(notifier.send(emoji, lodestone::to_json(emoji)).outcome == Outcome::kDelivered);
  text = text_of(receiver.requests().back());
  CHECK(lodestone::utf16_units(text) <= lodestone::kLineTextMax);
  CHECK(contains(text, "\nhttps://example.com/p/1?x=1&y=2\n"));
}

TEST_CASE("a line digest is one push with a retry key from its alerts and and N more past the limit", "[line][http]") {
  HttpReceiver receiver;
  LineOptions o = options_for(receiver);
  o.digest = 600;
  LineNotifier notifier(o);
  CHECK(notifier.digest_interval() == 600);

  std::vector<Alert> alerts;
  std::vector<std::string> jsons;
  for (int i = 0; i < 60; ++i) {
    Alert a = lodestone::testing::hostile_alert();
    a.post.id = "M." + std::to_string(i);
    a.post.url = "https://example.com/p/" + std::to_string(i);
    a.id = lodestone::alert_id(a.rule.id, a.post.source, a.post.id);
    alerts.push_back(a);
  }
  for (const Alert& a : alerts) jsons.push_back(lodestone::to_json(a));
  receiver.answer_status(500);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kRetry);
  receiver.answer_status(200, kSent);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  const std::string key = requests[0].header("X-Line-Retry-Key");
  CHECK(key == lodestone::line_retry_key(lodestone::digest_key(alerts)));
  CHECK(is_uuid(key));
  CHECK(key != lodestone::line_retry_key(alerts[0].id));
  CHECK(requests[1].header("X-Line-Retry-Key") == key);
  CHECK(requests[1].body == requests[0].body);

  const std::string text = text_of(requests[1]);
  CHECK(text.rfind("Lodestone · 60 alerts\n\nHIGH · Rare earths <b>bold</b>\n", 0) == 0);
  CHECK(contains(text, "\nhttps://example.com/p/0\n"));
  const size_t more = text.rfind("\n\nand ");
  REQUIRE(more != std::string::npos);
  CHECK(text.substr(text.size() - 5) == " more");
  const int left_out = std::stoi(text.substr(more + 6));
  CHECK(left_out > 0);
  CHECK(left_out < 60);
  CHECK(lodestone::utf16_units(text) <= lodestone::kLineTextMax);
}

TEST_CASE("line cancel() stops a request in flight and every later send is kRetry", "[line][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request&, httplib::Response& res) {
    receiver.hold(std::chrono::milliseconds(2000));
    res.status = 200;
  });
  LineOptions o = options_for(receiver);
  o.timeout = 60;
  LineNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got;
  std::thread sender([&] { got = notifier.send(alert, lodestone::to_json(alert)); });
  receiver.wait_for(1);
  notifier.cancel();
  sender.join();
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  CHECK(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kRetry);
  CHECK(receiver.requests().size() == 1);
}
