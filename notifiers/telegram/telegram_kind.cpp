// The `telegram` notifier kind (a Bot API sendMessage per alert): its options and its factory,
// for notifiers/registry.cpp. Each default is TelegramOptions' own.
#include "notifiers/registry.h"
#include "notifiers/telegram/telegram.h"

namespace lodestone {
namespace {

const TelegramOptions kDefaults;

const OptionSpec kTelegramOptions[] = {
    {"bot_token", OptionType::kSecret, "", "the bot's token from @BotFather", true},
    {"chat_id", OptionType::kString, "", "a chat's number (-1001234567890) or \"@channelname\"", true},
    {"base_url", OptionType::kString, kDefaults.base_url, "the Bot API server"},
    {"disable_web_page_preview", OptionType::kBool, bool_text(kDefaults.disable_web_page_preview),
     "send without a preview of the post's page"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one message per interval with every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_telegram(const std::string& name, const OptionValues& v) {
  TelegramOptions o;
  o.name = name;
  o.bot_token = v.string("bot_token");
  o.chat_id = v.string("chat_id");
  o.base_url = v.string("base_url", o.base_url);
  o.disable_web_page_preview = v.boolean("disable_web_page_preview", o.disable_web_page_preview);
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_telegram_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<TelegramNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind telegram_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind telegram_notifier_kind{"telegram", "Telegram Bot API sendMessage per alert or per digest, in HTML",
                                          kTelegramOptions, make_telegram};

}  // namespace lodestone
