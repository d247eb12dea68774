// The notifier registry: one entry per notifier folder.
#include "notifiers/registry.h"

#include <array>

#include "notifiers/email/email.h"
#include "notifiers/file/file.h"
#include "notifiers/stdout/stdout.h"
#include "notifiers/webhook/webhook.h"

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

constexpr OptionSpec kEmailOptions[] = {
    {"url", OptionType::kString, "", "smtp://host:587 (STARTTLS required) or smtps://host:465", true},
    {"username", OptionType::kString, "", "SMTP AUTH user"},
    {"password", OptionType::kSecret, "", "SMTP AUTH password"},
    {"from", OptionType::kString, "", "sender address, local@domain", true},
    {"to", OptionType::kStrings, "", "recipient addresses", true},
    {"ca_file", OptionType::kString, "", "PEM CA bundle to verify a private relay with"},
    {"timeout", OptionType::kDuration, "30s", "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one mail per interval with every alert since the last"},
    {"subject_prefix", OptionType::kString, "[lodestone]", "first word of every subject"},
    {"text_template", OptionType::kString, "", "mustache file for the text part"},
};

std::unique_ptr<Notifier> make_email(const std::string& name, const OptionValues& v, std::string& error) {
  EmailOptions o;
  o.name = name;
  o.url = v.string("url");
  o.username = v.string("username");
  o.password = v.string("password");
  o.from = v.string("from");
  o.to = v.strings("to");
  o.ca_file = v.string("ca_file");
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", 0);
  o.subject_prefix = v.string("subject_prefix", o.subject_prefix);
  o.text_template = v.string("text_template");
  error = check_email_options(o);
  if (!error.empty()) return nullptr;
  return std::make_unique<EmailNotifier>(std::move(o));
}

constexpr OptionSpec kFileOptions[] = {
    {"path", OptionType::kString, "", "JSONL file to append to (relative to the config's folder)", true},
    {"fsync", OptionType::kBool, "true", "sync each line to disk before it counts as delivered"},
};

std::unique_ptr<Notifier> make_file(const std::string& name, const OptionValues& v, std::string& error) {
  FileNotifierOptions o{name, v.string("path"), v.boolean("fsync", true)};
  if (o.path.empty()) {
    error = "path must not be empty";
    return nullptr;
  }
  return std::make_unique<FileNotifier>(std::move(o));
}

constexpr OptionSpec kStdoutOptions[] = {
    {"format", OptionType::kString, "json", "json (the alert's JSON line) | text (one readable line)"},
    {"color", OptionType::kString, "auto", "text format: auto | always | never"},
};

std::unique_ptr<Notifier> make_stdout(const std::string& name, const OptionValues& v, std::string& error) {
  StdoutNotifierOptions o{name, v.string("format", "json"), v.string("color", "auto")};
  if (o.format != "json" && o.format != "text") {
    error = "format must be json or text";
    return nullptr;
  }
  if (o.color != "auto" && o.color != "always" && o.color != "never") {
    error = "color must be auto, always or never";
    return nullptr;
  }
  return std::make_unique<StdoutNotifier>(std::move(o));
}

const std::array kKinds = {
    NotifierKind{"webhook", "HTTP POST per alert (Standard Webhooks), or Slack/Discord/template bodies",
                 kWebhookOptions, make_webhook},
    NotifierKind{"email", "SMTP mail per alert or per digest interval, text and HTML", kEmailOptions, make_email},
    NotifierKind{"file", "append each alert as a JSON line", kFileOptions, make_file},
    NotifierKind{"stdout", "print each alert on standard output", kStdoutOptions, make_stdout},
};

}  // namespace

std::span<const NotifierKind> notifier_kinds() { return kKinds; }

const NotifierKind* find_notifier_kind(std::string_view type) {
  for (const auto& kind : kKinds) {
    if (type == kind.type) return &kind;
  }
  return nullptr;
}

}  // namespace lodestone
