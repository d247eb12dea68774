// The matrix notifier against a real HTTP receiver on loopback standing in for a homeserver: the
// PUT of an m.room.message the client-server API expects, the homeserver's answers and what they
// mean, transaction ids that make retries idempotent, hostile posts, digests, and errors that never
// show the access token.
#include "notifiers/matrix/matrix.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <mutex>
#include <set>
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
using lodestone::MatrixNotifier;
using lodestone::MatrixOptions;
using lodestone::testing::HttpReceiver;
using lodestone::testing::sample_alert;
using test_support::ClosedPort;
using Outcome = DeliveryAttempt::Outcome;
using json = nlohmann::json;

namespace {

constexpr const char* kToken = "syt_Ym90_QwErTyUiOpAsDfGhJkL_0Zx9Yw";
constexpr const char* kRoom = "!AbCdEf:example.org";
constexpr const char* kRoomInPath = "%21AbCdEf%3Aexample.org";

MatrixOptions options_for(const HttpReceiver& receiver) {
  MatrixOptions o;
  o.name = "ops-matrix";
  o.homeserver = receiver.url("");
  o.room_id = kRoom;
  o.access_token = kToken;
  o.timeout = 5;
  return o;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string send_target(const std::string& txn_id) {
  return std::string("/_matrix/client/v3/rooms/") + kRoomInPath + "/send/m.room.message/" + txn_id;
}

// The raw request targets (as sent, before the receiver decodes them), in order.
struct Targets {
  std::mutex mutex;
  std::vector<std::string> seen;
  void add(const std::string& t) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(t);
  }
  std::vector<std::string> all() {
    std::lock_guard<std::mutex> lock(mutex);
    return seen;
  }
};

// What a homeserver answers when it takes an event.
void sent(const httplib::Request&, httplib::Response& res) {
  res.status = 200;
  res.set_content(R"({"event_id":"$YUwRidLecu:example.com"})", "application/json");
}

HttpReceiver::Answer answer_json(int status, std::string body) {
  return [status, body](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  };
}

// Every tag name in `html`, once each.
std::set<std::string> tags_in(const std::string& html) {
  std::set<std::string> tags;
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    size_t end = at + 1;
    if (end < html.size() && html[end] == '/') ++end;
    size_t name_end = end;
    while (name_end < html.size() && std::isalpha(static_cast<unsigned char>(html[name_end]))) ++name_end;
    tags.insert(html.substr(end, name_end - end));
  }
  return tags;
}

}  // namespace

TEST_CASE("matrix options that cannot work are refused with the notifier's name and never the token", "[matrix]") {
  HttpReceiver receiver;
  const MatrixOptions good = options_for(receiver);
  CHECK(lodestone::check_matrix_options(good));
  const auto refused = [](const MatrixOptions& o, const std::string& why) {
    const auto r = lodestone::check_matrix_options(o);
    REQUIRE_FALSE(r);
    INFO(r.error());
    CHECK(r.error().rfind("matrix \"ops-matrix\": ", 0) == 0);
    CHECK(contains(r.error(), why));
    CHECK_FALSE(contains(r.error(), kToken));
  };
  MatrixOptions o = good;
  o.homeserver.clear();
  refused(o, "homeserver is required");
  o.homeserver = "matrix.example.org";
  refused(o, "homeserver");
  o.homeserver = "ftp://matrix.example.org";
  refused(o, "https://");
  o.homeserver = "https://matrix.example.org/?access_token=x";
  refused(o, "without a query");
  o = good;
  o.room_id.clear();
  refused(o, "room_id is required");
  o.room_id = "#ops:example.org";
  refused(o, "room id starting with \"!\"");
  o.room_id = "!Ab Cd:example.org";
  refused(o, "spaces");
  o = good;
  o.access_token.clear();
  refused(o, "access_token is required");
  o.access_token = std::string(kToken) + "\r\nX-Evil: 1";
  refused(o, "line break");
  o = good;
  o.timeout = 0;
  refused(o, "timeout");
  o = good;
  o.digest = -5;
  refused(o, "digest");
  o = good;
  o.name.clear();
  CHECK(contains(lodestone::check_matrix_options(o).error(), "needs a name"));
}

