#include "pilot/bootstrap/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::pilot::bootstrap {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(OptionsTest, Defaults) {
  auto o = ParseOptions({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_dir, "");
  EXPECT_EQ(o->kubeconfig, "");
  EXPECT_EQ(o->grpc_addr, "0.0.0.0:15010");
  EXPECT_EQ(o->monitoring_addr, "0.0.0.0:15014");
  EXPECT_EQ(o->domain, "cluster.local");
  EXPECT_EQ(o->log_level, "info");
  EXPECT_EQ(o->system_namespace, "istio-system");
  EXPECT_EQ(o->debounce_after_ms, 100);
  EXPECT_EQ(o->debounce_max_ms, 1000);
  EXPECT_EQ(o->drain_timeout_s, 5);
  EXPECT_EQ(o->max_connections_per_ip, 2048);
  EXPECT_FALSE(o->help);
  EXPECT_FALSE(o->version);
}

TEST(OptionsTest, FlagSpaceValue) {
  auto o = ParseOptions({"--config-dir", "/etc/keel", "--grpc-addr", "127.0.0.1:0", "--monitoring-addr",
                         "[::1]:9999", "--domain", "corp.internal", "--log-level", "debug", "--debounce-after-ms",
                         "5", "--debounce-max-ms", "50"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_dir, "/etc/keel");
  EXPECT_EQ(o->grpc_addr, "127.0.0.1:0");
  EXPECT_EQ(o->monitoring_addr, "[::1]:9999");
  EXPECT_EQ(o->domain, "corp.internal");
  EXPECT_EQ(o->log_level, "debug");
  EXPECT_EQ(o->debounce_after_ms, 5);
  EXPECT_EQ(o->debounce_max_ms, 50);
}

TEST(OptionsTest, FlagEqualsValue) {
  auto o = ParseOptions({"--config-dir=/etc/keel", "--grpc-addr=localhost:15010", "--debounce-after-ms=0",
                         "--domain=a=b"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_dir, "/etc/keel");
  EXPECT_EQ(o->grpc_addr, "localhost:15010");
  EXPECT_EQ(o->debounce_after_ms, 0);
  EXPECT_EQ(o->domain, "a=b") << "only the first '=' separates flag and value";
}

TEST(OptionsTest, LaterFlagWins) {
  auto o = ParseOptions({"--domain", "a.local", "--domain=b.local"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->domain, "b.local");
}

TEST(OptionsTest, InjectionWebhookConfigNameDefaultsToIstiodsAndEmptyTurnsPatchingOff) {
  auto defaults = ParseOptions({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->injection_webhook_config_name, "istio-sidecar-injector");
  auto off = ParseOptions({"--injection-webhook-config-name="});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->injection_webhook_config_name, "");
  auto empty_domain = ParseOptions({"--domain="});
  ASSERT_FALSE(empty_domain.ok()) << "other string flags still refuse an empty value";
  EXPECT_THAT(empty_domain.status().message(), HasSubstr("--domain"));
}

TEST(ServingCertDnsNamesTest, IstiodsNamesTheRevisionsServiceAndCustomHosts) {
  auto plain = ParseOptions({});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ServingCertDnsNames(*plain),
            (std::vector<std::string>{"istiod.istio-system.svc", "istiod-remote.istio-system.svc",
                                      "istio-pilot.istio-system.svc", "istiod.istio-system.svc.cluster.local",
                                      "istiod.istio-system", "istiod"}));
  auto rev = ParseOptions({"--revision", "canary", "--system-namespace", "mesh", "--custom-host", "localhost,istiod"});
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(ServingCertDnsNames(*rev),
            (std::vector<std::string>{"istiod.mesh.svc", "istiod-remote.mesh.svc", "istio-pilot.mesh.svc",
                                      "istiod-canary.mesh.svc", "istiod.mesh.svc.cluster.local", "istiod.mesh",
                                      "istiod", "localhost"}));
  auto default_rev = ParseOptions({"--revision", "default"});
  ASSERT_TRUE(default_rev.ok());
  EXPECT_EQ(ServingCertDnsNames(*default_rev), ServingCertDnsNames(*plain));
}

TEST(OptionsTest, UnknownFlagIsInvalidArgumentNamingIt) {
  auto o = ParseOptions({"--grpc-addr", "127.0.0.1:1", "--bogus-flag", "x"});
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), AllOf(HasSubstr("unknown flag"), HasSubstr("--bogus-flag")));

  auto with_value = ParseOptions({"--bogus=1"});
  ASSERT_EQ(with_value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(with_value.status().message(), HasSubstr("--bogus"));
}

TEST(OptionsTest, PositionalArgumentIsInvalidArgument) {
  auto o = ParseOptions({"serve"});
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("serve"));
}

