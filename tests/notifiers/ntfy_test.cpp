// The ntfy notifier against a real HTTP receiver on loopback standing in for an ntfy server: the
// publish request, its Markdown body and its limit, the Title/Priority/Tags/Click headers (RFC
// 2047 encoded words where not ASCII), ntfy's answers, digests, and errors that never hold the
// access token.
#include "notifiers/ntfy/ntfy.h"

#include <httplib.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>
#include <vector>

#include "notifiers/chat_format.h"
#include "support/closed_port.h"
#include "support/golden.h"
#include "support/http_receiver.h"
#include "support/sample_alert.h"

using lodestone::Alert;
using lodestone::DeliveryAttempt;
using lodestone::NtfyNotifier;
using lodestone::NtfyOptions;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ReceivedRequest;
using lodestone::testing::sample_alert;
using test_support::ClosedPort;
using Outcome = DeliveryAttempt::Outcome;

namespace {

constexpr const char* kToken = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2";

NtfyOptions options_for(const HttpReceiver& receiver, const std::string& token = kToken) {
  NtfyOptions o;
  o.name = "phone";
  o.url = receiver.url("/lodestone-alerts");
  o.token = token;
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

constexpr const char* kPublished =
    R"({"id":"hwQ2YpKdmg","time":1635528741,"event":"message","topic":"lodestone-alerts","message":"…"})";

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Whether `s` is whole UTF-8: no sequence cut at either end.
bool whole_utf8(const std::string& s) {
  if (s.empty()) return true;
  if (is_continuation(static_cast<unsigned char>(s[0]))) return false;
  size_t last = s.size() - 1;
  while (last > 0 && is_continuation(static_cast<unsigned char>(s[last]))) --last;
  const auto lead = static_cast<unsigned char>(s[last]);
  const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  return s.size() - last == length;
}

// What ntfy (Go's mime.WordDecoder) makes of a header value: each "=?UTF-8?B?…?=" word decoded,
// the spaces between two words dropped. Each word is checked: at most 75 characters, whole UTF-8.
std::string decoded(const std::string& value) {
  if (value.rfind("=?", 0) != 0) return value;
  std::string out;
  size_t at = 0;
  while (at < value.size()) {
    const size_t end = value.find(' ', at);
    const std::string word = value.substr(at, end == std::string::npos ? std::string::npos : end - at);
    INFO(word);
    CHECK(word.size() <= 75);
    REQUIRE(word.rfind("=?UTF-8?B?", 0) == 0);
    REQUIRE(word.substr(word.size() - 2) == "?=");
    const std::string b64 = word.substr(10, word.size() - 12);
    std::string bytes(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    REQUIRE(n >= 0);
    size_t pad = 0;
    while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    bytes.resize(static_cast<size_t>(n) - pad);
    CHECK(whole_utf8(bytes));
    out += bytes;
    at = end == std::string::npos ? value.size() : end + 1;
  }
  return out;
}

const ReceivedRequest only_request(const HttpReceiver& receiver) {
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  return requests[0];
}

}  // namespace

TEST_CASE("ntfy options that cannot work are refused naming the notifier and never the token", "[ntfy]") {
  HttpReceiver receiver;
  CHECK(lodestone::check_ntfy_options(options_for(receiver)).ok());
  CHECK(lodestone::check_ntfy_options(options_for(receiver, "")).ok());
  auto refused = [](const NtfyOptions& o) {
    const std::string why = lodestone::check_ntfy_options(o).error();
    CHECK(contains(why, "ntfy \"phone\": "));
    CHECK_FALSE(contains(why, "AgQdq7mVBoFD37zQVN29RhuMzNIz2"));
    CHECK_FALSE(contains(why, "pw-5e6f"));
    return why;
  };
  NtfyOptions o = options_for(receiver);
  o.url.clear();
  CHECK(refused(o) == "ntfy \"phone\": url is required");
  o.url = "ftp://alice:pw-5e6f@ntfy.example/alerts";
  CHECK(contains(refused(o), "http"));
  for (const char* bad : {"https://alice:pw-5e6f@ntfy.sh/", "https://ntfy.sh", "https://ntfy.sh/alerts.json"}) {
    o.url = bad;
    CHECK(contains(refused(o), "topic"));
  }
  o = options_for(receiver);
  o.token = std::string(kToken) + "\r\nX-Evil: 1";
  CHECK(contains(refused(o), "token"));
  o = options_for(receiver);
  o.timeout = 0;
  CHECK(contains(refused(o), "timeout"));
  o = options_for(receiver);
  o.digest = -1;
  CHECK(contains(refused(o), "digest"));
  o = options_for(receiver);
  o.url = "https://ntfy.example/ntfy/lodestone_alerts-2";  // a server under a path
  CHECK(lodestone::check_ntfy_options(o).ok());

  o.url.clear();
  NtfyNotifier notifier(o);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.error == "ntfy \"phone\": url is required");
  CHECK(receiver.requests().empty());
}

TEST_CASE("ntfy publishes the Markdown message with Title Priority Tags Click and a bearer token", "[ntfy][http]") {
  HttpReceiver receiver;
  answer_json(receiver, 200, kPublished);
  NtfyNotifier notifier(options_for(receiver));
  CHECK(notifier.name() == "phone");
  CHECK(notifier.digest_interval() == 0);
  const Alert alert = sample_alert();
  const DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 200);

