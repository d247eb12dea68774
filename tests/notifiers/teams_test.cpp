// The teams notifier against a real HTTP receiver on loopback standing in for a Workflows webhook:
// the Adaptive Card a workflow expects, Workflows' answers and what they mean, hostile posts,
// digests, and errors that never show the URL's signature.
#include "notifiers/teams/teams.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "notifiers/chat_format.h"
#include "notifiers/registry.h"
#include "support/closed_port.h"
#include "support/golden.h"
#include "support/http_receiver.h"
#include "support/sample_alert.h"

using lodestone::Alert;
using lodestone::DeliveryAttempt;
using lodestone::TeamsNotifier;
using lodestone::TeamsOptions;
using lodestone::testing::HttpReceiver;
using lodestone::testing::sample_alert;
using test_support::ClosedPort;
using Outcome = DeliveryAttempt::Outcome;
using json = nlohmann::json;

namespace {

// A workflow URL's path and query as Workflows makes them; `sig` is the secret.
constexpr const char* kSig = "Zk3vQ9-Sig-s3cr3t-Aq8Lw2mN";
constexpr const char* kPath = "/workflows/4c1e8f0a2b7d/triggers/manual/paths/invoke";
const std::string kQuery = std::string("?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=") + kSig;

TeamsOptions options_for(const HttpReceiver& receiver) {
  TeamsOptions o;
  o.name = "ops-teams";
  o.url = receiver.url(kPath + kQuery);
  o.timeout = 5;
  return o;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The request targets (path and query, as sent) a receiver saw, in order.
struct Targets {
  std::mutex mutex;
  std::vector<std::string> seen;
  void add(const std::string& t) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(t);
  }
};

// What Workflows answers when it takes a request: 202 Accepted with no body.
void accepted(const httplib::Request&, httplib::Response& res) { res.status = 202; }

// The body a notifier sent for `alert`, answered 202; the request's method, target and
// Content-Type are checked on the way.
std::string body_sent(const Alert& alert) {
  Targets targets;
  HttpReceiver receiver([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    res.status = 202;
  });
  const DeliveryAttempt got = TeamsNotifier(options_for(receiver)).send(alert, lodestone::to_json(alert));
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == kPath);
  CHECK(targets.seen.at(0) == kPath + kQuery);  // the workflow's query, signature included, goes as it is
  CHECK(requests[0].header("Content-Type") == "application/json");
  return requests[0].body;
}

const json& card_of(const json& message) { return message["attachments"][0]["content"]; }

// The TextRuns of a RichTextBlock, the marked ones in [[ ]].
std::string runs(const json& block) {
  std::string out;
  for (const auto& run : block["inlines"]) {
    REQUIRE(run["type"] == "TextRun");
    const bool marked = run.value("highlight", false);
    if (marked) CHECK(run["weight"] == "Bolder");
    out.append(marked ? "[[" : "").append(run["text"].get<std::string>()).append(marked ? "]]" : "");
  }
  return out;
}

// The facts of a card's facts Container, one "Label: value" each.
std::vector<std::string> facts_of(const json& container) {
  std::vector<std::string> out;
  REQUIRE(container["type"] == "Container");
  for (const auto& block : container["items"]) {
    REQUIRE(block["inlines"][0]["weight"] == "Bolder");
    out.push_back(runs(block));
  }
  return out;
}

}  // namespace

TEST_CASE("teams options that cannot work are refused with the notifier's name and never the signature", "[teams]") {
  HttpReceiver receiver;
  const TeamsOptions good = options_for(receiver);
  CHECK(lodestone::check_teams_options(good));

  const auto refused = [](const TeamsOptions& o, const std::string& why) {
    const auto r = lodestone::check_teams_options(o);
    REQUIRE_FALSE(r);
    INFO(r.error());
    CHECK(contains(r.error(), why));
    CHECK_FALSE(contains(r.error(), kSig));
    return r.error();
  };
  TeamsOptions o = good;
  o.url.clear();
  CHECK(refused(o, "url is required").rfind("teams \"ops-teams\": ", 0) == 0);
  o.url = std::string("ftp://example.com/x?sig=") + kSig;
  refused(o, "https://");
  o.url = std::string("not a url?sig=") + kSig;
  refused(o, "not a valid URL");
  o = good;
  o.timeout = 0;
  refused(o, "timeout");
  o = good;
  o.digest = -1;
  refused(o, "digest");
  o = good;
  o.name.clear();
  refused(o, "needs a name");
}

TEST_CASE("a teams notifier with options that cannot work is dead on every send and sends nothing", "[teams]") {
  HttpReceiver receiver;
  TeamsOptions o = options_for(receiver);
  o.timeout = -1;
  TeamsNotifier notifier(o);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "teams \"ops-teams\""));
  CHECK(receiver.count() == 0);
}