TEST_CASE("a matrix notifier with options that cannot work is dead on every send and sends nothing", "[matrix]") {
  HttpReceiver receiver;
  MatrixOptions o = options_for(receiver);
  o.room_id = "#ops:example.org";
  MatrixNotifier notifier(o);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "matrix \"ops-matrix\""));
  CHECK(receiver.count() == 0);
}

TEST_CASE("the matrix kind is registered with homeserver room_id and a secret access_token", "[matrix]") {
  const lodestone::NotifierKind* kind = lodestone::find_notifier_kind("matrix");
  REQUIRE(kind != nullptr);
  REQUIRE(kind->options.size() == 5);
  CHECK(std::string(kind->options[0].key) == "homeserver");
  CHECK(kind->options[0].required);
  CHECK(std::string(kind->options[1].key) == "room_id");
  CHECK(kind->options[1].required);
  CHECK(std::string(kind->options[2].key) == "access_token");
  CHECK(kind->options[2].type == lodestone::OptionType::kSecret);
  CHECK(kind->options[2].required);
  CHECK(kind->options[3].default_text == "10s");
  CHECK(std::string(kind->options[4].key) == "digest");
}

TEST_CASE("the send path encodes the room id and the transaction id", "[matrix]") {
  CHECK(lodestone::matrix_send_path("!AbCdEf:example.org", "0123abcd") ==
        "/_matrix/client/v3/rooms/%21AbCdEf%3Aexample.org/send/m.room.message/0123abcd");
  CHECK(lodestone::matrix_send_path("!a/b?c#d e:ex.org", "t/1") ==
        "/_matrix/client/v3/rooms/%21a%2Fb%3Fc%23d%20e%3Aex.org/send/m.room.message/t%2F1");
}

TEST_CASE("a 200 with an event_id is delivered: one PUT on the encoded path with the bearer token and an m.text event",
          "[matrix][http]") {
  Targets targets;
  HttpReceiver receiver([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    sent(req, res);
  });
  MatrixNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 200);
  CHECK(got.error.empty());
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const auto& r = requests[0];
  CHECK(r.method == "PUT");
  CHECK(targets.all().at(0) == send_target(alert.id));  // exactly, as sent
  CHECK(r.header("Authorization") == std::string("Bearer ") + kToken);
  CHECK(r.header("Content-Type") == "application/json");
  lodestone::testing::check_golden("matrix.json", r.body);

  const json e = json::parse(r.body);
  CHECK(e["msgtype"] == "m.text");
  CHECK(e["format"] == "org.matrix.custom.html");
  CHECK(e["m.mentions"] == json::object());
  CHECK(e["formatted_body"] ==
        "<strong>HIGH · Rare &quot;earth&quot; export controls</strong><br>"
        "<a href=\"https://example.com/p/1?x=1&amp;y=2\">中國對稀土出口管制 &lt;@everyone&gt; &amp; more</a>"
        "<blockquote>…中國對<strong>稀土</strong>出口…</blockquote>"
        "Entity: Scott Bessent (matched as 貝森特)<br>Source: ptt/Stock");
  CHECK(e["body"] ==
        "HIGH · Rare \"earth\" export controls\n中國對稀土出口管制 <@everyone> & more\nhttps://example.com/p/1?x=1&y=2\n"
        "> …中國對«稀土»出口…\nEntity: Scott Bessent (matched as 貝森特)\nSource: ptt/Stock");
}

