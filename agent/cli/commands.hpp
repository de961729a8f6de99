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

// Validates hardening policy files; exit 0 when every file is valid, 2 (with FILE:LINE:COL) otherwise.
int run_policy_check(const CommonOptions& options, const std::vector<std::string>& files);

// Scans files and folders for PANs and track data, report only; or with `configured`, the
// [[scan_folder]]s with their actions, as the daemon does. Exit 1 when anything is found, 3 when an
// action could not be done.
int run_scan(const CommonOptions& options, const std::vector<std::string>& paths, bool configured);

// The quarantine vault's entries; and restoring one to `to` (default: where it was).
int run_quarantine_list(const CommonOptions& options);
int run_quarantine_restore(const CommonOptions& options, const std::string& id, const std::string& to);

// Inventory, baseline comparison, security updates and reboot state; exit 1 when a package is
// below the baseline or a reboot is due, 2 for a bad baseline, 3 when the inventory cannot be read.
int run_patch(const CommonOptions& options, const std::string& baseline_path);

enum class CacheAction { status, encrypt, verify, rotate_key };
int run_cache(const CommonOptions& options, CacheAction action, const std::string& name);

// Applies the minimization and retention policy of one cache (or of every cache that has one);
// with `dry_run`, changes nothing and reports what would change.
int run_cache_enforce(const CommonOptions& options, const std::string& name, bool dry_run);

// What the daemon says about enrollment, the spool and the last send (over the local socket); when
// no daemon answers, what the state directory says, and exit 3.
int run_status(const CommonOptions& options);

// Enrolls this device with the console (console.url, console.ca_file) using a one-time token.
// Exit 2 for a token the console refuses or a bad configuration, 3 for network, TLS and clock problems.
int run_enroll(const CommonOptions& options, const std::string& token, const std::string& token_file, bool force);

// The report a cycle would send, printed and not sent.
int run_report_print(const CommonOptions& options);

}  // namespace postured::cli
