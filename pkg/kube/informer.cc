#include "pkg/kube/informer.h"

#include <spdlog/spdlog.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "pkg/metrics/registry.h"

namespace keel::kube {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string StringAt(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v && v->kind_case() == Value::kStringValue ? v->string_value() : "";
}

const Struct& StructAt(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v && v->has_struct_value() ? v->struct_value() : Struct::default_instance();
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

void Inc(metrics::Counter* c) {
  if (c) c->Inc();
}

}  // namespace

std::string ResourceRef::Path(const std::string& version) const {
  std::string base = group.empty() ? absl::StrCat("/api/", version) : absl::StrCat("/apis/", group, "/", version);
  if (!ns.empty()) absl::StrAppend(&base, "/namespaces/", ns);
  absl::StrAppend(&base, "/", resource);
  return base;
}

namespace {
DecodeOptions DecodeOptionsFor(const ResourceRef& ref, const InformerOptions& options) {
  DecodeOptions d;
  d.keep_status = ref.keep_status;
  d.max_object_bytes = options.max_object_bytes;
  return d;
}
}  // namespace

Informer::Informer(KubeClient* client, ResourceRef ref, Handler handler, InformerOptions options, SkipHandler on_skip)
    : client_(client),
      ref_(std::move(ref)),
      handler_(std::move(handler)),
      options_(options),
      on_skip_(std::move(on_skip)),
      decode_(DecodeOptionsFor(ref_, options_)) {
  if (metrics::Registry* r = options_.metrics) {
    const metrics::Labels labels{{"resource", ref_.group.empty() ? ref_.resource : absl::StrCat(ref_.resource, ".", ref_.group)}};
    counters_.lists = &r->GetCounter("keel_kube_lists_total", "Complete lists of a resource (the first and every relist).", labels);
    counters_.watches = &r->GetCounter("keel_kube_watches_total", "Watch requests opened.", labels);
    counters_.gone = &r->GetCounter("keel_kube_gone_total", "Watches answered 410 Gone (each leads to a relist).", labels);
    counters_.duplicates = &r->GetCounter("keel_kube_duplicate_events_total",
                                          "Watch events dropped as already delivered (same resourceVersion).", labels);
    const char* types[3] = {"ADDED", "MODIFIED", "DELETED"};
    for (int i = 0; i < 3; ++i) {
      metrics::Labels l = labels;
      l["type"] = types[i];
      counters_.events[i] = &r->GetCounter("keel_kube_events_total", "Object changes delivered to the config store.", l);
    }
  }
}

void Informer::CountEvent(EventType type) {
  ++stats_.events;
  Inc(counters_.events[static_cast<int>(type)]);
}

void Informer::Skip(const DecodedObject& object) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.skipped;
  }
  SkippedObject skipped{object.ns, object.name, object.resource_version, std::string(object.error.message())};
  if (on_skip_) {
    on_skip_(skipped);
  } else {
    spdlog::warn("{}: skipped {}/{} (resourceVersion {}): {}", ref_.Path(version_), skipped.ns, skipped.name,
                 skipped.resource_version, skipped.reason);
  }
}

Informer::~Informer() { Stop(); }

void Informer::Start() { thread_ = std::thread([this] { Run(); }); }

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_watch_) active_watch_->Cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

