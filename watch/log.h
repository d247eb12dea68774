// Logging: one spdlog logger for the whole process, to stderr, as text or one JSON object a line.
// Call init_logging() once at start-up, before other threads log; spdlog::info() etc. from any thread after.
#pragma once

#include <string>
#include <string_view>

namespace lodestone {

// `level`: trace, debug, info, warn, error, critical or off. `format`: "text" (time, level,
// message) or "json" ({"time":…,"level":…,"msg":…} a line, the message escaped as JSON).
// Returns false and sets `error` for an unknown level or format.
bool init_logging(std::string_view level, std::string_view format, std::string& error);

}  // namespace lodestone
