// postured: the posture agent daemon.
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "cache/cache_vault.hpp"
#include "cache/key_release_server.hpp"
#include "core/config.hpp"
#include "core/host.hpp"
#include "core/idle_memory.hpp"
#include "core/key_store.hpp"
#include "core/log.hpp"
#include "core/runtime.hpp"
#include "core/version.hpp"
#include "daemon/cycle.hpp"
#include "daemon/reporting.hpp"
#include "policy/policy_checks.hpp"

namespace {

// Prints every problem as FILE:LINE:COL: message; returns the config only when there are none.
std::optional<postured::Config> load_or_report(const std::filesystem::path& path) {
  static const auto known_checks = postured::check_ids(postured::builtin_checks());
  auto load = postured::policy::load_config_with_policies(path, known_checks);
  for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
  return load.config;
}

// What the command line asked for.
struct Options {
  std::string config_path = postured::kDefaultConfigPath;
  bool check_config = false;
  bool once = false;
  std::string root = "/";
};

// The agent: one cycle (--once), a configuration check, or the daemon until it is stopped.
int run_agent(const Options& options) {
  using namespace postured;
  const auto& config_path = options.config_path;
  const auto& root = options.root;
  const bool once = options.once;
  const bool check_config = options.check_config;
  auto config = load_or_report(config_path);
  if (!config) return 2;
  if (check_config) {
    std::cout << config_path << ": ok\n";
    return 0;
  }
  log::set_level(config->agent.log_level);

  // The master key is made on first start; a key file with a wrong mode or owner stops the agent.
  const auto key_store = open_master_key_store(config->agent.state_dir);
  const auto master = key_store->load(true);
  if (!master.key) {
    log::error("master key: ", master.error);
    return 3;
  }

  const auto checks = builtin_checks();
  if (once) {
    const auto host = open_host(root);
    const auto checks_and_policies = policy::with_policy_checks(builtin_checks(), *config, root);
    ReportingService reporting(*config, *master.key, ReportingService::Mode::once);
    const auto result = run_cycle(checks_and_policies, *host, *config, *master.key, true, &reporting);
    if (!result.completed) return 3;
    if (reporting.enabled()) {
      // One attempt: a console that is down leaves the report in the spool for the daemon.
      if (const auto error = reporting.send_now(); !error.empty()) {
        log::warn("report not sent (it stays in the spool): ", error);
      } else {
        log::info("report sent to ", config->console.url);
      }
    } else {
      log::info("reporting is off: ", reporting.disabled_reason());
    }
    return result.has_problems ? 1 : 0;
  }

  auto service_manager = connect_service_manager();
  Runtime runtime(*service_manager);
  // Spool and sender: the sender runs on its own thread; the loop only commits reports and reads status.
  ReportingService reporting(*config, *master.key, ReportingService::Mode::daemon);
  if (!reporting.enabled()) log::info("reporting is off: ", reporting.disabled_reason());
  reporting.start();
  reporting.set_next_cycle(std::chrono::system_clock::now(),
                           std::chrono::system_clock::now() + config->schedule.jitter);
  // Each request reads `config` as it is then, so a reload's [[cache]] list applies to the next one.
  const auto key_release = start_key_release_server(runtime.io(), config->agent.runtime_dir, config->agent.socket_group,
                                                    [&](std::string_view request, const PeerIdentity& peer) {
                                                      // Status holds no secret: anyone who may ask for keys may see it.
                                                      if (request == reporting_limits::kStatusRequest) {
                                                        return SecretString(reporting.status().dump() + "\n");
                                                      }
                                                      CacheVault vault(config->agent.state_dir, *master.key);
                                                      return answer_key_request(request, peer, *config, vault);
                                                    });
  if (!key_release.server) {
    log::error("key release: ", key_release.error);
    return 3;
  }
  log::info("postured ", kAgentVersion, " starting with ", config_path, ", ", checks.size(), " checks, cycle every ",
            config->schedule.check_interval.count(), " s");
  runtime.add_job(
      "cycle", [&] { return JobPeriod{config->schedule.check_interval, config->schedule.jitter}; },
      [&] {
        // A fresh Host per cycle: its process list is a snapshot of this moment.
        const auto host = open_host(root);
        // Policy files are read again each cycle: an edited policy applies without a reload.
        run_cycle(policy::with_policy_checks(builtin_checks(), *config, root), *host, *config,
                  *master.key, false, &reporting);
        // A cycle builds a report of some 100 KiB in many small pieces and runs SQLCipher and
        // libcrypto; give the freed heap and those code pages back until the next one.
        release_idle_memory();
        const auto now = std::chrono::system_clock::now();
        reporting.set_next_cycle(now + config->schedule.check_interval,
                                 now + config->schedule.check_interval + config->schedule.jitter);
      });
  // Enforcement runs off the loop (it can take seconds on a large cache); destroying the worker at
  // exit stops a run between batches.
  BackgroundRun enforcement;
  runtime.add_job(
      "enforce", [&] { return JobPeriod{config->schedule.enforce_interval, config->schedule.jitter}; },
      [&] {
        const bool started = enforcement.start(
            [config = *config, &master](std::stop_token stop) {
              enforce_policies(config, *master.key, stop);
              release_idle_memory();
            });
        if (!started) log::info("enforcement: the previous run is still going; skipped");
      });
  // The folder scan reads whole log folders at low priority on its own thread, like enforcement.
  BackgroundRun scan;
  runtime.add_job(
      "scan", [&] { return JobPeriod{config->schedule.scan_interval, config->schedule.jitter}; },
      [&] {
        const bool started =
            scan.start([config = *config, &master](std::stop_token) {
              scan_configured_folders(config, *master.key);
              release_idle_memory();
            });
        if (!started) log::info("scan: the previous run is still going; skipped");
      });
  runtime.on_reload([&] {
    auto fresh = load_or_report(config_path);
    if (!fresh) {
      log::error("reload: ", config_path, " is invalid; keeping the running configuration");
      return false;
    }
    config = std::move(fresh);
    log::set_level(config->agent.log_level);
    log::info("reload: configuration from ", config_path, " is in effect");
    return true;
  });
  // Start-up (the master key, SQLCipher's first open) is done; the first cycle is up to a jitter away.
  release_idle_memory();
  runtime.run();
  log::info("postured stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace postured;
  CLI::App app{"postured: posture agent for point-of-sale terminals"};
  app.set_version_flag("--version", std::string("postured ") + kAgentVersion);
  Options options;
  bool as_service = false;
  bool install = false;
  bool uninstall = false;
  app.add_option("--config", options.config_path, "configuration file")->capture_default_str();
  app.add_flag("--check-config", options.check_config, "validate the configuration and exit (0 valid, 2 invalid)");
  app.add_flag("--once", options.once, "run one full cycle and exit");
  app.add_option("--root", options.root, "inspect the system mounted at this folder instead of /")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--service", as_service,
               "started by the service manager (Windows: the SCM; what --install-service registers)");
  auto* install_flag = app.add_flag("--install-service", install,
                                    "register postured as a service started at boot with this --config, and exit "
                                    "(Windows; on Linux the package installs the systemd unit)");
  app.add_flag("--uninstall-service", uninstall, "stop and remove the service, and exit")->excludes(install_flag);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (install || uninstall) {
    // The service runs this very program; --config is stored as an absolute path.
    const auto error = install ? install_service({}, options.config_path) : uninstall_service();
    if (!error.empty()) {
      std::cerr << "postured: " << error << "\n";
      return 1;
    }
    std::cout << (install ? "service installed: it starts at the next boot, or now with sc start postured\n"
                          : "service removed\n");
    return 0;
  }
  if (options.once || options.check_config) return run_agent(options);
  std::string why;
  const int code = run_daemon_under_service_manager(as_service, [&] { return run_agent(options); }, &why);
  if (!why.empty()) std::cerr << "postured: " << why << "\n";
  return code;
}
