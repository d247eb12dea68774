// The jsonl source: a file followed like `tail -F` with inotify and a poll fallback, or stdin read
// to its end; batches go to the sink and the file offset is saved only once they are committed.
#include "sources/jsonl/jsonl.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>
#include <utility>

#include "util/clock.h"
#include "engine/post_reader.h"

namespace lodestone {


using source_detail::deliver_batch;
using source_detail::LineSplitter;
using source_detail::StopSignal;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

std::optional<uint64_t> parse_u64(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return v;
}

std::string file_id(const struct stat& st) {
  return std::to_string(static_cast<uint64_t>(st.st_dev)) + ":" + std::to_string(static_cast<uint64_t>(st.st_ino));
}

}  // namespace

// One run of the source: the open file, where it stands in it, and the batch being filled.
struct JsonlSource::Follower {
  const JsonlOptions& options;
  Store& store;
  PostSink& sink;
  const StopSignal& stop;
  std::string where;  // the path in messages ("<stdin>" for "-")
  PostReader reader;
  LineSplitter lines;
  std::vector<Post> batch;
  uint64_t batch_first_line = 0;
  Post post;
  std::string error;
  std::vector<char> chunk = std::vector<char>(kReadChunk);

  // The open file: its identity, the offset lines.consumed() counts from, the bytes read.
  int fd = -1;
  struct stat opened {};
  std::string id;
  uint64_t start = 0;
  uint64_t read_pos = 0;
  uint64_t line_base = 0;  // lines before `start`
  uint64_t lines_done = 0;  // lines handed out since `start`
  std::string saved;        // "<file_id>@<offset>" last written to the store
  bool keep_offsets = false;

  // inotify: one descriptor, a watch on the open file and one on its folder.
  int inotify = -1;
  int file_watch = -1;
  int dir_watch = -1;
  bool missing_logged = false;
  int open_errno_logged = 0;

  Follower(const JsonlOptions& o, Store& s, PostSink& k, const StopSignal& st)
      : options(o),
        store(s),
        sink(k),
        stop(st),
        where(o.path == "-" ? "<stdin>" : o.path),
        reader(o.max_text_bytes),
        lines(std::max<size_t>(o.max_text_bytes * 8, size_t{1} << 20)) {}

  ~Follower() {
    if (fd >= 0 && options.path != "-") ::close(fd);
    if (inotify >= 0) ::close(inotify);
  }

  uint64_t offset() const { return start + lines.consumed(); }

  void reject(uint64_t line_no, std::string_view reason) {
    spdlog::warn("{}:{}: {}", where, line_no, reason);
    sink.count_rejected(options.name, 1);
  }

  void handle_line(std::string_view line, bool too_long) {
    const uint64_t line_no = line_base + ++lines_done;
    if (too_long) return reject(line_no, "line longer than the limit of " + std::to_string(lines_max()) + " bytes");
    switch (reader.parse_line(line, options.name, post, error)) {
      case LineOutcome::kPost:
        if (reader.last_truncated()) {
          spdlog::warn("{}:{}: post {} cut to {} bytes of text", where, line_no, post.id, options.max_text_bytes);
        }
        if (batch.empty()) batch_first_line = line_no;
        batch.push_back(post);
        break;
      case LineOutcome::kBlank:
        break;
      default:
        reject(line_no, error);
    }
  }

  size_t lines_max() const { return std::max<size_t>(options.max_text_bytes * 8, size_t{1} << 20); }

  // Sends the batch and, once committed, saves the offset. False when the source is to stop.
  bool flush() {
    if (!batch.empty()) {
      const std::string what = where + ":" + std::to_string(batch_first_line);
      if (!deliver_batch(sink, batch, stop, options.poll_interval, what)) return false;
      batch.clear();
    }
    if (keep_offsets) save();
    return true;
  }

  void save() {
    const std::string now = id + "@" + std::to_string(offset());
    if (now == saved) return;
    try {
      // offset and line before file_id: see the header on why this order.
      const int64_t t = system_now_ms();
      store.set_state(options.name, "offset", std::to_string(offset()), t);
      store.set_state(options.name, "line", std::to_string(line_base + lines_done), t);
      store.set_state(options.name, "file_id", id, t);
      saved = now;
    } catch (const StoreError& e) {
      // The batch is committed; a lost offset only means reading it again after a restart.
      spdlog::error("{}: saving the offset {}: {}", where, offset(), e.what());
    }
  }

