// Building a rule set's Hyperscan databases (see hs_build.h): the cache entry on disk, and the
// compile in a forked child that the parent watches against the time and memory budgets.
#include "rules/hs_build.h"

#include "lodestone/rule_set.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "util/sha256.h"

namespace lodestone::rules {
namespace {

using compiled::kForms;
using Clock = std::chrono::steady_clock;

struct DatabaseFree {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using Database = std::unique_ptr<hs_database_t, DatabaseFree>;
using Databases = std::array<Database, kForms>;

// Hyperscan returns serialized databases and info strings from its misc allocator, malloc by default.
struct MallocFree {
  void operator()(char* p) const { std::free(p); }
};
using HsBytes = std::unique_ptr<char, MallocFree>;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string error_text(int err) { return std::strerror(err); }

std::string hs_error_name(hs_error_t code) {
  switch (code) {
    case HS_INVALID: return "HS_INVALID";
    case HS_NOMEM: return "HS_NOMEM";
    case HS_COMPILER_ERROR: return "HS_COMPILER_ERROR";
    case HS_DB_VERSION_ERROR: return "HS_DB_VERSION_ERROR";
    case HS_DB_PLATFORM_ERROR: return "HS_DB_PLATFORM_ERROR";
    case HS_DB_MODE_ERROR: return "HS_DB_MODE_ERROR";
    case HS_BAD_ALIGN: return "HS_BAD_ALIGN";
    case HS_BAD_ALLOC: return "HS_BAD_ALLOC";
    case HS_ARCH_ERROR: return "HS_ARCH_ERROR";
    default: return "Hyperscan error " + std::to_string(code);
  }
}

// ---- Little-endian framing, shared by the pipe message and the cache file --------------------

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

// Reads what put_u32/put_u64 wrote; every read fails, rather than overruns, at the end of the data.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool u32(uint32_t& v) {
    uint64_t wide = 0;
    if (!little_endian(4, wide)) return false;
    v = static_cast<uint32_t>(wide);
    return true;
  }
  bool u64(uint64_t& v) { return little_endian(8, v); }
  bool bytes(uint64_t n, std::string_view& v) {
    if (n > data_.size() - pos_) return false;
    v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  bool little_endian(size_t n, uint64_t& v) {
    if (n > data_.size() - pos_) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
    pos_ += n;
    return true;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

// ---- What this process's Hyperscan builds for -----------------------------------------------------

struct Platform {
  std::string version;     // hs_version(), as returned
  hs_platform_info_t info{};
  std::string features;    // "Features:" of a database compiled here, e.g. "AVX2"
  std::string bytes;       // all of the above, field by field (the struct has padding)
  std::string description;  // the cache file's header: "Hyperscan 5.4.9 for AVX2 (cpu_features 0x0, tune 0)"
};

// Vectorscan's hs_populate_platform() reports cpu_features 0 and tune 0 even where it compiles
// for AVX2 or AVX-512, so the platform alone would not tell a cache built on another CPU. The
// features a database compiled here records do; a one-literal compile costs well under a
// millisecond and happens once a process.
std::string compiled_features() {
  hs_database_t* raw = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile("a", 0, HS_MODE_BLOCK, nullptr, &raw, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return "";
  }
  Database db(raw);
  char* raw_info = nullptr;
  if (hs_database_info(db.get(), &raw_info) != HS_SUCCESS) return "";
  HsBytes info(raw_info);
  // "Version: 5.4.9 Features: AVX2 Mode: BLOCK"
  std::string_view s = info.get();
  constexpr std::string_view kFeatures = "Features: ";
  constexpr std::string_view kMode = " Mode:";
  const size_t from = s.find(kFeatures);
  if (from == std::string_view::npos) return std::string(s);
  s.remove_prefix(from + kFeatures.size());
  return std::string(s.substr(0, s.find(kMode)));
}

const Platform& this_platform() {
  static const Platform platform = [] {
    Platform p;
    p.version = hs_version();
    if (hs_populate_platform(&p.info) != HS_SUCCESS) p.info = hs_platform_info_t{};
    p.features = compiled_features();
    put_u32(p.bytes, p.info.tune);
    put_u64(p.bytes, p.info.cpu_features);
    put_u64(p.bytes, p.info.reserved1);
    put_u64(p.bytes, p.info.reserved2);
    put_u32(p.bytes, static_cast<uint32_t>(p.features.size()));
    p.bytes += p.features;
    std::string version = p.version;
    while (!version.empty() && version.back() == ' ') version.pop_back();
    char numbers[80];
    std::snprintf(numbers, sizeof numbers, " (cpu_features 0x%llx, tune %u)", p.info.cpu_features, p.info.tune);
    p.description = "Hyperscan " + version + " for " + (p.features.empty() ? "unknown features" : p.features) + numbers;
    return p;
  }();
  return platform;
}

// ---- Compiling ------------------------------------------------------------------------------------

// The message of the compile, sent by the child over a pipe (or built in memory when there is no
// child), frame after frame:
//   form u32, kFrameOk u32, size u64, the serialized database      (one per non-empty form, in order)
//   form u32, kFrameFailed u32, expression i32, size u32, message  (ends the message)
//   kEndOfMessage u32                                              (ends a successful message)
constexpr uint32_t kFrameOk = 0;
constexpr uint32_t kFrameFailed = 1;
constexpr uint32_t kEndOfMessage = 0xffffffff;

bool check_input(int form, const DatabaseInput& in, BuildError& error) {
  if (in.flags.size() == in.expressions.size() && in.ids.size() == in.expressions.size()) return true;
  error.form = form;
  error.message = "form " + std::to_string(form) + " has " + std::to_string(in.expressions.size()) +
                  " expressions but " + std::to_string(in.flags.size()) + " flags and " +
                  std::to_string(in.ids.size()) + " ids";
  return false;
}

// Compiles one form and serializes its database.
bool compile_form(int form, const DatabaseInput& in, HsBytes& bytes, size_t& size, BuildError& error) {
  std::vector<const char*> exprs;
  exprs.reserve(in.expressions.size());
  for (const auto& e : in.expressions) exprs.push_back(e.c_str());
  hs_database_t* raw = nullptr;
  hs_compile_error_t* err = nullptr;
  const hs_error_t rc = hs_compile_multi(exprs.data(), in.flags.data(), in.ids.data(),
                                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &raw, &err);
  if (rc != HS_SUCCESS) {
    error.form = form;
    error.expression = err && err->expression >= 0 ? err->expression : -1;
    error.message = err && err->message ? err->message : "Hyperscan cannot compile it (" + hs_error_name(rc) + ")";
    hs_free_compile_error(err);
    hs_free_database(raw);
    return false;
  }
  Database db(raw);
  char* out = nullptr;
  const hs_error_t src = hs_serialize_database(db.get(), &out, &size);
  bytes.reset(out);
  if (src != HS_SUCCESS) {
    error.form = form;
    error.message = "cannot serialize the database of form " + std::to_string(form) + " (" + hs_error_name(src) + ")";
    return false;
  }
  return true;
}

// Compiles every non-empty form, handing the message to `emit(std::string_view) -> bool` as it
// goes; stops when emit fails. The serialized bytes go straight to emit, so a child holds one
// database's bytes at a time.
template <class Emit>
void compile_all(const std::array<DatabaseInput, kForms>& inputs, Emit&& emit) {
  for (int form = 0; form < kForms; ++form) {
    const DatabaseInput& in = inputs[form];
    if (in.empty()) continue;
    BuildError error;
    HsBytes bytes;
    size_t size = 0;
    bool ok = false;
    try {
      ok = compile_form(form, in, bytes, size, error);
    } catch (const std::exception& e) {
      error.form = form;
      error.message = std::string("the compile failed: ") + e.what();
    }
    std::string head;
    put_u32(head, static_cast<uint32_t>(form));
    if (ok) {
      put_u32(head, kFrameOk);
      put_u64(head, size);
      if (!emit(std::string_view(head)) || !emit(std::string_view(bytes.get(), size))) return;
      continue;
    }
    put_u32(head, kFrameFailed);
    put_u32(head, static_cast<uint32_t>(error.expression));
    put_u32(head, static_cast<uint32_t>(error.message.size()));
    head += error.message;
    emit(std::string_view(head));
    return;
  }
  std::string end;
  put_u32(end, kEndOfMessage);
  emit(std::string_view(end));
}

enum class Message { kComplete, kFailed, kIncomplete };

// Splits a compile message into each form's serialized bytes (views into `message`), or the error.
Message parse_message(std::string_view message, const std::array<DatabaseInput, kForms>& inputs,
                      std::array<std::string_view, kForms>& serialized, BuildError& error) {
  Reader r(message);
  for (;;) {
    uint32_t form = 0;
    uint32_t status = 0;
    if (!r.u32(form)) return Message::kIncomplete;
    if (form == kEndOfMessage) break;
    if (form >= static_cast<uint32_t>(kForms) || !r.u32(status)) return Message::kIncomplete;
    if (status == kFrameFailed) {
      uint32_t expression = 0;
      uint32_t size = 0;
      std::string_view text;
      if (!r.u32(expression) || !r.u32(size) || !r.bytes(size, text)) return Message::kIncomplete;
      error.form = static_cast<int>(form);
      error.expression = static_cast<int32_t>(expression);
      error.message = std::string(text);
      return Message::kFailed;
    }
    uint64_t size = 0;
    if (status != kFrameOk || !r.u64(size) || !r.bytes(size, serialized[form])) return Message::kIncomplete;
  }
  for (int form = 0; form < kForms; ++form) {
    if (inputs[form].empty() != serialized[form].empty()) return Message::kIncomplete;
  }
  return r.at_end() ? Message::kComplete : Message::kIncomplete;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The child: compile, write the message, and leave with _exit so that nothing of the parent's
// (atexit handlers, static destructors, stdio buffers, LeakSanitizer's report) runs twice.
[[noreturn]] void child_main(int fd, pid_t parent, const std::array<DatabaseInput, kForms>& inputs) {
  // Die with the parent rather than compile for no one; the check after covers a parent that
  // died before prctl.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(3);
  // The parent's handlers are not meant for this process: Ctrl-C or a TERM ends it, and a
  // parent that stopped reading ends it too.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) std::signal(sig, SIG_DFL);
  bool written = true;
  try {
    compile_all(inputs, [&](std::string_view bytes) {
      written = write_all(fd, bytes);
      return written;
    });
  } catch (...) {
    _exit(4);
  }
  _exit(written ? 0 : 3);
}

// Reads what the pipe holds now; returns true at end of file.
bool drain(int fd, std::string& message) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      message.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;  // end of file, or an error that no further read will cure
  }
}

// Resident bytes of a process, 0 when it cannot be read (a process already gone, say).
uint64_t resident_bytes(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/statm";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (std::sscanf(text, "%llu %llu", &size_pages, &resident_pages) != 2) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

std::string format_bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  char text[48];
  if (bytes % kGiB == 0) {
    std::snprintf(text, sizeof text, "%llu GiB", static_cast<unsigned long long>(bytes / kGiB));
  } else if (bytes % kMiB == 0) {
    std::snprintf(text, sizeof text, "%llu MiB", static_cast<unsigned long long>(bytes / kMiB));
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(kMiB));
  }
  return text;
}

// What came of the compile: the message, which `serialized` points into.
struct CompileResult {
  std::string message;
  std::array<std::string_view, kForms> serialized{};
  uint64_t peak_bytes = 0;
};

// Without a child there is no budget to hold the compile to; it still beats not compiling.
bool compile_in_process(const std::array<DatabaseInput, kForms>& inputs, CompileResult& result, BuildError& error) {
  compile_all(inputs, [&](std::string_view bytes) {
    result.message += bytes;
    return true;
  });
  rusage usage{};
  // The process's peak over its whole life: an upper bound of the compile's.
  if (getrusage(RUSAGE_SELF, &usage) == 0) result.peak_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  const Message m = parse_message(result.message, inputs, result.serialized, error);
  if (m == Message::kIncomplete) error.message = "the compile produced an incomplete result";
  return m == Message::kComplete;
}

bool compile_in_child(const std::array<DatabaseInput, kForms>& inputs, const BuildOptions& options,
                      CompileResult& result, BuildError& error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return compile_in_process(inputs, result, error);
  const pid_t parent = getpid();
  // The child starts out resident in the pages it shares with this process: the budget and the
  // peak count what the compile adds to that.
  const uint64_t baseline = resident_bytes(parent);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return compile_in_process(inputs, result, error);
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1], parent, inputs);
  }
  close(fds[1]);
  const int fd = fds[0];
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  // Read as the data comes, so a database larger than the pipe's buffer cannot stall the child,
  // and look at the clock and the child's memory between reads.
  constexpr int kPollMillis = 15;
  const auto start = Clock::now();
  std::string stop_reason;  // why the parent ended the child: a budget, mostly
  bool reaped = false;
  bool status_known = true;
  int status = 0;
  rusage usage{};
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, kPollMillis);
    if (ready < 0 && errno != EINTR) {
      stop_reason = "cannot watch the compiling process: " + error_text(errno);
      break;
    }
    if (ready > 0 && drain(fd, result.message)) break;
    // Another thread's fork may hold a copy of the pipe's write end, so the end of the child,
    // not only the end of the file, ends the loop.
    if (wait4(pid, &status, WNOHANG, &usage) == pid) {
      reaped = true;
      drain(fd, result.message);
      break;
    }
    if (options.time_limit_seconds > 0 && seconds_since(start) > options.time_limit_seconds) {
      stop_reason = "compiling the rule set took longer than the time budget of " +
                    format_seconds(options.time_limit_seconds) + " (compile_time_limit / --compile-time-limit)";
      break;
    }
    if (options.memory_limit_bytes > 0 && resident_bytes(pid) > baseline + options.memory_limit_bytes) {
      stop_reason = "compiling the rule set needed more than the memory budget of " +
                    format_bytes(options.memory_limit_bytes) + " (compile_memory_limit / --compile-memory-limit)";
      break;
    }
  }
  close(fd);
  if (!stop_reason.empty() && !reaped) kill(pid, SIGKILL);
  while (!reaped) {
    if (wait4(pid, &status, 0, &usage) == pid) {
      reaped = true;
    } else if (errno != EINTR) {
      status_known = false;  // ECHILD: SIGCHLD is ignored, the kernel reaped it
      break;
    }
  }
  if (status_known) {
    const uint64_t peak = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
    result.peak_bytes = peak > baseline ? peak - baseline : 0;
  }
  if (!stop_reason.empty()) {
    error.message = stop_reason;
    return false;
  }

  const Message m = parse_message(result.message, inputs, result.serialized, error);
  const bool exited_cleanly = !status_known || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (m == Message::kFailed) return false;
  if (m == Message::kComplete && exited_cleanly) return true;
  error = BuildError{};
  if (status_known && WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    error.message = "the compiling process was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (sig == SIGKILL) error.message += "; the system may have run out of memory (see compile_memory_limit)";
  } else if (status_known && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    error.message = "the compiling process exited with status " + std::to_string(WEXITSTATUS(status));
  } else {
    error.message = "the compiling process exited without sending a complete result";
  }
  return false;
}

