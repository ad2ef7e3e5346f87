#include "citadel/ca/ca_store.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pkg/crypto/openssl.h"

namespace keel::citadel::ca {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;

constexpr char kCaCert[] = "ca-cert.pem";
constexpr char kCaKey[] = "ca-key.pem";
constexpr char kCertChain[] = "cert-chain.pem";
constexpr char kRootCert[] = "root-cert.pem";

std::optional<std::string> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Unparsable counts as self-signed here; KeyCertBundle::Create reports it.
bool IsSelfSignedPem(const std::string& pem) {
  auto cert = crypto::ParseCertificate(pem);
  return !cert.ok() || X509_check_issued(cert->get(), cert->get()) == X509_V_OK;
}

class DirCaStore final : public CaStore {
 public:
  explicit DirCaStore(std::string dir) : dir_(std::move(dir)) {}

  absl::StatusOr<std::optional<StoredCa>> Load() override {
    auto cert = ReadFile(fs::path(dir_) / kCaCert);
    auto key = ReadFile(fs::path(dir_) / kCaKey);
    if (!cert && !key) return std::optional<StoredCa>();
    if (!cert || !key) {
      return absl::InvalidArgumentError(absl::StrCat(dir_, ": has only one of ", kCaCert, " and ", kCaKey));
    }
    StoredCa out;
    out.files.ca_cert = *cert;
    out.files.ca_key = *key;
    out.files.cert_chain = ReadFile(fs::path(dir_) / kCertChain).value_or("");
    out.files.root_cert = ReadFile(fs::path(dir_) / kRootCert).value_or("");
    // Keel writes only a self-signed ca-cert.pem (and never cert-chain.pem), so
    // a chain file or a signing certificate issued by someone else means the
    // operator's CA: never rotated or rewritten by Keel.
    out.plugged_in = !out.files.cert_chain.empty() || !IsSelfSignedPem(out.files.ca_cert);
    return std::optional<StoredCa>(std::move(out));
  }

  absl::Status Save(const CaFiles& files, const std::optional<StoredCa>&) override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    for (auto [name, content] : {std::pair{kCaCert, &files.ca_cert}, {kCaKey, &files.ca_key}, {kRootCert, &files.root_cert}}) {
      const fs::path tmp = fs::path(dir_) / (std::string(".") + name + ".tmp");
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << *content;
        if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
      }
      if (std::string(name) == kCaKey) fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
      fs::rename(tmp, fs::path(dir_) / name, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot write ", dir_, "/", name, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  std::string Describe() const override { return "directory " + dir_; }

 private:
  const std::string dir_;
};

std::string DataField(const Struct& secret, const std::string& key) {
  auto data = secret.fields().find("data");
  if (data == secret.fields().end()) return "";
  auto it = data->second.struct_value().fields().find(key);
  if (it == data->second.struct_value().fields().end()) return "";
  std::string decoded;
  return absl::Base64Unescape(it->second.string_value(), &decoded) ? decoded : "";
}

std::string ResourceVersion(const Struct& obj) {
  auto meta = obj.fields().find("metadata");
  if (meta == obj.fields().end()) return "";
  auto rv = meta->second.struct_value().fields().find("resourceVersion");
  return rv == meta->second.struct_value().fields().end() ? "" : rv->second.string_value();
}

class SecretCaStore final : public CaStore {
 public:
  SecretCaStore(kube::KubeClient* client, std::string ns) : client_(client), ns_(std::move(ns)) {}

  absl::StatusOr<std::optional<StoredCa>> Load() override {
    for (const char* name : {"cacerts", "istio-ca-secret"}) {
      auto resp = client_->Request("GET", absl::StrCat("/api/v1/namespaces/", ns_, "/secrets/", name));
      if (!resp.ok()) return resp.status();
      if (resp->status == 404) continue;
      if (resp->status != 200) {
        return kube::HttpStatusToStatus(resp->status, absl::StrCat("get secret ", ns_, "/", name, ": ", resp->body));
      }
      Struct secret;
      if (!google::protobuf::util::JsonStringToMessage(resp->body, &secret).ok()) {
        return absl::InternalError(absl::StrCat("secret ", ns_, "/", name, ": bad JSON"));
      }
      StoredCa out;
      out.plugged_in = std::string(name) == "cacerts";
      out.files.ca_cert = DataField(secret, kCaCert);
      out.files.ca_key = DataField(secret, kCaKey);
      out.files.cert_chain = DataField(secret, kCertChain);
      out.files.root_cert = DataField(secret, kRootCert);
      out.resource_version = ResourceVersion(secret);
      if (out.files.ca_cert.empty() || out.files.ca_key.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("secret ", ns_, "/", name, ": needs ", kCaCert, " and ", kCaKey));
      }
      return std::optional<StoredCa>(std::move(out));
    }
    return std::optional<StoredCa>();
  }

  absl::Status Save(const CaFiles& files, const std::optional<StoredCa>& previous) override {
    Struct secret;
    auto* f = secret.mutable_fields();
    (*f)["apiVersion"].set_string_value("v1");
    (*f)["kind"].set_string_value("Secret");
    (*f)["type"].set_string_value("istio.io/ca-root");
    auto* meta = (*f)["metadata"].mutable_struct_value()->mutable_fields();
    (*meta)["name"].set_string_value("istio-ca-secret");
    (*meta)["namespace"].set_string_value(ns_);
    if (previous) (*meta)["resourceVersion"].set_string_value(previous->resource_version);
    auto* data = (*f)["data"].mutable_struct_value()->mutable_fields();
    (*data)[kCaCert].set_string_value(absl::Base64Escape(files.ca_cert));
    (*data)[kCaKey].set_string_value(absl::Base64Escape(files.ca_key));
    (*data)[kRootCert].set_string_value(absl::Base64Escape(files.root_cert));
    std::string body;
    (void)google::protobuf::util::MessageToJsonString(secret, &body);
    const std::string base = absl::StrCat("/api/v1/namespaces/", ns_, "/secrets");
    auto resp = previous ? client_->Request("PUT", base + "/istio-ca-secret", body) : client_->Request("POST", base, body);
    if (!resp.ok()) return resp.status();
    if (resp->status == 200 || resp->status == 201) return absl::OkStatus();
    return kube::HttpStatusToStatus(resp->status, absl::StrCat(previous ? "update" : "create", " secret ", ns_,
                                                                "/istio-ca-secret: ", resp->body));
  }

  std::string Describe() const override { return absl::StrCat("secrets ", ns_, "/cacerts, ", ns_, "/istio-ca-secret"); }

 private:
  kube::KubeClient* const client_;
  const std::string ns_;
};

}  // namespace

CaStorePtr MakeDirCaStore(const std::string& dir) { return std::make_unique<DirCaStore>(dir); }

CaStorePtr MakeSecretCaStore(kube::KubeClient* client, const std::string& ns) {
  return std::make_unique<SecretCaStore>(client, ns);
}

}  // namespace keel::citadel::ca
