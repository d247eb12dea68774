// The webhook notifier against a real HTTP receiver on loopback: bodies, Standard Webhooks
// headers and signatures, how each answer maps to an outcome, and errors that keep secrets.
#include "notifiers/webhook/webhook.h"
#include "net/curl_support.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/closed_port.h"
#include "support/http_receiver.h"
#include "notifiers/chat_format.h"
#include "support/golden.h"
#include "support/sample_alert.h"

using lodestone::Alert;
using test_support::ClosedPort;
using lodestone::DeliveryAttempt;
using lodestone::WebhookNotifier;
using lodestone::WebhookOptions;
using lodestone::testing::sample_alert;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ReceivedRequest;
using Outcome = DeliveryAttempt::Outcome;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

WebhookOptions options_for(const std::string& url, const std::string& secret = kSecret) {
  WebhookOptions o;
  o.name = "ops-hook";
  o.url = url;
  o.secret = secret;
  o.timeout = 5;
  return o;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the Standard Webhooks specification's test vector verifies", "[webhook]") {
  const std::string body = R"({"test": 2432232314})";
  CHECK(lodestone::standard_webhooks_signature(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body) ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Any byte of id, timestamp or body changes it.
  CHECK(lodestone::standard_webhooks_signature(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331", body) !=
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  CHECK(lodestone::standard_webhooks_signature(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                               R"({"test":2432232314})") !=
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("a secret without the whsec_ prefix is the key's own bytes", "[webhook]") {
  // base64("a raw key!") == "YSByYXcga2V5IQ=="
  const std::string raw = lodestone::standard_webhooks_signature("a raw key!", "msg_1", "1", "{}");
  CHECK(raw.rfind("v1,", 0) == 0);
  CHECK(raw == lodestone::standard_webhooks_signature("whsec_YSByYXcga2V5IQ==", "msg_1", "1", "{}"));
  CHECK(raw == lodestone::standard_webhooks_signature("whsec_YSByYXcga2V5IQ", "msg_1", "1", "{}"));  // unpadded
  CHECK(raw != lodestone::standard_webhooks_signature("whsec_YSByYXcga2V5Iq==", "msg_1", "1", "{}"));
  CHECK(lodestone::standard_webhooks_signature("whsec_not base64!", "msg_1", "1", "{}").empty());
  CHECK(lodestone::standard_webhooks_signature("", "msg_1", "1", "{}").empty());
}

TEST_CASE("Retry-After is read as delta-seconds or as an HTTP-date", "[webhook]") {
  const double date = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(lodestone::parse_retry_after("7", 0) == 7);
  CHECK(lodestone::parse_retry_after(" 120 ", 0) == 120);
  CHECK(lodestone::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date - 30) == 30);
  CHECK(lodestone::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", date - 30) == 30);
  CHECK(lodestone::parse_retry_after("Sun Nov  6 08:49:37 1994", date - 30) == 30);
  CHECK(lodestone::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date + 100) == 0);  // already past
  CHECK(lodestone::parse_retry_after("soon", 0) == -1);
  CHECK(lodestone::parse_retry_after("-5", 0) == -1);
  CHECK(lodestone::parse_retry_after("1.5", 0) == -1);
  CHECK(lodestone::parse_retry_after("", 0) == -1);
}

TEST_CASE("options that cannot work are refused without quoting the URL or the secret", "[webhook]") {
  const std::string url = "https://user:pw-9f8e7d@hooks.example.com/in?token=tok-1a2b";
  CHECK(lodestone::check_webhook_options(options_for(url)).ok());

  auto refused = [&](WebhookOptions o) {
    std::string why = lodestone::check_webhook_options(o).error();
    CHECK_FALSE(why.empty());
    CHECK(contains(why, "ops-hook"));
    CHECK_FALSE(contains(why, "pw-9f8e7d"));
    CHECK_FALSE(contains(why, "tok-1a2b"));
    CHECK_FALSE(contains(why, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    return why;
  };
  WebhookOptions o = options_for(url);
  o.format = "xml";
  CHECK(contains(refused(o), "format"));
  o = options_for("ftp://user:pw-9f8e7d@hooks.example.com/in?token=tok-1a2b");
  CHECK(contains(refused(o), "http"));
  o = options_for("not a url pw-9f8e7d tok-1a2b");
  CHECK(contains(refused(o), "url"));
  o = options_for(url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!!");
  CHECK(contains(refused(o), "base64"));
  o = options_for(url);
  o.timeout = 0;
  CHECK(contains(refused(o), "timeout"));
  o = options_for(url);
  o.headers = {{"X-Team", "a\r\nX-Injected: yes"}};
  CHECK(contains(refused(o), "line break"));
  o = options_for(url);
  o.headers = {{"Webhook-Signature", "v1,forged"}};
  CHECK(contains(refused(o), "set by the notifier"));
  o = options_for(url);
  o.headers = {{"Bad Name", "x"}};
  CHECK(contains(refused(o), "header name"));
}

TEST_CASE("a notifier with options that cannot work is dead on every send and sends nothing", "[webhook]") {
  HttpReceiver receiver;
  WebhookOptions o = options_for(receiver.url());
  o.format = "xml";
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "format"));
  CHECK(receiver.requests().empty());
}

TEST_CASE("an alert id that cannot be a webhook-id is dead and sends nothing", "[webhook][http]") {
  HttpReceiver receiver;
  WebhookNotifier notifier(options_for(receiver.url()));
  for (const char* id : {"", "ab\r\nX-Injected: 1", "msg.1"}) {
    Alert alert = sample_alert();
    alert.id = id;
    DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
    CHECK(got.outcome == Outcome::kDead);
    CHECK(contains(got.error, "id"));
  }
  CHECK(receiver.requests().empty());
}

TEST_CASE("a 2xx answer is delivered, the body wraps the alert's bytes and the signature verifies", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer_status(204);
  WebhookOptions o = options_for(receiver.url());
  o.headers = {{"X-Team", "ops"}, {"Authorization", "Bearer abc"}};
  WebhookNotifier notifier(o);
  CHECK(notifier.name() == "ops-hook");
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);

  const long long before = std::time(nullptr);
  DeliveryAttempt got = notifier.send(alert, json);
  const long long after = std::time(nullptr);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 204);
  CHECK(got.error.empty());
  CHECK(got.retry_after == -1);

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const ReceivedRequest& r = requests[0];
  CHECK(r.path == "/hook");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("webhook-id") == alert.id);
  CHECK(r.count("webhook-id") == 1);
  CHECK(r.header("X-Team") == "ops");
  CHECK(r.header("Authorization") == "Bearer abc");
  const std::string timestamp = r.header("webhook-timestamp");
  REQUIRE_FALSE(timestamp.empty());
  const long long t = std::stoll(timestamp);
  CHECK(t >= before);
  CHECK(t <= after);

  // The body's timestamp is the alert's own time, the same on every attempt.
  CHECK(r.body == R"({"type":"lodestone.alert","timestamp":")" + alert.matched_at + R"(","data":)" + json + "}");
  const auto parsed = nlohmann::json::parse(r.body);
  CHECK(parsed["type"] == "lodestone.alert");
  CHECK(parsed["data"] == nlohmann::json::parse(json));

  // What a receiver does: recompute the signature over exactly the bytes it got.
  CHECK(r.header("webhook-signature") == lodestone::standard_webhooks_signature(kSecret, alert.id, timestamp, r.body));
  CHECK(r.header("webhook-signature") !=
        lodestone::standard_webhooks_signature("whsec_YSByYXcga2V5IQ==", alert.id, timestamp, r.body));
}

TEST_CASE("without a secret no signature header is sent", "[webhook][http]") {
  HttpReceiver receiver;
  WebhookNotifier notifier(options_for(receiver.url(), ""));
  const Alert alert = sample_alert();
  CHECK(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].count("webhook-signature") == 0);
  CHECK(requests[0].header("webhook-id") == alert.id);
}

TEST_CASE("a 503 with Retry-After: 7 is retried after 7 seconds", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_header("Retry-After", "7");
    res.set_content("busy", "text/plain");
  });
  WebhookNotifier notifier(options_for(receiver.url()));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 503);
  CHECK(got.retry_after == 7);
  CHECK(contains(got.error, "ops-hook"));
  CHECK(contains(got.error, receiver.url()));
  CHECK(contains(got.error, "503"));
  CHECK(contains(got.error, "busy"));
}

