// libFuzzer target: arbitrary bytes as the messages of one ADS stream, state of
// the world or delta, into Keel's AdsServer (the real gRPC service, on an
// in-process channel) while the Bookinfo mesh, or Bookinfo without `reviews`,
// is pushed in between. What this drives is the whole request path: parsing
// the raw message, identifying the proxy from the node, ACK/NACK bookkeeping,
// subscriptions, and the responses the generators build for that proxy.
//
// Input: byte 0 picks the variant (bit 0: 1 = delta). Then records of
//   [op: 1 byte][length: 2 bytes, big-endian][payload: length bytes]
// (a short last record takes what is left). Op bit 0 clear: payload is one
// request message, sent as is; with op bit 1 set it answers our last response
// of its type_url (its response_nonce becomes that response's nonce, since nonces name
// the stream and cannot be in an input), which is how ACKs and NACKs reach
// Keel's bookkeeping. Op bit 0 set: a push of mesh
// payload[0] % 2 (0 = Bookinfo, 1 = without reviews), forced if op bit 1 is set.
// test/fuzz/make_corpus.py writes seeds in this format.
//
// Checked besides not crashing: the stream ends within 20 s of the client's
// half-close with OK or INVALID_ARGUMENT (an unparsable message, a bad node),
// and every response parses as the variant's response type with a type URL.
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/config/config_parser.h"
#include "pilot/model/config_store.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/ads_server.h"
#include "pkg/yaml/yaml_json.h"

namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using RawStream = grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
using keel::pilot::model::ConfigSnapshot;

constexpr size_t kMaxRecords = 32;
constexpr auto kStreamDeadline = std::chrono::seconds(20);  // generous: ASan on a loaded machine

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "xds_request_fuzzer: %s\n", what.c_str());
  std::abort();
}

// Every object of examples/bookinfo; without those named reviews* when `drop_reviews`.
ConfigSnapshot Bookinfo(bool drop_reviews) {
  keel::pilot::model::ConfigStore store;
  std::vector<keel::pilot::model::ConfigEvent> events;
  for (const char* file : {"namespace.yaml", "services.yaml", "pods.yaml", "destination-rules.yaml",
                           "bookinfo-gateway.yaml"}) {
    std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/examples/bookinfo/" + file);
    std::stringstream text;
    text << in.rdbuf();
    auto docs = keel::yaml::YamlToJson(text.str());
    if (!docs.ok()) Fail(std::string("examples/bookinfo/") + file + ": " + docs.status().ToString());
    for (const auto& doc : *docs) {
      auto config = keel::pilot::config::ParseConfig(doc.json, file);
      if (!config.ok()) Fail(std::string("examples/bookinfo/") + file + ": " + config.status().ToString());
      if (drop_reviews && absl::StartsWith((*config)->key.name, "reviews")) continue;
      events.push_back({(*config)->key, *config});
    }
  }
  store.Apply(events);
  return store.Snapshot();
}

struct Fixture {
  Fixture() : ads(keel::pilot::xds::MakeGenerators()) {
    meshes[0] = Bookinfo(false);
    meshes[1] = Bookinfo(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(&ads);
    server = builder.BuildAndStart();
    if (!server) Fail("the in-process gRPC server did not start");
    channel = server->InProcessChannel(grpc::ChannelArguments());
    Push(0, true);
  }

  void Push(int mesh, bool forced) {
    keel::pilot::xds::PushRequest request;
    request.forced = forced;
    request.start = std::chrono::steady_clock::now();
    ads.Push(keel::pilot::model::PushContext::Build(meshes[mesh], {}, ++version), request);
  }

  keel::pilot::xds::AdsServer ads;
  ConfigSnapshot meshes[2];
  uint64_t version = 0;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
};

Fixture* fixture = nullptr;

grpc::ByteBuffer Bytes(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  return grpc::ByteBuffer(&slice, 1);
}

// Reads the stream's responses on its own thread until the server ends it,
// checking each and keeping the last nonce of every type URL.
template <typename Request, typename Response>
class Reader {
 public:
  explicit Reader(RawStream* stream) : thread_([this, stream] { Run(stream); }) {}
  ~Reader() { thread_.join(); }

