// Runs one compiled-in check by id against a fixture root.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string_view>

#include "core/check.hpp"
#include "core/config.hpp"
#include "support/fixture_root.hpp"

namespace postured::test {

// `config` null: the check sees no configuration and uses the built-in defaults.
inline Outcome run_check(std::string_view id, const FixtureRoot& root,
                         std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
                         const Config* config = nullptr) {
  const auto host = root.host();
  for (const auto& check : builtin_checks()) {
    if (check->info().id == id) return check->run(Context{*host, now, config});
  }
  throw std::invalid_argument("no check with id " + std::string(id));
}

}  // namespace postured::test