TEST_CASE("429 and 408 are retried, other 4xx are dead", "[webhook][http]") {
  HttpReceiver receiver;
  WebhookNotifier notifier(options_for(receiver.url()));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);

  receiver.answer_status(429);
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == -1);

  receiver.answer_status(408);
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 408);

  receiver.answer_status(400, "invalid_payload");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 400);
  CHECK(contains(got.error, "400"));
  CHECK(contains(got.error, "invalid_payload"));

  receiver.answer_status(404);
  CHECK(notifier.send(alert, json).outcome == Outcome::kDead);
  receiver.answer_status(500);
  CHECK(notifier.send(alert, json).outcome == Outcome::kRetry);
}

TEST_CASE("a redirect is not followed and is dead", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/hook") {
      res.status = 301;
      res.set_header("Location", receiver.url("/elsewhere"));
    } else {
      res.status = 200;
    }
  });
  WebhookNotifier notifier(options_for(receiver.url()));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 301);
  CHECK(contains(got.error, "redirect"));
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/hook");
}

TEST_CASE("a receiver slower than the timeout is retried with no status", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request&, httplib::Response& res) {
    receiver.hold(std::chrono::milliseconds(1500));
    res.status = 200;
  });
  WebhookOptions o = options_for(receiver.url());
  o.timeout = 0.5;
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  const auto start = std::chrono::steady_clock::now();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "timed out after 0.5 s"));
  CHECK(contains(got.error, "ops-hook"));
  CHECK(took < 1.4);
  CHECK(receiver.requests().size() == 1);
}

