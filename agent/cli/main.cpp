// posturectl: the technician's and IT's tool.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "core/version.hpp"

int main(int argc, char** argv) {
  using namespace postured;
  CLI::App app{"posturectl: posture diagnostics for postured terminals"};
  app.set_version_flag("--version", std::string("posturectl ") + kAgentVersion);
  app.require_subcommand(1);

  cli::CommonOptions options;
  std::string config_path;
  std::string root;
  const auto add_common = [&](CLI::App* command) {
    command->add_option("--config", config_path, "configuration file (default /etc/postured/postured.toml)");
    command->add_flag("--json", options.json, "print one JSON document instead of a table");
    command->add_option("--root", root, "inspect the system mounted at this folder instead of /")->check(CLI::ExistingDirectory);
  };

  auto* doctor = app.add_subcommand("doctor", "run every posture check on this device and show how to fix failures");
  add_common(doctor);

  auto* scan = app.add_subcommand("scan", "look for card numbers and track data in files and folders (masked output)");
  add_common(scan);
  std::vector<std::string> scan_paths;
  auto* scan_paths_option = scan->add_option("PATH", scan_paths, "files or folders to scan (report only)");
  bool scan_configured = false;
  scan->add_flag("--configured", scan_configured, "scan the [[scan_folder]]s with their actions, as the daemon does")
      ->excludes(scan_paths_option);

  auto* quarantine = app.add_subcommand("quarantine", "files that the scan moved into the encrypted quarantine vault");
  quarantine->require_subcommand(1);
  auto* quarantine_list = quarantine->add_subcommand("list", "list the vault's entries: id, original path, when, why");
  add_common(quarantine_list);
  auto* quarantine_restore =
      quarantine->add_subcommand("restore", "decrypt an entry back into a file (never over an existing one)");
  add_common(quarantine_restore);
  std::string quarantine_id;
  std::string restore_to;
  quarantine_restore->add_option("ID", quarantine_id, "vault entry id (see quarantine list)")->required();
  quarantine_restore->add_option("--to", restore_to, "where to write the file (default: where it was)");

  auto* patch = app.add_subcommand("patch", "installed packages against the patch baseline, security updates, reboot");
  add_common(patch);
  std::string baseline_path;
  patch->add_option("--baseline", baseline_path, "patch baseline, TOML or JSON (default: patch.baseline)");

  auto* cache = app.add_subcommand("cache", "the encrypted customer caches declared in the configuration");
  cache->require_subcommand(1);
  std::string cache_name;
  auto* cache_status = cache->add_subcommand("status", "list each cache: encrypted, rows, size, key generation");
  add_common(cache_status);
  auto* cache_verify = cache->add_subcommand("verify", "open a cache (or all) with its key and check its integrity");
  add_common(cache_verify);
  cache_verify->add_option("NAME", cache_name, "cache name (default: all)");
  auto* cache_encrypt = cache->add_subcommand("encrypt", "migrate a plaintext cache to SQLCipher now");
  add_common(cache_encrypt);
  cache_encrypt->add_option("NAME", cache_name, "cache name")->required();
  auto* cache_rotate = cache->add_subcommand("rotate-key", "move a cache to its next key generation");
  add_common(cache_rotate);
  cache_rotate->add_option("NAME", cache_name, "cache name")->required();
  auto* cache_enforce =
      cache->add_subcommand("enforce", "apply each cache's minimization and retention policy (purge, transform, find PANs)");
  add_common(cache_enforce);
  cache_enforce->add_option("NAME", cache_name, "cache name (default: every cache that has a policy)");
  bool dry_run = false;
  cache_enforce->add_flag("--dry-run", dry_run, "change nothing; report what would change");

  auto* policy = app.add_subcommand("policy", "declarative hardening policies (agent/policy/README.md)");
  policy->require_subcommand(1);
  auto* policy_check = policy->add_subcommand("check", "validate policy files: exit 0, or 2 with FILE:LINE:COL for each problem");
  policy_check->add_flag("--json", options.json, "print one JSON document instead of text");
  std::vector<std::string> policy_files;
  policy_check->add_option("FILE", policy_files, "policy files (TOML)")->required();

  auto* status = app.add_subcommand("status", "the daemon's enrollment, spool, last report and next run");
  add_common(status);

  auto* report = app.add_subcommand("report", "the posture report a cycle sends to the console");
  add_common(report);
  bool print_report = false;
  report->add_flag("--print", print_report, "build the report and print it; nothing is sent")->required();

  auto* enroll = app.add_subcommand("enroll", "get this device's client certificate from the console with a token");
  add_common(enroll);
  std::string token;
  std::string token_file;
  bool force_enroll = false;
  auto* token_option = enroll->add_option("--token", token, "the enrollment token (posture-console token create)");
  enroll->add_option("--token-file", token_file, "a file holding the token")->excludes(token_option);
  enroll->add_flag("--force", force_enroll, "enroll again even when a certificate is already stored (new key)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help and version to stdout with success; everything else is a usage error (2).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!config_path.empty()) options.config = config_path;
  if (!root.empty()) options.root = root;

  if (doctor->parsed()) return cli::run_doctor(options);
  if (status->parsed()) return cli::run_status(options);
  if (report->parsed()) return cli::run_report_print(options);
  if (enroll->parsed()) return cli::run_enroll(options, token, token_file, force_enroll);
  if (scan->parsed()) return cli::run_scan(options, scan_paths, scan_configured);
  if (quarantine_list->parsed()) return cli::run_quarantine_list(options);
  if (quarantine_restore->parsed()) return cli::run_quarantine_restore(options, quarantine_id, restore_to);
  if (patch->parsed()) return cli::run_patch(options, baseline_path);
  if (policy_check->parsed()) return cli::run_policy_check(options, policy_files);
  if (cache_status->parsed()) return cli::run_cache(options, cli::CacheAction::status, "");
  if (cache_verify->parsed()) return cli::run_cache(options, cli::CacheAction::verify, cache_name);
  if (cache_encrypt->parsed()) return cli::run_cache(options, cli::CacheAction::encrypt, cache_name);
  if (cache_rotate->parsed()) return cli::run_cache(options, cli::CacheAction::rotate_key, cache_name);
  if (cache_enforce->parsed()) return cli::run_cache_enforce(options, cache_name, dry_run);
  return 2;
}
