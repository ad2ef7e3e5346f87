#include "pkg/kube/leader_election.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::kube {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// metav1.MicroTime.
std::string MicroTime(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone()); }

const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string StringField(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v && v->has_string_value() ? v->string_value() : "";
}

int64_t NumberField(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v && v->has_number_value() ? static_cast<int64_t>(v->number_value()) : 0;
}

// The spec of a Lease as read, and its resourceVersion.
struct LeaseRecord {
  std::string holder;
  int64_t duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int64_t transitions = 0;
  std::string resource_version;
};

LeaseRecord ParseLease(const Struct& lease) {
  LeaseRecord r;
  if (const Value* spec = Field(lease, "spec")) {
    const Struct& s = spec->struct_value();
    r.holder = StringField(s, "holderIdentity");
    r.duration_seconds = NumberField(s, "leaseDurationSeconds");
    r.acquire_time = StringField(s, "acquireTime");
    r.renew_time = StringField(s, "renewTime");
    r.transitions = NumberField(s, "leaseTransitions");
  }
  if (const Value* meta = Field(lease, "metadata")) r.resource_version = StringField(meta->struct_value(), "resourceVersion");
  return r;
}

std::string LeaseJson(const LeaderElectionOptions& o, const LeaseRecord& r) {
  Struct lease;
  auto* f = lease.mutable_fields();
  (*f)["apiVersion"].set_string_value("coordination.k8s.io/v1");
  (*f)["kind"].set_string_value("Lease");
  auto* meta = (*f)["metadata"].mutable_struct_value()->mutable_fields();
  (*meta)["name"].set_string_value(o.name);
  (*meta)["namespace"].set_string_value(o.ns);
  if (!r.resource_version.empty()) (*meta)["resourceVersion"].set_string_value(r.resource_version);
  auto* spec = (*f)["spec"].mutable_struct_value()->mutable_fields();
  (*spec)["holderIdentity"].set_string_value(r.holder);
  (*spec)["leaseDurationSeconds"].set_number_value(static_cast<double>(r.duration_seconds));
  (*spec)["acquireTime"].set_string_value(r.acquire_time);
  (*spec)["renewTime"].set_string_value(r.renew_time);
  (*spec)["leaseTransitions"].set_number_value(static_cast<double>(r.transitions));
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(lease, &out);
  return out;
}

}  // namespace

std::string DefaultLeaderIdentity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) {
    base = pod;
  } else {
    char host[256] = {};
    base = gethostname(host, sizeof(host) - 1) == 0 ? host : "keel";
  }
  std::random_device rd;
  return absl::StrFormat("%s_%08x", base, rd());
}

LeaderElector::LeaderElector(KubeClient* client, LeaderElectionOptions options, std::function<void(bool)> on_change)
    : client_(client), options_(std::move(options)), on_change_(std::move(on_change)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leading_;
}

std::string LeaderElector::ObservedHolder() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_holder_;
}

