#include "pkg/kube/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"

extern char** environ;

namespace keel::kube {
namespace {

std::string StructString(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "" : it->second.string_value();
}

}  // namespace

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env, absl::Duration timeout) {
  const std::string name = argv.empty() ? "" : argv[0];
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat("exec ", name, ": pipe failed"));
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError(absl::StrCat("exec ", name, ": fork failed"));
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  std::string out, err;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? out : err).append(buf, n);
      }
    }
  }
  for (auto& f : fds) if (f.fd >= 0) close(f.fd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) return absl::UnavailableError(absl::StrCat("exec ", name, ": timed out"));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(absl::StrCat("exec ", name, ": exit status ",
                                               WIFEXITED(status) ? WEXITSTATUS(status) : -1, ": ", err));
  }
  return out;
}

absl::StatusOr<Credential> CredentialProvider::RunExecLocked() {
  const ExecConfig& e = *config_.exec;
  google::protobuf::Struct info;
  (*info.mutable_fields())["apiVersion"].set_string_value(e.api_version);
  (*info.mutable_fields())["kind"].set_string_value("ExecCredential");
  auto* spec = (*info.mutable_fields())["spec"].mutable_struct_value();
  (*spec->mutable_fields())["interactive"].set_bool_value(false);
  if (e.provide_cluster_info) {
    auto* cluster = (*spec->mutable_fields())["cluster"].mutable_struct_value();
    (*cluster->mutable_fields())["server"].set_string_value(config_.server);
    if (!config_.ca_pem.empty()) {
      (*cluster->mutable_fields())["certificate-authority-data"].set_string_value(absl::Base64Escape(config_.ca_pem));
    }
  }
  std::string info_json;
  (void)google::protobuf::util::MessageToJsonString(info, &info_json);
  std::map<std::string, std::string> env = e.env;
  env["KUBERNETES_EXEC_INFO"] = info_json;
  std::vector<std::string> argv{e.command};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  ++exec_runs_;
  auto out = RunCommand(argv, env, absl::Seconds(60));
  if (!out.ok()) return absl::UnauthenticatedError(absl::StrCat("credential plugin: ", out.status().message()));

  google::protobuf::Struct cred;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(*out, &cred, options).ok()) {
    return absl::UnauthenticatedError(absl::StrCat("credential plugin ", e.command, ": output is not JSON"));
  }
  if (StructString(cred, "apiVersion") != e.api_version || StructString(cred, "kind") != "ExecCredential") {
    return absl::UnauthenticatedError(absl::StrCat("credential plugin ", e.command, ": want kind ExecCredential of ",
                                                   e.api_version, ", got ", StructString(cred, "kind"), " ",
                                                   StructString(cred, "apiVersion")));
  }
  const auto& status = cred.fields().count("status") ? cred.fields().at("status").struct_value()
                                                     : google::protobuf::Struct::default_instance();
  Credential c;
  c.bearer_token = StructString(status, "token");
  c.client_cert_pem = StructString(status, "clientCertificateData");
  c.client_key_pem = StructString(status, "clientKeyData");
  if (c.bearer_token.empty() && c.client_cert_pem.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("credential plugin ", e.command, ": no token or client certificate"));
  }
  exec_expiry_ = absl::InfiniteFuture();
  if (std::string exp = StructString(status, "expirationTimestamp"); !exp.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, exp, &exec_expiry_, &err)) {
      return absl::UnauthenticatedError(absl::StrCat("credential plugin ", e.command, ": expirationTimestamp \"", exp,
                                                     "\": ", err));
    }
  }
  exec_cached_ = c;
  return c;
}

absl::StatusOr<Credential> CredentialProvider::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  Credential c;
  c.client_cert_pem = config_.client_cert_pem;
  c.client_key_pem = config_.client_key_pem;
  c.bearer_token = config_.token;
  if (c.bearer_token.empty() && !config_.token_file.empty()) {
    struct stat st;
    if (stat(config_.token_file.c_str(), &st) != 0) {
      return absl::UnauthenticatedError(absl::StrCat("token file ", config_.token_file, ": cannot stat"));
    }
    const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime != token_file_mtime_) {
      std::ifstream in(config_.token_file);
      std::ostringstream buf;
      buf << in.rdbuf();
      token_file_content_ = std::string(absl::StripAsciiWhitespace(buf.str()));
      token_file_mtime_ = mtime;
    }
    c.bearer_token = token_file_content_;
  }
  if (config_.exec && c.bearer_token.empty() && c.client_cert_pem.empty()) {
    // Refresh a little before expiry so a request never carries an expired token.
    if (!exec_cached_ || absl::Now() + absl::Seconds(10) >= exec_expiry_) {
      auto fresh = RunExecLocked();
      if (!fresh.ok()) return fresh.status();
    }
    return *exec_cached_;
  }
  return c;
}

void CredentialProvider::Invalidate(const Credential& failed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (exec_cached_ && exec_cached_->bearer_token == failed.bearer_token &&
      exec_cached_->client_cert_pem == failed.client_cert_pem) {
    exec_cached_.reset();
  }
  if (!config_.token_file.empty() && token_file_content_ == failed.bearer_token) token_file_mtime_ = -1;
}

int CredentialProvider::exec_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_runs_;
}

}  // namespace keel::kube
