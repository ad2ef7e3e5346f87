// The controller (Deployment, CronJob, ...) a pod belongs to, guessed from its
// controller reference as istiod does (kube.GetDeployMetaFromPod). Header-only:
// the injector reads pods as JSON, the config model as protos; both pass the
// fields here.
#pragma once

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace keel::kube {

struct DeployMeta {
  std::string name;
  std::string kind = "Pod";
  std::string api_version = "v1";
};

// The pod's controller reference (the owner with controller: true), if any.
struct ControllerRef {
  std::string api_version;
  std::string kind;
  std::string name;
};

// A Job a CronJob made is named <cronjob>-<8 to 10 digits>: the CronJob's name, else "".
inline std::string CronJobName(const std::string& job) {
  const size_t dash = job.rfind('-');
  if (dash == std::string::npos || dash == 0) return "";
  const size_t digits = job.size() - dash - 1;
  if (digits < 8 || digits > 10) return "";
  for (size_t i = dash + 1; i < job.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(job[i]))) return "";
  }
  return job.substr(0, dash);
}

// Only a pod with a generateName is traced to its controller; otherwise (or with
// no controller reference) the pod itself is the workload.
inline DeployMeta DeployMetaOf(const std::string& pod_name, bool has_generate_name, const ControllerRef* controller,
                               const std::string& pod_template_hash) {
  DeployMeta out;
  out.name = pod_name;
  if (has_generate_name && controller != nullptr) {
    out.api_version = controller->api_version;
    out.kind = controller->kind;
    out.name = controller->name;
    if (out.kind == "ReplicaSet" && !pod_template_hash.empty() && absl::EndsWith(out.name, pod_template_hash)) {
      out.name = std::string(absl::StripSuffix(out.name, "-" + pod_template_hash));
      out.kind = "Deployment";
    } else if (out.kind == "Job" && !CronJobName(out.name).empty()) {
      out.name = CronJobName(out.name);
      out.kind = "CronJob";
      out.api_version = "batch/v1";
    }
  }
  if (out.name.empty()) out.name = pod_name;
  return out;
}

}  // namespace keel::kube