TEST_CASE("a homeserver URL with a path and a trailing slash keeps its path once", "[matrix][http]") {
  Targets targets;
  HttpReceiver receiver([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    sent(req, res);
  });
  MatrixOptions o = options_for(receiver);
  o.homeserver = receiver.url("/matrix/");
  const Alert alert = sample_alert();
  CHECK(MatrixNotifier(o).send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  CHECK(targets.all().at(0) == "/matrix" + send_target(alert.id));
}

TEST_CASE("values of comparisons are a line of their own, and an alert without a URL links nothing", "[matrix][chat]") {
  Alert alert = sample_alert();
  alert.post.url.clear();
  alert.matches.clear();
  lodestone::AlertMatch pushes;
  pushes.field = "pushes";
  pushes.comparison = true;
  pushes.value = 55;
  alert.matches.push_back(pushes);
  const json e = json::parse(lodestone::matrix_event(lodestone::summarize_alert(alert)));
  CHECK(e["formatted_body"] ==
        "<strong>HIGH · Rare &quot;earth&quot; export controls</strong><br>中國對稀土出口管制 &lt;@everyone&gt; &amp; more"
        "<br>pushes 55<br>Entity: Scott Bessent (matched as 貝森特)<br>Source: ptt/Stock");
  CHECK(e["body"] ==
        "HIGH · Rare \"earth\" export controls\n中國對稀土出口管制 <@everyone> & more\npushes 55\n"
        "Entity: Scott Bessent (matched as 貝森特)\nSource: ptt/Stock");
}

TEST_CASE("a 429 M_LIMIT_EXCEEDED is retried after retry_after_ms or, first, its Retry-After header", "[matrix][http]") {
  HttpReceiver receiver;
  MatrixNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string alert_json = lodestone::to_json(alert);
  const std::string limited = R"({"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000})";

  receiver.answer_next(answer_json(429, limited));
  DeliveryAttempt got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == 2.0);
  CHECK(contains(got.error, "HTTP 429 M_LIMIT_EXCEEDED: Too many requests"));

  receiver.answer_next([limited](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "5");
    res.set_content(limited, "application/json");
  });
  got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.retry_after == 5);
}

TEST_CASE("401 M_UNKNOWN_TOKEN 403 M_FORBIDDEN and 400 are dead with errcode and error, 5xx and a closed port retry",
          "[matrix][http]") {
  HttpReceiver receiver;
  MatrixNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string alert_json = lodestone::to_json(alert);

  receiver.answer_next(
      answer_json(401, R"({"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed.","soft_logout":false})"));
  DeliveryAttempt got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 401);
  CHECK(contains(got.error, "matrix \"ops-matrix\" (" + receiver.url("") + ", room !AbCdEf:example.org)"));
  CHECK(contains(got.error, "HTTP 401 M_UNKNOWN_TOKEN: Invalid access token passed."));

  receiver.answer_next(
      answer_json(403, R"({"errcode":"M_FORBIDDEN","error":"User @bot:example.org not in room !AbCdEf:example.org"})"));
  got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 403);
  CHECK(contains(got.error, "HTTP 403 M_FORBIDDEN: User @bot:example.org not in room !AbCdEf:example.org"));

  receiver.answer_next(answer_json(400, R"({"errcode":"M_BAD_JSON","error":"Content not JSON."})"));
  got = notifier.send(alert, alert_json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "M_BAD_JSON: Content not JSON."));

  for (int status : {500, 502, 503}) {
    receiver.answer_next(answer_json(status, "<html>Bad Gateway</html>"));
    got = notifier.send(alert, alert_json);
    CHECK(got.outcome == Outcome::kRetry);
    CHECK(got.status == status);
    CHECK(got.retry_after == -1);
  }

  ClosedPort closed;
  MatrixOptions o = options_for(receiver);
  o.homeserver = "http://127.0.0.1:" + std::to_string(closed.port());
  got = MatrixNotifier(o).send(alert, alert_json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "matrix \"ops-matrix\""));
  CHECK_FALSE(contains(got.error, kToken));
}