TEST_CASE("a closed port is retried with no status", "[webhook][http]") {
  ClosedPort closed;
  WebhookNotifier notifier(options_for("http://127.0.0.1:" + std::to_string(closed.port()) + "/hook"));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "ops-hook"));
  CHECK(contains(got.error, "127.0.0.1:" + std::to_string(closed.port())));
}

TEST_CASE("every attempt of one alert has the same webhook-id and the same body but the timestamp", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer_status(503);
  WebhookNotifier notifier(options_for(receiver.url()));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);
  CHECK(notifier.send(alert, json).outcome == Outcome::kRetry);
  // A second later, so that the attempt's own timestamp must change.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  receiver.answer_status(200);
  CHECK(notifier.send(alert, json).outcome == Outcome::kDelivered);

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("webhook-id") == alert.id);
  CHECK(requests[1].header("webhook-id") == alert.id);
  const std::string t0 = requests[0].header("webhook-timestamp");
  const std::string t1 = requests[1].header("webhook-timestamp");
  CHECK(t0 != t1);
  // The bodies are byte-identical: only the webhook-timestamp header (and so the signature) differs.
  CHECK(requests[0].body == requests[1].body);
  // Each attempt is signed over its own timestamp.
  for (const auto& r : requests) {
    CHECK(r.header("webhook-signature") ==
          lodestone::standard_webhooks_signature(kSecret, alert.id, r.header("webhook-timestamp"), r.body));
  }
}

namespace {

// The bodies one notifier of `format` sends for `alert`, as a receiver got them.
std::string body_sent(const std::string& format, const Alert& alert) {
  HttpReceiver receiver;
  WebhookOptions o = options_for(receiver.url("/" + format));
  o.format = format;
  const DeliveryAttempt a = WebhookNotifier(o).send(alert, lodestone::to_json(alert));
  INFO(a.error);
  CHECK(a.outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].header("Content-Type") == "application/json");
  // The Standard Webhooks headers come along, signed over the body actually sent.
  CHECK(requests[0].header("webhook-id") == alert.id);
  CHECK(requests[0].header("webhook-signature") ==
        lodestone::standard_webhooks_signature(kSecret, alert.id, requests[0].header("webhook-timestamp"),
                                               requests[0].body));
  return requests[0].body;
}

