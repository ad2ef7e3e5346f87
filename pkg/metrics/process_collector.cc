#include "pkg/metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace keel::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fields of /proc/self/stat after "(comm)", numbered as in proc(5) from 3 (state).
std::vector<std::string> StatFields() {
  std::string stat = ReadFile("/proc/self/stat");
  size_t close = stat.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;  // fields[0] is field 3
}

double BootTimeSeconds() {
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

void Collect(Registry& r) {
  static std::mutex mu;  // serializes scrapes: the CPU counter is advanced by differences
  std::lock_guard<std::mutex> lock(mu);
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::vector<std::string> stat = StatFields();
  try {
    if (stat.size() > 21) {
      // utime (14) + stime (15), starttime (22), vsize (23).
      const double cpu = (std::stod(stat[14 - 3]) + std::stod(stat[15 - 3])) / ticks;
      Counter& c = r.GetCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
      if (cpu > c.value()) c.Inc(cpu - c.value());
      static const double start = BootTimeSeconds() + std::stod(stat[22 - 3]) / ticks;
      r.GetGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.").Set(start);
      r.GetGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").Set(std::stod(stat[23 - 3]));
    }
    std::istringstream statm(ReadFile("/proc/self/statm"));
    double size_pages = 0, resident_pages = 0;
    if (statm >> size_pages >> resident_pages) {
      r.GetGauge("process_resident_memory_bytes", "Resident memory size in bytes.").Set(resident_pages * page);
    }
  } catch (const std::exception&) {
    // An unparsable /proc line: keep the previous values.
  }
  if (int fds = OpenFds(); fds >= 0) {
    r.GetGauge("process_open_fds", "Number of open file descriptors.").Set(fds);
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    r.GetGauge("process_max_fds", "Maximum number of open file descriptors.").Set(static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace

void RegisterProcessCollector(Registry& registry) { registry.AddCollector(Collect); }

}  // namespace keel::metrics
