// Plugged-in CAs (Istio's `cacerts` layout: root -> intermediate(s)): the
// issued chain is leaf, intermediates, root and verifies against the root
// alone; files that do not hold together are rejected naming the file.
#include "citadel/ca/key_cert_bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "citadel/ca/cert_signer.h"
#include "test_pki.h"

namespace keel::citadel::ca {
namespace {

using ::keel::citadel::testing::MakeCert;
using ::keel::citadel::testing::MakeCsr;
using ::keel::citadel::testing::MakePluggedInPki;
using ::keel::citadel::testing::NewKey;
using ::keel::citadel::testing::SubjectAltNames;
using ::keel::citadel::testing::TestCert;
using ::keel::citadel::testing::TestCertOptions;
using ::keel::citadel::testing::Verify;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSpiffe[] = "spiffe://cluster.local/ns/bookinfo/sa/reviews";

absl::StatusOr<std::vector<std::string>> SignWith(const CaFiles& files) {
  auto bundle = KeyCertBundle::Create(files);
  if (!bundle.ok()) return bundle.status();
  IstioCa ca(CaOptions{}, *bundle);
  auto key = NewKey(crypto::KeyType::kEcdsaP256);
  SignRequest request;
  request.csr_pem = MakeCsr(key.get(), "", "", {}, {});
  request.uri_sans = {kSpiffe};
  return ca.Sign(request);
}

std::string Pem(const TestCert& c) { return c.cert_pem; }

std::string NewKeyPem() { return crypto::PrivateKeyToPem(NewKey(crypto::KeyType::kEcdsaP256).get()); }

TEST(PluggedInCa, OneIntermediate_ChainIsLeafIntermediateRoot) {
  auto pki = MakePluggedInPki(1);
  auto bundle = KeyCertBundle::Create(pki.files);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_FALSE((*bundle)->self_signed());
  EXPECT_EQ((*bundle)->roots_pem(), Pem(pki.root));

  auto chain = SignWith(pki.files);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ((*chain)[1], Pem(pki.intermediates[0]));
  EXPECT_EQ((*chain)[2], Pem(pki.root));
  auto leaf = crypto::ParseCertificate((*chain)[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(SubjectAltNames(leaf->get()), ElementsAre(std::string("URI:") + kSpiffe));
  // Trusting only the root, the chain the workload gets is enough.
  EXPECT_EQ(Verify(leaf->get(), pki.files.root_cert, {(*chain)[1]}), "");
  // And without the intermediate it is not: the leaf really is issued by the intermediate.
  EXPECT_NE(Verify(leaf->get(), pki.files.root_cert, {}), "");
}

TEST(PluggedInCa, TwoIntermediates_ChainIsLeafClosestFirstRoot) {
  auto pki = MakePluggedInPki(2, crypto::KeyType::kRsa2048);
  auto chain = SignWith(pki.files);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 4u);
  EXPECT_EQ((*chain)[1], Pem(pki.intermediates[1]));
  EXPECT_EQ((*chain)[2], Pem(pki.intermediates[0]));
  EXPECT_EQ((*chain)[3], Pem(pki.root));
  auto leaf = crypto::ParseCertificate((*chain)[0]);
  EXPECT_EQ(Verify(leaf->get(), pki.files.root_cert, {(*chain)[1], (*chain)[2]}), "");
}

TEST(PluggedInCa, CertChainWithoutTheRootOrTheSigningCertWorks) {
  // Many real cacerts hold only the intermediates in cert-chain.pem.
  auto pki = MakePluggedInPki(2);
  pki.files.cert_chain = Pem(pki.intermediates[0]);
  auto chain = SignWith(pki.files);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 4u);
  EXPECT_EQ((*chain)[1], Pem(pki.intermediates[1]));
  EXPECT_EQ((*chain)[2], Pem(pki.intermediates[0]));
  EXPECT_EQ((*chain)[3], Pem(pki.root));
}

TEST(PluggedInCa, ChainEndsWithTheRootThatIssuedItNotTheFirstOfTheBundle) {
  // root-cert.pem may trust several roots (e.g. during a migration); the chain's
  // last certificate must be the one the intermediate actually chains to.
  auto pki = MakePluggedInPki(1);
  auto other = MakePluggedInPki(0);
  pki.files.root_cert = other.root.cert_pem + pki.root.cert_pem;
  auto bundle = KeyCertBundle::Create(pki.files);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ((*bundle)->roots_pem(), pki.files.root_cert) << "both roots are published";
  auto chain = SignWith(pki.files);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ((*chain)[2], Pem(pki.root));
}

TEST(PluggedInCa, IntermediateWithoutKeyIdentifierCanSign) {
  // Older or hand-made CAs lack subjectKeyIdentifier; signing must not depend on it.
  auto root = MakeCert({"Root without SKI", true, false, absl::Hours(100)});
  auto inter = MakeCert({"Intermediate without SKI", true, false, absl::Hours(10)}, &root);
  CaFiles files{inter.cert_pem, inter.key_pem, inter.cert_pem + root.cert_pem, root.cert_pem};
  auto chain = SignWith(files);
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto leaf = crypto::ParseCertificate((*chain)[0]);
  EXPECT_EQ(Verify(leaf->get(), root.cert_pem, {inter.cert_pem}), "");
}

TEST(PluggedInCa, KeyThatDoesNotMatchTheCertificateIsRejected) {
  auto pki = MakePluggedInPki(1);
  pki.files.ca_key = pki.root.key_pem;  // the root's key with the intermediate's certificate
  auto bundle = KeyCertBundle::Create(pki.files);
  ASSERT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bundle.status().message(), "ca-key.pem does not match ca-cert.pem");

