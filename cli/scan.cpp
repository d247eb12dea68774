// lodestone scan: posts from files or stdin → alerts on stdout; no state, no notifiers.
//
// Input is read in chunks of lines; each chunk is parsed, matched and formatted by one of
// `workers` threads (each with its own Scanner and PostReader over the one shared RuleSet), and
// chunks are written out in input order, so the output is the same for any number of workers.
// With one worker everything runs on the calling thread.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cli/commands.h"
#include "engine/post_reader.h"
#include "lodestone/scanner.h"
#include "rules/toml_source.h"

namespace lodestone::cli {
namespace {

constexpr size_t kChunkLines = 256;
constexpr size_t kChunkBytes = size_t{1} << 20;
// Chunks start at kMinChunkLines lines and double up to kChunkLines while their alerts take
// less than a quarter of kChunkOutputBytes on stdout; one that takes more halves the chunks
// after it. So the output held in flight stays near a megabyte a chunk even for a rule set
// that alerts on every post (W4-100k: 37 alerts a post, 7 MB for 256 posts).
constexpr size_t kChunkOutputBytes = size_t{1} << 20;
constexpr size_t kMinChunkLines = 16;

bool is_jsonl(const std::string& path) {
  if (path == "-") return true;
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".jsonl" || ext == ".ndjson" || ext == ".json";
}

// Lines of one input, or one whole text file.
struct Chunk {
  const std::string* shown = nullptr;   // the input as named in messages
  const std::string* source = nullptr;  // the source of posts that name none
  bool text_file = false;
  uint64_t first_line = 0;      // line number of lines[0]
  std::string data;             // the lines, each ending at its '\n' (the last may not)
  std::vector<size_t> ends;     // end offset of each line in `data`, its '\n' excluded
};

// One alert in a chunk's output: the post it is of, its id, and where its text ends in `out`.
struct PrintedAlert {
  uint64_t post = 0;   // hash of the post's source and id
  uint32_t alert = 0;  // the first 8 hex digits of its id: tells the alerts of one post apart
  size_t end = 0;      // its text is out[previous alert's end, end)
};

// What a chunk gave: alerts formatted for stdout, messages for stderr, and counts.
struct ChunkOutput {
  std::string out;
  std::string err;
  uint64_t alerts = 0;
  std::vector<PrintedAlert> printed;  // in output order
};

uint64_t post_key_hash(const Post& post) {
  std::string key;
  key.reserve(post.source.size() + post.id.size() + 1);
  key.append(post.source).append(1, '\0').append(post.id);
  return std::hash<std::string>{}(key);
}

uint32_t alert_key(const std::string& id) {
  uint32_t v = 0;
  for (size_t i = 0; i < 8 && i < id.size(); ++i) {
    const char c = id[i];
    v = v << 4 | static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return v;
}

// The alerts printed so far, by post: a post that comes again in the input (re-sent with changed
// content, as a watcher would see it) prints only the alerts it did not print before, so each
// (rule, post) alerts once, as with `watch`. Eight bytes an alert and one entry a post.
class PrintedSet {
 public:
  // Whether this alert of this post is new; if so it is now known.
  bool add(uint64_t post, uint32_t alert) {
    auto [it, inserted] = heads_.try_emplace(post, kNone);
    if (!inserted) {
      for (uint32_t i = it->second; i != kNone; i = links_[i].next) {
        if (links_[i].alert == alert) return false;
      }
    }
    links_.push_back({alert, it->second});
    it->second = static_cast<uint32_t>(links_.size() - 1);
    return true;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Link {
    uint32_t alert, next;
  };
  std::unordered_map<uint64_t, uint32_t> heads_;
  std::vector<Link> links_;
};

// One worker: a Scanner and a PostReader, used by one thread at a time.
class Worker {
 public:
  Worker(const ScanOptions& options, std::shared_ptr<const RuleSet> rules, bool color)
      : options_(options), scanner_(std::move(rules)), reader_(options.max_text_bytes), color_(color) {
    if (!options.now.empty()) scanner_.set_clock_override(options.now);
  }

  ChunkOutput run(const Chunk& chunk) {
    ChunkOutput result;
    if (chunk.text_file) {
      text_file(chunk, result);
      return result;
    }
    size_t begin = 0;
    for (size_t i = 0; i < chunk.ends.size(); ++i) {
      const std::string_view line(chunk.data.data() + begin, chunk.ends[i] - begin);
      begin = chunk.ends[i] + 1;
      const uint64_t line_no = chunk.first_line + i;
      switch (reader_.parse_line(line, *chunk.source, post_, error_)) {
        case LineOutcome::kPost:
          if (reader_.last_repaired()) {
            place(result, chunk, line_no) += "warning: post '" + post_.id + "': invalid UTF-8 replaced by U+FFFD\n";
          }
          if (reader_.last_truncated()) {
            place(result, chunk, line_no) += "warning: post '" + post_.id + "': text cut to " +
                                             std::to_string(options_.max_text_bytes) + " bytes\n";
          }
          emit(result);
          break;
        case LineOutcome::kBlank:
          break;
        default:
          place(result, chunk, line_no) += "error: " + error_ + '\n';
          break;
      }
    }
    return result;
  }

  const ReadCounts& counts() const { return reader_.counts(); }

 private:
  void text_file(const Chunk& chunk, ChunkOutput& result) {
    const std::string& path = *chunk.shown;
    reader_.text_post(path, chunk.data, *chunk.source, post_);
    if (reader_.last_repaired()) result.err += path + ": warning: invalid UTF-8 replaced by U+FFFD\n";
    if (reader_.last_truncated()) {
      result.err += path + ": warning: text cut to " + std::to_string(options_.max_text_bytes) + " bytes\n";
    }
    emit(result);
  }

  // Starts a "path:line: " message in the chunk's stderr text; the caller appends the rest.
  static std::string& place(ChunkOutput& result, const Chunk& chunk, uint64_t line_no) {
    result.err += *chunk.shown;
    result.err += ':';
    result.err += std::to_string(line_no);
    result.err += ": ";
    return result.err;
  }

  void emit(ChunkOutput& result) {
    const std::span<const Alert> alerts = scanner_.scan(post_);
    if (alerts.empty()) return;
    const uint64_t post = post_key_hash(post_);
    for (const Alert& alert : alerts) {
      ++result.alerts;
      if (options_.format == "text") {
        result.out += to_text(alert, color_);
      } else {
        append_json(alert, result.out);
      }
      result.out += '\n';
      result.printed.push_back({post, alert_key(alert.id), result.out.size()});
    }
  }

  const ScanOptions& options_;
  Scanner scanner_;
  PostReader reader_;
  bool color_;
  Post post_;
  std::string error_;
};

// The worker threads: chunks in, outputs out through futures, in the order they were given.
class WorkerPool {
 public:
  explicit WorkerPool(std::vector<std::unique_ptr<Worker>>& workers) {
    for (auto& w : workers) threads_.emplace_back([this, worker = w.get()] { work(*worker); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  std::future<ChunkOutput> submit(Chunk chunk) {
    Task task{std::move(chunk), {}};
    auto future = task.result.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
    return future;
  }

 private:
  struct Task {
    Chunk chunk;
    std::promise<ChunkOutput> result;
  };
  void work(Worker& worker) {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return done_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task.result.set_value(worker.run(task.chunk));
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;
  bool done_ = false;
  std::vector<std::thread> threads_;
};

class ScanRun {
 public:
  ScanRun(const ScanOptions& options, const std::shared_ptr<const RuleSet>& rules) : options_(options) {
    const bool color = options.color == "always" || (options.color == "auto" && isatty(STDOUT_FILENO));
    size_t n = options.workers;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(options, rules, color));
    if (n > 1) pool_ = std::make_unique<WorkerPool>(workers_);
  }

  void input(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (path != "-" && fs::is_directory(path, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
        if (e.is_regular_file()) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) input(f);
      return;
    }
    if (is_jsonl(path)) {
      jsonl(path);
    } else {
      text_file(path);
    }
  }

  int finish() {
    flush_pending();
    pool_.reset();
    std::fflush(stdout);
    ReadCounts c;
    for (const auto& w : workers_) {
      const ReadCounts& wc = w->counts();
      c.posts += wc.posts;
      c.not_json += wc.not_json;
      c.not_object += wc.not_object;
      c.no_text += wc.no_text;
      c.repaired_utf8 += wc.repaired_utf8;
      c.truncated += wc.truncated;
    }
    std::cerr << "lodestone: " << c.posts << " post" << (c.posts == 1 ? "" : "s") << " read, " << alerts_ << " alert"
              << (alerts_ == 1 ? "" : "s");
    if (repeated_) {
      std::cerr << " (" << repeated_ << " left out: posts repeated with an alert already printed)";
    }
    const uint64_t skipped = c.not_json + c.not_object + c.no_text;
    std::cerr << "; skipped " << skipped << " (" << c.not_json << " not JSON, " << c.not_object << " not an object, "
              << c.no_text << " no text)";
    std::cerr << "; " << c.repaired_utf8 << " with invalid UTF-8 replaced, " << c.truncated << " truncated";
    if (unreadable_) std::cerr << "; " << unreadable_ << " input" << (unreadable_ == 1 ? "" : "s") << " unreadable";
    std::cerr << '\n';
    if (options_.stats) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      char line[200];
      std::snprintf(line, sizeof line, "stats: scanned %.1f MB in %.3f s: %.1f MB/s, %.0f posts/s (%zu worker%s)\n",
                    bytes_ / 1e6, seconds, seconds > 0 ? bytes_ / 1e6 / seconds : 0.0,
                    seconds > 0 ? static_cast<double>(c.posts) / seconds : 0.0, workers_.size(),
                    workers_.size() == 1 ? "" : "s");
      std::cerr << line;
    }
    if (unreadable_) return 2;
    return alerts_ > 0 ? 0 : 1;
  }

 private:
  // Names and sources live as long as the run: chunks point at them.
  const std::string& keep(std::string s) { return *names_.emplace_back(std::make_unique<std::string>(std::move(s))); }

  void jsonl(const std::string& path) {
    FILE* file = stdin;
    if (path != "-") {
      file = std::fopen(path.c_str(), "rb");
      if (file == nullptr) {
        flush_pending();
        std::cerr << path << ": error: cannot read\n";
        ++unreadable_;
        return;
      }
    }
    const std::string& shown = keep(path == "-" ? "<stdin>" : path);
    const std::string& source = keep(!options_.source.empty() ? options_.source : path == "-" ? "stdin" : path);
    Chunk chunk = new_chunk(shown, source, 1);
    std::vector<char> block(kChunkBytes);
    size_t line_start = 0;  // where the current (unfinished) line starts in chunk.data
    for (;;) {
      const size_t got = std::fread(block.data(), 1, block.size(), file);
      if (got == 0) break;
      bytes_ += static_cast<double>(got);
      const char* p = block.data();
      const char* end = p + got;
      while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* stop = nl ? nl : end;
        chunk.data.append(p, stop);
        p = stop;
        if (nl == nullptr) break;
        chunk.ends.push_back(chunk.data.size());
        chunk.data.push_back('\n');
        ++p;
        line_start = chunk.data.size();
        if (chunk.ends.size() >= chunk_lines_ || chunk.data.size() >= kChunkBytes) {
          const uint64_t next_line = chunk.first_line + chunk.ends.size();
          submit(std::move(chunk));
          chunk = new_chunk(shown, source, next_line);
          line_start = 0;
        }
      }
    }
    if (chunk.data.size() > line_start) chunk.ends.push_back(chunk.data.size());  // no final '\n'
    if (!chunk.ends.empty()) submit(std::move(chunk));
    if (file != stdin) std::fclose(file);
  }

  void text_file(const std::string& path) {
    Chunk chunk = new_chunk(keep(path), keep(options_.source.empty() ? "file" : options_.source), 0);
    chunk.text_file = true;
    if (!rules::read_text_file(path, chunk.data)) {
      flush_pending();
      std::cerr << path << ": error: cannot read\n";
      ++unreadable_;
      return;
    }
    bytes_ += static_cast<double>(chunk.data.size());
    submit(std::move(chunk));
  }

  Chunk new_chunk(const std::string& shown, const std::string& source, uint64_t first_line) const {
    Chunk chunk;
    chunk.shown = &shown;
    chunk.source = &source;
    chunk.first_line = first_line;
    // Room for a full chunk of lines, or, once chunks take fewer lines, a share of it as large.
    chunk.data.reserve(kChunkBytes / kChunkLines * chunk_lines_ + 4096);
    chunk.ends.reserve(chunk_lines_);
    return chunk;
  }

  void submit(Chunk chunk) {
    if (!pool_) {
      write(workers_.front()->run(chunk));
      return;
    }
    // At most four chunks per worker in flight: memory stays bounded on any input size.
    while (pending_.size() >= 4 * workers_.size()) write_front();
    pending_.push_back(pool_->submit(std::move(chunk)));
  }
  void write_front() {
    write(pending_.front().get());
    pending_.pop_front();
  }
  void flush_pending() {
    while (!pending_.empty()) write_front();
  }
  void write(const ChunkOutput& output) {
    if (output.out.size() > kChunkOutputBytes && chunk_lines_ > kMinChunkLines) chunk_lines_ /= 2;
    if (output.out.size() < kChunkOutputBytes / 4 && chunk_lines_ < kChunkLines) chunk_lines_ *= 2;
    if (!output.err.empty()) std::cerr << output.err;
    // Runs of new alerts are written at once; an alert printed before is left out.
    size_t begin = 0, run = 0;
    for (const PrintedAlert& p : output.printed) {
      if (printed_.add(p.post, p.alert)) {
        ++alerts_;
      } else {
        ++repeated_;
        std::fwrite(output.out.data() + run, 1, begin - run, stdout);
        run = p.end;
      }
      begin = p.end;
    }
    std::fwrite(output.out.data() + run, 1, output.out.size() - run, stdout);
  }

  const ScanOptions& options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<WorkerPool> pool_;
  std::deque<std::future<ChunkOutput>> pending_;
  std::vector<std::unique_ptr<std::string>> names_;
  size_t chunk_lines_ = kMinChunkLines;  // lines a chunk takes at most, by the size of recent outputs
  uint64_t alerts_ = 0;
  uint64_t repeated_ = 0;  // alerts left out: their post came before with the same alert
  PrintedSet printed_;
  uint64_t unreadable_ = 0;
  double bytes_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace

int run_scan(const ScanOptions& options) {
  auto rules = load_rules(options);
  if (!rules) return 2;
  ScanRun run(options, rules);
  if (options.inputs.empty()) {
    run.input("-");
  } else {
    for (const auto& in : options.inputs) run.input(in);
  }
  return run.finish();
}

}  // namespace lodestone::cli
