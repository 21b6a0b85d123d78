#include "userspace/daemon/log_format.h"

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace xfp::daemon {
namespace {

void appendEscaped(spdlog::memory_buf_t& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    fmt::format_to(std::back_inserter(dest),
                   "{{\"time_us\":{},\"level\":\"{}\",\"msg\":\"",
                   us,
                   spdlog::level::to_string_view(msg.level));
    appendEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(std::string_view("\"}\n"));
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

bool setLogFormat(const std::string& name) {
  if (name == "text") {
    return true;
  }
  if (name == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
    return true;
  }
  return false;
}

}  // namespace xfp::daemon
