// ca_bench: how many workload certificates Keel's CA signs per second.
//
//   ca_bench sign [--seconds S] [--threads N] [--ca-key rsa|ec] [--csr-key rsa|ec]
//       IstioCa::Sign in-process, for {RSA 2048, ECDSA P-256} CA keys x CSR keys.
//   ca_bench grpc --addr HOST:PORT --token-file F [--root-file R --target-name N]
//                 [--csr-key rsa|ec|none] [--concurrency C] [--seconds S]
//       CreateCertificate against a running keel-discovery (TLS when --root-file is
//       given). Every call carries the same token, so every call pays Keel's
//       TokenReview round trip to the API server, as in production.
//
// CSRs are made before the clock starts (a pool of 64, reused) so the client's own
// key generation is not measured. Prints one line per configuration.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "citadel/ca/cert_signer.h"
#include "security/v1alpha1/ca.grpc.pb.h"
#include "pkg/crypto/openssl.h"

namespace {

using Clock = std::chrono::steady_clock;
using keel::crypto::KeyType;

const char* Name(KeyType t) { return t == KeyType::kRsa2048 ? "RSA-2048" : "ECDSA-P256"; }

std::map<std::string, std::string> Flags(int argc, char** argv, int first) {
  std::map<std::string, std::string> out;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::fprintf(stderr, "ca_bench: bad argument %s\n", a.c_str());
      std::exit(2);
    }
    out[a.substr(2)] = argv[++i];
  }
  return out;
}

