// lodestone scan: posts from files or stdin → alerts on stdout; no state, no notifiers.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/post_reader.h"
#include "lodestone/engine.h"
#include "rules/toml_source.h"

namespace lodestone::cli {
namespace {

bool is_jsonl(const std::string& path) {
  if (path == "-") return true;
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".jsonl" || ext == ".ndjson" || ext == ".json";
}

class ScanRun {
 public:
  ScanRun(const ScanOptions& options, std::shared_ptr<const RuleSet> rules)
      : options_(options), scanner_(std::move(rules)), reader_(options.max_text_bytes) {
    if (!options.now.empty()) scanner_.set_clock_override(options.now);
    color_ = options.color == "always" || (options.color == "auto" && isatty(STDOUT_FILENO));
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
    std::fflush(stdout);
    const ReadCounts& c = reader_.counts();
    std::cerr << "lodestone: " << c.posts << " post" << (c.posts == 1 ? "" : "s") << " read, " << alerts_ << " alert"
              << (alerts_ == 1 ? "" : "s");
    const uint64_t skipped = c.not_json + c.not_object + c.no_text;
    std::cerr << "; skipped " << skipped << " (" << c.not_json << " not JSON, " << c.not_object << " not an object, "
              << c.no_text << " no text)";
    std::cerr << "; " << c.repaired_utf8 << " with invalid UTF-8 replaced, " << c.truncated << " truncated";
    if (unreadable_) std::cerr << "; " << unreadable_ << " input" << (unreadable_ == 1 ? "" : "s") << " unreadable";
    std::cerr << '\n';
    if (options_.stats) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      char line[160];
      std::snprintf(line, sizeof line, "stats: scanned %.1f MB in %.3f s: %.1f MB/s, %.0f posts/s\n", bytes_ / 1e6,
                    seconds, seconds > 0 ? bytes_ / 1e6 / seconds : 0.0,
                    seconds > 0 ? static_cast<double>(c.posts) / seconds : 0.0);
      std::cerr << line;
    }
    if (unreadable_) return 2;
    return alerts_ > 0 ? 0 : 1;
  }

 private:
  void jsonl(const std::string& path) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
      file.open(path, std::ios::binary);
      if (!file) {
        std::cerr << path << ": error: cannot read\n";
        ++unreadable_;
        return;
      }
      in = &file;
    }
    const std::string shown = path == "-" ? "<stdin>" : path;
    const std::string source = !options_.source.empty() ? options_.source : path == "-" ? "stdin" : path;
    uint64_t line_no = 0;
    while (std::getline(*in, line_)) {
      ++line_no;
      bytes_ += static_cast<double>(line_.size() + 1);
      switch (reader_.parse_line(line_, source, post_, error_)) {
        case LineOutcome::kPost:
          if (reader_.last_repaired()) {
            std::cerr << shown << ':' << line_no << ": warning: post '" << post_.id
                      << "': invalid UTF-8 replaced by U+FFFD\n";
          }
          if (reader_.last_truncated()) {
            std::cerr << shown << ':' << line_no << ": warning: post '" << post_.id << "': text cut to "
                      << options_.max_text_bytes << " bytes\n";
          }
          emit();
          break;
        case LineOutcome::kBlank:
          break;
        default:
          std::cerr << shown << ':' << line_no << ": error: " << error_ << '\n';
          break;
      }
    }
  }

  void text_file(const std::string& path) {
    if (!rules::read_text_file(path, text_)) {
      std::cerr << path << ": error: cannot read\n";
      ++unreadable_;
      return;
    }
    bytes_ += static_cast<double>(text_.size());
    reader_.text_post(path, text_, options_.source.empty() ? "file" : options_.source, post_);
    if (reader_.last_repaired()) std::cerr << path << ": warning: invalid UTF-8 replaced by U+FFFD\n";
    if (reader_.last_truncated()) {
      std::cerr << path << ": warning: text cut to " << options_.max_text_bytes << " bytes\n";
    }
    emit();
  }

  void emit() {
    for (const Alert& alert : scanner_.scan(post_)) {
      ++alerts_;
      out_ = options_.format == "text" ? to_text(alert, color_) : to_json(alert);
      out_ += '\n';
      std::fwrite(out_.data(), 1, out_.size(), stdout);
    }
  }

  const ScanOptions& options_;
  Scanner scanner_;
  PostReader reader_;
  Post post_;
  std::string line_;
  std::string text_;
  std::string error_;
  std::string out_;
  bool color_ = false;
  uint64_t alerts_ = 0;
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