TEST_CASE("the teams kind is registered with url as a required secret, timeout and digest", "[teams]") {
  const lodestone::NotifierKind* kind = lodestone::find_notifier_kind("teams");
  REQUIRE(kind != nullptr);
  REQUIRE(kind->options.size() == 3);
  CHECK(std::string(kind->options[0].key) == "url");
  CHECK(kind->options[0].type == lodestone::OptionType::kSecret);
  CHECK(kind->options[0].required);
  CHECK(std::string(kind->options[1].key) == "timeout");
  CHECK(kind->options[1].default_text == "10s");
  CHECK(std::string(kind->options[2].key) == "digest");
  CHECK(kind->options[2].type == lodestone::OptionType::kDuration);
}

TEST_CASE("a 202 Accepted is delivered: one POST of an Adaptive Card with severity rule title snippet facts and Open post",
          "[teams][http]") {
  const std::string body = body_sent(sample_alert());
  lodestone::testing::check_golden("teams.json", body);
  const json m = json::parse(body);
  CHECK(m["type"] == "message");
  REQUIRE(m["attachments"].size() == 1);
  CHECK(m["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive");
  CHECK(m["attachments"][0]["contentUrl"].is_null());
  const json& card = card_of(m);
  CHECK(card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json");
  CHECK(card["type"] == "AdaptiveCard");
  CHECK(card["version"] == "1.4");
  const json& items = card["body"];
  REQUIRE(items.size() == 4);
  // Severity and rule: a bold TextRun in the severity's colour; every text of the card is a
  // TextRun, which Teams reads no Markdown in.
  CHECK(items[0]["type"] == "RichTextBlock");
  CHECK(runs(items[0]) == "HIGH · Rare \"earth\" export controls");
  CHECK(items[0]["inlines"][0]["weight"] == "Bolder");
  CHECK(items[0]["inlines"][0]["color"] == "Attention");
  // The title and the snippet are TextRuns: literal, so the title's <@everyone> & more is as sent.
  CHECK(items[1]["type"] == "RichTextBlock");
  CHECK(runs(items[1]) == "中國對稀土出口管制 <@everyone> & more");
  CHECK(runs(items[2]) == "…中國對[[稀土]]出口…");
  CHECK(facts_of(items[3]) == std::vector<std::string>{"Entity: Scott Bessent (matched as 貝森特)", "Source: ptt/Stock"});
  const json actions = json::parse(R"([{"type":"Action.OpenUrl","title":"Open post",
                                       "url":"https://example.com/p/1?x=1&y=2"}])");
  CHECK(card["actions"] == actions);
  // No mention entities, ever.
  CHECK_FALSE(contains(body, "msteams"));
}

TEST_CASE("a 200 is delivered too, and a post without an http URL gets no Open post action", "[teams][http]") {
  HttpReceiver receiver;
  receiver.answer_status(200);
  Alert alert = sample_alert();
  alert.post.url = "ftp://example.com/p/1";
  const DeliveryAttempt got = TeamsNotifier(options_for(receiver)).send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 200);
  CHECK(got.error.empty());
  REQUIRE(receiver.count() == 1);
  const json card = card_of(json::parse(receiver.requests()[0].body));
  CHECK_FALSE(card.contains("actions"));
}

TEST_CASE("a 400 InvalidRequestContent is dead with Teams' code and message, and 401 403 404 are dead",
          "[teams][http]") {
  HttpReceiver receiver;
  TeamsNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string alert_json = lodestone::to_json(alert);

  receiver.answer_next([](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}})",
                    "application/json");
  });
  DeliveryAttempt got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 400);
  CHECK(contains(got.error, "teams \"ops-teams\""));
  CHECK(contains(got.error, "HTTP 400 InvalidRequestContent: The input body for trigger 'manual'"));
  CHECK_FALSE(contains(got.error, kSig));

  for (int status : {401, 403, 404}) {
    receiver.answer_next([status](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content(R"({"error":{"code":"DirectApiAuthorizationRequired","message":"The request must be authenticated."}})",
                      "application/json");
    });
    got = notifier.send(alert, alert_json);
    INFO(status);
    CHECK(got.outcome == Outcome::kDead);
    CHECK(got.status == status);
    CHECK(contains(got.error, "DirectApiAuthorizationRequired: The request must be authenticated."));
  }
  CHECK(receiver.count() == 4);
}

