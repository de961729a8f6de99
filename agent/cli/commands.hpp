// posturectl's subcommands. Each returns the process exit code (DESIGN.md: 0, 1, 2, 3).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "core/config.hpp"

namespace postured::cli {

struct CommonOptions {
  std::optional<std::filesystem::path> config;  // --config; else kDefaultConfigPath if it exists
  std::filesystem::path root = "/";             // --root: inspect a mounted image instead of this system
  bool json = false;
};

// The config named by --config, else the installed one, else built-in defaults (so a technician
// can run doctor where the agent was never configured). Problems are printed; nullopt means exit 2.
std::optional<Config> resolve_config(const CommonOptions& options, const CheckList& checks);

int run_doctor(const CommonOptions& options);

// Scans files and folders for PANs and track data; exit 1 when anything is found.
int run_scan(const CommonOptions& options, const std::vector<std::string>& paths);

enum class CacheAction { status, encrypt, verify, rotate_key };
int run_cache(const CommonOptions& options, CacheAction action, const std::string& name);

}  // namespace postured::cli