  const ReceivedRequest r = only_request(receiver);
  CHECK(r.method == "POST");
  CHECK(r.path == "/lodestone-alerts");
  CHECK(r.header("Authorization") == std::string("Bearer ") + kToken);
  CHECK(r.header("Markdown") == "yes");
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.header("Priority") == "4");
  CHECK(r.header("Tags") == "minerals");
  CHECK(r.header("Click") == "https://example.com/p/1?x=1&y=2");
  // "·" is not ASCII: the title travels as encoded words.
  CHECK(r.header("Title").rfind("=?UTF-8?B?", 0) == 0);
  CHECK(decoded(r.header("Title")) == "HIGH · Rare \"earth\" export controls");
  lodestone::testing::check_golden("ntfy.txt", r.body);
  CHECK(r.body ==
        "[中國對稀土出口管制 \\<@everyone\\> \\& more](https://example.com/p/1?x=1&y=2)\n\n"
        "> …中國對**稀土**出口…\n\n"
        "Entity: Scott Bessent \\(matched as 貝森特\\)\n\n"
        "Source: ptt/Stock");
}

TEST_CASE("ntfy header values are one line and RFC 2047 words that never cut a character", "[ntfy]") {
  CHECK(lodestone::ntfy_header_value("HIGH - Rare earths") == "HIGH - Rare earths");
  CHECK(lodestone::ntfy_header_value("a\r\nX-Evil: 1") == "a  X-Evil: 1");
  // "=?" would be read as the start of an encoded word: it is encoded itself.
  CHECK(lodestone::ntfy_header_value("x =?UTF-8?B?QQ==?=") == "=?UTF-8?B?eCA9P1VURi04P0I/UVE9PT89?=");
  CHECK(decoded(lodestone::ntfy_header_value("x =?UTF-8?B?QQ==?=")) == "x =?UTF-8?B?QQ==?=");
  std::string long_cjk;
  for (int i = 0; i < 40; ++i) long_cjk += "稀土😀a";
  const std::string encoded = lodestone::ntfy_header_value(long_cjk);
  CHECK(encoded.find_first_of("\r\n") == std::string::npos);
  CHECK(std::count(encoded.begin(), encoded.end(), ' ') >= 5);
  CHECK(decoded(encoded) == long_cjk);
  CHECK(lodestone::ntfy_priority("critical") == 5);
  CHECK(lodestone::ntfy_priority("high") == 4);
  CHECK(lodestone::ntfy_priority("medium") == 3);
  CHECK(lodestone::ntfy_priority("low") == 2);
  CHECK(lodestone::ntfy_priority("info") == 1);
  CHECK(lodestone::ntfy_priority("") == 0);
}

TEST_CASE("a CJK rule's Title and Tags reach ntfy as encoded words that decode to the text", "[ntfy][http]") {
  HttpReceiver receiver;
  NtfyNotifier notifier(options_for(receiver));
  Alert alert = sample_alert();
  alert.rule.title = "稀土出口管制與美中貿易戰的最新消息：供應鏈、價格與政策動向";
  alert.rule.severity = "critical";
  alert.rule.tags = {"稀土", "供應鏈", "rare-earth"};
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  const ReceivedRequest r = only_request(receiver);
  for (const char* name : {"Title", "Tags"}) {
    INFO(name);
    const std::string value = r.header(name);
    CHECK(value.rfind("=?UTF-8?B?", 0) == 0);
    for (const char c : value) CHECK(static_cast<unsigned char>(c) < 0x80);
  }
  CHECK(decoded(r.header("Title")) == "CRITICAL · 稀土出口管制與美中貿易戰的最新消息：供應鏈、價格與政策動向");
  CHECK(decoded(r.header("Tags")) == "稀土,供應鏈,rare-earth");
  CHECK(r.header("Priority") == "5");
}

