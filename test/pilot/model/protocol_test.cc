// Istio's protocol selection (kube.ConvertProtocol, protocol.Parse), as the
// model stores it for every Service and ServiceEntry port.
#include "pilot/model/protocol.h"

#include <gtest/gtest.h>

namespace keel::pilot::model {
namespace {

TEST(ProtocolTest, ParseKnowsIstiosNamesInAnyCase) {
  EXPECT_EQ(ParseProtocol("http"), "HTTP");
  EXPECT_EQ(ParseProtocol("gRPC-Web"), "GRPC-WEB");
  EXPECT_EQ(ParseProtocol("Mongo"), "MONGO");
  EXPECT_EQ(ParseProtocol(""), kUnsupportedProtocol);
  EXPECT_EQ(ParseProtocol("status"), kUnsupportedProtocol);
  EXPECT_EQ(ParseProtocol("SCTP"), kUnsupportedProtocol);  // not one of Istio's
}

TEST(ProtocolTest, AServicePortIsNamedByItsPrefixOrAppProtocol) {
  EXPECT_EQ(KubernetesPortProtocol(9080, "http", "TCP", ""), "HTTP");
  EXPECT_EQ(KubernetesPortProtocol(9080, "http-web", "TCP", ""), "HTTP");
  EXPECT_EQ(KubernetesPortProtocol(9080, "grpc-web-ui", "TCP", ""), "GRPC-WEB");
  EXPECT_EQ(KubernetesPortProtocol(9080, "tcp-db", "TCP", ""), "TCP");
  // appProtocol wins over the name, with Kubernetes' own names understood.
  EXPECT_EQ(KubernetesPortProtocol(9080, "tcp", "TCP", "http"), "HTTP");
  EXPECT_EQ(KubernetesPortProtocol(9080, "web", "TCP", "kubernetes.io/h2c"), "HTTP2");
  EXPECT_EQ(KubernetesPortProtocol(9080, "web", "TCP", "kubernetes.io/ws"), "HTTP");
  EXPECT_EQ(KubernetesPortProtocol(9080, "web", "TCP", "kubernetes.io/wss"), "HTTPS");
  // The transport decides first.
  EXPECT_EQ(KubernetesPortProtocol(53, "dns", "UDP", ""), "UDP");
  EXPECT_EQ(KubernetesPortProtocol(9080, "http", "SCTP", ""), "SCTP");
}

TEST(ProtocolTest, UndeclaredPortsAreSniffedExceptWellKnownServerFirstOnes) {
  EXPECT_EQ(KubernetesPortProtocol(15021, "status-port", "TCP", ""), kUnsupportedProtocol);
  EXPECT_EQ(KubernetesPortProtocol(8080, "", "TCP", ""), kUnsupportedProtocol);
  EXPECT_EQ(KubernetesPortProtocol(8080, "web", "TCP", "custom"), kUnsupportedProtocol);
  for (int port : {25, 53, 3306, 27017}) EXPECT_EQ(KubernetesPortProtocol(port, "db", "TCP", ""), "TCP") << port;
  // A declared protocol on a well-known port stays declared.
  EXPECT_EQ(KubernetesPortProtocol(3306, "mysql", "TCP", ""), "MYSQL");
}

}  // namespace
}  // namespace keel::pilot::model
