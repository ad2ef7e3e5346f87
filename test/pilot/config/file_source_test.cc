#include "pilot/config/file_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "keel/k8s/v1/objects.pb.h"

namespace keel::pilot::config {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::IsEmpty;

std::string ServiceYaml(const std::string& name, int port) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  ports: [{name: http, port: " +
         std::to_string(port) + "}]\n";
}

std::string VirtualServiceYaml(const std::string& name, int weight_v1, int weight_v3) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name +
         "}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n"
         "    - {destination: {host: reviews, subset: v1}, weight: " + std::to_string(weight_v1) + "}\n"
         "    - {destination: {host: reviews, subset: v3}, weight: " + std::to_string(weight_v3) + "}\n";
}

// Records every batch the source delivers.
class Recorder {
 public:
  model::ConfigSource::EventHandler Handler() {
    return [this](const std::vector<model::ConfigEvent>& events) {
      std::lock_guard<std::mutex> lock(mu_);
      batches_.push_back(events);
    };
  }
  std::vector<std::vector<model::ConfigEvent>> batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  size_t size() const { return batches().size(); }
  std::vector<model::ConfigEvent> last() const {
    auto b = batches();
    return b.empty() ? std::vector<model::ConfigEvent>{} : b.back();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::vector<model::ConfigEvent>> batches_;
};

std::vector<std::string> Names(const std::vector<model::ConfigEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.key.ToString() + (e.config ? "" : " (deleted)"));
  return out;
}

int ServicePort(const model::ConfigEvent& e) {
  return e.config->As<keel::k8s::v1::Service>().spec().ports(0).port();
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "keel-file-source-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (source_) source_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Write(const std::string& rel, const std::string& content) {
    fs::path path = fs::path(dir_) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }

  // Creates the source (with a poll interval long enough that only explicit
  // Rescan() calls scan) and starts it.
  void Start() {
    auto source = FileSource::Create({dir_, std::chrono::hours(1)});
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
    ASSERT_TRUE(source_->Start(recorder_.Handler()).ok());
  }

  std::string dir_;
  Recorder recorder_;
  std::unique_ptr<FileSource> source_;
};

TEST_F(FileSourceTest, CreateFailsForMissingDirectory) {
  auto source = FileSource::Create({dir_ + "/does-not-exist", std::chrono::hours(1)});
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(source.status().message(), HasSubstr("does-not-exist"));
}

TEST_F(FileSourceTest, CreateFailsForARegularFile) {
  Write("file.yaml", ServiceYaml("a", 80));
  auto source = FileSource::Create({dir_ + "/file.yaml", std::chrono::hours(1)});
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FileSourceTest, StartDeliversConfigFilesRecursivelySkippingHiddenAndOtherExtensions) {
  Write("a.yaml", ServiceYaml("a", 80));
  Write("sub/b.yml", ServiceYaml("b", 80));
  Write("sub/deeper/c.json",
        R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c"}, "spec": {"ports": [{"port": 80}]}})");
  Write(".hidden.yaml", ServiceYaml("hidden-file", 80));
  Write(".git/d.yaml", ServiceYaml("hidden-dir", 80));
  Write("sub/.cache/e.yaml", ServiceYaml("nested-hidden-dir", 80));
  Write("notes.txt", ServiceYaml("txt", 80));
  Write("f.yaml.bak", ServiceYaml("bak", 80));
  Write("Makefile", ServiceYaml("noext", 80));

  Start();
  EXPECT_TRUE(source_->HasSynced());
  ASSERT_EQ(recorder_.size(), 1u);
  EXPECT_THAT(Names(recorder_.last()),
              UnorderedElementsAre("Service default/a", "Service default/b", "Service default/c"));
  for (const auto& e : recorder_.last()) ASSERT_NE(e.config, nullptr);
  EXPECT_THAT(source_->Errors(), IsEmpty());
}