absl::StatusOr<bool> LeaderElector::TryAcquireOrRenew() {
  const std::string path =
      absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/", options_.ns, "/leases/", options_.name);
  const std::string where = absl::StrCat("lease ", options_.ns, "/", options_.name);
  const absl::Time now = absl::Now();
  const int64_t duration = absl::ToInt64Seconds(options_.lease_duration);

  auto got = client_->Request("GET", path);
  if (!got.ok()) return got.status();
  LeaseRecord mine{options_.identity, duration, MicroTime(now), MicroTime(now), 0, ""};
  if (got->status == 404) {
    auto created = client_->Request(
        "POST", absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/", options_.ns, "/leases"),
        LeaseJson(options_, mine));
    if (!created.ok()) return created.status();
    if (created->status == 409) return false;  // another candidate created it first
    if (created->status != 201 && created->status != 200) {
      return HttpStatusToStatus(created->status, absl::StrCat("create ", where, ": ", created->body));
    }
    std::lock_guard<std::mutex> lock(mu_);
    observed_holder_ = options_.identity;
    last_renewed_ = Clock::now();
    return true;
  }
  if (got->status != 200) return HttpStatusToStatus(got->status, absl::StrCat("get ", where, ": ", got->body));
  Struct lease;
  if (!google::protobuf::util::JsonStringToMessage(got->body, &lease).ok()) {
    return absl::InternalError(absl::StrCat(where, ": bad JSON"));
  }
  const LeaseRecord current = ParseLease(lease);
  const bool held_by_me = current.holder == options_.identity;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string record = absl::StrCat(current.holder, "|", current.renew_time, "|", current.duration_seconds);
    if (record != observed_record_) {  // the holder renewed (or changed): its term restarts on our clock
      observed_record_ = record;
      observed_at_ = Clock::now();
    }
    observed_holder_ = current.holder;
    const auto term = std::chrono::seconds(current.duration_seconds > 0 ? current.duration_seconds : duration);
    const bool expired = current.holder.empty() || Clock::now() >= observed_at_ + term;
    if (!held_by_me && !expired) return false;
  }
  if (held_by_me) {
    mine.acquire_time = current.acquire_time;
    mine.transitions = current.transitions;
  } else {
    mine.transitions = current.transitions + 1;
  }
  mine.resource_version = current.resource_version;
  auto updated = client_->Request("PUT", path, LeaseJson(options_, mine));
  if (!updated.ok()) return updated.status();
  if (updated->status == 409) return false;  // someone else wrote it since our read
  if (updated->status != 200) {
    return HttpStatusToStatus(updated->status, absl::StrCat("update ", where, ": ", updated->body));
  }
  std::lock_guard<std::mutex> lock(mu_);
  observed_holder_ = options_.identity;
  last_renewed_ = Clock::now();
  return true;
}

void LeaderElector::SetLeading(bool leading) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (leading_ == leading) return;
    leading_ = leading;
  }
  spdlog::info("leader election: {} {} lease {}/{}", options_.identity, leading ? "acquired" : "lost", options_.ns,
               options_.name);
  if (on_change_) on_change_(leading);
}

void LeaderElector::Loop() {
  const auto retry = absl::ToChronoMilliseconds(options_.retry_period);
  const auto renew_deadline = absl::ToChronoMilliseconds(options_.renew_deadline);
  std::string last_error;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto held = TryAcquireOrRenew();
    if (held.ok() && *held) {
      SetLeading(true);
      last_error.clear();
    } else {
      if (!held.ok() && std::string(held.status().message()) != last_error) {
        last_error = std::string(held.status().message());
        spdlog::warn("leader election: lease {}/{}: {}", options_.ns, options_.name, last_error);
      }
      bool keep = false;
      if (!held.ok()) {  // a failed call: the lease may still be ours until the renew deadline
        std::lock_guard<std::mutex> l(mu_);
        keep = leading_ && Clock::now() - last_renewed_ < renew_deadline;
      }
      if (!keep) SetLeading(false);
    }
    lock.lock();
    cv_.wait_for(lock, retry, [this] { return stopping_; });
  }
  const bool was_leading = leading_;
  lock.unlock();
  if (was_leading) {
    if (auto st = Release(); !st.ok()) {
      spdlog::warn("leader election: releasing lease {}/{}: {}", options_.ns, options_.name,
                   std::string(st.message()));
    }
    SetLeading(false);
  }
}

absl::Status LeaderElector::Release() {
  const std::string path =
      absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/", options_.ns, "/leases/", options_.name);
  auto got = client_->Request("GET", path);
  if (!got.ok()) return got.status();
  if (got->status != 200) return HttpStatusToStatus(got->status, got->body);
  Struct lease;
  if (!google::protobuf::util::JsonStringToMessage(got->body, &lease).ok()) return absl::InternalError("bad JSON");
  LeaseRecord current = ParseLease(lease);
  if (current.holder != options_.identity) return absl::OkStatus();  // not ours any more
  // As client-go's ReleaseOnCancel: no holder, a 1 s term.
  const std::string now = MicroTime(absl::Now());
  LeaseRecord released{"", 1, now, now, current.transitions, current.resource_version};
  auto put = client_->Request("PUT", path, LeaseJson(options_, released));
  if (!put.ok()) return put.status();
  return put->status == 200 ? absl::OkStatus() : HttpStatusToStatus(put->status, put->body);
}

}  // namespace keel::kube
