// FileSource: config from every *.yaml, *.yml and *.json file under a
// directory (recursively, hidden entries skipped), watched by polling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "pilot/model/config_source.h"

namespace keel::pilot::config {

struct FileSourceOptions {
  std::string dir;
  std::chrono::milliseconds poll_interval{200};
};

class FileSource final : public model::ConfigSource {
 public:
  // Errors: InvalidArgument if `dir` is not a readable directory.
  static absl::StatusOr<std::unique_ptr<FileSource>> Create(const FileSourceOptions& options);
  ~FileSource() override;

  absl::Status Start(EventHandler handler) override;
  bool HasSynced() const override { return synced_.load(); }
  void Stop() override;

  // Scans the directory once and delivers what changed. Start() does this on a
  // timer; tests call it directly for determinism.
  void Rescan();

  // Problems found by the last scan of each file ("file.yaml#1: VirtualService
  // default/x: spec.http[0]...: ..."), for logs and /debug.
  std::vector<std::string> Errors() const;

 private:
  explicit FileSource(FileSourceOptions options) : options_(std::move(options)) {}

  // The last good objects parsed from one file, and what made it up.
  struct FileState {
    std::string content;
    std::map<model::ConfigKey, model::ConfigPtr> objects;
    std::vector<std::string> errors;
  };

  FileState LoadFile(const std::string& rel_path, const std::string& content, const FileState* previous);
  void PollLoop();

  const FileSourceOptions options_;
  EventHandler handler_;
  std::atomic<bool> synced_{false};

  mutable std::mutex mu_;  // guards files_ and merged_; Rescan runs on one thread at a time
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  std::map<model::ConfigKey, model::ConfigPtr> merged_ ABSL_GUARDED_BY(mu_);
  std::mutex scan_mu_;  // serializes Rescan()

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread poller_;
};

}  // namespace keel::pilot::config