// Deserializes one form, and checks that what Hyperscan makes of it is a block-mode database.
hs_error_t load_database(std::string_view bytes, Database& db) {
  char* raw_info = nullptr;
  const hs_error_t info_rc = hs_serialized_database_info(bytes.data(), bytes.size(), &raw_info);
  HsBytes info(raw_info);
  if (info_rc != HS_SUCCESS) return info_rc;
  // "Version: 5.4.9 Features: AVX2 Mode: BLOCK"; a format without "Mode:" is let through.
  const std::string_view text = info.get();
  if (text.find("Mode: ") != std::string_view::npos && text.find("Mode: BLOCK") == std::string_view::npos) {
    return HS_DB_MODE_ERROR;
  }
  hs_database_t* raw = nullptr;
  const hs_error_t rc = hs_deserialize_database(bytes.data(), bytes.size(), &raw);
  db.reset(raw);
  if (rc != HS_SUCCESS) db.reset();
  return rc;
}

// ---- The cache file --------------------------------------------------------------------------------
//
//   "LODESTONE-HSDB\n"
//   format version u32
//   key: 32 bytes, the SHA-256 of cache_key()
//   header: size u32, then this_platform().description, for a reader and for telling "foreign"
//   per non-empty form, in order: form u32, size u64, the serialized database
//   checksum: 32 bytes, the SHA-256 of everything before it
//
// The checksum is checked before the header, so a damaged header reads as "corrupt", not as
// "foreign"; only the format version is read before it, as it decides the layout.