// Every "text" of a Slack rich_text block's elements, in order, each with its style.
std::string slack_rich_text(const nlohmann::json& body) {
  std::string out;
  for (const auto& section : body["blocks"][0]["elements"]) {
    for (const auto& e : section["elements"]) {
      const bool bold = e.contains("style") && e["style"].value("bold", false);
      const std::string text = e["text"];
      if (e["type"] == "link") {
        out.append("<link ").append(e["url"].get<std::string>()).append(">").append(text).append("</link>");
      } else {
        out.append(bold ? "*" : "").append(text).append(bold ? "*" : "");
      }
    }
    out += "|";
  }
  return out;
}

}  // namespace

TEST_CASE("the json body is the Standard Webhooks envelope around the stored alert, byte for byte",
          "[webhook][http][chat]") {
  const Alert alert = sample_alert();
  const std::string body = body_sent("json", alert);
  lodestone::testing::check_golden("webhook.json", body);
  CHECK(body == R"({"type":"lodestone.alert","timestamp":"2026-01-11T11:08:03Z","data":)" + lodestone::to_json(alert) + "}");
}

TEST_CASE("slack gets Block Kit: severity, rule, the title as a link, the snippet with its match bold, entity, source",
          "[webhook][http][chat]") {
  const std::string body = body_sent("slack", sample_alert());
  lodestone::testing::check_golden("slack.json", body);
  const auto j = nlohmann::json::parse(body);
  // rich_text elements are literal text: what the post says is shown, not read as markup.
  CHECK(j["blocks"][0]["type"] == "rich_text");
  CHECK(slack_rich_text(j) == "*HIGH · **Rare \"earth\" export controls*\n<link https://example.com/p/1?x=1&y=2>中國對稀土出口管制 <@everyone> & more</link>|"
                              "…中國對*稀土*出口…|");
  CHECK(j["blocks"][1]["elements"][0]["text"] == "Entity: Scott Bessent (matched as 貝森特) · Source: ptt/Stock");
  CHECK(j["blocks"][1]["elements"][0]["type"] == "plain_text");
  // The notification text is mrkdwn: & < > escaped, so the title cannot make a mention.
  CHECK(j["text"] == "[HIGH] Rare \"earth\" export controls: 中國對稀土出口管制 &lt;@everyone&gt; &amp; more");
}

TEST_CASE("discord gets an embed: the title linked, the snippet with its match bold, entity and source as fields",
          "[webhook][http][chat]") {
  const std::string body = body_sent("discord", sample_alert());
  lodestone::testing::check_golden("discord.json", body);
  const auto j = nlohmann::json::parse(body);
  const auto& e = j["embeds"][0];
  CHECK(e["author"]["name"] == "HIGH · Rare \"earth\" export controls");
  CHECK(e["title"] == "中國對稀土出口管制 <@everyone> & more");
  CHECK(e["url"] == "https://example.com/p/1?x=1&y=2");
  CHECK(e["description"] == "…中國對**稀土**出口…");
  CHECK(e["color"] == 0xE53935);
  REQUIRE(e["fields"].size() == 2);
  CHECK(e["fields"][0]["value"] == "Scott Bessent \\(matched as 貝森特\\)");
  CHECK(e["fields"][1]["value"] == "ptt/Stock");
  CHECK(j["allowed_mentions"]["parse"] == nlohmann::json::array());
}

