// What every chat message needs beside its service's own markup: lengths as services count
// them, cutting, the escapes of HTML, Markdown and Slack, and the fitting of a message (or a
// digest) into a service's limit. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alert_render.h"

namespace lodestone {

size_t code_points(std::string_view utf8);
size_t utf16_units(std::string_view utf8);  // what LINE and Teams count
// At most `max` code points of `utf8`, the last of them "…" when it is cut.
std::string cut_code_points(std::string_view utf8, size_t max);

// "HIGH" from "high": how chat messages show a severity.
std::string upper_ascii(std::string text);
// "Scott Bessent (matched as 貝森特)", or the entity's name alone; empty without an entity.
std::string entity_line(const AlertSummary& summary);

// & < > " as entities: text inside HTML elements and attribute values (Telegram, Matrix).
std::string html_escape(std::string_view text);
// & < > as entities, which is all Slack reads as markup in text (links, mentions, <!channel>).
std::string slack_escape(std::string_view text);
// A backslash before every ASCII punctuation character CommonMark could read as markup
// (Discord, ntfy, Teams): \ ` * _ { } [ ] ( ) < > # + - . ! | ~
std::string markdown_escape(std::string_view text);
// A URL as the target of a Markdown link, `[text](target)`: what would end the target early or
// read as markup ( ) < > [ ] \ and space, and every byte that is not ASCII, percent-encoded.
std::string markdown_link_target(std::string_view url);

// The summary with its snippet cut to about `snippet_max` code points and its title to
// `title_max`, "…" where cut. The first marked piece stays: the text before it is cut at its
// start, what follows at its end.
AlertSummary shortened(const AlertSummary& summary, size_t snippet_max, size_t title_max);

// render(summary), made to fit `limit` as `measure` counts it: the snippet is cut first, then the
// title (never the link). Past that the message goes without its link and, last, is cut.
std::string fit_message(const AlertSummary& summary, size_t limit,
                        const std::function<std::string(const AlertSummary&)>& render,
                        const std::function<size_t(std::string_view)>& measure);

// A digest of `items` (each already rendered): `head`, then as many items as fit `limit` with
// `more(n)` for the n left out, joined by `separator`. One item too long alone is left out too.
std::string fit_digest(const std::string& head, const std::vector<std::string>& items, const std::string& separator,
                       size_t limit, const std::function<std::string(size_t)>& more,
                       const std::function<size_t(std::string_view)>& measure);

// An idempotency key for a digest of `alerts`: the first 32 hex digits of SHA-256 over their
// ids, so a digest retried with the same alerts has the same key (LINE's retry key, Matrix's
// transaction id). The key of one alert is its own id.
std::string digest_key(std::span<const Alert> alerts);

}  // namespace lodestone
