// `lodestone watch` with every chat notifier at once — webhook's slack and discord formats,
// telegram, line, ntfy, teams, matrix — and email, each against a real receiver on loopback, one
// of them down: the others deliver at once, and the one that was down delivers once it is up.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/smtp_receiver.h"
#include "support/watch_harness.h"

using namespace watch_test;
using lodestone::testing::HttpReceiver;
using lodestone::testing::ReceivedRequest;

namespace {

std::string state_of(const std::string& notifier, const std::string& state) {
  return "lodestone_deliveries{notifier=\"" + notifier + "\",state=\"" + state + "\"}";
}

}  // namespace

TEST_CASE("one alert goes out through every chat notifier and email at once, and one receiver down holds back none",
          "[watch][chat]") {
  TempDir dir("watch-chat");
  HttpReceiver slack, discord, telegram, line, ntfy, teams;
  teams.answer_status(202);
  smtp_test::SmtpReceiver smtp;
  const int matrix_port = free_port();  // nobody listens here until the others have delivered
  const int admin = free_port();
  const std::string retry = "backoff = \"0.2s\"\nmax_backoff = \"0.5s\"\nmax_attempts = 1000\n";
  dir.write("rules/chat.toml",
            "[[rule]]\nid = \"rare-earths\"\ntitle = \"Rare earths\"\nseverity = \"high\"\ntags = [\"minerals\"]\n"
            "match = '稀土 OR \"rare earths\"'\n");
  dir.write("lodestone.toml",
            "[lodestone]\nrules = [\"rules/*.toml\"]\nstate = \"state.db\"\nadmin = \"127.0.0.1:" + std::to_string(admin) +
                "\"\n[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                "[[notifier]]\nname = \"slack\"\ntype = \"webhook\"\nformat = \"slack\"\nurl = \"" + slack.url("/services/T0/B0/x") + "\"\n" + retry +
                "[[notifier]]\nname = \"discord\"\ntype = \"webhook\"\nformat = \"discord\"\nurl = \"" + discord.url("/api/webhooks/1/t") + "\"\n" + retry +
                "[[notifier]]\nname = \"telegram\"\ntype = \"telegram\"\nbot_token = \"123456:ABC-token\"\nchat_id = \"-1001234567890\"\n"
                "base_url = \"" + telegram.url("") + "\"\n" + retry +
                "[[notifier]]\nname = \"line\"\ntype = \"line\"\nchannel_access_token = \"line-token\"\n"
                "to = \"U4af4980629a3b6c7d8e9f0a1b2c3d4e5\"\nbase_url = \"" + line.url("") + "\"\n" + retry +
                "[[notifier]]\nname = \"ntfy\"\ntype = \"ntfy\"\nurl = \"" + ntfy.url("/lodestone-alerts") + "\"\n" + retry +
                "[[notifier]]\nname = \"teams\"\ntype = \"teams\"\nurl = \"" + teams.url("/workflows/w1/triggers/manual/paths/invoke?sig=s3cr3t") + "\"\n" + retry +
                "[[notifier]]\nname = \"matrix\"\ntype = \"matrix\"\nhomeserver = \"http://127.0.0.1:" + std::to_string(matrix_port) +
                "\"\nroom_id = \"!room:example.org\"\naccess_token = \"syt_matrix_token\"\n" + retry +
                "[[notifier]]\nname = \"mail\"\ntype = \"email\"\nurl = \"" + smtp.url() + "\"\nfrom = \"lodestone@example.com\"\n"
                "to = [\"analyst@example.com\"]\nca_file = \"" + smtp_test::certificate().cert + "\"\n" + retry);
  dir.write("inbox/posts.jsonl",
            nlohmann::json{{"id", "p1"}, {"title", "中國擴大稀土出口管制"}, {"url", "https://example.com/p1"},
                           {"body", "商務部宣布稀土出口管制 @everyone"}}.dump() + "\n");
  Watcher watcher(dir.file("lodestone.toml"), dir.path());
  REQUIRE(watcher.started());

  const std::vector<std::string> up = {"slack", "discord", "telegram", "line", "ntfy", "teams", "mail"};
  const bool all_up_delivered = wait_until([&] {
    for (const auto& n : up) {
      if (metric(admin, state_of(n, "delivered")) != 1) return false;
    }
    return true;
  }, 60);
  INFO(watcher.log());
  REQUIRE(all_up_delivered);
  // The receiver that is down holds its alert, pending, and nobody else waited for it.
  CHECK(metric(admin, state_of("matrix", "pending")) == 1);
  CHECK(metric(admin, state_of("matrix", "delivered")) <= 0);  // absent or 0

  const auto one = [](const HttpReceiver& r) {
    const auto requests = r.requests();
    REQUIRE(requests.size() == 1);
    return requests[0];
  };
  const ReceivedRequest s = one(slack), d = one(discord), t = one(telegram), l = one(line), n = one(ntfy), m = one(teams);
  const std::string alert_id = s.header("webhook-id");
  CHECK(alert_id.size() == 32);
  CHECK(nlohmann::json::parse(s.body)["blocks"][0]["type"] == "rich_text");
  CHECK(nlohmann::json::parse(d.body)["embeds"][0]["title"] == "中國擴大稀土出口管制");
  CHECK(t.path == "/bot123456:ABC-token/sendMessage");
  CHECK(nlohmann::json::parse(t.body)["parse_mode"] == "HTML");
  CHECK(l.path == "/v2/bot/message/push");
  CHECK(l.header("Authorization") == "Bearer line-token");
  const std::string uuid = alert_id.substr(0, 8) + "-" + alert_id.substr(8, 4) + "-" + alert_id.substr(12, 4) + "-" +
                           alert_id.substr(16, 4) + "-" + alert_id.substr(20);
  CHECK(l.header("X-Line-Retry-Key") == uuid);
  CHECK(n.path == "/lodestone-alerts");
  CHECK(n.header("Priority") == "4");
  CHECK(n.header("Click") == "https://example.com/p1");
  CHECK(m.path == "/workflows/w1/triggers/manual/paths/invoke");
  CHECK(nlohmann::json::parse(m.body)["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive");
  REQUIRE(smtp.messages().size() == 1);
  // No secret in the log, the down receiver's errors included.
  for (const char* secret : {"ABC-token", "line-token", "s3cr3t", "syt_matrix_token"}) {
    CHECK(watcher.log().find(secret) == std::string::npos);
  }

  // The homeserver comes up: its one alert is delivered, with the alert id as its transaction id.
  HttpReceiver matrix(nullptr, matrix_port);
  matrix.answer_status(200, R"({"event_id":"$e1:example.org"})");
  REQUIRE(wait_until([&] { return metric(admin, state_of("matrix", "delivered")) == 1; }, 30));
  const auto got = matrix.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].method == "PUT");
  CHECK(got[0].path == "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/" + alert_id);
  CHECK(got[0].header("Authorization") == "Bearer syt_matrix_token");
  watcher.signal(SIGTERM);
  CHECK(watcher.wait() == 0);
  // Nothing was sent twice.
  for (const auto* r : {&slack, &discord, &telegram, &line, &ntfy, &teams}) CHECK(r->requests().size() == 1);
  CHECK(smtp.messages().size() == 1);
}
