#include "daemon/reporting.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/idle_memory.hpp"
#include "core/key_store.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/version.hpp"

namespace postured {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

std::string when(std::optional<Clock::time_point> t) {
  return t ? text::rfc3339_utc(*t) : std::string();
}

// agent.device_id, else /etc/machine-id, as the report and the enrollment name the device.
std::string configured_device_id(const Config& config) {
  if (!config.agent.device_id.empty()) return config.agent.device_id;
  std::ifstream in("/etc/machine-id");
  std::string id;
  std::getline(in, id);
  return std::string(text::trim(id));
}

nlohmann::ordered_json certificate_json(const std::optional<transport::CertificateFacts>& facts,
                                        const std::string& error, const Config& config) {
  if (!facts) return {{"enrolled", false}, {"error", error}};
  const auto problem =
      transport::identity_problem(*facts, configured_device_id(config), config.agent.store_id, Clock::now());
  return {{"enrolled", true},
          {"subject", facts->subject},
          {"serial", facts->serial},
          {"not_before", text::rfc3339_utc(facts->not_before)},
          {"not_after", text::rfc3339_utc(facts->not_after)},
          {"renew_after", text::rfc3339_utc(transport::renewal_time(*facts))},
          {"expired", Clock::now() >= facts->not_after},
          // Empty when the certificate is usable; otherwise why not and what to run.
          {"problem", problem ? problem->message : std::string()}};
}

nlohmann::ordered_json spool_json(const transport::SpoolStats& s) {
  return {{"depth", s.depth},
          {"bytes", s.bytes},
          {"dropped_reports", s.dropped_reports},
          {"rejected_reports", s.rejected_reports},
          {"sent_reports", s.sent_reports}};
}

transport::SpoolLimits spool_limits(const Config& config) {
  return {config.spool.max_reports, config.spool.max_bytes};
}

}  // namespace

ReportingService::ReportingService(const Config& config, const SecretKey& master, Mode mode)
    : config_(config),
      master_(master),
      mode_(mode),
      identity_store_(config.agent.state_dir, master),
      enroll_backoff_(config.console.retry_min, config.console.retry_max) {
  if (config.console.url.empty()) {
    disabled_reason_ = "console.url is empty";
    return;
  }
  url_ = parse_console_url(config.console.url);
  if (!url_) {
    disabled_reason_ = "console.url \"" + config.console.url + "\" is not https://HOST:PORT";
    return;
  }
  std::string error;
  spool_ = transport::ReportSpool::open(config.agent.state_dir, master, spool_limits(config), error);
  if (!spool_) {
    disabled_reason_ = error;
    log::error("reporting is off: ", error);
    return;
  }
  if (mode == Mode::once) {
    http_.connect_timeout = reporting_limits::kOnceConnectTimeout;
    http_.request_timeout = reporting_limits::kOnceRequestTimeout;
  } else {
    http_.request_timeout = reporting_limits::kDaemonRequestTimeout;
  }
  transport::SenderSettings settings;
  settings.endpoint = {url_->host, url_->port};
  settings.http = http_;
  settings.retry_min = config.console.retry_min;
  settings.retry_max = config.console.retry_max;
  settings.batch = static_cast<std::size_t>(config.console.backlog_batch);
  settings.pause = config.console.backlog_pause;
  sender_ = std::make_unique<transport::ReportSender>(*spool_, settings);
  std::string ignored;
  certificate_ = transport::ClientIdentityStore::read_certificate(config.agent.state_dir, ignored);
}

ReportingService::~ReportingService() {
  if (worker_.joinable()) {
    worker_.request_stop();
    wake_.notify_all();
    worker_.join();
  }
}

nlohmann::ordered_json ReportingService::transport_block() {
  if (!spool_) return nullptr;
  const auto stats = spool_->stats();
  // The spool before this report joins it: how many earlier reports wait, and how many were lost.
  return {{"spool_depth", stats.depth},
          {"dropped_reports", stats.dropped_reports},
          {"rejected_reports", stats.rejected_reports}};
}