TEST_CASE("a hostile post injects no markup, mention or link into slack or discord, and a 10 KB title fits",
          "[webhook][http][chat]") {
  const Alert alert = lodestone::testing::hostile_alert();
  const auto slack = nlohmann::json::parse(body_sent("slack", alert));
  const std::string rich = slack_rich_text(slack);
  // No link element at all: a javascript: URL is no link, and the title is literal text.
  CHECK(rich.find("<link") == std::string::npos);
  CHECK(rich.find("<a href=\"https://evil.example\">@everyone</a> <!channel> @room [win](https://evil.example)") !=
        std::string::npos);
  CHECK(rich.find("[x](https://evil.example) <b>*稀土*</b> @everyone") != std::string::npos);
  const std::string fallback = slack["text"];
  CHECK(fallback.find_first_of("<>") == std::string::npos);
  CHECK(fallback.find("&lt;!channel&gt;") != std::string::npos);
  CHECK(lodestone::code_points(fallback) <= 3000);
  CHECK(lodestone::code_points(slack["blocks"][0]["elements"][0]["elements"][3]["text"].get<std::string>()) <= 3000);

  const auto discord = nlohmann::json::parse(body_sent("discord", alert));
  const auto& e = discord["embeds"][0];
  CHECK_FALSE(e.contains("url"));
  CHECK(lodestone::code_points(e["title"].get<std::string>()) <= 256);
  // Markdown is escaped: no masked link, no bold of the post's own; the match alone is bold.
  CHECK(e["description"] == "\\[x\\]\\(https://evil\\.example\\) \\<b\\>**稀土**\\</b\\> @everyone");
  CHECK(discord["allowed_mentions"]["parse"] == nlohmann::json::array());
  CHECK(e["fields"][0]["value"] == "Scott Bessent \\(matched as \\<i\\>Bessent\\</i\\> @here\\)");
}

TEST_CASE("a webhook digest is one request: the stored alerts byte for byte in json, a list with and N more in chat",
          "[webhook][http][digest]") {
  std::vector<Alert> alerts;
  std::vector<std::string> jsons;
  for (int i = 0; i < 40; ++i) {
    alerts.push_back(sample_alert("M." + std::to_string(i)));
    jsons.push_back(lodestone::to_json(alerts.back()));
  }
  const auto digest_of = [&](const std::string& format, size_t n) {
    HttpReceiver receiver;
    WebhookOptions o = options_for(receiver.url());
    o.format = format;
    o.digest = 900;
    WebhookNotifier notifier(o);
    CHECK(notifier.digest_interval() == 900);
    const DeliveryAttempt a = notifier.send_digest(std::span<const Alert>(alerts.data(), n),
                                                   std::span<const std::string>(jsons.data(), n));
    INFO(a.error);
    CHECK(a.outcome == Outcome::kDelivered);
    REQUIRE(receiver.requests().size() == 1);
    const ReceivedRequest r = receiver.requests()[0];
    CHECK(r.header("webhook-id") == lodestone::digest_key(std::span<const Alert>(alerts.data(), n)));
    CHECK(r.header("webhook-signature") ==
          lodestone::standard_webhooks_signature(kSecret, r.header("webhook-id"), r.header("webhook-timestamp"), r.body));
    return r.body;
  };
  std::string expected = R"({"type":"lodestone.digest","timestamp":"2026-01-11T11:08:03Z","data":[)";
  for (size_t i = 0; i < 3; ++i) expected.append(i ? "," : "").append(jsons[i]);
  CHECK(digest_of("json", 3) == expected + "]}");

  const auto slack = nlohmann::json::parse(digest_of("slack", 40));
  CHECK(slack["text"] == "40 alerts");
  const auto& elements = slack["blocks"][0]["elements"];
  CHECK(elements[1]["elements"].size() == 20);
  CHECK(elements[1]["elements"][0]["elements"][2]["url"] == "https://example.com/p/1?x=1&y=2");
  CHECK(elements[2]["elements"][0]["text"] == "and 20 more");

  const auto discord = nlohmann::json::parse(digest_of("discord", 40));
  const std::string description = discord["embeds"][0]["description"];
  CHECK(discord["embeds"][0]["title"] == "40 alerts");
  CHECK(lodestone::code_points(description) <= 4096);
  CHECK(description.rfind("**HIGH** Rare \"earth\" export controls: [中國對稀土出口管制 \\<@everyone\\> & more]"
                          "(https://example.com/p/1?x=1&y=2)\n", 0) == 0);
  const size_t listed = static_cast<size_t>(std::count(description.begin(), description.end(), '\n'));
  if (listed < 40) CHECK(description.substr(description.rfind('\n') + 1) == "and " + std::to_string(40 - listed) + " more");

  // A digest of one alert is that alert's own request.
  CHECK(nlohmann::json::parse(digest_of("json", 1))["type"] == "lodestone.alert");
  WebhookOptions t = options_for("https://example.com/hook");
  t.format = "template";
  t.template_path = LODESTONE_TEST_DATA "/notifiers/webhook_body.mustache";
  t.digest = 60;
  CHECK(contains(lodestone::check_webhook_options(t).error(), "digest works with format json, slack or discord"));
}

