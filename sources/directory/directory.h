// The directory source: every file dropped into one folder (JSONL, NDJSON or plain text) read once,
// and again only when it changes; a file is marked done in the store after all its posts are committed.
// run() on one thread; stop() from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "watch/store.h"
#include "lodestone/source.h"

namespace lodestone {

namespace source_detail {
class StopSignal;
}

struct DirectoryOptions {
  std::string name;
  std::string path;
  std::vector<std::string> extensions = {".jsonl", ".ndjson", ".txt"};  // compared without regard to case
  size_t batch = 256;
  size_t max_text_bytes = 1 << 20;
  double settle = 0.2;       // seconds a file must be unchanged (size, mtime) before it is read — a writer may
                             // still be writing; files moved in (IN_MOVED_TO) and closed (IN_CLOSE_WRITE) are ready at once
  double poll_interval = 2;  // rescan fallback
};

// Which files: regular files (or links to them) directly in the folder — sub-folders are not
// entered — whose name ends with one of `extensions`; hidden names (".x") and temporary ones
// ("*.tmp", "*.part", "*~") never. A ".jsonl" or ".ndjson" file holds one post a line; a file
// of any other listed extension is one post: its body is the file's text (the first
// max_text_bytes of it), its id the file's name, "#" and 16 hex digits of SHA-256 over that text
// (the same text again is the same post; new text under a reused name is a new one), its source
// the source's name.
//
// Files are known in the store by their name relative to the folder (not the full path), so a
// folder moved elsewhere, or mounted at another place, is not read again. A file is done once
// every batch of it is committed: Store::mark_file_processed(name, file name, size, mtime), and
// the exact version ("<size>:<mtime in ns>") under the state key "file:<file name>", since the
// store answers only whether a path was processed, not at which size and time. A done file whose
// size or mtime then differ is read again, whole: posts already stored are recognised downstream
// by their keys and do not alert twice.
//
// On start the folder is created when missing (and logged), then scanned: every file not done
// is read after it settles, in name order. Then inotify (IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE)
// says when files arrive, and a rescan every poll_interval catches what it cannot see (NFS, a
// lost event). A file that cannot be read is logged once and tried again on each rescan; a read
// error half-way leaves the file not done, to be read again from its start.
//
// A batch that is not committed is sent again after a pause (poll_interval, doubling up to 30 s)
// until it is, or until stop() or the sink refuses it (the pipeline is stopping); the file is
// then not done, and the next run reads it again.
class DirectorySource : public Source {
 public:
  DirectorySource(DirectoryOptions options, Store& store);
  ~DirectorySource() override;
  DirectorySource(const DirectorySource&) = delete;
  DirectorySource& operator=(const DirectorySource&) = delete;

  const std::string& name() const override { return options_.name; }
  // Returns nullopt after stop() or when the sink refuses a batch (stopping); a reason when the
  // folder cannot be made or is not a folder, or stop() cannot be made (no eventfd).
  Result<void> run(PostSink& sink) override;
  void stop() override;

 private:
  struct Watcher;
  DirectoryOptions options_;
  Store& store_;
  std::unique_ptr<source_detail::StopSignal> stop_;  // requested once, for good
};

}  // namespace lodestone
