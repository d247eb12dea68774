// Logging: one spdlog logger for the whole process, to stderr, as text or one JSON object a line.
// Call init_logging() once at start-up, before other threads log; spdlog::info() etc. from any thread after.
#pragma once

#include <string>
#include <string_view>

#include "lodestone/result.h"

namespace lodestone {

// `level`: trace, debug, info, warn, error, critical or off. `format`: "text" (time, level,
// message) or "json" ({"time":…,"level":…,"msg":…} a line, the message escaped as JSON).
// Fails for an unknown level or format.
Result<void> init_logging(std::string_view level, std::string_view format);

}  // namespace lodestone