constexpr std::string_view kMagic = "LODESTONE-HSDB\n";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kDigestSize = std::tuple_size_v<Digest>;

Digest cache_key(const std::array<DatabaseInput, kForms>& inputs) {
  const Platform& platform = this_platform();
  Sha256 h;
  h.add_u32(kFormatVersion);
  h.add_u32(static_cast<uint32_t>(platform.version.size())).add(platform.version);
  h.add(platform.bytes);
  for (const DatabaseInput& in : inputs) {
    h.add_u64(in.expressions.size());
    for (size_t i = 0; i < in.expressions.size(); ++i) {
      h.add_u64(in.expressions[i].size()).add(in.expressions[i]);
      h.add_u32(in.flags[i]).add_u32(in.ids[i]);  // check_input() made the three the same length
    }
  }
  return h.finish();
}

std::string cache_path(const std::string& dir, const std::string& name) {
  const Platform& platform = this_platform();
  Sha256 h;
  h.add(name).add(std::string_view("\0", 1)).add(platform.version).add(std::string_view("\0", 1)).add(platform.bytes);
  std::string file = dir;
  if (!file.empty() && file.back() != '/') file += '/';
  return file + to_hex(as_chars(h.finish())).substr(0, 16) + ".hsdb";
}

// Reads a whole file; false with errno set when it cannot.
bool read_file(const std::string& path, std::string& data) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      data.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int saved = errno;
      close(fd);
      errno = saved;
      return false;
    }
  }
  close(fd);
  return true;
}

