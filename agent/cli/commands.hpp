// posturectl's subcommands. Each returns the process exit code (DESIGN.md: 0, 1, 2, 3).
#pragma once

#include <filesystem>
#include <optional>

namespace postured::cli {

struct CommonOptions {
  std::optional<std::filesystem::path> config;  // --config; else kDefaultConfigPath if it exists
  std::filesystem::path root = "/";             // --root: inspect a mounted image instead of this system
  bool json = false;
};

int run_doctor(const CommonOptions& options);

}  // namespace postured::cli
