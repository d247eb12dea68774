// The jsonl source: follows one JSONL file as `tail -F` does (appends, truncation, rotation), or
// reads stdin to its end, and saves its place in the store only after a batch is committed.
// run() on one thread; stop() from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sources/file_input.h"
#include "watch/store.h"
#include "lodestone/source.h"

namespace lodestone {


struct JsonlOptions {
  std::string name;          // source name: posts without their own "source" carry it
  std::string path;          // a file, or "-" for stdin
  bool from_end = false;     // on the very first run (no stored offset): skip what the file already holds
  size_t batch = 256;        // posts per batch handed to the sink
  size_t max_text_bytes = 1 << 20;
  double poll_interval = 1;  // seconds: fallback check when inotify says nothing (and for NFS)
  int stdin_fd = 0;          // what "-" reads; tests give the read end of a pipe
};

// State kept in the store under the source's name (Store::get_state / set_state):
//   "offset"   bytes of the file up to the end of the last line of the last committed batch
//   "line"     how many lines that is, so warnings after a restart still name true line numbers
//   "file_id"  "<st_dev>:<st_ino>" of the file those belong to
// They are written in that order after each committed batch, so a crash between two writes errs
// towards reading a line again (harmless: the store's seen-post keys stop a second alert), never
// towards skipping one.
//
// What it does on restart: resumes at the stored offset when the file at `path` is the same file
// (file_id) and at least that long; starts at 0 when it is shorter (truncated while down) or
// another file (rotated while down; the rest of the old file, wherever it went, is not looked for).
//
// While running: reads complete lines only (a last line without '\n' waits for it; at the end of
// stdin it is taken); a file that shrinks below the read position is read again from 0; when
// `path` names another file (renamed away and recreated, or deleted and recreated) the open file
// is read to its end (a last line without '\n' taken) and the new one opened at 0; a missing
// file is waited for. inotify on the file and its folder says when to look; every poll_interval
// it looks anyway (inotify says nothing for NFS, or when the folder cannot be watched).
//
// A batch whose receipt is not committed is not acknowledged: the same posts are submitted again
// after a pause (poll_interval, doubling up to 30 s) until they are committed, or until stop()
// or the sink refuses the batch (the pipeline is stopping); then run() returns and the next run
// reads them again from the stored offset.
//
// A bad line is logged as `path:line: reason` and counted with sink.count_rejected(); the rest of
// its batch goes on. A line longer than max(8 × max_text_bytes, 1 MiB) bytes is skipped whole,
// as a bad line, without being held in memory.
class JsonlSource : public Source {
 public:
  JsonlSource(JsonlOptions options, Store& store);
  ~JsonlSource() override;
  JsonlSource(const JsonlSource&) = delete;
  JsonlSource& operator=(const JsonlSource&) = delete;

  const std::string& name() const override { return options_.name; }
  // Returns nullopt after stop(), at the end of stdin, or when the sink refuses a batch because
  // the pipeline is stopping; a reason when the source cannot work (no name or path, no eventfd).
  Result<void> run(PostSink& sink) override;
  void stop() override;

 private:
  struct Follower;
  JsonlOptions options_;
  Store& store_;
  std::unique_ptr<source_detail::StopSignal> stop_;  // requested once, for good: run() after stop() returns at once
};

}  // namespace lodestone