  pki.files.ca_key = NewKeyPem();
  bundle = KeyCertBundle::Create(pki.files);
  EXPECT_EQ(bundle.status().message(), "ca-key.pem does not match ca-cert.pem");
}

TEST(PluggedInCa, NonCaCertificateIsRejected) {
  auto pki = MakePluggedInPki(0);
  TestCertOptions leaf_options;
  leaf_options.common_name = "not a CA";
  leaf_options.ca = false;
  auto leaf = MakeCert(leaf_options, &pki.root);
  CaFiles files{leaf.cert_pem, leaf.key_pem, leaf.cert_pem + pki.root.cert_pem, pki.root.cert_pem};
  auto bundle = KeyCertBundle::Create(files);
  ASSERT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bundle.status().message(), "ca-cert.pem is not a CA certificate");
}

TEST(PluggedInCa, CertificateFromAnotherRootIsRejected) {
  auto pki = MakePluggedInPki(1);
  auto other = MakePluggedInPki(0);
  pki.files.root_cert = other.root.cert_pem;
  pki.files.cert_chain = Pem(pki.intermediates[0]);
  auto bundle = KeyCertBundle::Create(pki.files);
  ASSERT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bundle.status().message(), HasSubstr("ca-cert.pem does not verify against root-cert.pem"));
}

TEST(PluggedInCa, UnparsableFilesNameTheFile) {
  auto pki = MakePluggedInPki(1);
  CaFiles bad = pki.files;
  bad.ca_cert = "garbage";
  EXPECT_THAT(KeyCertBundle::Create(bad).status().message(), HasSubstr("ca-cert.pem: no PEM certificate found"));
  bad = pki.files;
  bad.ca_key = "garbage";
  EXPECT_THAT(KeyCertBundle::Create(bad).status().message(), HasSubstr("ca-key.pem: no PEM private key found"));
  bad = pki.files;
  bad.root_cert = "garbage";
  EXPECT_THAT(KeyCertBundle::Create(bad).status().message(), HasSubstr("root-cert.pem: no PEM certificate found"));
  bad = pki.files;
  bad.cert_chain = "garbage";
  EXPECT_THAT(KeyCertBundle::Create(bad).status().message(), HasSubstr("cert-chain.pem: no PEM certificate found"));
}

}  // namespace
}  // namespace keel::citadel::ca
