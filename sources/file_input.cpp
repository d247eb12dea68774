// The file sources' shared pieces: StopSignal, deliver_batch, LineSplitter.
#include "sources/file_input.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

namespace lodestone {

namespace source_detail {

StopSignal::StopSignal() {
  fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd_ < 0) spdlog::error("source stop signal: eventfd: {}", std::strerror(errno));
}

StopSignal::~StopSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void StopSignal::request() {
  requested_.store(true);
  if (fd_ >= 0) {
    const uint64_t one = 1;
    // The counter only has to become non-zero; a full counter (never, in practice) is as good.
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  }
}

int to_poll_ms(double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<int>(std::min(std::ceil(seconds * 1000), 3600.0 * 1000));
}

bool StopSignal::sleep(double seconds) const {
  if (requested()) return true;
  if (fd_ < 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    return requested();
  }
  pollfd p{fd_, POLLIN, 0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!requested()) {
    const double left = std::chrono::duration<double>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    if (::poll(&p, 1, to_poll_ms(left)) < 0 && errno != EINTR) break;
  }
  return requested();
}

std::optional<BatchReceipt> deliver_batch(PostSink& sink, const std::vector<Post>& batch, const StopSignal& stop,
                                          double pause, std::string_view what) {
  double wait = std::max(pause, 0.01);
  for (;;) {
    if (stop.requested()) return std::nullopt;
    std::vector<Post> copy = batch;
    auto future = sink.submit(copy, PostSink::WhenFull::kWait);
    if (!future) {
      spdlog::info("{}: the pipeline is stopping; {} posts are left to be read again", what, batch.size());
      return std::nullopt;
    }
    BatchReceipt receipt;
    try {
      receipt = future->get();
    } catch (const std::exception& e) {  // a broken promise: the pipeline went away without an answer
      receipt.error = e.what();
    }
    if (receipt.committed) return receipt;
    spdlog::warn("{}: a batch of {} posts was not committed ({}); sending it again in {:.2g} s", what, batch.size(),
                 receipt.error.empty() ? "no reason given" : receipt.error, wait);
    if (stop.sleep(wait)) return std::nullopt;
    wait = std::min(wait * 2, 30.0);
  }
}

void LineSplitter::append(std::string_view bytes) {
  if (start_ > 0) {
    buffer_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  if (skipping_) {
    // Only the '\n' that ends the long line matters; keep what follows it.
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      skipped_ += bytes.size();
      return;
    }
    skipped_ += nl;
    bytes.remove_prefix(nl);  // the '\n' stays, so next() ends the long line there
  }
  buffer_.append(bytes);
}

bool LineSplitter::next(std::string_view& line, bool& too_long) {
  const size_t nl = buffer_.find('\n', scanned_);
  if (nl == std::string::npos) {
    scanned_ = buffer_.size();
    if (!skipping_ && buffer_.size() - start_ > max_line_) {
      skipping_ = true;
      skipped_ = buffer_.size() - start_;
      buffer_.erase(start_);
      scanned_ = start_;
    }
    return false;
  }
  too_long = skipping_;
  if (skipping_) {
    consumed_ += skipped_ + (nl - start_) + 1;
    line = {};
    skipping_ = false;
    skipped_ = 0;
  } else {
    line = std::string_view(buffer_).substr(start_, nl - start_);
    consumed_ += line.size() + 1;
    too_long = line.size() > max_line_;
    if (too_long) line = {};
  }
  start_ = nl + 1;
  scanned_ = start_;
  return true;
}

bool LineSplitter::take_rest(std::string_view& line, bool& too_long) {
  if (start_ == buffer_.size() && !skipping_) return false;
  too_long = skipping_ || buffer_.size() - start_ > max_line_;
  line = too_long ? std::string_view() : std::string_view(buffer_).substr(start_);
  consumed_ += skipped_ + (buffer_.size() - start_);
  start_ = scanned_ = buffer_.size();
  skipping_ = false;
  skipped_ = 0;
  return true;
}

void LineSplitter::reset() {
  buffer_.clear();
  start_ = scanned_ = 0;
  skipping_ = false;
  skipped_ = 0;
  consumed_ = 0;
}

}  // namespace source_detail

}  // namespace lodestone
