// posturectl enroll, status and report --print: the agent's side of the console, from the terminal.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

#include <nlohmann/json.hpp>

#include "cache/key_release_client.hpp"
#include "cli/commands.hpp"
#include "core/host.hpp"
#include "core/key_store.hpp"
#include "core/text.hpp"
#include "daemon/report_document.hpp"
#include "daemon/reporting.hpp"
#include "policy/policy_checks.hpp"
#include "transport/enrollment.hpp"

namespace postured::cli {
namespace {

using namespace std::chrono_literals;

// How long posturectl status waits for the daemon's answer, and the most it reads of it.
constexpr auto kStatusTimeout = 3s;
constexpr std::size_t kMaxStatusBytes = 1u << 16;

// The daemon's status document, or why it did not answer.
std::variant<nlohmann::ordered_json, std::string> ask_daemon(const Config& config) {
  // The daemon's local endpoint: the Unix socket on Linux, the named pipe on Windows.
  const auto where = key_release_endpoint(config.agent.runtime_dir);
  const auto exchange =
      exchange_with_daemon(config.agent.runtime_dir, reporting_limits::kStatusRequest, kStatusTimeout, kMaxStatusBytes);
  if (!exchange.ok) return exchange.error;
  auto document = nlohmann::ordered_json::parse(exchange.reply, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return "the daemon on " + where + " did not answer the status request (an older postured?)";
  }
  return document;
}

std::string field(const nlohmann::ordered_json& j, const char* name) {
  return j.is_object() && j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : std::string();
}

void print_status(const nlohmann::ordered_json& s) {
  const auto& daemon = s["daemon"];
  std::cout << "daemon:        "
            << (daemon.value("running", false) ? "running (pid " + std::to_string(daemon.value("pid", 0)) + ")"
                                               : "not running (" + field(daemon, "error") + ")")
            << "\n";
  const auto& reporting = s["reporting"];
  std::cout << "reporting:     "
            << (reporting.value("enabled", false) ? "to " + field(reporting, "console_url")
                                                  : "off (" + field(reporting, "reason") + ")")
            << "\n";
  const auto& enrollment = s["enrollment"];
  if (enrollment.value("enrolled", false)) {
    std::cout << "certificate:   " << field(enrollment, "subject") << ", serial " << field(enrollment, "serial") << "\n"
              << "               valid until " << field(enrollment, "not_after")
              << (enrollment.value("expired", false) ? " (EXPIRED)" : "") << ", renewal from "
              << field(enrollment, "renew_after") << "\n";
    if (!field(enrollment, "problem").empty()) std::cout << "               " << field(enrollment, "problem") << "\n";
  } else {
    std::cout << "certificate:   none (" << field(enrollment, "error") << ")\n";
  }
  if (s.contains("spool")) {
    const auto& spool = s["spool"];
    if (spool.contains("error")) {
      std::cout << "spool:         " << field(spool, "error") << "\n";
    } else {
      std::cout << "spool:         " << spool.value("depth", 0LL) << " reports waiting (" << spool.value("bytes", 0LL)
                << " bytes), " << spool.value("dropped_reports", 0LL) << " dropped, "
                << spool.value("rejected_reports", 0LL) << " refused by the console, "
                << spool.value("sent_reports", 0LL) << " sent\n";
    }
  }
  const auto show = [&](const char* label, const char* name) {
    if (s.contains(name) && !field(s, name).empty()) std::cout << label << field(s, name) << "\n";
  };
  show("last success:  ", "last_success_at");
  show("last error:    ", "last_error");
  show("next attempt:  ", "next_send_attempt_at");
  if (s.contains("next_cycle") && !field(s["next_cycle"], "earliest").empty()) {
    std::cout << "next cycle:    between " << field(s["next_cycle"], "earliest") << " and "
              << field(s["next_cycle"], "latest") << "\n";
  }
}

}  // namespace

int run_status(const CommonOptions& options) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  auto answer = ask_daemon(*config);
  const bool running = std::holds_alternative<nlohmann::ordered_json>(answer);
  const auto document =
      running ? std::get<nlohmann::ordered_json>(answer) : offline_status(*config, std::get<std::string>(answer));
  if (options.json) {
    std::cout << document.dump(2) << "\n";
  } else {
    print_status(document);
  }
  std::cout.flush();
  if (!std::cout) return 3;
  return running ? 0 : 3;
}

