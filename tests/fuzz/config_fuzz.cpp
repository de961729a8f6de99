// libFuzzer target for the config loader: any bytes must give either a config or errors with
// positions, never a crash, a hang or a leak. Build with the `fuzz` preset (clang).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto load = postured::parse_config(text, "fuzz.toml");
  // The contract: exactly one of a config or a non-empty list of errors, each with a position.
  if (load.config.has_value() == !load.errors.empty()) std::abort();
  for (const auto& error : load.errors) {
    if (error.line < 1 || error.column < 1 || error.message.empty()) std::abort();
  }
  return 0;
}
