// A small, realistic fleet for the operator API's tests and the dashboard's browser test: postured.report/v1
// documents built here, reduced to DeviceState by the console's own validate_report (the ingest path's
// code), and stored through Storage like the agent endpoint stores them.
//
// Card numbers: none. The PAN findings are counts, as in real reports.
#pragma once

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "server/report_model.hpp"
#include "storage/storage.hpp"

namespace postured::console::fleet_fixture {

using namespace std::chrono_literals;

struct CheckSpec {
  std::string id;
  std::string title;
  std::string status;
  std::string severity;
  std::string evidence;
  std::string remediation;
};

struct CacheSpec {
  std::string name;
  bool encrypted = true;
  int rows = 0;
  int pan_findings = 0;
};

struct DeviceSpec {
  std::string id;
  std::string store;
  std::string hostname;
  std::vector<std::string> failing;   // check ids (from kChecks) that fail; the others pass
  std::vector<std::string> erroring;  // check ids that end in error
  std::vector<CacheSpec> caches;
  int packages_below_baseline = 0;
  int pending_security_updates = 0;
  bool reboot_required = false;
  int scan_pan_findings = 0;
  std::chrono::hours last_report_age{1};  // received this long before "now"
  bool reports = true;                    // false: enrolled, never reported
  bool revoked = false;
};

// The checks every fixture device runs, with the evidence a failing one shows.
inline const std::vector<CheckSpec>& checks() {
  static const std::vector<CheckSpec> list = {
      {"linux.ssh.permit_root_login", "SSH refuses root logins", "", "high", "sshd_config line 32: PermitRootLogin yes",
       "Set PermitRootLogin no in /etc/ssh/sshd_config and reload sshd."},
      {"linux.firewall.default_deny", "Inbound traffic is denied by default", "", "high",
       "nftables input chain policy is accept", "Set the input chain policy to drop and allow only the POS ports."},
      {"linux.accounts.password_max_days", "Passwords expire within 90 days", "", "medium",
       "PASS_MAX_DAYS 99999 in /etc/login.defs", "Set PASS_MAX_DAYS 90 in /etc/login.defs (PCI DSS 8.3.9)."},
      {"linux.time.ntp_synchronized", "The clock is synchronised", "", "low",
       "timedatectl: System clock synchronized: no", "Enable systemd-timesyncd or chrony with the store's NTP server."},
      {"postured.cache.encrypted", "Customer caches are encrypted", "", "critical", "loyalty.db is plaintext SQLite",
       "Run `posturectl cache encrypt loyalty` to migrate it in place."},
  };
  return list;
}

inline std::string uuid_for(const std::string& device, int n) {
  // Deterministic, UUID-shaped: enough for deduplication tests to be exact.
  unsigned long long h = 1469598103934665603ull;
  for (const char c : device) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08llx-%04x-4%03x-8%03x-%012llx", (h >> 32) & 0xffffffffull,
                static_cast<unsigned>(h & 0xffff), static_cast<unsigned>(n & 0xfff),
                static_cast<unsigned>((h >> 16) & 0xfff), static_cast<unsigned long long>(n) & 0xffffffffffffull);
  return buffer;
}

// The postured.report/v1 document the device would send.
inline nlohmann::json report_document(const DeviceSpec& d, const std::string& report_id, Clock::time_point generated) {
  using nlohmann::json;
  auto contains = [](const std::vector<std::string>& ids, const std::string& id) {
    for (const auto& x : ids)
      if (x == id) return true;
    return false;
  };
  json list = json::array();
  int pass = 0, fail = 0, error = 0;
  for (const auto& check : checks()) {
    std::string status = "pass";
    std::string evidence = "as required";
    if (contains(d.failing, check.id)) {
      status = "fail";
      evidence = check.evidence;
      ++fail;
    } else if (contains(d.erroring, check.id)) {
      status = "error";
      evidence = "could not read the configuration: permission denied";
      ++error;
    } else {
      ++pass;
    }
    list.push_back({{"id", check.id},
                    {"title", check.title},
                    {"status", status},
                    {"severity", check.severity},
                    {"evidence", evidence},
                    {"remediation", check.remediation},
                    {"references", {"PCI DSS 4.0 2.2.6", "CIS Debian 12"}}});
  }
  json caches = json::array();
  for (const auto& cache : d.caches)
    caches.push_back({{"name", cache.name},
                      {"path", "/var/lib/pos/" + cache.name + ".db"},
                      {"encrypted", cache.encrypted},
                      {"cipher_version", cache.encrypted ? json("4.6.1 community") : json(nullptr)},
                      {"rows", cache.rows},
                      {"purged_rows", cache.rows / 10},
                      {"transformed_values", cache.rows / 4},
                      {"pan_findings", cache.pan_findings},
                      {"last_enforced_at", text::rfc3339_utc(generated - 2h)}});
  json below = json::array();
  for (int i = 0; i < d.packages_below_baseline; ++i)
    below.push_back(
        {{"name", i == 0 ? "openssl" : "libc6"}, {"installed", "3.0.11-1~deb12u1"}, {"required", "3.0.15-1~deb12u1"}});
  json locations = json::array();
  if (d.scan_pan_findings > 0)
    locations.push_back({{"path", "/var/log/pos/export.csv"}, {"count", d.scan_pan_findings}, {"action", "redacted"}});
  return {{"schema", "postured.report/v1"},
          {"report_id", report_id},
          {"generated_at", text::rfc3339_utc(generated)},
          {"agent_version", "0.1.0"},
          {"device",
           {{"id", d.id},
            {"store_id", d.store},
            {"hostname", d.hostname},
            {"os",
             {{"id", "debian"},
              {"version_id", "12"},
              {"pretty_name", "Debian GNU/Linux 12 (bookworm)"},
              {"kernel", "6.1.0-26-amd64"}}},
            {"agent_version", "0.1.0"}}},
          {"checks", list},
          {"summary", {{"pass", pass}, {"fail", fail}, {"error", error}, {"not_applicable", 0}}},
          {"patch",
           {{"packages_total", 1423},
            {"below_baseline", below},
            {"last_security_update_at", text::rfc3339_utc(generated - 24h * (d.pending_security_updates > 0 ? 40 : 3))},
            {"pending_security_updates", d.pending_security_updates},
            {"reboot_required", d.reboot_required}}},
          {"caches", caches},
          {"scan",
           {{"files_scanned", 812},
            {"bytes_scanned", 52428800},
            {"pan_findings", d.scan_pan_findings},
            {"locations", locations}}}};
}

