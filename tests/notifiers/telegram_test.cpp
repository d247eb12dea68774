// The telegram notifier against a real HTTP receiver on loopback standing in for the Bot API:
// the sendMessage request, the HTML text and its limit, the API's answers, digests, and errors
// that never hold the bot token.
#include "notifiers/telegram/telegram.h"

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
using lodestone::TelegramNotifier;
using lodestone::TelegramOptions;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ReceivedRequest;
using lodestone::testing::sample_alert;
using test_support::ClosedPort;
using Outcome = DeliveryAttempt::Outcome;

namespace {

constexpr const char* kToken = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
constexpr const char* kTokenSecret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

TelegramOptions options_for(const HttpReceiver& receiver) {
  TelegramOptions o;
  o.name = "ops";
  o.bot_token = kToken;
  o.chat_id = "-1001234567890";
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

constexpr const char* kOk =
    R"({"ok":true,"result":{"message_id":1,"from":{"id":110201543,"is_bot":true,"first_name":"Lodestone"},)"
    R"("chat":{"id":-1001234567890,"title":"Ops","type":"supergroup"},"date":1768129683,"text":"HIGH"}})";

// The one request the receiver got, and its JSON body.
nlohmann::json only_body(const HttpReceiver& receiver) {
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  return nlohmann::json::parse(requests[0].body);
}

// Every tag of an HTML text: what Telegram would read as markup.
std::vector<std::string> tags_of(const std::string& html) {
  std::vector<std::string> tags;
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    tags.push_back(html.substr(at, html.find('>', at) - at + 1));
  }
  return tags;
}

}  // namespace

TEST_CASE("telegram options that cannot work are refused naming the notifier and never the token", "[telegram]") {
  HttpReceiver receiver;
  CHECK(lodestone::check_telegram_options(options_for(receiver)).ok());
  auto refused = [](const TelegramOptions& o) {
    const std::string why = lodestone::check_telegram_options(o).error();
    CHECK(contains(why, "telegram \"ops\": "));
    CHECK_FALSE(contains(why, kTokenSecret));
    return why;
  };
  TelegramOptions o = options_for(receiver);
  o.bot_token.clear();
  CHECK(refused(o) == "telegram \"ops\": bot_token is required");
  o = options_for(receiver);
  o.bot_token = std::string(kToken) + "/../x";
  CHECK(contains(refused(o), "bot_token"));
  o = options_for(receiver);
  o.chat_id.clear();
  CHECK(refused(o) == "telegram \"ops\": chat_id is required");
  for (const char* bad : {"ops channel", "@", "-", "12ab", "@chan-nel"}) {
    o.chat_id = bad;
    CHECK(contains(refused(o), "chat_id"));
  }
  o = options_for(receiver);
  o.base_url = "ftp://api.telegram.org";
  CHECK(contains(refused(o), "base_url"));
  o.base_url = "not a url";
  CHECK(contains(refused(o), "base_url"));
  o = options_for(receiver);
  o.timeout = 0;
  CHECK(contains(refused(o), "timeout"));
  o = options_for(receiver);
  o.digest = -1;
  CHECK(contains(refused(o), "digest"));
  o = options_for(receiver);
  o.chat_id = "@lodestone_alerts";
  CHECK(lodestone::check_telegram_options(o).ok());

  // A notifier made with them anyway is dead on every send and sends nothing.
  o.bot_token.clear();
  TelegramNotifier notifier(o);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.error == "telegram \"ops\": bot_token is required");
  CHECK(receiver.requests().empty());
}

TEST_CASE("telegram sends sendMessage with the chat id as a string and the HTML text", "[telegram][http]") {
  HttpReceiver receiver;
  answer_json(receiver, 200, kOk);
  TelegramNotifier notifier(options_for(receiver));
  CHECK(notifier.name() == "ops");
  CHECK(notifier.digest_interval() == 0);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 200);
  CHECK(got.error.empty());

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const ReceivedRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.path == std::string("/bot") + kToken + "/sendMessage");
  CHECK(r.header("Content-Type") == "application/json");
  lodestone::testing::check_golden("telegram.json", r.body);
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["chat_id"] == "-1001234567890");
  CHECK(body["parse_mode"] == "HTML");
  CHECK(body["disable_web_page_preview"] == false);
  CHECK(body["text"] ==
        "<b>HIGH</b> · <b>Rare &quot;earth&quot; export controls</b>\n"
        "<a href=\"https://example.com/p/1?x=1&amp;y=2\">中國對稀土出口管制 &lt;@everyone&gt; &amp; more</a>\n"
        "<blockquote>…中國對<b>稀土</b>出口…</blockquote>\n"
        "Entity: Scott Bessent (matched as 貝森特)\n"
        "Source: ptt/Stock");
}

