// The directory source: a folder scanned, then watched with inotify and rescanned now and then;
// each new or changed file read whole into batches and recorded as done once they are committed.
#include "sources/directory/directory.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "util/ids.h"
#include "util/clock.h"
#include "engine/post_reader.h"
#include "sources/file_input.h"

namespace lodestone {

using source_detail::deliver_batch;
using source_detail::LineSplitter;
using source_detail::StopSignal;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
  if (suffix.size() > s.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                std::tolower(static_cast<unsigned char>(b)); });
}

bool is_line_file(std::string_view file) { return ends_with_nocase(file, ".jsonl") || ends_with_nocase(file, ".ndjson"); }

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string version_of(const struct stat& st) {
  return std::to_string(static_cast<int64_t>(st.st_size)) + ":" + std::to_string(mtime_ns(st));
}

int poll_ms(double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<int>(std::min(std::ceil(seconds * 1000), 3600.0 * 1000));
}

}  // namespace

// One run: the folder's watch, the files waiting to be read, and what the store says is done.
struct DirectorySource::Watcher {
  // A file seen but not read yet. A file not `ready` (found by a scan or IN_CREATE) is read once
  // its size and mtime have stayed the same for `settle` seconds.
  struct Candidate {
    int64_t size = -1;
    int64_t mtime = -1;
    Clock::time_point since;
    bool ready = false;
  };

  const DirectoryOptions& options;
  Store& store;
  PostSink& sink;
  const StopSignal& stop;
  PostReader reader;
  std::map<std::string, Candidate> pending;           // by file name: read in name order
  std::unordered_map<std::string, std::string> done;  // file name → the version read
  std::set<std::string> unreadable;                   // logged once until readable again
  int inotify = -1;
  int dir_watch = -1;
  bool folder_missing_logged = false;
  std::vector<char> chunk = std::vector<char>(kReadChunk);
  Post post;
  std::string error;

  Watcher(const DirectoryOptions& o, Store& s, PostSink& k, const StopSignal& st)
      : options(o), store(s), sink(k), stop(st), reader(o.max_text_bytes) {}
  ~Watcher() {
    if (inotify >= 0) ::close(inotify);
  }

  bool wanted(std::string_view file) const {
    if (file.empty() || file.front() == '.' || file.back() == '~') return false;
    if (ends_with_nocase(file, ".tmp") || ends_with_nocase(file, ".part")) return false;
    for (const auto& ext : options.extensions) {
      if (ends_with_nocase(file, ext)) return true;
    }
    return false;
  }

  bool is_done(const std::string& file, const std::string& version) {
    auto it = done.find(file);
    if (it == done.end()) {
      if (!store.file_processed(options.name, file)) return false;
      auto stored = store.get_state(options.name, "file:" + file);
      if (!stored) return false;
      it = done.emplace(file, *stored).first;
    }
    return it->second == version;
  }

  void watch_folder() {
    if (inotify < 0 || dir_watch >= 0) return;
    dir_watch = ::inotify_add_watch(inotify, options.path.c_str(),
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF);
  }

  void add(const std::string& file, bool ready) {
    auto [it, added] = pending.try_emplace(file);
    if (added) it->second.since = Clock::now();
    it->second.ready = it->second.ready || ready;
  }

  void scan() {
    std::error_code ec;
    fs::directory_iterator it(options.path, ec), end;
    if (ec) {
      if (!folder_missing_logged) spdlog::warn("{}: {}: {}; looking again every {} s", options.name, options.path,
                                                ec.message(), options.poll_interval);
      folder_missing_logged = true;
      return;
    }
    folder_missing_logged = false;
    watch_folder();
    for (; it != end; it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (!wanted(file) || pending.count(file)) continue;
      struct stat st;
      if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (!is_done(file, version_of(st))) add(file, false);
    }
  }

  void read_events() {
    alignas(inotify_event) char buffer[16 * 1024];
    for (;;) {
      const ssize_t n = ::read(inotify, buffer, sizeof buffer);
      if (n <= 0) return;
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        if (event->mask & IN_Q_OVERFLOW) {
          scan();  // events were lost: look at everything
        } else if (event->mask & IN_IGNORED) {
          dir_watch = -1;  // the folder went away; scan() says so and watches it again when it is back
        } else if (event->len > 0 && !(event->mask & IN_ISDIR)) {
          const std::string file(event->name);
          if (wanted(file)) add(file, (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0);
        }
      }
    }
  }