TEST_CASE("errors never show the secret, the URL's password or its query", "[webhook][http]") {
  HttpReceiver receiver;
  // A receiver that echoes everything back, secrets included.
  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(std::string("bad: token=qtok-77 pass=s3cr3t-pass key=") + kSecret, "text/plain");
  });
  const std::string port = std::to_string(receiver.port());
  WebhookNotifier notifier(options_for("http://alice:s3cr3t-pass@127.0.0.1:" + port + "/hook?token=qtok-77"));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 400);
  CHECK(contains(got.error, "ops-hook"));
  CHECK(contains(got.error, "http://127.0.0.1:" + port + "/hook"));
  CHECK(contains(got.error, "bad: *** pass=*** key=***"));
  for (const char* secret : {"s3cr3t-pass", "qtok-77", "alice", kSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
    INFO(secret);
    CHECK_FALSE(contains(got.error, secret));
  }
  // The credentials still went where they belong: Basic authentication.
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].header("Authorization").rfind("Basic ", 0) == 0);

  // And when no one answers at all.
  ClosedPort closed;
  const std::string closed_port = std::to_string(closed.port());
  WebhookNotifier unreachable(options_for("http://alice:s3cr3t-pass@127.0.0.1:" + closed_port + "/hook?token=qtok-77"));
  got = unreachable.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "127.0.0.1:" + closed_port));
  for (const char* secret : {"s3cr3t-pass", "qtok-77", "alice", kSecret}) {
    INFO(secret);
    CHECK_FALSE(contains(got.error, secret));
  }
}

TEST_CASE("outside text holding a short hidden string is left out rather than mangled", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer_status(400, "page 1 is bad");
  const std::string who = "webhook \"ops-hook\" (http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook)";
  WebhookNotifier notifier(options_for(receiver.url("/hook?page=1")));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.error == who + ": HTTP 400");

  receiver.answer_status(400, "page 2 is bad");
  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.error == who + ": HTTP 400: page 2 is bad");
}

TEST_CASE("a receiver's answer is quoted short, on one line, as valid UTF-8", "[webhook][http]") {
  HttpReceiver receiver;
  // A line break, a stray byte, CJK text, then far more than an error needs, ending in a cut "稀".
  receiver.answer_status(422, "bad\r\nfield \xff 稀土 " + std::string(300, 'x'));
  WebhookNotifier notifier(options_for(receiver.url()));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, ": HTTP 422: bad  field ? 稀土 xxx"));
  CHECK(got.error.size() < 400);
  CHECK_FALSE(contains(got.error, "\n"));
  CHECK_NOTHROW(nlohmann::json(got.error).dump());

  receiver.answer_status(422, std::string(198, 'y') + "稀");  // 201 bytes: cut inside the character
  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.error.substr(got.error.size() - 3) == "y??");
  CHECK_NOTHROW(nlohmann::json(got.error).dump());
}

TEST_CASE("slack and discord URLs keep their token path out of errors", "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer_status(404, "no such hook");
  WebhookOptions o = options_for(receiver.url("/services/T000/B000/XXXXtoken"), "");
  o.format = "slack";
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "http://127.0.0.1:" + std::to_string(receiver.port()) + "/…"));
  CHECK_FALSE(contains(got.error, "XXXXtoken"));
}

