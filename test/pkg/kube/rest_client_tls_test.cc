// The REST client's TLS against the real kube-apiserver of the `kube` fixture
// (KUBECONFIG): kubeconfig's tls-server-name is the name the server certificate
// is verified against (and sent as SNI), not the URL's host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "pkg/kube/kube_client.h"
#include "pkg/kube/kubeconfig.h"

namespace keel::kube {
namespace {

absl::StatusOr<KubeResponse> GetVersion(const std::string& tls_server_name) {
  const char* path = std::getenv("KUBECONFIG");
  if (!path) return absl::FailedPreconditionError("needs the kube fixture (KUBECONFIG)");
  auto config = LoadKubeconfig(path);
  if (!config.ok()) return config.status();
  config->tls_server_name = tls_server_name;
  auto client = CreateKubeClient(*config);
  if (!client.ok()) return client.status();
  return (*client)->Request("GET", "/version");
}

TEST(RestClientTlsTest, TlsServerNameIsWhatTheCertificateIsVerifiedAgainst) {
  // The fixture's serving certificate names 127.0.0.1 (the URL) and kubernetes.default.
  auto by_url = GetVersion("");
  ASSERT_TRUE(by_url.ok()) << by_url.status();
  EXPECT_EQ(by_url->status, 200);

  auto by_name = GetVersion("kubernetes.default");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->status, 200);

  // A name the certificate does not carry fails, although the URL's host would verify.
  auto wrong = GetVersion("wrong.example");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()), ::testing::HasSubstr("SSL"));
}

}  // namespace
}  // namespace keel::kube