TEST_CASE("a 429 is retried after its Retry-After, 5xx and a closed port are retried", "[teams][http]") {
  HttpReceiver receiver;
  TeamsNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string alert_json = lodestone::to_json(alert);

  receiver.answer_next([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "17");
    res.set_content(R"({"error":{"code":"WorkflowTriggeredTooManyTimes","message":"Rate limit is exceeded."}})",
                    "application/json");
  });
  DeliveryAttempt got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == 17);
  CHECK(contains(got.error, "WorkflowTriggeredTooManyTimes"));

  for (int status : {500, 502, 503}) {
    receiver.answer_next([status](const httplib::Request&, httplib::Response& res) { res.status = status; });
    got = notifier.send(alert, alert_json);
    CHECK(got.outcome == Outcome::kRetry);
    CHECK(got.status == status);
    CHECK(got.retry_after == -1);
  }
  receiver.answer(accepted);
  CHECK(notifier.send(alert, alert_json).outcome == Outcome::kDelivered);

  ClosedPort closed;
  TeamsOptions o = options_for(receiver);
  o.url = "http://127.0.0.1:" + std::to_string(closed.port()) + kPath + kQuery;
  got = TeamsNotifier(o).send(alert, alert_json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "teams \"ops-teams\" (http://127.0.0.1:" + std::to_string(closed.port()) + kPath + ")"));
  CHECK_FALSE(contains(got.error, kSig));
}

TEST_CASE("teams errors show scheme host and path but never the URL's query or signature", "[teams][http]") {
  // A receiver that echoes the whole request target, signature included, in its refusals.
  HttpReceiver receiver([](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"error":{"code":"InvalidRequestContent","message":"bad request to )" + req.target + R"("}})",
                    "application/json");
  });
  TeamsNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  INFO(got.error);
  CHECK(contains(got.error, receiver.url(kPath)));
  CHECK_FALSE(contains(got.error, kSig));
  CHECK_FALSE(contains(got.error, "sig="));

  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 503;
    res.set_content("overloaded: " + req.get_param_value("sig"), "text/plain");
  });
  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK_FALSE(contains(got.error, kSig));
}

TEST_CASE("a hostile post injects no markup mention or link into the card and fits Teams' 28 KB", "[teams][http][chat]") {
  const Alert alert = lodestone::testing::hostile_alert();
  const std::string body = body_sent(alert);
  CHECK(body.size() <= lodestone::kTeamsBodyMax);
  const json card = card_of(json::parse(body));
  // javascript: is no link: no action at all.
  CHECK_FALSE(card.contains("actions"));
  const json& items = card["body"];
  // The rule is a TextRun too: literal.
  CHECK(runs(items[0]) == "HIGH · Rare earths <b>bold</b>");
  // TextRuns are literal: the post's HTML, mentions and Markdown arrive as the text they are.
  const std::string title = runs(items[1]);
  CHECK(title.rfind("<a href=\"https://evil.example\">@everyone</a> <!channel> @room [win](https://evil.example) *bold* `code` ",
                    0) == 0);
  // The 10 KB title fits Teams' 28 KB whole (the test below makes one that does not).
  CHECK(title == lodestone::summarize_alert(alert).title);
  CHECK(runs(items[2]) == "[x](https://evil.example) <b>[[稀土]]</b> @everyone");
  CHECK(facts_of(items[3])[0] == "Entity: Scott Bessent (matched as <i>Bessent</i> @here)");
  CHECK_FALSE(contains(body, "msteams"));
  CHECK_FALSE(contains(body, "\"entities\""));
}

TEST_CASE("mention markup in a post arrives as literal text and mentions nobody", "[teams][http][chat]") {
  Alert alert = sample_alert();
  alert.post.title = "<at>Ops Team</at> @everyone please look";
  alert.matches.front().snippet = "…<at>General</at> 稀土…";
  alert.matches.front().start = 15;
  alert.matches.front().end = 17;
  const std::string body = body_sent(alert);
  const json card = card_of(json::parse(body));
  CHECK(runs(card["body"][1]) == "<at>Ops Team</at> @everyone please look");
  CHECK(contains(runs(card["body"][2]), "<at>General</at>"));
  // A Teams mention needs msteams.entities next to the <at> text; none is ever sent.
  CHECK_FALSE(json::parse(body)["attachments"][0]["content"].contains("msteams"));
  CHECK_FALSE(contains(body, "msteams"));
  CHECK_FALSE(contains(body, "mention"));
}

TEST_CASE("a title too long for 28 KB is cut and the card keeps its Open post action", "[teams][chat]") {
  Alert alert = lodestone::testing::hostile_alert();
  alert.post.url = "https://example.com/p/666";
  while (alert.post.title.size() < 40 * 1024) alert.post.title += "稀土出口管制 ";
  const std::string body = lodestone::teams_body(lodestone::summarize_alert(alert));
  CHECK(body.size() <= lodestone::kTeamsBodyMax);
  const json card = card_of(json::parse(body));
  CHECK(card["actions"][0]["url"] == "https://example.com/p/666");
  const std::string title = runs(card["body"][1]);
  CHECK(title.size() < alert.post.title.size());
  CHECK(title.substr(title.size() - 3) == "…");
}