TEST_CASE("telegram shows comparisons and an unlinked title and honours disable_web_page_preview", "[telegram][http]") {
  HttpReceiver receiver;
  TelegramOptions o = options_for(receiver);
  o.chat_id = "@lodestone_alerts";
  o.disable_web_page_preview = true;
  TelegramNotifier notifier(o);
  Alert alert = sample_alert();
  alert.post.url = "";
  alert.rule.severity = "";
  alert.entities.clear();
  lodestone::AlertMatch pushes;
  pushes.field = "pushes";
  pushes.comparison = true;
  pushes.value = 55;
  alert.matches.push_back(pushes);
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  const auto body = only_body(receiver);
  CHECK(body["chat_id"] == "@lodestone_alerts");
  CHECK(body["disable_web_page_preview"] == true);
  CHECK(body["text"] ==
        "<b>Rare &quot;earth&quot; export controls</b>\n"
        "中國對稀土出口管制 &lt;@everyone&gt; &amp; more\n"
        "<blockquote>…中國對<b>稀土</b>出口…</blockquote>\n"
        "pushes 55\n"
        "Source: ptt/Stock");
}

TEST_CASE("telegram's 429 is retried after the body's retry_after", "[telegram][http]") {
  HttpReceiver receiver;
  TelegramNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);
  const std::string too_many =
      R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}})";
  answer_json(receiver, 429, too_many);
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == 3);
  CHECK(got.error == "telegram \"ops\" (http://127.0.0.1:" + std::to_string(receiver.port()) +
                         "/bot…): HTTP 429: Too Many Requests: retry after 3");

  // The body's number wins over a header; without it, the header is used.
  receiver.answer([too_many](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "9");
    res.set_content(too_many, "application/json");
  });
  CHECK(notifier.send(alert, json).retry_after == 3);
  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "7");
    res.set_content(R"({"ok":false,"error_code":429,"description":"Too Many Requests"})", "application/json");
  });
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.retry_after == 7);
}

TEST_CASE("telegram's 400 403 and 401 are dead with the API's description and 5xx is retried", "[telegram][http]") {
  HttpReceiver receiver;
  TelegramNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);

  answer_json(receiver, 400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})");
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 400);
  CHECK(contains(got.error, "/bot…): HTTP 400: Bad Request: chat not found"));

  answer_json(receiver, 403, R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 403);
  CHECK(contains(got.error, "HTTP 403: Forbidden: bot was blocked by the user"));

  answer_json(receiver, 401, R"({"ok":false,"error_code":401,"description":"Unauthorized"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "HTTP 401: Unauthorized"));

  // A group that became a supergroup: the error says which chat id to use now.
  answer_json(
      receiver, 400,
      R"({"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat",)"
      R"("parameters":{"migrate_to_chat_id":-1009876543210}})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "chat -1009876543210"));

  answer_json(receiver, 500, R"({"ok":false,"error_code":500,"description":"Internal Server Error"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "HTTP 500: Internal Server Error"));
  receiver.answer_status(502, "<html>Bad Gateway</html>");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 502);
}

TEST_CASE("telegram errors never hold the bot token", "[telegram][http]") {
  HttpReceiver receiver;
  // A server that echoes the path, token and all.
  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 401;
    nlohmann::json body = {{"ok", false}, {"error_code", 401}, {"description", "Unauthorized: " + req.path}};
    res.set_content(body.dump(), "application/json");
  });
  TelegramNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 401);
  CHECK(contains(got.error, "telegram \"ops\" (http://127.0.0.1:" + std::to_string(receiver.port()) + "/bot…)"));
  CHECK(contains(got.error, "Unauthorized: /bot***/sendMessage"));
  CHECK_FALSE(contains(got.error, kTokenSecret));
  CHECK_FALSE(contains(got.error, kToken));

  // A body that is not the API's JSON is quoted redacted too.
  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 404;
    res.set_content("no such bot: " + req.path, "text/plain");
  });
  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK_FALSE(contains(got.error, kTokenSecret));

  ClosedPort closed;
  TelegramOptions o = options_for(receiver);
  o.base_url = "http://127.0.0.1:" + std::to_string(closed.port());
  TelegramNotifier unreachable(o);
  got = unreachable.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "telegram \"ops\" (http://127.0.0.1:" + std::to_string(closed.port()) + "/bot…)"));
  CHECK_FALSE(contains(got.error, kTokenSecret));
}

TEST_CASE("telegram counts its limit as the user sees the text: tags removed entities decoded UTF-16", "[telegram]") {
  CHECK(lodestone::telegram_visible_length("<b>a&lt;</b>😀 &amp;") == 6);
  CHECK(lodestone::telegram_visible_length("<a href=\"https://x.example/?a=1&amp;b=2\">稀土</a>") == 2);
}

