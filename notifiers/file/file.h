// The file notifier: appends each alert as one JSON line to a file (JSONL), the same JSON the
// store keeps. One writer at a time per notifier; send() serializes itself.
#pragma once

#include <mutex>
#include <string>

#include "lodestone/notifier.h"

namespace lodestone {

struct FileNotifierOptions {
  std::string name;
  std::string path;
  bool fsync = true;  // the line is on disk before the delivery counts as done
};

class FileNotifier : public Notifier {
 public:
  explicit FileNotifier(FileNotifierOptions options) : options_(std::move(options)) {}
  const std::string& name() const override { return options_.name; }
  // Opens the file for each alert (O_APPEND, created 0640 with its folders), so a rotated file is
  // followed; the line is written with one write(). Errors are kRetry (a full disk may clear).
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

 private:
  FileNotifierOptions options_;
  std::mutex mutex_;
};

}  // namespace lodestone