TEST(OptionsTest, MissingValue) {
  auto o = ParseOptions({"--grpc-addr"});
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("--grpc-addr needs a value"));

  auto empty = ParseOptions({"--config-dir="});
  ASSERT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("--config-dir"));
}

TEST(OptionsTest, BadHostPort) {
  for (const char* bad : {"localhost", "localhost:", "localhost:http", "localhost:65536", "localhost:-1"}) {
    auto o = ParseOptions({"--grpc-addr", bad});
    ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(o.status().message(), HasSubstr("--grpc-addr")) << bad;
  }
  auto o = ParseOptions({"--monitoring-addr=nope"});
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), AllOf(HasSubstr("--monitoring-addr"), HasSubstr("HOST:PORT")));
}

TEST(OptionsTest, BadIntegers) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--debounce-after-ms", "-1"}, {"--debounce-after-ms", "ten"}, {"--debounce-max-ms", "0"},
           {"--debounce-max-ms=1.5"}}) {
    auto o = ParseOptions(args);
    ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << args[0];
    EXPECT_THAT(o.status().message(), HasSubstr("--debounce-")) << args[0];
  }
}

TEST(OptionsTest, StreamBoundsAndPlaintextAuthentication) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_subscribed_names, 100000);
  EXPECT_EQ(d->max_queued_bytes, 128 << 20);
  EXPECT_FALSE(d->xds_auth_plaintext);
  auto o = ParseOptions({"--max-subscribed-names=10", "--max-queued-bytes", "65536", "--xds-auth-plaintext"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_subscribed_names, 10);
  EXPECT_EQ(o->max_queued_bytes, 65536);
  EXPECT_TRUE(o->xds_auth_plaintext);
  for (auto [flag, value] : {std::pair{"--max-subscribed-names", "0"}, std::pair{"--max-queued-bytes", "1000"}}) {
    auto bad = ParseOptions({flag, value});
    ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(bad.status().message(), HasSubstr(flag));
  }
}

