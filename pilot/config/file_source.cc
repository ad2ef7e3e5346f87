#include "pilot/config/file_source.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pilot/config/config_parser.h"
#include "pkg/yaml/yaml_json.h"

namespace keel::pilot::config {
namespace fs = std::filesystem;

namespace {

bool IsConfigFile(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

bool IsHidden(const fs::path& rel) {
  for (const auto& part : rel) {
    if (absl::StartsWith(part.string(), ".")) return true;
  }
  return false;
}

// Reads every config file under `dir`: relative path -> content. Nullopt when
// the read is incomplete for want of resources (out of descriptors or memory:
// the directory or a file could not be opened): such a view must not replace
// the last one, or every object would look deleted. A file that vanished or is
// not readable is absent.
std::optional<std::map<std::string, std::string>> ReadTree(const std::string& dir) {
  auto exhausted = [](int err) { return err == EMFILE || err == ENFILE || err == ENOMEM; };
  std::map<std::string, std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path rel = fs::relative(it->path(), dir, ec);
    if (ec || IsHidden(rel)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !IsConfigFile(it->path())) continue;
    errno = 0;
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) {
      if (!exhausted(errno)) continue;  // vanished or unreadable: treated as absent
      spdlog::warn("config dir {}: {}: {}; keeping the last view", dir, rel.string(), strerror(errno));
      return std::nullopt;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    out[rel.string()] = buf.str();
  }
  if (ec) {
    spdlog::warn("config dir {}: {}{}", dir, ec.message(), exhausted(ec.value()) ? "; keeping the last view" : "");
    if (exhausted(ec.value())) return std::nullopt;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileSource>> FileSource::Create(const FileSourceOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--config-dir ", options.dir, ": not a readable directory"));
  }
  fs::directory_iterator probe(options.dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--config-dir ", options.dir, ": ", ec.message()));
  }
  return std::unique_ptr<FileSource>(new FileSource(options));
}

FileSource::~FileSource() { Stop(); }

absl::Status FileSource::Start(EventHandler handler) {
  handler_ = std::move(handler);
  Rescan();
  synced_ = true;
  poller_ = std::thread([this] { PollLoop(); });
  return absl::OkStatus();
}

void FileSource::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void FileSource::PollLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; })) {
    lock.unlock();
    Rescan();
    lock.lock();
  }
}

FileSource::FileState FileSource::LoadFile(const std::string& rel_path, const std::string& content,
                                           const FileState* previous) {
  FileState state;
  state.content = content;
  auto docs = yaml::YamlToJson(content);
  if (!docs.ok()) {
    // The whole file is unreadable: keep serving what it held before.
    if (previous) state.objects = previous->objects;
    state.errors.push_back(absl::StrCat(rel_path, ": ", docs.status().message()));
    return state;
  }
  for (const auto& doc : *docs) {
    const std::string origin = absl::StrCat(rel_path, "#", doc.index);
    auto parsed = ParseConfig(doc.json, origin);
    if (parsed.ok()) {
      state.objects[(*parsed)->key] = *parsed;
      continue;
    }
    if (absl::IsUnimplemented(parsed.status())) {
      spdlog::debug("{}: skipped: {}", origin, std::string(parsed.status().message()));
      continue;
    }
    state.errors.push_back(absl::StrCat(origin, " (line ", doc.line, "): ", parsed.status().message()));
    // Keep the last good version of the object this document held, if we can tell
    // which one it was.
    if (previous) {
      for (const auto& [key, config] : previous->objects) {
        if (config->meta.origin == origin && !state.objects.count(key)) state.objects[key] = config;
      }
    }
  }
  return state;
}

void FileSource::Rescan() {
  std::lock_guard<std::mutex> scan_lock(scan_mu_);
  std::optional<std::map<std::string, std::string>> read = ReadTree(options_.dir);
  if (!read) return;  // incomplete: the next poll tries again
  std::map<std::string, std::string> tree = std::move(*read);
  std::vector<model::ConfigEvent> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool changed = false;
    std::map<std::string, FileState> next;
    for (auto& [path, content] : tree) {
      auto old = files_.find(path);
      if (old != files_.end() && old->second.content == content) {
        next[path] = std::move(old->second);
        continue;
      }
      changed = true;
      next[path] = LoadFile(path, content, old == files_.end() ? nullptr : &old->second);
      for (const auto& error : next[path].errors) spdlog::error("invalid config: {}", error);
    }
    if (next.size() != files_.size()) changed = true;
    files_ = std::move(next);
    if (!changed) return;

    // Merge in path order (a later file wins for the same object), then diff.
    std::map<model::ConfigKey, model::ConfigPtr> merged;
    for (const auto& [path, state] : files_) {
      for (const auto& [key, config] : state.objects) merged[key] = config;
    }
    for (const auto& [key, config] : merged_) {
      if (!merged.count(key)) events.push_back({key, nullptr});
    }
    for (const auto& [key, config] : merged) {
      auto old = merged_.find(key);
      if (old == merged_.end() || old->second != config) events.push_back({key, config});
    }
    merged_ = std::move(merged);
  }
  if (!events.empty() && handler_) handler_(events);
}

std::vector<std::string> FileSource::Errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [path, state] : files_) out.insert(out.end(), state.errors.begin(), state.errors.end());
  return out;
}

}  // namespace keel::pilot::config