InformerStats Informer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Informer::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Informer::Run() {
  std::mt19937_64 rng(std::random_device{}());
  std::chrono::milliseconds backoff = options_.min_backoff;
  auto jittered = [&](std::chrono::milliseconds d) {
    std::uniform_real_distribution<double> f(0.8, 1.2);
    return std::chrono::milliseconds(static_cast<int64_t>(d.count() * f(rng)));
  };
  bool need_list = true;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (need_list) {
      absl::Status st = ListAndDiff();
      if (absl::IsNotFound(st)) {
        if (!not_installed_.exchange(true)) {
          spdlog::warn("{}: not served by the API server (CRD not installed?); will keep checking",
                       ref_.Path(ref_.versions[0]));
        }
        if (!SleepFor(options_.not_installed_poll)) return;
        continue;
      }
      if (!st.ok()) {
        spdlog::warn("list {}: {}; retrying", ref_.Path(version_.empty() ? ref_.versions[0] : version_),
                     std::string(st.message()));
        if (!SleepFor(jittered(backoff))) return;
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      if (not_installed_.exchange(false)) spdlog::info("{}: now served", ref_.Path(version_));
      need_list = false;
      backoff = options_.min_backoff;
    }
    absl::Status st = WatchOnce();
    if (absl::IsOutOfRange(st)) {
      spdlog::info("watch {}: resourceVersion {} is too old (410 Gone); relisting", ref_.Path(version_),
                   resource_version_);
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.gone;
      Inc(counters_.gone);
      need_list = true;
      continue;
    }
    if (absl::IsNotFound(st)) {  // the CRD went away
      need_list = true;
      continue;
    }
    if (!st.ok()) {
      spdlog::debug("watch {}: {}; resuming from {}", ref_.Path(version_), std::string(st.message()), resource_version_);
      if (!SleepFor(jittered(backoff))) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    } else {
      backoff = options_.min_backoff;  // clean end of a watch (timeoutSeconds): resume at once
    }
  }
}

absl::Status Informer::ListAndDiff() {
  std::vector<std::string> versions = version_.empty() ? ref_.versions : std::vector<std::string>{version_};
  absl::Status last = absl::NotFoundError("no version served");
  for (const auto& version : versions) {
    std::map<std::string, std::pair<std::string, Struct>> items;  // key -> (rv, object)
    std::map<std::string, DecodedObject> undecoded;                // key -> what did not decode
    std::string list_rv, continue_token;
    bool served = true;
    int expired_restarts = 0;
    while (true) {
      std::string path = absl::StrCat(ref_.Path(version), "?limit=", options_.page_size);
      if (!continue_token.empty()) absl::StrAppend(&path, "&continue=", UrlEncode(continue_token));
      if (!ref_.field_selector.empty()) absl::StrAppend(&path, "&fieldSelector=", UrlEncode(ref_.field_selector));
      if (!ref_.label_selector.empty()) absl::StrAppend(&path, "&labelSelector=", UrlEncode(ref_.label_selector));
      auto resp = client_->Request("GET", path);
      if (!resp.ok()) return resp.status();
      if (resp->status == 404) {
        served = false;
        break;
      }
      if (resp->status == 410 && !continue_token.empty() && ++expired_restarts <= 3) {
        // The continue token expired (its revision was compacted): the pages so
        // far are from an old snapshot, so start the list over. (Not a `continue`
        // in a do-while: that would test the cleared token and end the loop with
        // a partial list, whose diff deletes everything on the later pages.)
        spdlog::info("list {}: continue token expired (410 Gone); listing again from the start", ref_.Path(version));
        items.clear();
        undecoded.clear();
        continue_token.clear();
        continue;
      }
      if (resp->status != 200) return HttpStatusToStatus(resp->status, absl::StrCat("list ", path, ": ", resp->body));
      // Each item decodes on its own: one that does not is set aside, not a failed list.
      auto page = DecodeList(resp->body, decode_);
      if (!page.ok()) return absl::InvalidArgumentError(absl::StrCat("list ", path, ": ", page.status().message()));
      list_rv = page->resource_version;
      continue_token = page->continue_token;
      for (auto& item : page->items) {
        std::string key = absl::StrCat(item.ns, "/", item.name);
        if (!item.error.ok()) {
          items.erase(key);
          undecoded[key] = std::move(item);
          continue;
        }
        undecoded.erase(key);
        items[key] = {item.resource_version, std::move(item.object)};
      }
      if (continue_token.empty()) break;
    }
    if (!served) {
      last = absl::NotFoundError(absl::StrCat(ref_.Path(version), " is not served"));
      continue;
    }
    version_ = version;
    // List items carry no kind/apiVersion; the consumer knows what it watches.
    std::vector<InformerEvent> batch;
    std::map<std::string, std::string> next;
    for (const auto& [key, object] : undecoded) {
      // Known at this version: no event, so the handler keeps the version it has.
      next[key] = object.resource_version;
      auto old = known_.find(key);
      if (old == known_.end() || old->second != object.resource_version) Skip(object);
    }
    for (auto& [key, entry] : items) {
      next[key] = entry.first;
      auto old = known_.find(key);
      if (old != known_.end() && old->second == entry.first) continue;
      InformerEvent e;
      e.type = old == known_.end() ? EventType::kAdded : EventType::kModified;
      const Struct& m = StructAt(entry.second, "metadata");
      e.ns = StringAt(m, "namespace");
      e.name = StringAt(m, "name");
      e.object = std::move(entry.second);
      batch.push_back(std::move(e));
    }
    for (const auto& [key, rv] : known_) {
      if (next.count(key)) continue;
      InformerEvent e;
      e.type = EventType::kDeleted;
      size_t slash = key.find('/');
      e.ns = key.substr(0, slash);
      e.name = key.substr(slash + 1);
      batch.push_back(std::move(e));
    }
    known_ = std::move(next);
    resource_version_ = list_rv;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.lists;
      Inc(counters_.lists);
      for (const auto& e : batch) CountEvent(e.type);
    }
    handler_(std::move(batch));  // an empty batch still marks the first sync
    synced_ = true;
    return absl::OkStatus();
  }
  return last;
}

