// How an xfpctl command ends: an exit status and, on failure, the message for stderr. Every
// command returns an Outcome so main() is the only place that prints errors and picks the exit
// status; the statuses are part of xfpctl's interface (scripts test them), listed in main.cpp,
// README.md and docs/xfpctl.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace xfp::ctl {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;        // bad command line, unknown layer
constexpr int kExitPolicy = 3;       // policy file (or --json object) error
constexpr int kExitValue = 4;        // bad packet description or field value
constexpr int kExitUnreachable = 5;  // no xfpd at the socket
constexpr int kExitDenied = 6;       // xfpd refused the caller (gRPC PERMISSION_DENIED)
constexpr int kExitRefused = 7;      // the engine refused the operation (FWP_E_*)

struct Failure {
  int exitCode = kExitUsage;
  std::string message;
  uint32_t status = 0;  // the engine's FWP_E_* code with kExitRefused, else 0
};

template <typename T>
using Outcome = tl::expected<T, Failure>;

inline tl::unexpected<Failure> failWith(int exitCode, std::string message, uint32_t status = 0) {
  return tl::unexpected(Failure{exitCode, std::move(message), status});
}

}  // namespace xfp::ctl
