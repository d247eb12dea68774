// The `email` notifier kind (SMTP mail): its options and its factory, for notifiers/registry.cpp.
// Each default is EmailOptions' own.
#include "notifiers/email/email.h"
#include "notifiers/registry.h"

namespace lodestone {
namespace {

const EmailOptions kDefaults;

const OptionSpec kEmailOptions[] = {
    {"url", OptionType::kString, "", "smtp://host:587 (STARTTLS required) or smtps://host:465", true},
    {"username", OptionType::kString, "", "SMTP AUTH user"},
    {"password", OptionType::kSecret, "", "SMTP AUTH password"},
    {"from", OptionType::kString, "", "sender address, local@domain", true},
    {"to", OptionType::kStrings, "", "recipient addresses", true},
    {"ca_file", OptionType::kString, "", "PEM CA bundle to verify a private relay with"},
    {"timeout", OptionType::kDuration, duration_text(kDefaults.timeout), "per attempt, connecting included"},
    {"digest", OptionType::kDuration, "", "one mail per interval with every alert since the last (default: off)"},
    {"tls", OptionType::kString, kDefaults.tls, "required, or none for a relay on loopback (smtp://127.0.0.1:25)"},
    {"subject_prefix", OptionType::kString, kDefaults.subject_prefix, "first word of every subject"},
    {"text_template", OptionType::kString, "", "mustache file for the text part"},
};

Result<std::unique_ptr<Notifier>> make_email(const std::string& name, const OptionValues& v) {
  EmailOptions o;
  o.name = name;
  o.url = v.string("url");
  o.username = v.string("username");
  o.password = v.string("password");
  o.from = v.string("from");
  o.to = v.strings("to");
  o.ca_file = v.string("ca_file");
  o.timeout = v.number("timeout", o.timeout);
  o.digest = v.number("digest", o.digest);
  o.tls = v.string("tls", o.tls);
  o.subject_prefix = v.string("subject_prefix", o.subject_prefix);
  o.text_template = v.string("text_template");
  if (Result<void> valid = check_email_options(o); !valid) return Failure{valid.error()};
  return std::unique_ptr<Notifier>(std::make_unique<EmailNotifier>(std::move(o)));
}

}  // namespace

extern const NotifierKind email_notifier_kind;  // listed in notifiers/registry.cpp
const NotifierKind email_notifier_kind{"email", "SMTP mail per alert or per digest interval, text and HTML",
                                       kEmailOptions, make_email};

}  // namespace lodestone