// Loads every form from the entry at `path`. Returns false when the entry is missing (`problem`
// stays empty) or unusable (`problem` says why); `dbs` is left empty then.
bool load_cache(const std::string& path, const Digest& key, const std::array<DatabaseInput, kForms>& inputs,
                Databases& dbs, std::string& problem) {
  std::string data;
  if (!read_file(path, data)) {
    if (errno != ENOENT && errno != ENOTDIR) problem = "cannot read cache " + path + ": " + error_text(errno);
    return false;
  }
  Reader r(data);
  std::string_view magic;
  uint32_t format = 0;
  if (!r.bytes(kMagic.size(), magic) || magic != kMagic) {
    problem = "corrupt: not a Lodestone database cache";
    return false;
  }
  if (!r.u32(format)) {
    problem = "corrupt: the file is cut short (" + std::to_string(data.size()) + " bytes)";
    return false;
  }
  if (format != kFormatVersion) {
    problem = "foreign: written in cache format " + std::to_string(format) + ", this is format " +
              std::to_string(kFormatVersion);
    return false;
  }
  if (data.size() < r.position() + 2 * kDigestSize + 4) {
    problem = "corrupt: the file is cut short (" + std::to_string(data.size()) + " bytes)";
    return false;
  }
  const std::string_view body = std::string_view(data).substr(0, data.size() - kDigestSize);
  if (as_chars(Sha256().add(body).finish()) != std::string_view(data).substr(body.size())) {
    problem = "corrupt: the checksum does not match";
    return false;
  }
  r = Reader(body);
  std::string_view skip;
  std::string_view stored_key;
  uint32_t header_size = 0;
  std::string_view header;
  if (!r.bytes(kMagic.size() + 4, skip) || !r.bytes(kDigestSize, stored_key) || !r.u32(header_size) ||
      !r.bytes(header_size, header)) {
    problem = "corrupt: the header is cut short";
    return false;
  }
  const std::string& ours = this_platform().description;
  if (header != ours) {
    problem = "foreign: built by " + std::string(header) + ", this is " + ours;
    return false;
  }
  if (stored_key != as_chars(key)) {
    problem = "stale: the rule set changed";
    return false;
  }
  std::array<std::string_view, kForms> serialized{};
  while (!r.at_end()) {
    uint32_t form = 0;
    uint64_t size = 0;
    std::string_view bytes;
    if (!r.u32(form) || !r.u64(size) || !r.bytes(size, bytes) || form >= static_cast<uint32_t>(kForms) ||
        !serialized[form].empty() || bytes.empty()) {
      problem = "corrupt: a database entry is malformed";
      return false;
    }
    serialized[form] = bytes;
  }
  for (int form = 0; form < kForms; ++form) {
    if (inputs[form].empty() != serialized[form].empty()) {
      problem = "corrupt: the forms stored do not match the rule set's";
      return false;
    }
    if (serialized[form].empty()) continue;
    const hs_error_t rc = load_database(serialized[form], dbs[form]);
    if (rc == HS_SUCCESS) continue;
    const bool foreign = rc == HS_DB_VERSION_ERROR || rc == HS_DB_PLATFORM_ERROR || rc == HS_DB_MODE_ERROR;
    problem = std::string(foreign ? "foreign" : "corrupt") + ": Hyperscan cannot load the database of form " +
              std::to_string(form) + " (" + hs_error_name(rc) + ")";
    for (auto& db : dbs) db.reset();
    return false;
  }
  return true;
}