TEST(OptionsTest, DrainTimeoutAndConnectionCap) {
  auto o = ParseOptions({"--drain-timeout-s", "0", "--max-connections-per-ip=0"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->drain_timeout_s, 0);
  EXPECT_EQ(o->max_connections_per_ip, 0) << "0: no cap";
  for (const char* flag : {"--drain-timeout-s", "--max-connections-per-ip"}) {
    auto bad = ParseOptions({flag, "-1"});
    ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(bad.status().message(), HasSubstr(flag));
  }
}

TEST(OptionsTest, MaxObjectBytes) {
  EXPECT_EQ(ParseOptions({})->max_object_bytes, 4 << 20);
  EXPECT_EQ(ParseOptions({"--max-object-bytes", "16384"})->max_object_bytes, 16384);
  auto small = ParseOptions({"--max-object-bytes=100"});
  ASSERT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(small.status().message(), HasSubstr("--max-object-bytes"));
}

TEST(OptionsTest, HelpAndVersion) {
  auto help = ParseOptions({"--help"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_TRUE(help->help);
  EXPECT_FALSE(help->version);
  auto short_help = ParseOptions({"-h"});
  ASSERT_TRUE(short_help.ok()) << short_help.status();
  EXPECT_TRUE(short_help->help);
  auto version = ParseOptions({"--version"});
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_TRUE(version->version);
  EXPECT_FALSE(version->help);
}

TEST(OptionsTest, UsageListsEveryFlag) {
  const std::string usage = Usage();
  for (const char* flag : {"--config-dir", "--grpc-addr", "--monitoring-addr", "--domain", "--log-level",
                           "--debounce-after-ms", "--debounce-max-ms", "--drain-timeout-s",
                           "--max-connections-per-ip", "--max-subscribed-names", "--max-queued-bytes",
                           "--xds-auth-plaintext", "--help", "--version"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

TEST(SplitHostPortTest, Splits) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort("0.0.0.0:15010", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 15010);
  ASSERT_TRUE(SplitHostPort("[::1]:8080", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(SplitHostPort("localhost:0", &host, &port).ok());
  EXPECT_EQ(port, 0);
}

TEST(SplitHostPortTest, Rejects) {
  std::string host;
  int port = 0;
  for (const char* bad : {"", "15010", "host:", "host:70000", "host:x", "[::1]"}) {
    EXPECT_EQ(SplitHostPort(bad, &host, &port).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// An unbracketed IPv6 address is ambiguous ("::1" is not host "::" port 1);
// Go's net.SplitHostPort, which istiod uses, rejects it with "too many colons".
TEST(SplitHostPortTest, RejectsUnbracketedIpv6) {
  std::string host;
  int port = 0;
  EXPECT_EQ(SplitHostPort("::1", &host, &port).code(), absl::StatusCode::kInvalidArgument)
      << "parsed as host \"" << host << "\" port " << port;
  EXPECT_EQ(SplitHostPort("fe80::1:8080", &host, &port).code(), absl::StatusCode::kInvalidArgument)
      << "parsed as host \"" << host << "\" port " << port;
}

}  // namespace
}  // namespace keel::pilot::bootstrap

namespace keel::pilot::bootstrap {
namespace {

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    static thread_local std::string value;
    auto it = vars.find(name);
    if (it == vars.end()) return nullptr;
    value = it->second;
    return value.c_str();
  };
}

TEST(IstiodEnvTest, PilotVariablesBecomeFlagsThatTheCommandLineOverrides) {
  auto flags = FlagsFromIstiodEnv(Env({{"PILOT_DEBOUNCE_AFTER", "250ms"}, {"PILOT_DEBOUNCE_MAX", "2s"},
                                       {"PILOT_PUSH_THROTTLE", "4"}, {"PILOT_JWT_PUB_KEY_REFRESH_INTERVAL", "5m"},
                                       {"UNRELATED", "x"}}));
  ASSERT_TRUE(flags.ok()) << flags.status();
  std::vector<std::string> args = *flags;
  auto o = ParseOptions(args);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->debounce_after_ms, 250);
  EXPECT_EQ(o->debounce_max_ms, 2000);
  EXPECT_EQ(o->push_throttle, 4);
  EXPECT_EQ(o->jwks_refresh_interval, "5m");
  args.push_back("--debounce-after-ms=10");
  EXPECT_EQ(ParseOptions(args)->debounce_after_ms, 10) << "the command line wins";
  EXPECT_TRUE(FlagsFromIstiodEnv(Env({}))->empty());
}

TEST(IstiodEnvTest, BadValuesNameTheVariable) {
  EXPECT_THAT(FlagsFromIstiodEnv(Env({{"PILOT_DEBOUNCE_AFTER", "soon"}})).status().message(),
              ::testing::HasSubstr("PILOT_DEBOUNCE_AFTER"));
  EXPECT_THAT(FlagsFromIstiodEnv(Env({{"XDS_AUTH_PLAINTEXT", "maybe"}})).status().message(),
              ::testing::HasSubstr("XDS_AUTH_PLAINTEXT"));
  auto on = FlagsFromIstiodEnv(Env({{"XDS_AUTH_PLAINTEXT", "true"}}));
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(ParseOptions(*on)->xds_auth_plaintext);
}

}  // namespace
}  // namespace keel::pilot::bootstrap