TEST_CASE("teams colours the severity line by severity", "[teams][chat]") {
  const auto colour_of = [](const std::string& severity) {
    Alert alert = sample_alert();
    alert.rule.severity = severity;
    return card_of(json::parse(lodestone::teams_body(lodestone::summarize_alert(alert))))["body"][0]["inlines"][0];
  };
  CHECK(colour_of("critical")["color"] == "Attention");
  CHECK(colour_of("high")["color"] == "Attention");
  CHECK(colour_of("medium")["color"] == "Warning");
  CHECK(colour_of("low")["color"] == "Default");
  CHECK(colour_of("")["color"] == "Default");
  CHECK(colour_of("")["text"] == "Rare \"earth\" export controls");
}

TEST_CASE("a teams digest is one POST of one card listing every alert, the same on every attempt", "[teams][http][digest]") {
  HttpReceiver receiver;
  TeamsOptions o = options_for(receiver);
  o.digest = 3600;
  TeamsNotifier notifier(o);
  CHECK(notifier.digest_interval() == 3600);
  const std::vector<Alert> alerts = {sample_alert("M.1"), sample_alert("M.2"), sample_alert("M.3")};
  std::vector<std::string> jsons;
  for (const auto& a : alerts) jsons.push_back(lodestone::to_json(a));

  receiver.answer_next([](const httplib::Request&, httplib::Response& res) { res.status = 502; });
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kRetry);
  receiver.answer(accepted);
  const DeliveryAttempt got = notifier.send_digest(alerts, jsons);
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].body == requests[1].body);
  const json card = card_of(json::parse(requests[1].body));
  const json& items = card["body"];
  REQUIRE(items.size() == 4);
  CHECK(items[0]["type"] == "TextBlock");
  CHECK(items[0]["text"] == "3 alerts");
  for (size_t i = 1; i < 4; ++i) {
    CHECK(items[i]["type"] == "Container");
    const json& inner = items[i]["items"];
    CHECK(runs(inner[0]) == "HIGH · Rare \"earth\" export controls");
    CHECK(runs(inner[1]) == "中國對稀土出口管制 <@everyone> & more");
    CHECK(inner.back()["type"] == "ActionSet");
    CHECK(inner.back()["actions"][0]["url"] == "https://example.com/p/1?x=1&y=2");
  }
  CHECK_FALSE(card.contains("actions"));
}

TEST_CASE("a teams digest too long for 28 KB ends with and N more", "[teams][digest]") {
  std::vector<Alert> alerts;
  for (int i = 0; i < 60; ++i) {
    Alert a = sample_alert("M." + std::to_string(i));
    while (a.post.title.size() < 2000) a.post.title += " 稀土出口管制";
    alerts.push_back(a);
  }
  const std::string body = lodestone::teams_digest_body(alerts);
  CHECK(body.size() <= lodestone::kTeamsBodyMax);
  const json items = card_of(json::parse(body))["body"];
  CHECK(items[0]["text"] == "60 alerts");
  size_t shown = 0;
  for (const auto& item : items) shown += item["type"] == "Container" ? 1 : 0;
  CHECK(shown > 1);
  CHECK(shown < 60);
  CHECK(items.back()["type"] == "TextBlock");
  CHECK(items.back()["text"] == "and " + std::to_string(60 - shown) + " more");
  // Each alert is shortened in a digest: its title to 200 characters.
  CHECK(lodestone::code_points(runs(items[1]["items"][1])) <= 200);
}

TEST_CASE("a teams digest of one alert is the message send() sends", "[teams][digest]") {
  const std::vector<Alert> one = {sample_alert()};
  CHECK(lodestone::teams_digest_body(one) == lodestone::teams_body(lodestone::summarize_alert(one[0])));
}

TEST_CASE("cancel() makes every later teams send a retry that sends nothing", "[teams][http]") {
  HttpReceiver receiver;
  TeamsNotifier notifier(options_for(receiver));
  notifier.cancel();
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  CHECK(receiver.count() == 0);
}

TEST_CASE("values of comparisons are facts of their own before entity and source", "[teams][chat]") {
  Alert alert = sample_alert();
  lodestone::AlertMatch pushes;
  pushes.field = "pushes";
  pushes.comparison = true;
  pushes.value = 55;
  alert.matches.push_back(pushes);
  const auto facts = facts_of(card_of(json::parse(lodestone::teams_body(lodestone::summarize_alert(alert))))["body"][3]);
  REQUIRE(facts.size() == 3);
  CHECK(facts[0] == "Value: pushes 55");
  CHECK(facts[1].rfind("Entity: ", 0) == 0);
  CHECK(facts[2] == "Source: ptt/Stock");
}
