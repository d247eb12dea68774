// The `webhook` notifier kind (an HTTP POST per alert): its options and its factory, for
// notifiers/registry.cpp. Each default is WebhookOptions' own.
#include "notifiers/registry.h"
#include "notifiers/webhook/webhook.h"

namespace lodestone {
namespace {

const WebhookOptions kDefaults;

const OptionSpec kWebhookOptions[] = {
    {"url", OptionType::kString, "", "http:// or https:// endpoint; ${ENV} keeps a token out of the file", true},
    {"secret", OptionType::kSecret, "", "Standard Webhooks signing secret (whsec_<base64>)"},
    {"format", OptionType::kString, kDefaults.format, "json | slack | discord | template"},
    {"template", OptionType::kString, "", "mustache file for the body, with format = \"template\""},
    {"content_type", OptionType::kString, kDefaults.content_type, "Content-Type of a template body"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"headers", OptionType::kHeaders, "", "extra request headers"},
    {"digest", OptionType::kDuration, "", "one request per interval listing every alert since the last (default: off)"},
};

Result<std::unique_ptr<Notifier>> make_webhook(const std::string& name, const OptionValues& v) {
  WebhookOptions o;
  o.name = name;
  o.url = v.string("url");
  o.secret = v.string("secret");
  o.format = v.string("format", o.format);
  o.template_path = v.string("template");
  o.content_type = v.string("content_type", o.content_type);
  o.timeout = v.number("timeout", o.timeout);
  o.headers = v.headers("headers");
  o.digest = v.number("digest", o.digest);
  if (Result<void> valid = check_webhook_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<WebhookNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind webhook_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind webhook_notifier_kind{
    "webhook", "HTTP POST per alert (Standard Webhooks), or Slack/Discord/template bodies", kWebhookOptions,
    make_webhook};

}  // namespace lodestone