TEST_F(FileSourceTest, OriginNamesFileAndDocumentIndex) {
  Write("sub/two.yaml", ServiceYaml("a", 80) + "---\n" + ServiceYaml("b", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  std::map<std::string, std::string> origin;
  for (const auto& e : recorder_.last()) origin[e.key.name] = e.config->meta.origin;
  EXPECT_EQ(origin["a"], "sub/two.yaml#0");
  EXPECT_EQ(origin["b"], "sub/two.yaml#1");
}

TEST_F(FileSourceTest, UnchangedRescanDeliversNothing) {
  Write("a.yaml", ServiceYaml("a", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  source_->Rescan();
  source_->Rescan();
  EXPECT_EQ(recorder_.size(), 1u);
}

TEST_F(FileSourceTest, ModifiedFileDeliversUpsert) {
  Write("a.yaml", ServiceYaml("a", 80));
  Write("b.yaml", ServiceYaml("b", 80));
  Start();
  Write("a.yaml", ServiceYaml("a", 8080));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  auto events = recorder_.last();
  ASSERT_EQ(events.size(), 1u) << ::testing::PrintToString(Names(events));
  EXPECT_EQ(events[0].key.ToString(), "Service default/a");
  ASSERT_NE(events[0].config, nullptr);
  EXPECT_EQ(ServicePort(events[0]), 8080);
}

TEST_F(FileSourceTest, NewFileDeliversUpsert) {
  Write("a.yaml", ServiceYaml("a", 80));
  Start();
  Write("sub/new.yaml", ServiceYaml("n", 80));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  EXPECT_THAT(Names(recorder_.last()), UnorderedElementsAre("Service default/n"));
}

TEST_F(FileSourceTest, DeletedFileDeliversDelete) {
  Write("a.yaml", ServiceYaml("a", 80));
  Write("b.yaml", ServiceYaml("b", 80));
  Start();
  fs::remove(fs::path(dir_) / "a.yaml");
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  auto events = recorder_.last();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key.ToString(), "Service default/a");
  EXPECT_EQ(events[0].config, nullptr);
}

TEST_F(FileSourceTest, DocumentRemovedFromFileDeliversDelete) {
  Write("two.yaml", ServiceYaml("a", 80) + "---\n" + ServiceYaml("b", 80));
  Start();
  Write("two.yaml", ServiceYaml("b", 80));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  EXPECT_THAT(Names(recorder_.last()), ::testing::Contains("Service default/a (deleted)"));
}

TEST_F(FileSourceTest, YamlSyntaxErrorKeepsPreviousObjects) {
  Write("a.yaml", ServiceYaml("a", 80));
  Write("b.yaml", ServiceYaml("b", 80));
  Start();
  Write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a\n  ports: [\n");
  source_->Rescan();
  EXPECT_EQ(recorder_.size(), 1u) << "a syntax error must not delete what the file held";
  auto errors = source_->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("a.yaml"), HasSubstr("line")));

  // Fixing the file clears the error and delivers the new version.
  Write("a.yaml", ServiceYaml("a", 81));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  auto events = recorder_.last();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(ServicePort(events[0]), 81);
  EXPECT_THAT(source_->Errors(), IsEmpty());
}

// Before: `a: &x [*x]` was SIGSEGV (recursion in AppendNode) and a 40,000-digit
// plain scalar a stack overflow in std::regex, at startup too.
TEST_F(FileSourceTest, AliasCycleAndHugeNumberAreRefusedNamingFileAndLine) {
  Write("a.yaml", ServiceYaml("a", 80));
  Write("cycle.yaml", ServiceYaml("c", 80));
  Write("number.yaml", ServiceYaml("n", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  Write("cycle.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: &x\n  ports: [*x]\n");
  Write("number.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: n}\nspec:\n  ports:\n  - port: " +
                           std::string(40000, '9') + "\n");
  Write("a.yaml", ServiceYaml("a", 81));
  source_->Rescan();
  // The good change is delivered; what the broken files held stays.
  ASSERT_EQ(recorder_.size(), 2u);
  EXPECT_THAT(Names(recorder_.last()), UnorderedElementsAre("Service default/a"));
  auto errors = source_->Errors();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("cycle.yaml: line 5, column 11: alias *x refers to a node that contains it")));
  EXPECT_THAT(errors[1], AllOf(HasSubstr("number.yaml: line 6, column 11: number 99999999999999999999... "
                                         "(40000 characters) is too large for a double")));

  // At startup too: a fresh source serves the rest.
  source_->Stop();
  source_.reset();
  Recorder fresh;
  auto source = FileSource::Create({dir_, std::chrono::hours(1)});
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Start(fresh.Handler()).ok());
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_THAT(Names(fresh.last()), UnorderedElementsAre("Service default/a"));
  EXPECT_EQ((*source)->Errors().size(), 2u);
  (*source)->Stop();
}

TEST_F(FileSourceTest, InvalidDocumentKeepsLastGoodVersionWhileOthersUpdate) {
  Write("mixed.yaml", VirtualServiceYaml("x", 50, 50) + "---\n" + ServiceYaml("y", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  model::ConfigPtr good_vs;
  for (const auto& e : recorder_.last()) {
    if (e.key.name == "x") good_vs = e.config;
  }
  ASSERT_NE(good_vs, nullptr);

  Write("mixed.yaml", VirtualServiceYaml("x", 0, 0) + "---\n" + ServiceYaml("y", 8080));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 2u);
  auto events = recorder_.last();
  ASSERT_EQ(events.size(), 1u) << ::testing::PrintToString(Names(events));
  EXPECT_EQ(events[0].key.ToString(), "Service default/y");
  EXPECT_EQ(ServicePort(events[0]), 8080);
  auto errors = source_->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("mixed.yaml#0"), HasSubstr("VirtualService default/x"),
                               HasSubstr("spec.http[0].route")));

  // Another edit elsewhere in the file still keeps (does not delete) the last good VS.
  Write("mixed.yaml", VirtualServiceYaml("x", 0, 0) + "---\n" + ServiceYaml("y", 8081));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 3u);
  EXPECT_THAT(Names(recorder_.last()), UnorderedElementsAre("Service default/y"));

  // Fixing it delivers the new version.
  Write("mixed.yaml", VirtualServiceYaml("x", 20, 80) + "---\n" + ServiceYaml("y", 8081));
  source_->Rescan();
  ASSERT_EQ(recorder_.size(), 4u);
  // (Unchanged documents of a changed file may be re-delivered as upserts; the
  // store drops those as no change.)
  model::ConfigPtr fixed_vs;
  for (const auto& e : recorder_.last()) {
    ASSERT_NE(e.config, nullptr) << e.key.ToString();
    if (e.key.ToString() == "VirtualService default/x") fixed_vs = e.config;
  }
  ASSERT_NE(fixed_vs, nullptr);
  EXPECT_NE(fixed_vs, good_vs);
  EXPECT_THAT(source_->Errors(), IsEmpty());
}

TEST_F(FileSourceTest, InvalidDocumentOnFirstLoadIsReportedNotDelivered) {
  Write("bad.yaml", VirtualServiceYaml("x", 0, 0) + "---\n" + ServiceYaml("y", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  EXPECT_THAT(Names(recorder_.last()), UnorderedElementsAre("Service default/y"));
  auto errors = source_->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("bad.yaml#0"), HasSubstr("total destination weight = 0")));
}

TEST_F(FileSourceTest, KindsKeelDoesNotUseAreSkippedQuietly) {
  Write("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews}\nspec: {replicas: 1}\n---\n" +
                           ServiceYaml("a", 80));
  Start();
  ASSERT_EQ(recorder_.size(), 1u);
  EXPECT_THAT(Names(recorder_.last()), UnorderedElementsAre("Service default/a"));
  EXPECT_THAT(source_->Errors(), IsEmpty());
}

TEST_F(FileSourceTest, EmptyDirectorySyncsWithNoBatch) {
  Start();
  EXPECT_TRUE(source_->HasSynced());
  for (const auto& batch : recorder_.batches()) EXPECT_THAT(batch, IsEmpty());
}

}  // namespace
}  // namespace keel::pilot::config
