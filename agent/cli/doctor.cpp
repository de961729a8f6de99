#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/report.hpp"
#include "core/text.hpp"
#include "transport/client_identity.hpp"
#include "policy/policy_checks.hpp"

namespace postured::cli {
namespace {

// Whether this device reports to a console, and as whom: read from the configuration and the state
// directory only (no network, no master key), so doctor works offline and unprivileged.
nlohmann::ordered_json reporting_block(const Config& config) {
  if (config.console.url.empty()) return {{"enabled", false}, {"reason", "console.url is empty"}};
  nlohmann::ordered_json block = {{"enabled", true}, {"console_url", config.console.url}};
  std::string error;
  const auto certificate = transport::ClientIdentityStore::read_certificate(config.agent.state_dir, error);
  if (!certificate) {
    block["enrolled"] = false;
    block["error"] = error;
    return block;
  }
  block["enrolled"] = true;
  block["subject"] = certificate->subject;
  block["not_after"] = text::rfc3339_utc(certificate->not_after);
  block["expired"] = std::chrono::system_clock::now() >= certificate->not_after;
  return block;
}

std::string reporting_line(const nlohmann::ordered_json& block) {
  if (!block["enabled"].get<bool>()) return "Reporting: off (" + block["reason"].get<std::string>() + ")\n";
  std::string line = "Reporting: to " + block["console_url"].get<std::string>();
  if (!block["enrolled"].get<bool>()) return line + ", but " + block["error"].get<std::string>() + "\n";
  return line + " as " + block["subject"].get<std::string>() + ", certificate " +
         (block["expired"].get<bool>() ? "EXPIRED on " : "valid until ") + block["not_after"].get<std::string>() + "\n";
}

}  // namespace

int run_doctor(const CommonOptions& options) {
  auto checks = builtin_checks();
  const auto config = resolve_config(options, checks);
  if (!config) return 2;
  // The checks of checks.policies run after the compiled ones; a refused policy shows as an error check.
  checks = policy::with_policy_checks(std::move(checks), *config, options.root);
  const auto host = open_host(options.root);
  const auto report = inspect_device(checks, *host, *config, std::chrono::system_clock::now());
  if (options.json) {
    auto document = to_doctor_json(report);
    document["reporting"] = reporting_block(*config);
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << render_table(report, ::isatty(STDOUT_FILENO) == 1);
    std::cout << "\n" << reporting_line(reporting_block(*config));
  }
  std::cout.flush();
  if (!std::cout) return 3;
  return report.has_problems() ? 1 : 0;
}

}  // namespace postured::cli