// The report as the agent endpoint hands it to storage: validated by the console's own report model.
inline IncomingReport incoming(const DeviceSpec& d, const std::string& report_id, Clock::time_point generated,
                               Clock::time_point received) {
  const std::string body = report_document(d, report_id, generated).dump();
  auto validated = validate_report(body);
  if (auto* problem = std::get_if<ReportProblem>(&validated))
    throw std::logic_error("fixture report for " + d.id + " is invalid: " + problem->message);
  auto& report = std::get<ValidatedReport>(validated);
  IncomingReport in;
  in.report_id = report.report_id;
  in.device_id = d.id;
  in.generated_at = report.generated_at;
  in.received_at = received;
  in.json = body;
  in.state = std::move(report.state);
  return in;
}

// Twelve devices in three stores: passing, failing, erroring, stale, never reported, revoked; caches
// plain and encrypted; PAN findings; patch lag. The last one's hostname tries CSV and HTML injection.
inline std::vector<DeviceSpec> fleet() {
  return {
      {"pos-berlin-01",
       "berlin-mitte",
       "till01.berlin",
       {},
       {},
       {{"loyalty", true, 5200, 0}, {"receipts", true, 48000, 0}}},
      {"pos-berlin-02",
       "berlin-mitte",
       "till02.berlin",
       {"linux.ssh.permit_root_login"},
       {},
       {{"loyalty", true, 5100, 0}},
       1,
       3,
       true},
      {"pos-berlin-03",
       "berlin-mitte",
       "till03.berlin",
       {"linux.ssh.permit_root_login", "postured.cache.encrypted"},
       {},
       {{"loyalty", false, 4900, 2}, {"receipts", true, 47000, 0}},
       0,
       0,
       false,
       1},
      {"srv-berlin", "berlin-mitte", "backoffice.berlin", {}, {}, {}, 0, 0, false, 0, std::chrono::hours(72)},
      {"pos-hamburg-01", "hamburg-hbf", "till01.hamburg", {}, {}, {{"loyalty", true, 3000, 0}}},
      {"pos-hamburg-02",
       "hamburg-hbf",
       "till02.hamburg",
       {"linux.firewall.default_deny"},
       {"linux.time.ntp_synchronized"},
       {{"loyalty", true, 3100, 0}},
       2,
       7},
      {"pos-hamburg-03",
       "hamburg-hbf",
       "till03.hamburg",
       {},
       {"linux.accounts.password_max_days"},
       {{"loyalty", true, 2900, 0}}},
      {"pos-hamburg-04", "hamburg-hbf", "till04.hamburg", {}, {}, {}, 0, 0, false, 0, std::chrono::hours(1), false},
      {"pos-munich-01", "munich-marienplatz", "till01.munich", {}, {}, {{"loyalty", true, 6100, 0}}},
      {"pos-munich-02",
       "munich-marienplatz",
       "till02.munich",
       {"linux.ssh.permit_root_login"},
       {},
       {{"offline-tx", false, 120, 0}},
       0,
       0,
       false,
       3},
      {"pos-munich-03",
       "munich-marienplatz",
       "till03.munich",
       {},
       {},
       {},
       0,
       0,
       false,
       0,
       std::chrono::hours(1),
       true,
       true},
      {"pos-munich-04",
       "munich-marienplatz",
       "=HYPERLINK(\"http://x\",\"<b>x</b>\"), till04",
       {"linux.accounts.password_max_days"},
       {},
       {{"loyalty", true, 10, 0}}},
  };
}

// Enrolls every device of `devices` and stores one report each (those that report), received
// `last_report_age` before `now`; an older passing report first for history. Revokes those marked so.
inline void seed(Storage& storage, const std::vector<DeviceSpec>& devices, Clock::time_point now) {
  std::vector<IncomingReport> batch;
  for (const auto& d : devices) {
    EnrolledCertificate certificate;
    certificate.device_id = d.id;
    certificate.store_id = d.store;
    certificate.serial = uuid_for(d.id, 0).substr(0, 16);
    certificate.issued_at = now - 24h * 10;
    certificate.not_after = now + 24h * 80;
    storage.record_enrollment(certificate);
    if (!d.reports) continue;
    const auto received = now - d.last_report_age;
    DeviceSpec earlier = d;
    earlier.failing.clear();
    earlier.erroring.clear();
    batch.push_back(incoming(earlier, uuid_for(d.id, 1), received - 24h, received - 24h));
    batch.push_back(incoming(d, uuid_for(d.id, 2), received - 1min, received));
  }
  storage.store_reports(batch);
  for (const auto& d : devices)
    if (d.revoked) storage.revoke_device(d.id, now);
}

}  // namespace postured::console::fleet_fixture
