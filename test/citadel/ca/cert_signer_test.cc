// IstioCa::Sign: what a workload certificate looks like (identity only from the
// request's authenticated SANs, Istio's extensions, lifetime), and the errors
// for bad TTLs and bad CSRs. Real OpenSSL keys, CSRs and verification.
#include "citadel/ca/cert_signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_pki.h"

namespace keel::citadel::ca {
namespace {

using ::keel::citadel::testing::MakeCsr;
using ::keel::citadel::testing::MakeMismatchedCsr;
using ::keel::citadel::testing::NewKey;
using ::keel::citadel::testing::SubjectAltNames;
using ::keel::citadel::testing::Verify;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSpiffe[] = "spiffe://cluster.local/ns/default/sa/productpage";

crypto::X509Ptr Parse(const std::string& pem) {
  auto cert = crypto::ParseCertificate(pem);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? std::move(*cert) : nullptr;
}

bool Critical(X509* cert, int nid) {
  const int idx = X509_get_ext_by_NID(cert, nid, -1);
  return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

struct SignerParam {
  crypto::KeyType ca_key;
  crypto::KeyType csr_key;
  const char* name;
};

class IstioCaTest : public ::testing::TestWithParam<SignerParam> {
 protected:
  void SetUp() override {
    options_.key_type = GetParam().ca_key;
    options_.max_ttl = absl::Hours(48);
    auto files = CreateSelfSignedRoot(options_);
    ASSERT_TRUE(files.ok()) << files.status();
    auto bundle = KeyCertBundle::Create(*files);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ca_ = std::make_unique<IstioCa>(options_, *bundle);
    key_ = NewKey(GetParam().csr_key);
  }

  // A CSR that asks for another identity, with a subject: both must be ignored.
  std::string GreedyCsr() {
    return MakeCsr(key_.get(), "admin", "evil corp", {"spiffe://cluster.local/ns/istio-system/sa/istiod"},
                   {"istiod.istio-system.svc", "example.com"});
  }

  absl::StatusOr<std::vector<std::string>> Sign(const std::string& csr, absl::Duration ttl) {
    SignRequest request;
    request.csr_pem = csr;
    request.uri_sans = {kSpiffe};
    request.ttl = ttl;
    return ca_->Sign(request);
  }

  CaOptions options_;
  std::unique_ptr<IstioCa> ca_;
  crypto::EvpPkeyPtr key_;
};

TEST_P(IstioCaTest, LeafCarriesOnlyTheRequestedIdentityAndIstioExtensions) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  auto chain = Sign(GreedyCsr(), absl::Hours(1));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 2u) << "leaf and the self-signed root";
  auto leaf = Parse((*chain)[0]);
  ASSERT_TRUE(leaf);

  EXPECT_THAT(SubjectAltNames(leaf.get()), ElementsAre(std::string("URI:") + kSpiffe));
  EXPECT_TRUE(Critical(leaf.get(), NID_subject_alt_name)) << "empty subject: SAN must be critical (RFC 5280)";
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0) << "the CSR's subject is ignored";

  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_TRUE(Critical(leaf.get(), NID_key_usage));
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_check_ca(leaf.get()), 0) << "CA:FALSE";
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(leaf.get(), NID_basic_constraints, nullptr, nullptr));
  ASSERT_NE(bc, nullptr) << "basicConstraints present";
  EXPECT_FALSE(bc->ca);
  BASIC_CONSTRAINTS_free(bc);

  // The leaf holds the CSR's key.
  EXPECT_EQ(X509_check_private_key(leaf.get(), key_.get()), 1);
  // Issued by the CA, and usable as both TLS client and server.
  EXPECT_EQ(Verify(leaf.get(), ca_->RootsPem(), {}, X509_PURPOSE_SSL_CLIENT), "");
  EXPECT_EQ(Verify(leaf.get(), ca_->RootsPem(), {}, X509_PURPOSE_SSL_SERVER), "");
  EXPECT_EQ((*chain)[1], ca_->RootsPem()) << "the chain ends with the root";

  const int64_t after = absl::ToUnixSeconds(absl::Now());
  const int64_t not_after = crypto::NotAfterUnix(leaf.get());
  EXPECT_GE(not_after, before + 3600);
  EXPECT_LE(not_after, after + 3600);
  EXPECT_LE(crypto::NotBeforeUnix(leaf.get()), before) << "backdated, never in the future";
}

TEST_P(IstioCaTest, ZeroTtlMeansTheDefault24h) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  auto chain = Sign(GreedyCsr(), absl::ZeroDuration());
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto leaf = Parse((*chain)[0]);
  const int64_t not_after = crypto::NotAfterUnix(leaf.get());
  EXPECT_GE(not_after, before + 24 * 3600);
  EXPECT_LE(not_after, absl::ToUnixSeconds(absl::Now()) + 24 * 3600);
}