// mkdir -p with mode 0700: the cache is the user's own.
bool make_folders(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string part = dir.substr(0, slash);
    if (!part.empty() && mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return false;
    if (slash == std::string::npos) break;
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  return true;
}

// Writes the entry to a temporary file and renames it over `path`, so a reader sees the old
// entry or the new one, never half of one. Returns false with `problem` set.
bool store_cache(const std::string& dir, const std::string& path, const Digest& key,
                 const std::array<std::string_view, kForms>& serialized, std::string& problem) {
  if (!make_folders(dir)) {
    problem = "cannot write cache " + dir + ": " + error_text(errno);
    return false;
  }
  std::string head(kMagic);
  put_u32(head, kFormatVersion);
  head += as_chars(key);
  const std::string& description = this_platform().description;
  put_u32(head, static_cast<uint32_t>(description.size()));
  head += description;
  Sha256 checksum;
  checksum.add(head);
  std::vector<std::string> frames;  // each form's u32 + u64 before its bytes
  for (int form = 0; form < kForms; ++form) {
    if (serialized[form].empty()) continue;
    std::string frame;
    put_u32(frame, static_cast<uint32_t>(form));
    put_u64(frame, serialized[form].size());
    checksum.add(frame).add(serialized[form]);
    frames.push_back(std::move(frame));
  }
  const Digest sum = checksum.finish();

  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    problem = "cannot write cache " + temporary + ": " + error_text(errno);
    return false;
  }
  bool ok = write_all(fd, head);
  size_t frame = 0;
  for (int form = 0; ok && form < kForms; ++form) {
    if (serialized[form].empty()) continue;
    ok = write_all(fd, frames[frame++]) && write_all(fd, serialized[form]);
  }
  ok = ok && write_all(fd, as_chars(sum)) && fsync(fd) == 0;
  const int write_errno = errno;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    problem = "cannot write cache " + path + ": " + error_text(ok ? errno : write_errno);
    unlink(temporary.c_str());
    return false;
  }
  // Make the rename itself durable.
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return true;
}

