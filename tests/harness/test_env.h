// Test environment helpers: where the sources and shared data are, and the one place that
// decides whether a privileged test may skip (never under CI=true).
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace xfp::test {

// True when the CI environment variable is "true": skipping a test is then a failure.
bool underCi();

// The project source directory ($XFP_SOURCE_DIR, else the one this build was configured from).
std::string sourceDir();

// The build directory ($XFP_BINARY_DIR, else this build's), for tests that run built binaries.
std::string binaryDir();

// The ClassBench data directory: $XFP_CLASSBENCH_DIR, else <source>/../shared/data/classbench.
std::string classbenchDir();

// Empty when the process may use bpf() and netns; otherwise the reason it may not.
std::string missingPrivileges();

// Pins the calling thread to the CPU it runs on and returns it, so the per-CPU map slot a
// BPF_PROG_TEST_RUN writes is known.
int pinToCurrentCpu();

}  // namespace xfp::test

// Skips the test outside CI when a precondition is missing; fails it under CI=true.
#define XFP_SKIP_OR_FAIL(reason)                                              \
  do {                                                                        \
    if (::xfp::test::underCi()) {                                             \
      GTEST_FAIL() << "required under CI=true but unavailable: " << (reason); \
    }                                                                         \
    GTEST_SKIP() << (reason);                                                 \
  } while (0)

// Use at the top of every test that needs root (bpf(), netns, veth).
#define XFP_REQUIRE_ROOT()                                          \
  do {                                                              \
    const std::string xfpWhyNot = ::xfp::test::missingPrivileges(); \
    if (!xfpWhyNot.empty()) {                                       \
      XFP_SKIP_OR_FAIL(xfpWhyNot);                                  \
    }                                                               \
  } while (0)
