// RedactForDebug on each place an SDS Secret can hold key material (the
// tls_certificate case through a live stream is in debug_handlers_test.cc).
#include "pilot/debug/secret_redaction.h"

#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {
namespace {

namespace tls = ::envoy::extensions::transport_sockets::tls::v3;

tls::Secret Redacted(const tls::Secret& secret) {
  google::protobuf::Any any;
  any.PackFrom(secret);
  EXPECT_EQ(any.type_url(), xds::kSecretType);
  tls::Secret out;
  EXPECT_TRUE(RedactForDebug(any).UnpackTo(&out));
  return out;
}

// A Secret is one of tls_certificate, session_ticket_keys, validation_context,
// generic_secret (a oneof): each kind that holds a secret value.
TEST(RedactForDebugTest, EverySecretValueIsRedactedCertificatesStay) {
  tls::Secret s;
  s.set_name("kubernetes://gw");
  auto* cert = s.mutable_tls_certificate();
  cert->mutable_certificate_chain()->set_inline_bytes("CERT");
  cert->mutable_private_key()->set_inline_string("KEY");
  cert->mutable_password()->set_inline_string("PASS");
  cert->mutable_pkcs12()->set_inline_bytes("P12");
  tls::Secret r = Redacted(s);
  EXPECT_EQ(r.name(), "kubernetes://gw");
  EXPECT_EQ(r.tls_certificate().certificate_chain().inline_bytes(), "CERT");
  EXPECT_EQ(r.tls_certificate().private_key().inline_bytes(), "[redacted]");
  EXPECT_EQ(r.tls_certificate().password().inline_bytes(), "[redacted]");
  EXPECT_EQ(r.tls_certificate().pkcs12().inline_bytes(), "[redacted]");

  tls::Secret generic;
  generic.mutable_generic_secret()->mutable_secret()->set_inline_bytes("TOKEN");
  EXPECT_EQ(Redacted(generic).generic_secret().secret().inline_bytes(), "[redacted]");

  tls::Secret tickets;
  tickets.mutable_session_ticket_keys()->add_keys()->set_inline_bytes("K1");
  tickets.mutable_session_ticket_keys()->add_keys()->set_filename("/etc/k2");
  r = Redacted(tickets);
  ASSERT_EQ(r.session_ticket_keys().keys_size(), 2);
  EXPECT_EQ(r.session_ticket_keys().keys(0).inline_bytes(), "[redacted]");
  EXPECT_EQ(r.session_ticket_keys().keys(1).inline_bytes(), "[redacted]");
}

TEST(RedactForDebugTest, AsIstiodTheKeyIsRedactedEvenWhenUnsetAndNothingIsAddedElsewhere) {
  tls::Secret s;
  s.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_bytes("CERT");
  tls::Secret r = Redacted(s);
  EXPECT_EQ(r.tls_certificate().private_key().inline_bytes(), "[redacted]");
  EXPECT_FALSE(r.tls_certificate().has_password());
  EXPECT_FALSE(r.has_generic_secret());

  tls::Secret ca;
  ca.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes("ROOT");
  r = Redacted(ca);
  EXPECT_EQ(r.validation_context().trusted_ca().inline_bytes(), "ROOT");
  EXPECT_FALSE(r.has_tls_certificate());
}

TEST(RedactForDebugTest, AnUnparsableSecretShowsNothingOtherTypesPassThrough) {
  google::protobuf::Any garbage;
  garbage.set_type_url(xds::kSecretType);
  garbage.set_value("\x0a\xff\xff-----BEGIN PRIVATE KEY-----");
  tls::Secret r;
  google::protobuf::Any out = RedactForDebug(garbage);
  ASSERT_TRUE(out.UnpackTo(&r));
  EXPECT_EQ(r.ByteSizeLong(), 0u);

  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("outbound|80||a");
  google::protobuf::Any any;
  any.PackFrom(cluster);
  EXPECT_EQ(RedactForDebug(any).SerializeAsString(), any.SerializeAsString());
}

}  // namespace
}  // namespace keel::pilot::debug
