// xfp::Result<T>: the one error-carrying return type of xfp (tl::expected until GCC has
// std::expected in C++20 mode). Errors carry a WFP status code (FWP_E_* / errno-like) and a
// human message naming the object and field at fault.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace xfp {

struct Error {
  // An FWP_E_* HRESULT (0x8032xxxx), ERROR_INVALID_SECURITY_DESCR, or 0 for a plain failure.
  uint32_t status = 0;
  std::string message;

  // Prepends context, e.g. "filters[2] \"web\"" to "conditions[0]: ...".
  [[nodiscard]] Error within(const std::string& where) && {
    message = where + ": " + message;
    return std::move(*this);
  }
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(uint32_t status, std::string message) {
  return tl::unexpected<Error>(Error{status, std::move(message)});
}

}  // namespace xfp
