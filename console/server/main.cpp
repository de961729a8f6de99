// posture-console: the central console. `serve` runs the agent endpoint (mutual TLS) and the operator
// API; `ca init`, `token create`, `device revoke`, `device release` and `operator-token create` administer it.
// Exit codes (DESIGN.md): 0 ok, 1 the command ran and found a problem, 2 usage or configuration, 3 runtime.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <optional>

#include "core/asio.hpp"

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "core/text.hpp"
#include "core/version.hpp"
#include "server/agent_endpoint.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/pki.hpp"
#include "server/tokens.hpp"
#include "storage/storage.hpp"
#include "transport/tls_config.hpp"
#ifdef POSTURED_HAVE_OPERATOR_API
#include "api/operator_api.hpp"
#endif

namespace {

// Not all of postured: the agent's own ConsoleConfig (its [console] section) would clash.
using namespace postured::console;
namespace log = postured::log;
namespace text = postured::text;
namespace transport = postured::transport;
using postured::kAgentVersion;
using postured::parse_duration;
using postured::SecretString;
using json = nlohmann::ordered_json;

constexpr int kOk = 0;
constexpr int kFound = 1;
constexpr int kUsage = 2;
constexpr int kRuntime = 3;
// Tokens may be spent by a whole store's terminals; more than this is a typo.
constexpr int kMaxTokenUses = 100000;

std::optional<ConsoleConfig> load(const std::string& path) {
  auto loaded = load_console_config(path);
  for (const auto& error : loaded.errors) std::cerr << error.to_string() << "\n";
  return std::move(loaded.config);
}

int cmd_ca_init(const ConsoleConfig& config, bool force, bool as_json) {
  try {
    const CaFiles files = initialise_ca(config.ca_dir(), config.server.names, force, Clock::now());
    if (as_json) {
      std::cout << json{{"ca_certificate", files.ca_certificate.string()},
                        {"ca_key", files.ca_key.string()},
                        {"server_certificate", files.server_certificate.string()},
                        {"server_key", files.server_key.string()},
                        {"names", config.server.names}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << "CA certificate:     " << files.ca_certificate.string() << "  (give this to agents)\n"
                << "CA key:             " << files.ca_key.string() << "  (0600; back it up offline)\n"
                << "server certificate: " << files.server_certificate.string() << "  for "
                << nlohmann::json(config.server.names).dump() << "\n";
    }
    return kOk;
  } catch (const PkiError& e) {
    std::cerr << "posture-console ca init: " << e.what() << "\n";
    return std::string(e.what()).find("already exists") != std::string::npos ? kFound : kRuntime;
  }
}

std::unique_ptr<Storage> open_configured_storage(const ConsoleConfig& config) {
  return open_storage(config.storage_url());
}

int cmd_token_create(const ConsoleConfig& config, const std::string& store, int uses, const std::string& ttl_text,
                     bool as_json) {
  if (!valid_subject_value(store)) {
    std::cerr << "posture-console token create: --store must be 1 to 64 of A-Z a-z 0-9 . _ -\n";
    return kUsage;
  }
  if (uses < 1 || uses > kMaxTokenUses) {
    std::cerr << "posture-console token create: --uses must be 1 to " << kMaxTokenUses << "\n";
    return kUsage;
  }
  auto ttl = config.enroll.token_ttl;
  if (!ttl_text.empty()) {
    const auto parsed = parse_duration(ttl_text);
    if (!parsed || parsed->count() <= 0) {
      std::cerr << "posture-console token create: --ttl \"" << ttl_text << "\" is not a duration (30m, 12h, 7d)\n";
      return kUsage;
    }
    ttl = *parsed;
  }
  const std::string token = new_token();
  TokenRecord record;
  record.token_hash = sha256_hex(token);
  record.store_id = store;
  record.uses_allowed = uses;
  record.uses_left = uses;
  record.created_at = Clock::now();
  record.expires_at = record.created_at + ttl;
  open_configured_storage(config)->add_token(record);
  if (as_json) {
    std::cout << json{{"token", token},
                      {"store_id", store},
                      {"uses", uses},
                      {"expires_at", text::rfc3339_utc(record.expires_at)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << token << "\n";
    std::cerr << "enrollment token for store " << store << ", " << uses << (uses == 1 ? " use" : " uses")
              << ", expires " << text::rfc3339_utc(record.expires_at) << ". It is shown only this once.\n";
  }
  return kOk;
}

int cmd_device_revoke(const ConsoleConfig& config, const std::string& device, bool as_json) {
  const bool known = open_configured_storage(config)->revoke_device(device, Clock::now());
  if (as_json) {
    std::cout << json{{"device_id", device}, {"revoked", known}}.dump(2) << "\n";
  } else if (known) {
    std::cout << "device " << device << " revoked: its certificates are refused at the handshake from now on\n";
  }
  if (!known) {
    std::cerr << "posture-console device revoke: no device " << device << " has enrolled\n";
    return kFound;
  }
  return kOk;
}

// For a reinstalled terminal that lost its key: its certificates are revoked and it may enroll once more.
int cmd_device_release(const ConsoleConfig& config, const std::string& device, bool as_json) {
  const bool known = open_configured_storage(config)->release_device(device, Clock::now());
  if (as_json) {
    std::cout << json{{"device_id", device}, {"released", known}}.dump(2) << "\n";
  } else if (known) {
    std::cout << "device " << device
              << " released: its certificates are revoked and it may enroll once more with a new token\n";
  }
  if (!known) {
    std::cerr << "posture-console device release: no device " << device << " has enrolled\n";
    return kFound;
  }
  return kOk;
}

int cmd_operator_token_create(const ConsoleConfig& config, bool as_json) {
  const std::string token = new_token();
  append_operator_token_hash(config.operator_tokens_path(), sha256_hex(token));
  if (as_json) {
    std::cout << json{{"token", token}, {"file", config.operator_tokens_path().string()}}.dump(2) << "\n";
  } else {
    std::cout << token << "\n";
    std::cerr << "operator token added to " << config.operator_tokens_path().string()
              << " (the console reads it at start). It is shown only this once.\n";
  }
  return kOk;
}

int cmd_serve(const ConsoleConfig& config) {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<CertificateAuthority> ca;
  std::unique_ptr<transport::TlsIdentity> identity;
  try {
    storage = open_configured_storage(config);
    ca = CertificateAuthority::load(config.ca_dir());
    const CaFiles files = CaFiles::in(config.ca_dir());
    identity.reset(new transport::TlsIdentity{transport::read_pem_file(files.server_certificate.string()),
                                              SecretString(transport::read_pem_file(files.server_key.string()))});
  } catch (const std::exception& e) {
    std::cerr << "posture-console serve: " << e.what() << "\n";
    return kRuntime;
  }
  Metrics metrics;
  AgentEndpoint endpoint(config, *storage, metrics, *ca, *identity);
  boost::asio::io_context api_io;
#ifdef POSTURED_HAVE_OPERATOR_API
  std::unique_ptr<OperatorApi> api;
#endif
  try {
    endpoint.start();
    log::info("posture-console ", kAgentVersion, ": agent endpoint on ", config.server.listen, " (port ",
              endpoint.port(), "), storage ", storage->backend());
#ifdef POSTURED_HAVE_OPERATOR_API
    ApiConfig api_config;
    api_config.listen = config.api.listen;
    api_config.stale_after = config.api.stale_after;
    api_config.operator_token_hashes = read_operator_token_hashes(config.operator_tokens_path());
    api = std::make_unique<OperatorApi>(api_io, *storage, metrics, api_config);
    api->start();
    const auto address = parse_listen_address(config.api.listen);
    log::info("operator API and dashboard: http://", address ? address->host : "127.0.0.1", ":", api->port(), "/");
#endif
  } catch (const std::exception& e) {
    std::cerr << "posture-console serve: " << e.what() << "\n";
    return kRuntime;
  }

  // SIGINT/SIGTERM end api_io.run(); the API's own work runs on this thread meanwhile.
  boost::asio::signal_set signals(api_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("posture-console: signal ", signal, ", stopping");
#ifdef POSTURED_HAVE_OPERATOR_API
    if (api) api->stop();
#endif
    api_io.stop();
  });
  std::signal(SIGPIPE, SIG_IGN);
  api_io.run();
  endpoint.stop();
  log::info("posture-console: stopped");
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"posture-console: fleet posture console for postured agents"};
  app.set_version_flag("--version", std::string("posture-console ") + kAgentVersion);
  app.require_subcommand(1);

  std::string config_path = "/etc/posture-console/console.toml";
  bool as_json = false;
  const auto add_common = [&](CLI::App* command, bool reports) {
    command->add_option("--config", config_path, "console.toml (default /etc/posture-console/console.toml)");
    if (reports) command->add_flag("--json", as_json, "print one JSON document");
  };

  auto* serve = app.add_subcommand("serve", "run the agent endpoint and the operator API");
  add_common(serve, false);

  auto* ca = app.add_subcommand("ca", "the enrollment CA");
  ca->require_subcommand(1);
  auto* ca_init = ca->add_subcommand("init", "make the CA and the server certificate under <data_dir>/ca");
  bool force = false;
  ca_init->add_flag("--force", force, "replace an existing CA (every device must enroll again)");
  add_common(ca_init, true);

  auto* token = app.add_subcommand("token", "enrollment tokens");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand("create", "make an enrollment token for a store (printed once)");
  std::string store;
  int uses = 1;
  std::string ttl;
  token_create->add_option("--store", store, "the store the enrolling devices belong to")->required();
  token_create->add_option("--uses", uses, "how many devices may enroll with it (default 1)");
  token_create->add_option("--ttl", ttl, "lifetime, e.g. 12h or 7d (default enroll.token_ttl)");
  add_common(token_create, true);

  auto* device = app.add_subcommand("device", "enrolled devices");
  device->require_subcommand(1);
  auto* device_revoke = device->add_subcommand("revoke", "revoke every certificate of a device");
  std::string device_id;
  device_revoke->add_option("ID", device_id, "the device id (its certificate's CN)")->required();
  add_common(device_revoke, true);
  auto* device_release =
      device->add_subcommand("release", "revoke a device's certificates and let it enroll once more (reinstalled)");
  device_release->add_option("ID", device_id, "the device id (its certificate's CN)")->required();
  add_common(device_release, true);

  auto* operator_token = app.add_subcommand("operator-token", "bearer tokens for the operator API");
  operator_token->require_subcommand(1);
  auto* operator_create = operator_token->add_subcommand("create", "make an operator token (printed once)");
  add_common(operator_create, true);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  const auto config = load(config_path);
  if (!config) return kUsage;
  try {
    if (serve->parsed()) return cmd_serve(*config);
    if (ca_init->parsed()) return cmd_ca_init(*config, force, as_json);
    if (token_create->parsed()) return cmd_token_create(*config, store, uses, ttl, as_json);
    if (device_revoke->parsed()) return cmd_device_revoke(*config, device_id, as_json);
    if (device_release->parsed()) return cmd_device_release(*config, device_id, as_json);
    if (operator_create->parsed()) return cmd_operator_token_create(*config, as_json);
  } catch (const std::exception& e) {
    std::cerr << "posture-console: " << e.what() << "\n";
    return kRuntime;
  }
  return kUsage;
}