TEST_CASE("a hostile post injects no tag or link into telegram's HTML and a 10 KB title fits its limit",
          "[telegram][http]") {
  HttpReceiver receiver;
  TelegramNotifier notifier(options_for(receiver));
  const Alert alert = lodestone::testing::hostile_alert();
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  const std::string text = only_body(receiver)["text"];
  // The only markup is the notifier's own; a javascript: URL is no link.
  for (const std::string& tag : tags_of(text)) {
    INFO(tag);
    CHECK((tag == "<b>" || tag == "</b>" || tag == "<blockquote>" || tag == "</blockquote>"));
  }
  CHECK(contains(text, "<b>Rare earths &lt;b&gt;bold&lt;/b&gt;</b>"));
  CHECK(contains(text, "&lt;a href=&quot;https://evil.example&quot;&gt;@everyone&lt;/a&gt; &lt;!channel&gt; @room"));
  CHECK(contains(text, "<blockquote>[x](https://evil.example) &lt;b&gt;<b>稀土</b>&lt;/b&gt; @everyone</blockquote>"));
  CHECK(contains(text, "Entity: Scott Bessent (matched as &lt;i&gt;Bessent&lt;/i&gt; @here)"));
  CHECK(lodestone::telegram_visible_length(text) <= lodestone::kTelegramTextMax);

  // With a real link the title is cut to fit, and the link and the match stay.
  Alert linked = alert;
  linked.post.url = "https://example.com/p/666?x=1&y=2";
  REQUIRE(notifier.send(linked, lodestone::to_json(linked)).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  const std::string cut = nlohmann::json::parse(requests[1].body)["text"];
  CHECK(contains(cut, "<a href=\"https://example.com/p/666?x=1&amp;y=2\">"));
  CHECK(contains(cut, "…</a>"));
  CHECK(contains(cut, "<b>稀土</b>"));
  CHECK(lodestone::telegram_visible_length(cut) <= lodestone::kTelegramTextMax);
  CHECK(lodestone::telegram_visible_length(cut) > 1000);

  // A snippet far past the limit is cut; the link stays whole.
  Alert wordy = sample_alert();
  std::string before, after;
  for (int i = 0; i < 3000; ++i) before += "前";
  for (int i = 0; i < 3000; ++i) after += "後";
  wordy.matches.front().snippet = before + "稀土" + after;
  REQUIRE(notifier.send(wordy, lodestone::to_json(wordy)).outcome == Outcome::kDelivered);
  const std::string fitted = nlohmann::json::parse(receiver.requests().back().body)["text"];
  CHECK(contains(
      fitted, "<a href=\"https://example.com/p/1?x=1&amp;y=2\">中國對稀土出口管制 &lt;@everyone&gt; &amp; more</a>"));
  // The text before the match is cut at its start, so the match stays in view.
  CHECK(contains(fitted, "<blockquote>…前前前"));
  CHECK(contains(fitted, "前<b>稀土</b>後後"));
  CHECK(contains(fitted, "</blockquote>\nEntity: Scott Bessent (matched as 貝森特)\n"));
  CHECK(contains(fitted, "\nSource: ptt/Stock"));
  CHECK(lodestone::telegram_visible_length(fitted) <= lodestone::kTelegramTextMax);
}

TEST_CASE("a telegram digest is one message listing the alerts and and N more past the limit", "[telegram][http]") {
  HttpReceiver receiver;
  TelegramOptions o = options_for(receiver);
  o.digest = 3600;
  TelegramNotifier notifier(o);
  CHECK(notifier.digest_interval() == 3600);

  std::vector<Alert> alerts;
  std::vector<std::string> jsons;
  for (int i = 0; i < 3; ++i) alerts.push_back(sample_alert("M." + std::to_string(i)));
  for (const Alert& a : alerts) jsons.push_back(lodestone::to_json(a));
  REQUIRE(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);
  std::string text = only_body(receiver)["text"];
  CHECK(text.rfind("<b>Lodestone</b> · 3 alerts\n\n<b>HIGH</b> · <b>Rare &quot;earth&quot; export controls</b>", 0) ==
        0);
  CHECK(std::count(text.begin(), text.end(), '\n') >= 3 * 4);
  CHECK_FALSE(contains(text, "more</i>"));

  // Forty hostile alerts cannot all fit: some are shown, then "and N more"; every attempt
  // sends the same text.
  alerts.clear();
  jsons.clear();
  for (int i = 0; i < 40; ++i) {
    Alert a = lodestone::testing::hostile_alert();
    a.post.id = "M." + std::to_string(i);
    a.id = lodestone::alert_id(a.rule.id, a.post.source, a.post.id);
    alerts.push_back(a);
  }
  for (const Alert& a : alerts) jsons.push_back(lodestone::to_json(a));
  receiver.answer_status(503);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kRetry);
  receiver.answer_status(200);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].body == requests[2].body);
  text = nlohmann::json::parse(requests[2].body)["text"];
  CHECK(text.rfind("<b>Lodestone</b> · 40 alerts\n\n", 0) == 0);
  const size_t more = text.rfind("\n\n<i>and ");
  REQUIRE(more != std::string::npos);
  CHECK(text.substr(text.size() - 9) == " more</i>");
  const int left_out = std::stoi(text.substr(more + 9));
  CHECK(left_out > 0);
  CHECK(left_out < 40);
  CHECK(lodestone::telegram_visible_length(text) <= lodestone::kTelegramTextMax);
}

TEST_CASE("telegram cancel() stops a request in flight and every later send is kRetry", "[telegram][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request&, httplib::Response& res) {
    receiver.hold(std::chrono::milliseconds(2000));
    res.status = 200;
  });
  TelegramOptions o = options_for(receiver);
  o.timeout = 60;
  TelegramNotifier notifier(o);
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