int run_enroll(const CommonOptions& options, const std::string& token_option, const std::string& token_file,
               bool force) {
  const auto config = resolve_config(options, builtin_checks());
  if (!config) return 2;
  const auto fail = [&](const std::string& code, const std::string& message, int exit_code) {
    if (options.json) {
      std::cout << nlohmann::ordered_json{{"schema", "postured.enroll/v1"},
                                          {"enrolled", false},
                                          {"error", code},
                                          {"message", message}}
                       .dump(2)
                << "\n";
    } else {
      std::cerr << "enroll: " << message << "\n";
    }
    return exit_code;
  };
  const auto source = config->source.empty() ? std::string("the configuration") : config->source.string();
  if (config->console.url.empty()) return fail("no_console", source + ": console.url is empty; set it first", 2);
  const auto url = parse_console_url(config->console.url);
  if (!url) return fail("no_console", source + ": console.url is not https://HOST:PORT", 2);
  if (config->agent.store_id.empty()) return fail("no_store", source + ": agent.store_id is empty", 2);
  std::string token = token_option;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return fail("token_file", "cannot read the token file " + token_file, 2);
    std::getline(in, token);
    token = std::string(text::trim(token));
  }
  if (token.empty()) return fail("token_missing", "give --token T or --token-file F", 2);

  const auto master = open_master_key_store(config->agent.state_dir)->load(true);
  if (!master.key) return fail("master_key", "the device master key: " + master.error, 3);
  transport::ClientIdentityStore store(config->agent.state_dir, *master.key);
  std::string ignored;
  if (store.exists() && !force) {
    if (const auto current = transport::ClientIdentityStore::read_certificate(config->agent.state_dir, ignored)) {
      const auto device_id = identify_device(*open_host(options.root), config->agent).id;
      const auto problem =
          transport::identity_problem(*current, device_id, config->agent.store_id, std::chrono::system_clock::now());
      return fail("already_enrolled",
                  "already enrolled as " + current->subject + " (valid until " + text::rfc3339_utc(current->not_after) +
                      ")" + (problem ? ", but the " + problem->message.substr(0, problem->message.find(": run")) : "") +
                      "; add --force to enroll again with a new key",
                  2);
    }
  }
  transport::EnrollmentTarget target;
  target.endpoint = {url->host, url->port};
  target.store_id = config->agent.store_id;
  const auto host = open_host(options.root);
  target.device_id = identify_device(*host, config->agent).id;
  try {
    target.ca_pem = transport::read_pem_file(config->console.ca_file.string());
  } catch (const transport::TlsConfigError& e) {
    return fail("bad_ca", std::string("console.ca_file: ") + e.what(), 2);
  }
  const auto outcome = transport::enroll(target, token, store);
  if (!outcome.ok()) return fail(outcome.error_code, outcome.message, outcome.exit_code);
  const auto& c = *outcome.certificate;
  if (options.json) {
    std::cout << nlohmann::ordered_json{{"schema", "postured.enroll/v1"},
                                        {"enrolled", true},
                                        {"subject", c.subject},
                                        {"serial", c.serial},
                                        {"not_before", text::rfc3339_utc(c.not_before)},
                                        {"not_after", text::rfc3339_utc(c.not_after)},
                                        {"renew_after", text::rfc3339_utc(transport::renewal_time(c))},
                                        {"identity_file", store.path().string()}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Enrolled with " << config->console.url << " as " << c.subject << " (serial " << c.serial << ").\n"
              << "Certificate valid until " << text::rfc3339_utc(c.not_after) << "; renewal from "
              << text::rfc3339_utc(transport::renewal_time(c)) << ".\n"
              << "Key and certificate: " << store.path().string() << " (key sealed with the device master key).\n";
  }
  return 0;
}

int run_report_print(const CommonOptions& options) {
  auto checks = builtin_checks();
  const auto config = resolve_config(options, checks);
  if (!config) return 2;
  checks = policy::with_policy_checks(std::move(checks), *config, options.root);
  // The caches' status needs the master key; a report without it would not be the one sent.
  const auto master = open_master_key_store(config->agent.state_dir)->load(false);
  if (!master.key) {
    std::cerr << "report: the device master key: " << master.error << " (run as root, like the daemon)\n";
    return 3;
  }
  const auto host = open_host(options.root);
  auto built = build_report(checks, *host, *config, *master.key, std::chrono::system_clock::now());
  if (!config->console.url.empty()) {
    // The spool as the daemon would see it; not opened (nor created) when there is none yet.
    std::error_code ec;
    if (std::filesystem::exists(config->agent.state_dir / transport::kSpoolFileName, ec)) {
      const auto status = offline_status(*config, "");
      if (status["spool"].contains("depth")) {
        built.document["transport"] = {{"spool_depth", status["spool"]["depth"]},
                                       {"dropped_reports", status["spool"]["dropped_reports"]},
                                       {"rejected_reports", status["spool"]["rejected_reports"]}};
      }
    }
  }
  if (options.json) {
    std::cout << built.document.dump(2) << "\n";
  } else {
    std::cout << render_table(built.inspection, ::isatty(STDOUT_FILENO) == 1);
    std::cout << "\nReport " << built.report_id() << " (postured.report/v1, " << built.document.dump().size()
              << " bytes): printed only, nothing sent. --json shows the whole document.\n";
  }
  std::cout.flush();
  return std::cout ? 0 : 3;
}

}  // namespace postured::cli