  // Reads what the file holds now, handing out complete lines. False when the source is to stop.
  bool read_available() {
    for (;;) {
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        spdlog::warn("{}: read: {}", where, std::strerror(errno));
        return true;
      }
      if (n == 0) return true;
      read_pos += static_cast<uint64_t>(n);
      lines.append(std::string_view(chunk.data(), static_cast<size_t>(n)));
      std::string_view line;
      bool too_long = false;
      while (lines.next(line, too_long)) {
        handle_line(line, too_long);
        if (batch.size() >= options.batch && !flush()) return false;
      }
      if (stop.requested()) return false;
    }
  }

  bool take_rest() {
    std::string_view line;
    bool too_long = false;
    if (lines.take_rest(line, too_long)) handle_line(line, too_long);
    return flush();
  }

  // ---- stdin ----

  std::optional<std::string> read_stream() {
    fd = options.stdin_fd;
    for (;;) {
      pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {fd, POLLIN, 0}};
      // While posts wait in the batch, only look whether more input is there at once; when not,
      // send them rather than hold them until the next write.
      const int ready = ::poll(fds, 2, batch.empty() ? -1 : 0);
      if (ready < 0 && errno != EINTR) return "stdin: poll: " + std::string(std::strerror(errno));
      if (stop.requested()) return std::nullopt;
      if (ready == 0) {
        if (!flush()) return std::nullopt;
        continue;
      }
      if (ready < 0) continue;
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        spdlog::error("{}: read: {}", where, std::strerror(errno));
        take_rest();
        return std::nullopt;
      }
      if (n == 0) {
        take_rest();
        spdlog::info("{}: end of input after {} lines", options.name, lines_done);
        return std::nullopt;
      }
      lines.append(std::string_view(chunk.data(), static_cast<size_t>(n)));
      std::string_view line;
      bool too_long = false;
      while (lines.next(line, too_long)) {
        handle_line(line, too_long);
        if (batch.size() >= options.batch && !flush()) return std::nullopt;
      }
    }
  }

  // ---- a followed file ----

  void watch_folder() {
    if (inotify < 0 || dir_watch >= 0) return;
    std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
    if (dir.empty()) dir = ".";
    dir_watch = ::inotify_add_watch(inotify, dir.c_str(),
                                    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF);
  }

  void watch_file() {
    if (inotify < 0) return;
    if (file_watch >= 0) ::inotify_rm_watch(inotify, file_watch);
    // By path, just after opening it: should the path change in between, the next poll_interval
    // check finds it.
    file_watch = ::inotify_add_watch(inotify, options.path.c_str(), IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
  }

  // Waits for an inotify event, poll_interval, or stop.
  void wait() {
    watch_folder();
    pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {inotify, POLLIN, 0}};
    const int ready = ::poll(fds, inotify >= 0 ? 2 : 1, source_detail::to_poll_ms(std::max(options.poll_interval, 0.01)));
    if (ready > 0 && inotify >= 0 && (fds[1].revents & POLLIN)) {
      // What happened is looked up with stat() afterwards; the events only say when to look.
      alignas(inotify_event) char events[4096];
      while (::read(inotify, events, sizeof events) > 0) {
      }
      // A folder that was deleted or moved loses its watch; watch_folder() adds it again.
      if (dir_watch >= 0) {
        struct stat st;
        std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
        if (dir.empty()) dir = ".";
        if (::stat(dir.c_str(), &st) != 0) {
          ::inotify_rm_watch(inotify, dir_watch);
          dir_watch = -1;
        }
      }
    }
  }

  // Opens `path`; `first` when this run has not opened it yet, so the stored offset applies.
  bool open_file(bool first, bool at_start) {
    const int f = ::open(options.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) {
      if (errno == ENOENT) {
        if (!missing_logged) spdlog::info("{}: waiting for {} to appear", options.name, options.path);
        missing_logged = true;
      } else if (open_errno_logged != errno) {
        open_errno_logged = errno;
        spdlog::warn("{}: open: {}; trying again every {} s", options.path, std::strerror(errno), options.poll_interval);
      }
      return false;
    }
    missing_logged = false;
    open_errno_logged = 0;
    fd = f;
    ::fstat(fd, &opened);
    id = file_id(opened);
    const auto size = static_cast<uint64_t>(opened.st_size);
    uint64_t from = 0, line = 0;
    saved.clear();
    if (first) {
      const auto stored = parse_u64(store.get_state(options.name, "offset"));
      if (stored) {
        const auto stored_id = store.get_state(options.name, "file_id");
        if (stored_id != id) {
          spdlog::info("{}: {} is not the file read before (rotated while stopped); reading it from the start",
                       options.name, options.path);
        } else if (size < *stored) {
          spdlog::warn("{}: {} is shorter ({} bytes) than the stored offset {} (truncated while stopped); reading it "
                       "from the start", options.name, options.path, size, *stored);
        } else {
          from = *stored;
          line = parse_u64(store.get_state(options.name, "line")).value_or(0);
          saved = id + "@" + std::to_string(from);
        }
      } else if (options.from_end && at_start) {
        skip_to_end(size, from, line);
      }
    }
    if (from > 0 && ::lseek(fd, static_cast<off_t>(from), SEEK_SET) < 0) {
      spdlog::warn("{}: seek to {}: {}; reading from the start", options.path, from, std::strerror(errno));
      ::lseek(fd, 0, SEEK_SET);
      from = line = 0;
    }
    start = read_pos = from;
    line_base = line;
    lines_done = 0;
    lines.reset();
    spdlog::info("{}: following {} from byte {} (line {})", options.name, options.path, from, line + 1);
    watch_file();
    if (first && options.from_end && from > 0 && saved.empty()) save();
    return true;
  }

  // from_end: the place after the last complete line, and how many lines come before it.
  void skip_to_end(uint64_t size, uint64_t& from, uint64_t& line) {
    uint64_t pos = 0;
    while (pos < size) {
      const ssize_t n = ::pread(fd, chunk.data(), std::min<uint64_t>(chunk.size(), size - pos), static_cast<off_t>(pos));
      if (n <= 0) break;
      for (const char* p = chunk.data(); (p = static_cast<const char*>(std::memchr(p, '\n', chunk.data() + n - p)));
           ++p) {
        ++line;
        from = pos + static_cast<uint64_t>(p - chunk.data()) + 1;
      }
      pos += static_cast<uint64_t>(n);
    }
    spdlog::info("{}: from_end: skipping the {} bytes {} holds already", options.name, from, options.path);
  }

  void close_file() {
    ::close(fd);
    fd = -1;
  }

  std::optional<std::string> follow() {
    keep_offsets = true;
    inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify < 0) {
      spdlog::warn("{}: inotify: {}; looking for changes every {} s", options.name, std::strerror(errno),
                   options.poll_interval);
    }
    bool first = true, at_start = true;
    while (!stop.requested()) {
      if (fd < 0) {
        const bool opened_now = open_file(first, at_start);
        at_start = false;
        if (!opened_now) {
          wait();
          continue;
        }
        first = false;
      }
      if (!read_available() || !flush()) return std::nullopt;
      struct stat now {};
      ::fstat(fd, &now);
      if (static_cast<uint64_t>(now.st_size) < read_pos) {
        spdlog::warn("{}: {} was truncated to {} bytes (read up to {}); reading it again from the start", options.name,
                     options.path, now.st_size, read_pos);
        ::lseek(fd, 0, SEEK_SET);
        start = read_pos = 0;
        line_base = lines_done = 0;
        lines.reset();
        continue;
      }
      struct stat at_path {};
      if (::stat(options.path.c_str(), &at_path) != 0 || at_path.st_dev != opened.st_dev ||
          at_path.st_ino != opened.st_ino) {
        // Rotated, or deleted: a writer may have added lines between the last read and the
        // rename, so read the old file to its end once more, and its unfinished last line with it.
        if (!read_available() || !take_rest()) return std::nullopt;
        spdlog::info("{}: {} was rotated or removed after {} lines; the old file is read to its end", options.name,
                     options.path, line_base + lines_done);
        close_file();
        continue;
      }
      wait();
    }
    return std::nullopt;
  }
};

JsonlSource::JsonlSource(JsonlOptions options, Store& store)
    : options_(std::move(options)), store_(store), stop_(std::make_unique<StopSignal>()) {}

JsonlSource::~JsonlSource() = default;

Result<void> JsonlSource::run(PostSink& sink) {
  if (options_.name.empty()) return Failure{"jsonl source: no name"};
  if (options_.path.empty()) return Failure{options_.name + ": no path to read"};
  if (!stop_->ok()) return Failure{options_.name + ": cannot make an eventfd for stop()"};
  if (options_.batch == 0) options_.batch = 1;
  Follower follower(options_, store_, sink, *stop_);
  try {
    const std::optional<std::string> failure = options_.path == "-" ? follower.read_stream() : follower.follow();
    if (failure) return Failure{*failure};
    return {};
  } catch (const StoreError& e) {
    // Reading the stored offset failed: without it the source cannot know where to start.
    return Failure{options_.name + ": " + e.what()};
  }
}

void JsonlSource::stop() { stop_->request(); }

}  // namespace lodestone