TEST_CASE("a template body is the mustache file rendered with the alert, escaped for JSON",
          "[webhook][http][template]") {
  HttpReceiver receiver;
  WebhookOptions o = options_for(receiver.url());
  o.format = "template";
  o.template_path = LODESTONE_TEST_DATA "/notifiers/webhook_body.mustache";
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  INFO(got.error);
  REQUIRE(got.outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  INFO(requests[0].body);
  const nlohmann::json body = nlohmann::json::parse(requests[0].body);
  CHECK(body["text"] == "high: Rare \"earth\" export controls · 中國對稀土出口管制 <@everyone> & more");
  CHECK(body["url"] == "https://example.com/p/1?x=1&y=2");
  CHECK(body["terms"] == nlohmann::json({"稀土", nullptr}));
  CHECK(requests[0].header("Content-Type") == "application/json");
  CHECK(requests[0].header("webhook-id") == alert.id);
  // The signature covers the rendered body.
  CHECK(requests[0].header("webhook-signature") ==
        lodestone::standard_webhooks_signature(kSecret, alert.id, requests[0].header("webhook-timestamp"),
                                               requests[0].body));
}

TEST_CASE("a template body goes with the configured Content-Type", "[webhook][http][template]") {
  HttpReceiver receiver;
  WebhookOptions o = options_for(receiver.url());
  o.format = "template";
  o.template_path = LODESTONE_TEST_DATA "/notifiers/webhook_body.mustache";
  o.content_type = "application/vnd.example+json";
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  REQUIRE(receiver.requests().size() == 1);
  CHECK(receiver.requests()[0].header("Content-Type") == "application/vnd.example+json");
}

TEST_CASE("a template body is escaped for its Content-Type: HTML for text/html and none for text/plain",
          "[webhook][http][template]") {
  const Alert alert = sample_alert();
  const auto body_of = [&alert](const std::string& file, const std::string& content_type) {
    HttpReceiver receiver;
    WebhookOptions o = options_for(receiver.url());
    o.format = "template";
    o.template_path = std::string(LODESTONE_TEST_DATA "/notifiers/") + file;
    o.content_type = content_type;
    REQUIRE(WebhookNotifier(o).send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
    REQUIRE(receiver.requests().size() == 1);
    CHECK(receiver.requests()[0].header("Content-Type") == content_type);
    return receiver.requests()[0].body;
  };
  CHECK(body_of("webhook_body.html.mustache", "text/html; charset=utf-8") ==
        "<p>Rare &quot;earth&quot; export controls: <a href=\"https://example.com/p/1?x=1&amp;y=2\">中國對稀土出口管制 "
        "&lt;@everyone&gt; &amp; more</a></p>\n");
  CHECK(body_of("webhook_body.txt.mustache", "text/plain") ==
        "Alert: Rare \"earth\" export controls\n中國對稀土出口管制 <@everyone> & more\n");
}

TEST_CASE("format template without a readable, parseable template is refused", "[webhook][template]") {
  WebhookOptions o = options_for("https://example.com/hook");
  o.format = "template";
  CHECK(contains(lodestone::check_webhook_options(o).error(), "template"));
  o.template_path = "/nonexistent/body.mustache";
  CHECK(contains(lodestone::check_webhook_options(o).error(), "/nonexistent/body.mustache: cannot read the template"));
  o.template_path = LODESTONE_TEST_DATA "/notifiers/unclosed_section.mustache";
  const std::string why = lodestone::check_webhook_options(o).error();
  CHECK(contains(why, "unclosed_section.mustache"));
  CHECK(contains(why, "ops-hook"));
  o.template_path = LODESTONE_TEST_DATA "/notifiers/webhook_body.mustache";
  CHECK(lodestone::check_webhook_options(o).ok());
  o.content_type = "text/plain\r\nX-Evil: 1";
  CHECK(contains(lodestone::check_webhook_options(o).error(), "content_type"));

  o.template_path = "/nonexistent/body.mustache";
  o.content_type = "application/json";
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "/nonexistent/body.mustache"));
}

TEST_CASE("cancel() during a request to a slow receiver returns kRetry, and so does every later send",
          "[webhook][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request&, httplib::Response& res) {
    receiver.hold(std::chrono::milliseconds(2000));
    res.status = 200;
  });
  WebhookOptions o = options_for(receiver.url());
  o.timeout = 60;
  WebhookNotifier notifier(o);
  const Alert alert = sample_alert();
  DeliveryAttempt got;
  std::thread sender([&] { got = notifier.send(alert, lodestone::to_json(alert)); });
  // Cancel once the request is in the receiver's hands, so it is cut in flight.
  receiver.wait_for(1);
  REQUIRE(receiver.requests().size() == 1);
  notifier.cancel();
  sender.join();
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "ops-hook"));
  CHECK(contains(got.error, "cancelled"));

  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  CHECK(receiver.requests().size() == 1);
}