bool ReportingService::submit(const std::string& report_id, const std::string& json) {
  if (!spool_) return false;
  try {
    const auto dropped = spool_->add(report_id, json);
    if (dropped > 0) {
      log::warn("spool: ", dropped, " oldest reports dropped to stay within spool.max_reports/max_bytes");
    }
  } catch (const std::exception& e) {
    log::error("spool: report ", report_id, " not stored: ", e.what());
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  wake_.notify_all();
  return true;
}

transport::EnrollmentTarget ReportingService::enrollment_target(std::string& error) const {
  transport::EnrollmentTarget target;
  target.endpoint = {url_->host, url_->port};
  target.http = http_;
  target.store_id = config_.agent.store_id;
  target.device_id = configured_device_id(config_);
  try {
    target.ca_pem = transport::read_pem_file(config_.console.ca_file.string());
  } catch (const transport::TlsConfigError& e) {
    error = std::string("console.ca_file: ") + e.what();
  }
  return target;
}

bool ReportingService::note_identity_problem(const std::string& problem) {
  std::lock_guard lock(mutex_);
  if (problem == identity_problem_) return false;
  identity_problem_ = problem;
  return true;
}

std::optional<transport::StoredIdentity> ReportingService::ensure_identity(std::string& error, bool& repeated) {
  repeated = false;
  // Why a certificate is needed although one is stored (expired, or for another device or store);
  // empty when there is none yet.
  std::string replacing;
  if (identity_store_.exists()) {
    auto identity = identity_store_.load(error);
    if (!identity) return std::nullopt;
    const auto problem = transport::identity_problem(identity->facts, configured_device_id(config_),
                                                     config_.agent.store_id, Clock::now());
    if (!problem) {
      if (note_identity_problem("")) log::info("certificate: ", identity->facts.subject, " is usable again");
      return identity;
    }
    // Logged once per change: without a token nothing changes until someone enrolls, and with one
    // the enrollment's own failure is what the retries report.
    if (note_identity_problem(problem->message)) {
      log::error(problem->message, config_.console.token_file.empty()
                                       ? std::string("; reports wait in the spool until then")
                                       : "; enrolling again with console.token_file");
    } else if (config_.console.token_file.empty()) {
      repeated = true;
    }
    if (config_.console.token_file.empty()) {
      // Not sent to the console at all: a handshake with this certificate can only fail.
      error = problem->message;
      return std::nullopt;
    }
    replacing = problem->message;
  } else if (config_.console.token_file.empty()) {
    error = "not enrolled: run `posturectl enroll --token T`, or set console.token_file";
    return std::nullopt;
  }
  const std::string why = replacing.empty() ? std::string("not enrolled") : replacing;
  std::ifstream in(config_.console.token_file);
  std::string token;
  std::getline(in, token);
  token = std::string(text::trim(token));
  if (token.empty()) {
    error = why + "; console.token_file " + config_.console.token_file.string() + " is missing or empty";
    return std::nullopt;
  }
  auto target = enrollment_target(error);
  if (!error.empty()) return std::nullopt;
  // A new key and certificate; the old identity stays on disk until the new one is stored.
  const auto outcome = transport::enroll(target, token, identity_store_);
  if (!outcome.ok()) {
    error = (replacing.empty() ? std::string() : replacing + "; ") + "enrollment failed: " + outcome.message;
    return std::nullopt;
  }
  log::info("enrolled with ", config_.console.url, " as ", outcome.certificate->subject, ", certificate valid until ",
            text::rfc3339_utc(outcome.certificate->not_after));
  note_identity_problem("");
  if (!replacing.empty()) sender_->reset_connection();
  return identity_store_.load(error);
}

std::optional<transport::StoredIdentity> ReportingService::renew_if_due(const transport::StoredIdentity& identity) {
  if (!transport::renewal_due(identity.facts, Clock::now())) return std::nullopt;
  std::string error;
  const auto target = enrollment_target(error);
  if (!error.empty()) {
    log::error("renewal: ", error);
    return std::nullopt;
  }
  const auto outcome = transport::renew(target, identity, identity_store_);
  if (!outcome.ok()) {
    // The current certificate stays in use until it expires; the next attempt tries again.
    log::error("renewal of the certificate (valid until ", text::rfc3339_utc(identity.facts.not_after),
               ") failed: ", outcome.message);
    return std::nullopt;
  }
  auto fresh = identity_store_.load(error);
  if (!fresh) {
    log::error("renewal: the new certificate was stored but cannot be read back: ", error);
    return std::nullopt;
  }
  log::info("certificate renewed: ", fresh->facts.subject, " serial ", fresh->facts.serial, ", valid until ",
            text::rfc3339_utc(fresh->facts.not_after));
  sender_->reset_connection();
  return fresh;
}

bool ReportingService::sleep_for(std::chrono::milliseconds duration, std::stop_token stop) {
  std::unique_lock lock(mutex_);
  // Wakes early only for a stop; new reports wait for the backlog pause like the rest.
  wake_.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

ReportingService::Attempt ReportingService::attempt(std::stop_token stop) {
  Attempt result;
  std::string error;
  const auto target = enrollment_target(error);
  auto identity = [&]() -> std::optional<transport::StoredIdentity> {
    if (!error.empty()) return std::nullopt;  // no usable CA: nothing can be sent or enrolled
    return ensure_identity(error, result.repeated);
  }();
  if (!identity) {
    result.error = error;
    result.retry_in = enroll_backoff_.next_delay();
    spool_->note_error(error);
  } else {
    enroll_backoff_.reset();
    sender_->set_ca_pem(target.ca_pem);
    if (auto renewed = renew_if_due(*identity)) identity.emplace(std::move(*renewed));
    {
      std::lock_guard lock(mutex_);
      certificate_ = identity->facts;
    }
    const auto pass = sender_->send_pending(identity->identity, stop,
                                            [&](std::chrono::milliseconds d) { return sleep_for(d, stop); });
    if (pass.sent > 0) log::info("reports: ", pass.sent, " sent to ", config_.console.url);
    if (pass.rejected > 0) log::error("reports: ", pass.rejected, " refused by the console for good and dropped");
    if (pass.retry_in) {
      result.error = pass.error;
      result.retry_in = pass.retry_in;
    }
  }
  std::lock_guard lock(mutex_);
  last_error_ = result.error;
  next_attempt_at_ = result.retry_in ? std::optional(Clock::now() + *result.retry_in) : std::nullopt;
  return result;
}

void ReportingService::start() {
  if (!spool_ || worker_.joinable()) return;
  worker_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void ReportingService::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto wait = reporting_limits::kIdleRecheck;
    try {
      const auto result = attempt(stop);
      if (result.retry_in) {
        wait = *result.retry_in;
        if (!result.repeated) log::warn("reports: ", result.error, "; next attempt in ", wait.count() / 1000, " s");
      }
    } catch (const std::exception& e) {
      // A spool or key error must not end the thread; the next report or the recheck tries again.
      log::error("reporting: ", e.what());
    }
    // A pass handles compressed reports and TLS records on this thread's own heap arena and runs
    // SQLCipher and mbedTLS; give that back before sleeping, for the idle daemon's RSS.
    release_idle_memory();
    std::unique_lock lock(mutex_);
    if (wait < reporting_limits::kIdleRecheck) {
      // A failure's wait is kept even when new reports arrive meanwhile: they join the spool.
      wake_.wait_for(lock, stop, wait, [] { return false; });
    } else {
      wake_.wait_for(lock, stop, wait, [this] { return pending_; });
    }
    pending_ = false;
  }
}

std::string ReportingService::send_now() {
  if (!spool_) return disabled_reason_;
  std::stop_source never;
  const auto result = attempt(never.get_token());
  return result.error;
}

void ReportingService::set_next_cycle(Clock::time_point earliest, Clock::time_point latest) {
  std::lock_guard lock(mutex_);
  next_cycle_earliest_ = earliest;
  next_cycle_latest_ = latest;
}

nlohmann::ordered_json ReportingService::status() {
  nlohmann::ordered_json document = {
      {"schema", "postured.status/v1"},
      {"daemon", {{"running", true}, {"pid", ::getpid()}, {"agent_version", kAgentVersion}}}};
  std::optional<transport::CertificateFacts> certificate;
  std::string last_error;
  std::optional<Clock::time_point> next_attempt, earliest, latest;
  {
    std::lock_guard lock(mutex_);
    certificate = certificate_;
    last_error = last_error_;
    next_attempt = next_attempt_at_;
    earliest = next_cycle_earliest_;
    latest = next_cycle_latest_;
  }
  document["reporting"] = {{"enabled", enabled()}, {"console_url", config_.console.url}};
  if (!enabled()) document["reporting"]["reason"] = disabled_reason_;
  std::string certificate_error;
  if (!certificate) {
    certificate = transport::ClientIdentityStore::read_certificate(config_.agent.state_dir, certificate_error);
  }
  document["enrollment"] = certificate_json(certificate, certificate_error, config_);
  if (spool_) {
    const auto stats = spool_->stats();
    document["spool"] = spool_json(stats);
    document["last_success_at"] = stats.last_success_at;
    document["last_error"] = last_error.empty() ? stats.last_error : last_error;
    document["last_error_at"] = stats.last_error_at;
  }
  document["next_send_attempt_at"] = when(next_attempt);
  document["next_cycle"] = {{"earliest", when(earliest)}, {"latest", when(latest)}};
  return document;
}

nlohmann::ordered_json offline_status(const Config& config, const std::string& daemon_error) {
  nlohmann::ordered_json document = {{"schema", "postured.status/v1"},
                                     {"daemon", {{"running", false}, {"error", daemon_error}}}};
  document["reporting"] = {{"enabled", !config.console.url.empty()}, {"console_url", config.console.url}};
  if (config.console.url.empty()) document["reporting"]["reason"] = "console.url is empty";
  std::string certificate_error;
  const auto certificate = transport::ClientIdentityStore::read_certificate(config.agent.state_dir, certificate_error);
  document["enrollment"] = certificate_json(certificate, certificate_error, config);
  std::error_code ec;
  if (!std::filesystem::exists(config.agent.state_dir / transport::kSpoolFileName, ec)) {
    document["spool"] = {{"error", "no spool yet"}};
    return document;
  }
  // Reading the spool needs the master key: root, or whoever runs the agent.
  const auto master = open_master_key_store(config.agent.state_dir)->load(false);
  if (!master.key) {
    document["spool"] = {{"error", "not readable: " + master.error}};
    return document;
  }
  std::string error;
  const auto spool = transport::ReportSpool::open(config.agent.state_dir, *master.key, spool_limits(config), error);
  if (!spool) {
    document["spool"] = {{"error", error}};
    return document;
  }
  const auto stats = spool->stats();
  document["spool"] = spool_json(stats);
  document["last_success_at"] = stats.last_success_at;
  document["last_error"] = stats.last_error;
  document["last_error_at"] = stats.last_error_at;
  return document;
}

}  // namespace postured