TEST_CASE("retrying the same alert sends the same transaction id and the same event", "[matrix][http]") {
  Targets targets;
  HttpReceiver receiver([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    res.status = 502;
  });
  MatrixNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string alert_json = lodestone::to_json(alert);
  CHECK(notifier.send(alert, alert_json).outcome == Outcome::kRetry);
  CHECK(notifier.send(alert, alert_json).outcome == Outcome::kRetry);
  receiver.answer([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    sent(req, res);
  });
  CHECK(notifier.send(alert, alert_json).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 3);
  const auto seen = targets.all();
  REQUIRE(seen.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(seen[i] == send_target(alert.id));
    CHECK(requests[i].method == "PUT");
    CHECK(requests[i].body == requests[0].body);
  }
  // Another alert is another transaction.
  const Alert other = sample_alert("M.2");
  CHECK(notifier.send(other, lodestone::to_json(other)).outcome == Outcome::kDelivered);
  CHECK(targets.all().at(3) == send_target(other.id));
  CHECK(other.id != alert.id);
}

TEST_CASE("the access token appears in no matrix error, even when the homeserver echoes it", "[matrix][http]") {
  HttpReceiver receiver([](const httplib::Request& req, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token: )" + req.get_header_value("Authorization") +
                        R"("})",
                    "application/json");
  });
  MatrixNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  INFO(got.error);
  CHECK(contains(got.error, "M_UNKNOWN_TOKEN: Unknown token: Bearer ***"));
  CHECK_FALSE(contains(got.error, kToken));

  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 500;
    res.set_content("upstream failed for " + req.get_header_value("Authorization"), "text/plain");
  });
  got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "upstream failed"));
  CHECK_FALSE(contains(got.error, kToken));
}

TEST_CASE("a hostile post injects no markup mention or link into the event and fits 60000 bytes", "[matrix][http][chat]") {
  HttpReceiver receiver(sent);
  const Alert alert = lodestone::testing::hostile_alert();
  CHECK(MatrixNotifier(options_for(receiver)).send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  REQUIRE(receiver.count() == 1);
  const std::string body = receiver.requests()[0].body;
  CHECK(body.size() <= lodestone::kMatrixBodyMax);
  const json e = json::parse(body);
  const std::string html = e["formatted_body"];
  // Only the notifier's own tags: no <a> (javascript: is no link), nothing of the post's.
  CHECK(tags_in(html) == std::set<std::string>{"strong", "br", "blockquote"});
  CHECK(contains(html, "<strong>HIGH · Rare earths &lt;b&gt;bold&lt;/b&gt;</strong>"));
  CHECK(contains(html, "&lt;a href=&quot;https://evil.example&quot;&gt;@everyone&lt;/a&gt; &lt;!channel&gt; @room "
                       "[win](https://evil.example) *bold* `code` "));
  CHECK(contains(html, "<blockquote>[x](https://evil.example) &lt;b&gt;<strong>稀土</strong>&lt;/b&gt; @everyone</blockquote>"));
  CHECK(contains(html, "Entity: Scott Bessent (matched as &lt;i&gt;Bessent&lt;/i&gt; @here)"));
  // The plain body is plain text: the post's text as it is, the match in « ».
  const std::string plain = e["body"];
  CHECK(contains(plain, "> [x](https://evil.example) <b>«稀土»</b> @everyone"));
  CHECK_FALSE(contains(plain, "javascript:"));
  CHECK_FALSE(contains(html, "javascript:"));
  // "@room" and "@everyone" ping no one: the event says it mentions nobody.
  CHECK(e["m.mentions"] == json::object());
}

TEST_CASE("a title too long for 60000 bytes is cut and the event keeps its link", "[matrix][chat]") {
  Alert alert = lodestone::testing::hostile_alert();
  alert.post.url = "https://example.com/p/666";
  while (alert.post.title.size() < 100 * 1024) alert.post.title += "稀土出口管制 ";
  const std::string body = lodestone::matrix_event(lodestone::summarize_alert(alert));
  CHECK(body.size() <= lodestone::kMatrixBodyMax);
  const json e = json::parse(body);
  const std::string html = e["formatted_body"];
  CHECK(contains(html, "<a href=\"https://example.com/p/666\">&lt;a href="));
  CHECK(contains(html, "…</a>"));
  CHECK(contains(e["body"].get<std::string>(), "\nhttps://example.com/p/666\n"));
}

TEST_CASE("a matrix digest is one PUT listing every alert under a transaction id of their ids, the same on retry",
          "[matrix][http][digest]") {
  Targets targets;
  HttpReceiver receiver([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    res.status = 503;
  });
  MatrixOptions o = options_for(receiver);
  o.digest = 900;
  MatrixNotifier notifier(o);
  CHECK(notifier.digest_interval() == 900);
  const std::vector<Alert> alerts = {sample_alert("M.1"), sample_alert("M.2"), sample_alert("M.3")};
  std::vector<std::string> jsons;
  for (const auto& a : alerts) jsons.push_back(lodestone::to_json(a));
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kRetry);
  receiver.answer([&targets](const httplib::Request& req, httplib::Response& res) {
    targets.add(req.target);
    sent(req, res);
  });
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);

  const std::string key = lodestone::digest_key(alerts);
  for (const auto& a : alerts) CHECK(key != a.id);
  const auto seen = targets.all();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == send_target(key));
  CHECK(seen[1] == send_target(key));
  const auto requests = receiver.requests();
  CHECK(requests[0].body == requests[1].body);
  const json e = json::parse(requests[1].body);
  const std::string html = e["formatted_body"], plain = e["body"];
  CHECK(html.rfind("<strong>3 alerts</strong><hr>", 0) == 0);
  CHECK(plain.rfind("3 alerts\n\nHIGH · Rare \"earth\" export controls\n", 0) == 0);
  size_t links = 0;
  for (size_t at = html.find("<a href=\"https://example.com/p/1?x=1&amp;y=2\">"); at != std::string::npos;
       at = html.find("<a href=", at + 1)) {
    ++links;
  }
  CHECK(links == 3);
  CHECK_FALSE(contains(html, "<hr>and "));
  CHECK_FALSE(contains(plain, "\n\nand "));
  CHECK(e["m.mentions"] == json::object());
}