  // How long the loop may wait before a not-ready file may have settled.
  double next_settle(Clock::time_point now) const {
    double soonest = -1;
    for (const auto& [file, c] : pending) {
      const double left = c.ready ? 0 : options.settle - std::chrono::duration<double>(now - c.since).count();
      soonest = soonest < 0 ? std::max(left, 0.0) : std::min(soonest, std::max(left, 0.0));
    }
    return soonest;
  }

  enum class Outcome { kDone, kFailed, kStopped };

  // Reads the files that are ready, in name order. False when the source is to stop.
  bool read_ready() {
    for (auto it = pending.begin(); it != pending.end();) {
      if (stop.requested()) return false;
      const std::string& file = it->first;
      Candidate& c = it->second;
      const fs::path full = fs::path(options.path) / file;
      struct stat st;
      if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        it = pending.erase(it);  // gone again, or not a file: a later scan sees what replaced it
        continue;
      }
      if (!c.ready) {
        if (st.st_size != c.size || mtime_ns(st) != c.mtime) {
          c.size = st.st_size;
          c.mtime = mtime_ns(st);
          c.since = Clock::now();
          ++it;
          continue;
        }
        if (std::chrono::duration<double>(Clock::now() - c.since).count() < options.settle) {
          ++it;
          continue;
        }
      }
      if (is_done(file, version_of(st))) {
        it = pending.erase(it);
        continue;
      }
      const Outcome outcome = read_file(file, full);
      if (outcome == Outcome::kStopped) return false;
      it = pending.erase(it);
    }
    return true;
  }

  void reject(const std::string& where, std::string_view reason) {
    spdlog::warn("{}: {}", where, reason);
    sink.count_rejected(options.name, 1);
  }

  Outcome read_file(const std::string& file, const fs::path& full) {
    const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (unreadable.insert(file).second) {
        spdlog::warn("{}: open: {}; trying again on each rescan", full.string(), std::strerror(errno));
      }
      return Outcome::kFailed;
    }
    struct stat st;
    ::fstat(fd, &st);
    size_t posts = 0, rejected = 0;
    Outcome outcome = is_line_file(file) ? read_lines(fd, full.string(), posts, rejected)
                                         : read_text(fd, file, full.string(), posts);
    ::close(fd);
    if (outcome != Outcome::kDone) return outcome;
    unreadable.erase(file);
    try {
      const int64_t now = system_now_ms();
      // The store's own record first: should the version below not be written, the file is read
      // again, which the store's seen-post keys make harmless.
      store.mark_file_processed(options.name, file, st.st_size, mtime_ns(st) / 1'000'000, now);
      store.set_state(options.name, "file:" + file, version_of(st), now);
      done[file] = version_of(st);
    } catch (const StoreError& e) {
      spdlog::error("{}: marking it done: {}; it will be read again", full.string(), e.what());
      return Outcome::kFailed;
    }
    spdlog::info("{}: read {} ({} posts, {} bad lines)", options.name, file, posts, rejected);
    return Outcome::kDone;
  }

  bool send(std::vector<Post>& batch, const std::string& what) {
    if (batch.empty()) return true;
    if (!deliver_batch(sink, batch, stop, options.poll_interval, what)) return false;
    batch.clear();
    return true;
  }

  Outcome read_lines(int fd, const std::string& where, size_t& posts, size_t& rejected) {
    const size_t max_line = std::max<size_t>(options.max_text_bytes * 8, size_t{1} << 20);
    LineSplitter lines(max_line);
    std::vector<Post> batch;
    uint64_t line_no = 0, batch_first = 0;
    auto handle = [&](std::string_view line, bool too_long) {
      ++line_no;
      if (too_long) {
        ++rejected;
        return reject(where + ":" + std::to_string(line_no),
                      "line longer than the limit of " + std::to_string(max_line) + " bytes");
      }
      switch (reader.parse_line(line, options.name, post, error)) {
        case LineOutcome::kPost:
          if (reader.last_truncated()) {
            spdlog::warn("{}:{}: post {} cut to {} bytes of text", where, line_no, post.id, options.max_text_bytes);
          }
          if (batch.empty()) batch_first = line_no;
          batch.push_back(post);
          ++posts;
          break;
        case LineOutcome::kBlank:
          break;
        default:
          ++rejected;
          reject(where + ":" + std::to_string(line_no), error);
      }
    };
    for (;;) {
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        spdlog::warn("{}: read: {}; it will be read again", where, std::strerror(errno));
        return Outcome::kFailed;
      }
      if (n == 0) break;
      lines.append(std::string_view(chunk.data(), static_cast<size_t>(n)));
      std::string_view line;
      bool too_long = false;
      while (lines.next(line, too_long)) {
        handle(line, too_long);
        if (batch.size() >= std::max<size_t>(options.batch, 1) &&
            !send(batch, where + ":" + std::to_string(batch_first))) {
          return Outcome::kStopped;
        }
      }
    }
    std::string_view line;
    bool too_long = false;
    if (lines.take_rest(line, too_long)) handle(line, too_long);
    return send(batch, where + ":" + std::to_string(batch_first)) ? Outcome::kDone : Outcome::kStopped;
  }

  Outcome read_text(int fd, const std::string& file, const std::string& where, size_t& posts) {
    // A few bytes past the limit, so the reader cuts at a character boundary and says it did.
    const size_t limit = options.max_text_bytes + 4;
    std::string text;
    for (;;) {
      const size_t room = std::min(chunk.size(), limit - text.size());
      if (room == 0) break;
      const ssize_t n = ::read(fd, chunk.data(), room);
      if (n < 0) {
        if (errno == EINTR) continue;
        spdlog::warn("{}: read: {}; it will be read again", where, std::strerror(errno));
        return Outcome::kFailed;
      }
      if (n == 0) break;
      text.append(chunk.data(), static_cast<size_t>(n));
    }
    // The id is the file name and a hash of the text: the same file again (replayed, or touched)
    // is the same post and alerts once, while new text under a reused name is a new post.
    reader.text_post(file + "#" + sha256_hex32({text}).substr(0, 16), text, options.name, post);
    if (reader.last_truncated()) spdlog::warn("{}: cut to {} bytes of text", where, options.max_text_bytes);
    std::vector<Post> batch{post};
    ++posts;
    return send(batch, where) ? Outcome::kDone : Outcome::kStopped;
  }

  std::optional<std::string> run() {
    std::error_code ec;
    if (!fs::exists(options.path, ec)) {
      if (!fs::create_directories(options.path, ec) && ec) {
        return options.path + ": cannot create the folder: " + ec.message();
      }
      spdlog::info("{}: created the folder {}", options.name, options.path);
    }
    if (!fs::is_directory(options.path, ec)) return options.path + ": not a folder";
    inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify < 0) {
      spdlog::warn("{}: inotify: {}; rescanning {} every {} s", options.name, std::strerror(errno), options.path,
                   options.poll_interval);
    }
    // Watching before the first scan, so a file that arrives during it is not missed.
    watch_folder();
    scan();
    auto next_scan = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(std::max(options.poll_interval, 0.01)));
    while (!stop.requested()) {
      if (!read_ready()) return std::nullopt;
      const auto now = Clock::now();
      double timeout = std::chrono::duration<double>(next_scan - now).count();
      const double settle = next_settle(now);
      if (settle >= 0) timeout = std::min(timeout, std::max(settle, 0.005));
      pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {inotify, POLLIN, 0}};
      const int ready = ::poll(fds, inotify >= 0 ? 2 : 1, poll_ms(timeout));
      if (stop.requested()) break;
      if (ready > 0 && inotify >= 0 && (fds[1].revents & POLLIN)) read_events();
      if (Clock::now() >= next_scan) {
        scan();
        next_scan = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(std::max(options.poll_interval, 0.01)));
      }
    }
    return std::nullopt;
  }
};

DirectorySource::DirectorySource(DirectoryOptions options, Store& store)
    : options_(std::move(options)), store_(store), stop_(std::make_unique<StopSignal>()) {}

DirectorySource::~DirectorySource() = default;

Result<void> DirectorySource::run(PostSink& sink) {
  if (options_.name.empty()) return Failure{"directory source: no name"};
  if (options_.path.empty()) return Failure{options_.name + ": no folder to watch"};
  if (!stop_->ok()) return Failure{options_.name + ": cannot make an eventfd for stop()"};
  Watcher watcher(options_, store_, sink, *stop_);
  try {
    if (std::optional<std::string> failure = watcher.run()) return Failure{*failure};
    return {};
  } catch (const StoreError& e) {
    // The store cannot say which files are done: reading on would read everything again.
    return Failure{options_.name + ": " + e.what()};
  }
}

void DirectorySource::stop() { stop_->request(); }

}  // namespace lodestone
