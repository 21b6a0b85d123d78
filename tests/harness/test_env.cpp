#include "tests/harness/test_env.h"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>

namespace xfp::test {

bool underCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string sourceDir() {
  const char* dir = std::getenv("XFP_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : XFP_SOURCE_DIR_DEFAULT;
}

std::string binaryDir() {
  const char* dir = std::getenv("XFP_BINARY_DIR");
  return dir != nullptr && *dir != '\0' ? dir : XFP_BINARY_DIR_DEFAULT;
}

std::string classbenchDir() {
  if (const char* dir = std::getenv("XFP_CLASSBENCH_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return sourceDir() + "/../shared/data/classbench";
}

std::string missingPrivileges() {
  if (geteuid() != 0) {
    return "needs root (bpf(), network namespaces); run the tests as root";
  }
  return {};
}

int pinToCurrentCpu() {
  const int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
  return cpu;
}

}  // namespace xfp::test