void add_problem(std::string& problems, const std::string& problem) {
  if (problem.empty()) return;
  if (!problems.empty()) problems += "; ";
  problems += problem;
}

uint64_t total_size(const Databases& dbs) {
  uint64_t total = 0;
  for (const auto& db : dbs) {
    size_t size = 0;
    if (db && hs_database_size(db.get(), &size) == HS_SUCCESS) total += size;
  }
  return total;
}

}  // namespace

bool build_databases(const std::array<DatabaseInput, compiled::kForms>& inputs, const BuildOptions& options,
                     std::array<hs_database_t*, compiled::kForms>& out, BuildStats& stats, BuildError& error) {
  out.fill(nullptr);
  stats = BuildStats{};
  error = BuildError{};
  const auto start = Clock::now();
  bool any = false;
  for (int form = 0; form < kForms; ++form) {
    if (inputs[form].empty()) continue;
    if (!check_input(form, inputs[form], error)) return false;
    any = true;
  }
  // Nothing to compile: no database, and no cache entry to read or write.
  if (!any) return true;

  const bool use_cache = !options.cache_dir.empty();
  Digest key{};
  bool have_key = false;
  Databases dbs;
  if (use_cache) {
    try {
      key = cache_key(inputs);
      have_key = true;
      stats.cache_file = cache_path(options.cache_dir, options.cache_name);
      if (load_cache(stats.cache_file, key, inputs, dbs, stats.cache_problem)) {
        stats.from_cache = true;
        stats.seconds = seconds_since(start);
        stats.database_bytes = total_size(dbs);
        for (int form = 0; form < kForms; ++form) out[form] = dbs[form].release();
        return true;
      }
    } catch (const std::exception& e) {
      for (auto& db : dbs) db.reset();
      add_problem(stats.cache_problem, std::string("cannot use the cache: ") + e.what());
    }
  }

  // A budget needs a process of its own to hold to; without one, forking buys nothing.
  CompileResult result;
  const bool budget = options.time_limit_seconds > 0 || options.memory_limit_bytes > 0;
  const bool built =
      budget ? compile_in_child(inputs, options, result, error) : compile_in_process(inputs, result, error);
  stats.compile_peak_bytes = result.peak_bytes;
  stats.seconds = seconds_since(start);
  if (!built) return false;
  for (int form = 0; form < kForms; ++form) {
    if (result.serialized[form].empty()) continue;
    const hs_error_t rc = load_database(result.serialized[form], dbs[form]);
    if (rc != HS_SUCCESS) {
      error.form = form;
      error.message = "cannot load the database compiled for form " + std::to_string(form) + " (" +
                      hs_error_name(rc) + ")";
      return false;  // `dbs` frees what was loaded
    }
  }
  stats.seconds = seconds_since(start);
  stats.database_bytes = total_size(dbs);

  if (use_cache && have_key && !stats.cache_file.empty()) {
    std::string problem;
    try {
      store_cache(options.cache_dir, stats.cache_file, key, result.serialized, problem);
    } catch (const std::exception& e) {
      problem = "cannot write cache " + stats.cache_file + ": " + e.what();
    }
    add_problem(stats.cache_problem, problem);
  }
  for (int form = 0; form < kForms; ++form) out[form] = dbs[form].release();
  return true;
}

}  // namespace lodestone::rules

namespace lodestone {

std::string default_cache_dir() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (std::string dir = env("LODESTONE_CACHE_DIR"); !dir.empty()) return dir;
  // The XDG base directory spec: an empty or relative XDG_CACHE_HOME is as if unset.
  if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/') return xdg + "/lodestone";
  if (std::string home = env("HOME"); !home.empty()) return home + "/.cache/lodestone";
  return "";
}

}  // namespace lodestone