  // `request` answering our last response of its type: response_nonce set to its
  // nonce. When its type was requested on this stream and no response of it has
  // come yet, waits for one up to 100 ms (in process a response takes far less).
  grpc::ByteBuffer Answer(const uint8_t* data, size_t size) {
    Request request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) return Bytes(data, size);
    std::unique_lock<std::mutex> lock(mu_);
    if (requested_.count(request.type_url())) {
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return done_ || nonces_.count(request.type_url()); });
    }
    if (auto it = nonces_.find(request.type_url()); it != nonces_.end()) request.set_response_nonce(it->second);
    requested_.insert(request.type_url());
    lock.unlock();
    const std::string bytes = request.SerializeAsString();
    return Bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }

  // `data`, sent as is; notes its type URL if it parses.
  grpc::ByteBuffer AsIs(const uint8_t* data, size_t size) {
    Request request;
    if (request.ParseFromArray(data, static_cast<int>(size))) {
      std::lock_guard<std::mutex> lock(mu_);
      requested_.insert(request.type_url());
    }
    return Bytes(data, size);
  }

 private:
  void Run(RawStream* stream) {
    grpc::ByteBuffer bytes;
    while (stream->Read(&bytes)) {
      Response response;
      if (!grpc::SerializationTraits<Response>::Deserialize(&bytes, &response).ok()) {
        Fail("a response that does not parse as " + Response::descriptor()->full_name());
      }
      if (response.type_url().empty()) Fail("a response without type_url");
      std::lock_guard<std::mutex> lock(mu_);
      nonces_[response.type_url()] = response.nonce();
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> nonces_;
  std::set<std::string> requested_;  // type URLs of the requests sent
  bool done_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

template <typename Request, typename Response>
void RunStream(const char* method, const uint8_t* data, size_t size) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kStreamDeadline);
  // What a generated stub does for a bidi method, with raw bytes for messages.
  std::unique_ptr<RawStream> stream(grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
      fixture->channel.get(), grpc::internal::RpcMethod(method, grpc::internal::RpcMethod::BIDI_STREAMING), &context));
  {
    Reader<Request, Response> reader(stream.get());
    size_t pos = 1;
    for (size_t records = 0; pos < size && records < kMaxRecords; ++records) {
      const uint8_t op = data[pos++];
      size_t length = 0;
      if (pos + 2 <= size) length = (size_t{data[pos]} << 8) | data[pos + 1];
      pos = std::min(pos + 2, size);
      length = std::min(length, size - pos);
      const uint8_t* payload = data + pos;
      pos += length;
      if (op & 1) {
        fixture->Push(length > 0 ? payload[0] % 2 : 0, op & 2);
        continue;
      }
      if (!stream->Write(op & 2 ? reader.Answer(payload, length) : reader.AsIs(payload, length))) {
        break;  // the server ended the stream
      }
    }
    stream->WritesDone();
  }  // the reader has seen the end of the stream
  const grpc::Status status = stream->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Fail("the stream did not end within 20 s of the client's half-close");
  }
  if (!status.ok() && status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    Fail("the stream ended with " + std::to_string(status.error_code()) + ": " + status.error_message());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A line per stream (Keel's) or per invalid UTF-8 string (protobuf's) would drown libFuzzer's output;
  // KEEL_FUZZ_LOG=debug (or info, ...) shows Keel's, to see what one input does.
  const char* level = std::getenv("KEEL_FUZZ_LOG");
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  fixture = new Fixture();                // lives until exit
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) {
    RunStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources", data, size);
  } else {
    RunStream<DiscoveryRequest, DiscoveryResponse>(
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", data, size);
  }
  return 0;
}