TEST_CASE("ntfy leaves out Priority Tags and Click when there is none and shows the title unlinked", "[ntfy][http]") {
  HttpReceiver receiver;
  NtfyNotifier notifier(options_for(receiver, ""));
  Alert alert = sample_alert();
  alert.rule.severity.clear();
  alert.rule.tags.clear();
  alert.rule.title = "Rare earths";
  alert.post.url.clear();
  lodestone::AlertMatch pushes;
  pushes.field = "pushes";
  pushes.comparison = true;
  pushes.value = 55;
  alert.matches.push_back(pushes);
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  const ReceivedRequest r = only_request(receiver);
  CHECK(r.header("Title") == "Rare earths");
  CHECK(r.count("Priority") == 0);
  CHECK(r.count("Tags") == 0);
  CHECK(r.count("Click") == 0);
  CHECK(r.count("Authorization") == 0);
  CHECK(r.body ==
        "中國對稀土出口管制 \\<@everyone\\> \\& more\n\n"
        "> …中國對**稀土**出口…\n\n"
        "pushes 55\n\n"
        "Entity: Scott Bessent \\(matched as 貝森特\\)\n\n"
        "Source: ptt/Stock");
}

TEST_CASE("ntfy's 429 is retried after Retry-After and 413 401 403 are dead with ntfy's error", "[ntfy][http]") {
  HttpReceiver receiver;
  NtfyNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  const std::string json = lodestone::to_json(alert);

  receiver.answer([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "10");
    res.set_content(
        R"({"code":42901,"http":429,"error":"limit reached: too many requests, please be nice","link":"https://ntfy.sh/docs/publish/#limitations"})",
        "application/json");
  });
  DeliveryAttempt got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 429);
  CHECK(got.retry_after == 10);
  CHECK(got.error == "ntfy \"phone\" (http://127.0.0.1:" + std::to_string(receiver.port()) +
                         "/lodestone-alerts): HTTP 429: limit reached: too many requests, please be nice");

  answer_json(receiver, 413, R"({"code":41301,"http":413,"error":"message too large"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 413);
  CHECK(contains(got.error, "HTTP 413: message too large"));

  answer_json(receiver, 401, R"({"code":40101,"http":401,"error":"unauthorized"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "HTTP 401: unauthorized"));
  answer_json(receiver, 403, R"({"code":40301,"http":403,"error":"forbidden"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "HTTP 403: forbidden"));

  answer_json(receiver, 500, R"({"code":50001,"http":500,"error":"internal server error"})");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "HTTP 500: internal server error"));
  receiver.answer_status(502, "bad gateway");
  got = notifier.send(alert, json);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "HTTP 502: bad gateway"));
}

TEST_CASE("ntfy errors never hold the token or the URL's password", "[ntfy][http]") {
  HttpReceiver receiver;
  receiver.answer([](const httplib::Request& req, httplib::Response& res) {
    res.status = 401;
    res.set_content(
        R"({"code":40101,"http":401,"error":"unauthorized: )" + req.get_header_value("Authorization") + "\"}",
        "application/json");
  });
  NtfyNotifier notifier(options_for(receiver));
  const Alert alert = sample_alert();
  DeliveryAttempt got = notifier.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "unauthorized: Bearer ***"));
  CHECK_FALSE(contains(got.error, kToken));

  // Basic authentication from the URL: the password goes to the server, never into an error.
  receiver.answer_status(403, "no: pw-5e6f");
  NtfyOptions o = options_for(receiver, "");
  o.url = "http://alice:pw-5e6f@127.0.0.1:" + std::to_string(receiver.port()) + "/lodestone-alerts";
  NtfyNotifier basic(o);
  got = basic.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kDead);
  CHECK_FALSE(contains(got.error, "pw-5e6f"));
  CHECK(receiver.requests().back().header("Authorization").rfind("Basic ", 0) == 0);

  ClosedPort closed;
  o = options_for(receiver);
  o.url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/lodestone-alerts";
  NtfyNotifier unreachable(o);
  got = unreachable.send(alert, lodestone::to_json(alert));
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(
      contains(got.error, "ntfy \"phone\" (http://127.0.0.1:" + std::to_string(closed.port()) + "/lodestone-alerts)"));
  CHECK_FALSE(contains(got.error, kToken));
}

