// What the file sources (jsonl, directory) share: a stop signal poll() can wait on, batch
// delivery that retries until committed, and a line splitter that never holds an over-long line.
// Not part of the sources' API. Each class says which thread may call it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/source.h"

namespace lodestone {

namespace source_detail {

// The stop request of one source: a flag and an eventfd that poll() sees the moment stop comes.
// request() from any thread; the rest from the source's thread.
class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool ok() const { return fd_ >= 0; }  // false when no eventfd could be made (errno logged)
  void request();
  bool requested() const { return requested_.load(); }
  int fd() const { return fd_; }  // readable from request() on
  // Sleeps up to `seconds`, less when stop comes; returns requested().
  bool sleep(double seconds) const;

 private:
  std::atomic<bool> requested_{false};
  int fd_ = -1;
};

// Seconds as a poll() timeout in milliseconds: rounded up, at most an hour, 0 for none.
int to_poll_ms(double seconds);

// Submits a copy of `batch` (so it can be sent again) and waits for its receipt. A receipt that
// is not committed is logged with `what` (e.g. "logs/app.jsonl:120") and the batch submitted again
// after a pause that starts at `pause` seconds and doubles up to 30 s. Returns the committed
// receipt, or nullopt when stop was requested or the sink refused the batch (it is stopping).
std::optional<BatchReceipt> deliver_batch(PostSink& sink, const std::vector<Post>& batch, const StopSignal& stop,
                                          double pause, std::string_view what);

// Splits bytes read in chunks into lines without holding a line longer than `max_line` bytes:
// such a line is handed out once, as too long, when its '\n' comes, its bytes dropped meanwhile.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
  // Appends bytes read. Lines handed out before are invalid after it.
  void append(std::string_view bytes);
  // The next complete line (without its '\n'), or false when at most a part of one is left.
  // `too_long` is set for a line dropped for its length (`line` is then empty).
  bool next(std::string_view& line, bool& too_long);
  // The part of a line still waiting for its '\n', taken as the last line (end of input);
  // false when there is none.
  bool take_rest(std::string_view& line, bool& too_long);
  // Bytes of every line handed out so far, '\n' included: the offset after the last line.
  uint64_t consumed() const { return consumed_; }
  // Forgets everything, consumed() included.
  void reset();

 private:
  size_t max_line_;
  std::string buffer_;
  size_t start_ = 0;         // buffer_[start_, end) is not handed out yet
  size_t scanned_ = 0;       // buffer_[start_, scanned_) holds no '\n'
  bool skipping_ = false;    // inside a line too long to keep
  uint64_t skipped_ = 0;     // bytes of that line dropped so far
  uint64_t consumed_ = 0;
};

}  // namespace source_detail

}  // namespace lodestone