TEST_CASE("a matrix digest too long for 60000 bytes ends with and N more in both bodies", "[matrix][digest]") {
  std::vector<Alert> alerts;
  for (int i = 0; i < 120; ++i) {
    Alert a = sample_alert("M." + std::to_string(i));
    while (a.post.title.size() < 2000) a.post.title += " <稀土> & \"出口管制\"";
    alerts.push_back(a);
  }
  const std::string body = lodestone::matrix_digest_event(alerts);
  CHECK(body.size() <= lodestone::kMatrixBodyMax);
  const json e = json::parse(body);
  const std::string html = e["formatted_body"], plain = e["body"];
  size_t shown = 0;
  for (size_t at = html.find("<hr>"); at != std::string::npos; at = html.find("<hr>", at + 1)) ++shown;
  // Every item and the "and N more" follow an <hr>.
  REQUIRE(shown >= 2);
  shown -= 1;
  CHECK(shown < 120);
  const std::string more = "and " + std::to_string(120 - shown) + " more";
  CHECK(html.substr(html.size() - more.size()) == more);
  CHECK(plain.substr(plain.size() - more.size()) == more);
  // The plain body lists the same alerts as the HTML.
  size_t plain_items = 0;
  for (size_t at = plain.find("\n\nHIGH · "); at != std::string::npos; at = plain.find("\n\nHIGH · ", at + 1)) ++plain_items;
  CHECK(plain_items == shown);
}

TEST_CASE("a matrix digest of one alert is the event send() sends, under the alert's own id", "[matrix][digest]") {
  const std::vector<Alert> one = {sample_alert()};
  CHECK(lodestone::matrix_digest_event(one) == lodestone::matrix_event(lodestone::summarize_alert(one[0])));
  CHECK(lodestone::digest_key(one) == one[0].id);
}

TEST_CASE("cancel() makes every later matrix send a retry that sends nothing", "[matrix][http]") {
  HttpReceiver receiver(sent);
  MatrixNotifier notifier(options_for(receiver));
  notifier.cancel();
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  CHECK(receiver.count() == 0);
}