TEST_P(IstioCaTest, TtlAtTheMaximumIsAllowed) {
  auto chain = Sign(GreedyCsr(), absl::Hours(48));
  ASSERT_TRUE(chain.ok()) << chain.status();
}

TEST_P(IstioCaTest, TtlAboveTheMaximumIsInvalidArgument) {
  auto chain = Sign(GreedyCsr(), absl::Hours(48) + absl::Seconds(1));
  ASSERT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
  EXPECT_THAT(chain.status().message(), HasSubstr("greater than the max allowed TTL 48h"));
  // int64 seconds from the wire: absurdly large must not overflow into a valid TTL.
  chain = Sign(GreedyCsr(), absl::Seconds(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
}

TEST_P(IstioCaTest, NegativeTtlIsInvalidArgument) {
  auto chain = Sign(GreedyCsr(), absl::Seconds(-1));
  ASSERT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
  EXPECT_THAT(chain.status().message(), HasSubstr("negative"));
}

TEST_P(IstioCaTest, GarbageCsrIsInvalidArgument) {
  const std::vector<std::string> garbage{
      "", "hello", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"};
  for (const std::string& csr : garbage) {
    auto chain = Sign(csr, absl::Hours(1));
    ASSERT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
    EXPECT_THAT(chain.status().message(), HasSubstr("CSR: not a PEM certificate request")) << "csr=" << csr;
  }
}

TEST_P(IstioCaTest, CsrWhoseSignatureDoesNotMatchItsKeyIsInvalidArgument) {
  auto other_same_type = NewKey(GetParam().csr_key);
  auto other_type = NewKey(GetParam().csr_key == crypto::KeyType::kRsa2048 ? crypto::KeyType::kEcdsaP256
                                                                           : crypto::KeyType::kRsa2048);
  for (EVP_PKEY* claimed : {other_same_type.get(), other_type.get()}) {
    auto chain = Sign(MakeMismatchedCsr(key_.get(), claimed), absl::Hours(1));
    ASSERT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
    EXPECT_EQ(chain.status().message(), "CSR: signature does not verify against its public key");
  }
}

TEST_P(IstioCaTest, NoIdentityIsInvalidArgument) {
  SignRequest request;
  request.csr_pem = GreedyCsr();
  auto chain = ca_->Sign(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
}

TEST_P(IstioCaTest, SerialNumbersDiffer) {
  auto a = Sign(GreedyCsr(), absl::Hours(1));
  auto b = Sign(GreedyCsr(), absl::Hours(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get_serialNumber(Parse((*a)[0]).get()), X509_get_serialNumber(Parse((*b)[0]).get())),
            0);
}

constexpr crypto::KeyType kRsa = crypto::KeyType::kRsa2048;
constexpr crypto::KeyType kEc = crypto::KeyType::kEcdsaP256;
INSTANTIATE_TEST_SUITE_P(KeyTypes, IstioCaTest,
                         ::testing::Values(SignerParam{kRsa, kRsa, "RsaCaRsaCsr"}, SignerParam{kRsa, kEc, "RsaCaEcCsr"},
                                           SignerParam{kEc, kEc, "EcCaEcCsr"}, SignerParam{kEc, kRsa, "EcCaRsaCsr"}),
                         [](const auto& info) { return std::string(info.param.name); });

std::string SpkiDer(X509_PUBKEY* spki) {
  unsigned char* der = nullptr;
  const int n = i2d_X509_PUBKEY(spki, &der);
  std::string out(reinterpret_cast<char*>(der), n > 0 ? n : 0);
  OPENSSL_free(der);
  return out;
}

TEST_P(IstioCaTest, LeafPublicKeyIsTheCsrsExactly) {
  const std::string csr_pem = GreedyCsr();
  auto chain = Sign(csr_pem, absl::Hours(1));
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto csr = crypto::ParseCsr(csr_pem);
  ASSERT_TRUE(csr.ok());
  auto leaf = Parse((*chain)[0]);
  EXPECT_EQ(SpkiDer(X509_get_X509_PUBKEY(leaf.get())), SpkiDer(X509_REQ_get_X509_PUBKEY(csr->get())));
}

TEST(IstioCaKeyTypes, Ed25519CsrWithoutAlgorithmParameters) {
  CaOptions options;
  options.key_type = crypto::KeyType::kEcdsaP256;
  auto files = CreateSelfSignedRoot(options);
  ASSERT_TRUE(files.ok());
  IstioCa ca(options, *KeyCertBundle::Create(*files));
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(key);
  crypto::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key.get());
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), nullptr), 0);
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  SignRequest request;
  request.csr_pem.assign(data, n);
  request.uri_sans = {kSpiffe};
  auto chain = ca.Sign(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto leaf = Parse((*chain)[0]);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(Verify(leaf.get(), ca.RootsPem(), {}), "");
}

// Keys below RSA 2048 / P-256 are refused, naming the key; the floor itself and
// larger keys are signed.
struct WeakKeyCase {
  const char* name;
  crypto::EvpPkeyPtr (*make)();
  const char* message;  // empty: signed
};

crypto::EvpPkeyPtr Rsa(size_t bits) { return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }
crypto::EvpPkeyPtr Ec(const char* curve) {
  return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

TEST(IstioCaKeyStrength, WeakKeysAreInvalidArgumentNamingTheKey) {
  CaOptions options;
  options.key_type = crypto::KeyType::kEcdsaP256;
  auto files = CreateSelfSignedRoot(options);
  ASSERT_TRUE(files.ok());
  IstioCa ca(options, *KeyCertBundle::Create(*files));
  const WeakKeyCase cases[] = {
      {"RSA-512", [] { return Rsa(512); }, "CSR: RSA key of 512 bits is too weak (at least 2048 bits)"},
      {"RSA-1024", [] { return Rsa(1024); }, "CSR: RSA key of 1024 bits is too weak (at least 2048 bits)"},
      {"RSA-2047", [] { return Rsa(2047); }, "CSR: RSA key of 2047 bits is too weak (at least 2048 bits)"},
      {"P-224", [] { return Ec("P-224"); }, "CSR: EC key on secp224r1 (224 bits) is too weak (P-256 or larger)"},
      {"secp192k1", [] { return Ec("secp192k1"); },
       "CSR: EC key on secp192k1 (192 bits) is too weak (P-256 or larger)"},
      {"RSA-2048", [] { return Rsa(2048); }, ""},
      {"RSA-3072", [] { return Rsa(3072); }, ""},
      {"P-256", [] { return Ec("P-256"); }, ""},
      {"P-384", [] { return Ec("P-384"); }, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto key = c.make();
    ASSERT_TRUE(key);
    SignRequest request;
    request.csr_pem = MakeCsr(key.get(), "", "", {}, {});
    request.uri_sans = {kSpiffe};
    auto chain = ca.Sign(request);
    if (*c.message == 0) {
      EXPECT_TRUE(chain.ok()) << chain.status();
      continue;
    }
    ASSERT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << chain.status();
    EXPECT_EQ(chain.status().message(), c.message);
  }
}

TEST(IstioCaNoBundle, SignIsUnavailable) {
  IstioCa ca(CaOptions{}, nullptr);
  SignRequest request;
  request.uri_sans = {kSpiffe};
  EXPECT_EQ(ca.Sign(request).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ca.RootsPem(), "");
}

TEST(SelfSignedRoot, IsACaForTheTrustDomain) {
  CaOptions options;
  options.trust_domain = "example.org";
  options.key_type = crypto::KeyType::kEcdsaP256;
  options.root_ttl = absl::Hours(100);
  auto files = CreateSelfSignedRoot(options);
  ASSERT_TRUE(files.ok()) << files.status();
  auto root = Parse(files->ca_cert);
  EXPECT_EQ(X509_check_ca(root.get()), 1);
  EXPECT_TRUE(Critical(root.get(), NID_basic_constraints));
  EXPECT_TRUE(X509_get_key_usage(root.get()) & KU_KEY_CERT_SIGN);
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(root.get()), buf, sizeof(buf));
  EXPECT_STREQ(buf, "/O=example.org");
  EXPECT_NEAR(static_cast<double>(crypto::NotAfterUnix(root.get()) - absl::ToUnixSeconds(absl::Now())), 100 * 3600.0, 5);
  EXPECT_EQ(files->root_cert, files->ca_cert);
  EXPECT_TRUE(files->cert_chain.empty());
}

TEST(GracePeriod, IsTheLastFractionOfTheLifetime) {
  CaOptions options;
  options.key_type = crypto::KeyType::kEcdsaP256;
  options.root_ttl = absl::Hours(10);
  auto files = CreateSelfSignedRoot(options);
  ASSERT_TRUE(files.ok());
  auto root = Parse(files->ca_cert);
  const absl::Time now = absl::Now();
  EXPECT_FALSE(InGracePeriod(root.get(), 0.2, now));
  EXPECT_FALSE(InGracePeriod(root.get(), 0.2, now + absl::Hours(7)));
  EXPECT_TRUE(InGracePeriod(root.get(), 0.2, now + absl::Hours(9)));
  EXPECT_TRUE(InGracePeriod(root.get(), 0.2, now + absl::Hours(11))) << "expired";
}

}  // namespace
}  // namespace keel::citadel::ca