std::string Flag(const std::map<std::string, std::string>& f, const std::string& k, const std::string& def) {
  auto it = f.find(k);
  return it == f.end() ? def : it->second;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "ca_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  std::string out = s.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<std::string> CsrPool(KeyType type, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto key = keel::crypto::GenerateKey(type);
    auto csr = keel::crypto::MakeCsrPem(key->get(), {}, {});
    if (!csr.ok()) std::abort();
    out.push_back(*csr);
  }
  return out;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int RunSign(const std::map<std::string, std::string>& flags) {
  const double seconds = std::stod(Flag(flags, "seconds", "3"));
  const int max_threads = std::stoi(Flag(flags, "threads", std::to_string(std::thread::hardware_concurrency())));
  const std::string only_ca = Flag(flags, "ca-key", ""), only_csr = Flag(flags, "csr-key", "");
  auto wanted = [](const std::string& only, KeyType t) {
    return only.empty() || (only == "rsa") == (t == KeyType::kRsa2048);
  };
  std::printf("%-12s %-12s %8s %12s\n", "CA key", "CSR key", "threads", "signs/s");
  for (KeyType ca_key : {KeyType::kRsa2048, KeyType::kEcdsaP256}) {
    if (!wanted(only_ca, ca_key)) continue;
    keel::citadel::ca::CaOptions options;
    options.key_type = ca_key;
    auto files = keel::citadel::ca::CreateSelfSignedRoot(options);
    auto bundle = keel::citadel::ca::KeyCertBundle::Create(*files);
    keel::citadel::ca::IstioCa ca(options, *bundle);
    for (KeyType csr_key : {KeyType::kRsa2048, KeyType::kEcdsaP256}) {
      if (!wanted(only_csr, csr_key)) continue;
      const auto csrs = CsrPool(csr_key, 64);
      for (int threads = 1; threads <= max_threads; threads *= 2) {
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> done{0};
        std::vector<std::thread> workers;
        const auto start = Clock::now();
        for (int t = 0; t < threads; ++t) {
          workers.emplace_back([&, t] {
            keel::citadel::ca::SignRequest r;
            r.uri_sans = {"spiffe://cluster.local/ns/bench/sa/bench"};
            for (size_t i = t; !stop.load(std::memory_order_relaxed); ++i) {
              r.csr_pem = csrs[i % csrs.size()];
              if (!ca.Sign(r).ok()) std::abort();
              done.fetch_add(1, std::memory_order_relaxed);
            }
          });
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        stop = true;
        for (auto& w : workers) w.join();
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        std::printf("%-12s %-12s %8d %12.0f\n", Name(ca_key), Name(csr_key), threads, done.load() / elapsed);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

int RunGrpc(const std::map<std::string, std::string>& flags) {
  const std::string addr = Flag(flags, "addr", "");
  const std::string token = ReadFile(Flag(flags, "token-file", ""));
  const std::string root_file = Flag(flags, "root-file", "");
  const std::string target = Flag(flags, "target-name", "istiod.istio-system.svc");
  // --csr-key none: a CSR that does not parse. The call still pays gRPC and TokenReview and is
  // refused with INVALID_ARGUMENT before any signing: the ceiling without cryptography.
  const std::string csr_flag = Flag(flags, "csr-key", "ec");
  const bool no_csr = csr_flag == "none";
  const KeyType csr_key = csr_flag == "rsa" ? KeyType::kRsa2048 : KeyType::kEcdsaP256;
  const int concurrency = std::stoi(Flag(flags, "concurrency", "16"));
  const double seconds = std::stod(Flag(flags, "seconds", "5"));
  const std::string label = Flag(flags, "label", "");
  const auto csrs = no_csr ? std::vector<std::string>{"not a CSR"} : CsrPool(csr_key, 64);
  auto expected = [no_csr](const grpc::Status& st, const istio::v1::auth::IstioCertificateResponse& resp) {
    return no_csr ? st.error_code() == grpc::StatusCode::INVALID_ARGUMENT : st.ok() && resp.cert_chain_size() >= 2;
  };

  // One channel (HTTP/2 connection) per 4 callers: the client never serialises on one connection.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < (concurrency + 3) / 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct channels, not a shared subchannel
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    if (!root_file.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(root_file) + "\n";
      creds = grpc::SslCredentials(ssl);
      args.SetSslTargetNameOverride(target);
    }
    channels.push_back(grpc::CreateCustomChannel(addr, creds, args));
  }
  // Warm up: connect every channel and check one call succeeds.
  for (auto& ch : channels) {
    auto stub = istio::v1::auth::IstioCertificateService::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    istio::v1::auth::IstioCertificateRequest req;
    req.set_csr(csrs[0]);
    istio::v1::auth::IstioCertificateResponse resp;
    auto st = stub->CreateCertificate(&ctx, req, &resp);
    if (!expected(st, resp)) {
      std::fprintf(stderr, "ca_bench: warm-up call failed: %d %s\n", st.error_code(), st.error_message().c_str());
      return 1;
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0}, failed{0};
  std::vector<std::vector<double>> latencies(concurrency);
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    workers.emplace_back([&, t] {
      auto stub = istio::v1::auth::IstioCertificateService::NewStub(channels[t / 4]);
      istio::v1::auth::IstioCertificateRequest req;
      for (size_t i = t; !stop.load(std::memory_order_relaxed); ++i) {
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", "Bearer " + token);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        req.set_csr(csrs[i % csrs.size()]);
        istio::v1::auth::IstioCertificateResponse resp;
        const auto t0 = Clock::now();
        auto st = stub->CreateCertificate(&ctx, req, &resp);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (expected(st, resp)) {
          ok.fetch_add(1, std::memory_order_relaxed);
          latencies[t].push_back(ms);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
  std::printf("%s%s csr=%s concurrency=%d: %.0f calls/s (ok %llu, failed %llu in %.1f s), p50 %.1f ms, p99 %.1f ms\n",
              label.c_str(), root_file.empty() ? "plaintext" : "TLS", no_csr ? "none" : Name(csr_key), concurrency,
              static_cast<double>(ok.load()) / elapsed, static_cast<unsigned long long>(ok.load()),
              static_cast<unsigned long long>(failed.load()), elapsed, p50, p99);
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sign") return RunSign(Flags(argc, argv, 2));
  if (mode == "grpc") return RunGrpc(Flags(argc, argv, 2));
  std::fprintf(stderr, "usage: ca_bench sign [--seconds S] [--threads N] [--ca-key rsa|ec] [--csr-key rsa|ec]\n"
                       "       ca_bench grpc --addr HOST:PORT --token-file F [--root-file R] [--target-name N]\n"
                       "                     [--csr-key rsa|ec|none] [--concurrency C] [--seconds S] [--label L]\n");
  return 2;
}