TEST_CASE("a hostile post injects no Markdown or link into ntfy and fits 4096 bytes with its link", "[ntfy][http]") {
  HttpReceiver receiver;
  NtfyNotifier notifier(options_for(receiver));
  const Alert alert = lodestone::testing::hostile_alert();
  REQUIRE(notifier.send(alert, lodestone::to_json(alert)).outcome == Outcome::kDelivered);
  ReceivedRequest r = receiver.requests().back();
  CHECK(decoded(r.header("Title")) == "HIGH · Rare earths <b>bold</b>");
  CHECK(r.count("Click") == 0);  // a javascript: URL is no link
  CHECK(r.body.rfind("\\<a href=\"https://evil\\.example\"\\>@everyone\\</a\\> \\<\\!channel\\> @room "
                     "\\[win\\]\\(https://evil\\.example\\) \\*bold\\* \\`code\\` ",
                     0) == 0);
  CHECK(contains(r.body, "\n\n> \\[x\\]\\(https://evil\\.example\\) \\<b\\>**稀土**\\</b\\> @everyone\n\n"));
  CHECK(contains(r.body, "Entity: Scott Bessent \\(matched as \\<i\\>Bessent\\</i\\> @here\\)"));
  CHECK_FALSE(contains(r.body, "]("));
  CHECK(r.body.size() <= lodestone::kNtfyMessageMax);

  // A real link with parentheses: percent-encoded in the link and in Click, kept whole.
  Alert linked = alert;
  linked.post.url = "https://example.com/wiki/Rare_(earth)?q=稀土";
  REQUIRE(notifier.send(linked, lodestone::to_json(linked)).outcome == Outcome::kDelivered);
  r = receiver.requests().back();
  const std::string target = "https://example.com/wiki/Rare_%28earth%29?q=%E7%A8%80%E5%9C%9F";
  // (The receiver's HTTP library percent-decodes header values: the header as sent is checked
  // from ntfy_headers(), the one received decodes to the post's URL.)
  CHECK(r.header("Click") == linked.post.url);
  const auto headers = lodestone::ntfy_headers(lodestone::summarize_alert(linked));
  CHECK(std::find(headers.begin(), headers.end(), "Click: " + target) != headers.end());
  CHECK(contains(r.body, "…](" + target + ")\n\n> "));
  CHECK(contains(r.body, "**稀土**"));
  CHECK(r.body.size() <= lodestone::kNtfyMessageMax);
}

TEST_CASE("an ntfy digest is one publish with the highest priority every tag and and N more", "[ntfy][http]") {
  HttpReceiver receiver;
  NtfyOptions o = options_for(receiver);
  o.digest = 900;
  NtfyNotifier notifier(o);
  CHECK(notifier.digest_interval() == 900);

  std::vector<Alert> alerts;
  std::vector<std::string> jsons;
  for (int i = 0; i < 30; ++i) {
    Alert a = lodestone::testing::hostile_alert();
    a.post.id = "M." + std::to_string(i);
    a.post.url = "https://example.com/p/" + std::to_string(i);
    a.id = lodestone::alert_id(a.rule.id, a.post.source, a.post.id);
    alerts.push_back(a);
  }
  alerts[7].rule.severity = "critical";
  alerts[9].rule.tags = {"supply-chain", "minerals"};
  for (const Alert& a : alerts) jsons.push_back(lodestone::to_json(a));
  receiver.answer_status(503);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kRetry);
  receiver.answer_status(200, kPublished);
  CHECK(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].body == requests[0].body);
  const ReceivedRequest& r = requests[1];
  CHECK(decoded(r.header("Title")) == "Lodestone · 30 alerts");
  CHECK(r.header("Priority") == "5");
  CHECK(r.header("Tags") == "minerals,supply-chain");
  CHECK(r.count("Click") == 0);
  CHECK(r.body.rfind("**Lodestone** · 30 alerts\n\n---\n\n**HIGH · Rare earths \\<b\\>bold\\</b\\>**\n\n[", 0) == 0);
  CHECK(contains(r.body, "](https://example.com/p/0)"));
  const size_t more = r.body.rfind("\n\n---\n\nand ");
  REQUIRE(more != std::string::npos);
  CHECK(r.body.substr(r.body.size() - 5) == " more");
  const int left_out = std::stoi(r.body.substr(more + 11));
  CHECK(left_out > 0);
  CHECK(left_out < 30);
  CHECK(r.body.size() <= lodestone::kNtfyMessageMax);
}

TEST_CASE("ntfy cancel() stops a request in flight and every later send is kRetry", "[ntfy][http]") {
  HttpReceiver receiver;
  receiver.answer([&receiver](const httplib::Request&, httplib::Response& res) {
    receiver.hold(std::chrono::milliseconds(2000));
    res.status = 200;
  });
  NtfyOptions o = options_for(receiver);
  o.timeout = 60;
  NtfyNotifier notifier(o);
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
