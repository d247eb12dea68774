// The `webhook` notifier kind (an HTTP POST per alert): its options and its factory, for notifiers/registry.cpp.
#include "notifiers/webhook/webhook.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

constexpr OptionSpec kWebhookOptions[] = {
    {"url", OptionType::kString, "", "http:// or https:// endpoint; ${ENV} keeps a token out of the file", true},
    {"secret", OptionType::kSecret, "", "Standard Webhooks signing secret (whsec_<base64>)"},
    {"format", OptionType::kString, "json", "json | slack | discord | template"},
    {"template", OptionType::kString, "", "mustache file for the body, with format = \"template\""},
    {"content_type", OptionType::kString, "application/json", "Content-Type of a template body"},
    {"timeout", OptionType::kDuration, "10s", "per attempt, connecting included"},
    {"headers", OptionType::kHeaders, "", "extra request headers"},
};

std::unique_ptr<Notifier> make_webhook(const std::string& name, const OptionValues& v, std::string& error) {
  WebhookOptions o;
  o.name = name;
  o.url = v.string("url");
  o.secret = v.string("secret");
  o.format = v.string("format", "json");
  o.template_path = v.string("template");
  o.content_type = v.string("content_type", "application/json");
  o.timeout = v.number("timeout", 10);
  o.headers = v.headers("headers");
  error = check_webhook_options(o);
  if (!error.empty()) return nullptr;
  return std::make_unique<WebhookNotifier>(std::move(o));
}

}  // namespace

extern const NotifierKind webhook_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind webhook_notifier_kind{"webhook", "HTTP POST per alert (Standard Webhooks), or Slack/Discord/template bodies",
                                    kWebhookOptions, make_webhook};

}  // namespace lodestone