absl::Status Informer::WatchOnce() {
  std::string path = absl::StrCat(ref_.Path(version_), "?watch=true&allowWatchBookmarks=true&timeoutSeconds=",
                                  options_.watch_timeout_seconds, "&resourceVersion=", UrlEncode(resource_version_));
  if (!ref_.field_selector.empty()) absl::StrAppend(&path, "&fieldSelector=", UrlEncode(ref_.field_selector));
  if (!ref_.label_selector.empty()) absl::StrAppend(&path, "&labelSelector=", UrlEncode(ref_.label_selector));
  auto stream = client_->Watch(path);
  if (!stream.ok()) return stream.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::CancelledError("stopping");
    active_watch_ = stream->get();
    ++stats_.watches;
    Inc(counters_.watches);
  }
  absl::Status result = absl::OkStatus();
  while (true) {
    auto line = (*stream)->NextLine();
    if (!line.ok()) {
      result = line.status();
      break;
    }
    if (!line->has_value()) break;  // the server ended the watch (timeoutSeconds)
    auto event = DecodeWatchEvent(**line, decode_);
    if (!event.ok()) {  // the line itself is broken: resume from the last good resourceVersion
      result = event.status();
      break;
    }
    const std::string& type = event->type;
    DecodedObject& decoded = event->object;
    if (type == "ERROR") {
      const Value* code = Field(decoded.object, "code");
      int http = code ? static_cast<int>(code->number_value()) : 0;
      result = HttpStatusToStatus(http == 0 ? 500 : http, StringAt(decoded.object, "message"));
      break;
    }
    const std::string rv = decoded.resource_version;
    if (type == "BOOKMARK") {
      if (!rv.empty()) resource_version_ = rv;
      continue;
    }
    InformerEvent e;
    e.ns = decoded.ns;
    e.name = decoded.name;
    const std::string key = absl::StrCat(e.ns, "/", e.name);
    bool duplicate = false;
    if (type == "DELETED") {
      e.type = EventType::kDeleted;
      duplicate = known_.erase(key) == 0;
    } else if (type == "ADDED" || type == "MODIFIED") {
      auto it = known_.find(key);
      duplicate = it != known_.end() && it->second == rv;
      e.type = it == known_.end() ? EventType::kAdded : EventType::kModified;
      known_[key] = rv;
    } else {
      continue;
    }
    if (!rv.empty()) resource_version_ = rv;
    if (duplicate) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.duplicates;
      Inc(counters_.duplicates);
      continue;
    }
    if (!decoded.error.ok() && e.type != EventType::kDeleted) {
      // Seen (its resourceVersion is known, so the watch moves past it), not delivered.
      Skip(decoded);
      continue;
    }
    e.object = std::move(decoded.object);  // empty for a delete whose last state did not decode
    {
      std::lock_guard<std::mutex> lock(mu_);
      CountEvent(e.type);
    }
    std::vector<InformerEvent> batch;
    batch.push_back(std::move(e));
    handler_(std::move(batch));
  }
  std::lock_guard<std::mutex> lock(mu_);
  active_watch_ = nullptr;
  return result;
}

}  // namespace keel::kube
