// The file notifier: one JSON line per alert, appended.
#include "notifiers/file/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lodestone {

DeliveryAttempt FileNotifier::send(const Alert& /*alert*/, const std::string& alert_json) {
  std::lock_guard lock(mutex_);
  auto failed = [&](const char* what) {
    return DeliveryAttempt{DeliveryAttempt::Outcome::kRetry, 0,
                           options_.name + ": " + what + " " + options_.path + ": " + std::strerror(errno), -1};
  };
  const std::filesystem::path parent = std::filesystem::path(options_.path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const int fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return failed("cannot open");
  std::string line = alert_json;
  line += '\n';
  // O_APPEND with one write() keeps lines whole even when another process appends too.
  const ssize_t n = ::write(fd, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()) || (options_.fsync && ::fdatasync(fd) != 0)) {
    if (n >= 0 && n != static_cast<ssize_t>(line.size())) errno = ENOSPC;
    DeliveryAttempt attempt = failed("cannot write");
    ::close(fd);
    return attempt;
  }
  ::close(fd);
  return {DeliveryAttempt::Outcome::kDelivered, 0, {}, -1};
}

}  // namespace lodestone
