// The postured.report/v1 documents console_load_bench posts: realistic in size and shape (40 checks
// with evidence, remediation and references, patch, caches, scan), a new report_id in each.
//
// Compressing a 20 KB document for every request would cost the generator a large share of the core
// it shares with the server. So each device's document is split: a short prefix that changes with every
// report ({"schema", "report_id", "generated_at", ...) and the rest, which is the device's own and
// compressed once. A request body is one ordinary gzip member: the prefix deflated and ended with a
// sync flush (a byte boundary, no final block), then the device's precompressed rest (a fresh deflate
// stream, so it refers to nothing before it), then the CRC-32 of the whole (crc32_combine) and its size.
// Any inflater reads it as one stream; the bench checks that at start-up.
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace postured::bench {

// One check of the simulated agent: what doctor would list. 40 of them, as a POS terminal has.
struct SimulatedCheck {
  const char* id;
  const char* title;
  const char* severity;
  const char* references;  // JSON array body
};

inline constexpr std::array<SimulatedCheck, 40> kSimulatedChecks{{
    {"linux.ssh.permit_root_login", "SSH does not allow root logins", "high",
     R"("PCI DSS 4.0 2.2.6","CIS Debian 12 5.1.20")"},
    {"linux.ssh.password_authentication", "SSH refuses password logins", "high",
     R"("PCI DSS 4.0 8.3.1","CIS Debian 12 5.1.21")"},
    {"linux.ssh.protocol_ciphers", "SSH offers only strong ciphers", "medium",
     R"("PCI DSS 4.0 4.2.1","CIS Debian 12 5.1.6")"},
    {"linux.ssh.max_auth_tries", "SSH limits authentication attempts", "medium",
     R"("PCI DSS 4.0 8.3.4","CIS Debian 12 5.1.16")"},
    {"linux.ssh.idle_timeout", "SSH closes idle sessions", "low", R"("PCI DSS 4.0 8.2.8","CIS Debian 12 5.1.12")"},
    {"linux.firewall.enabled", "A host firewall is active", "high", R"("PCI DSS 4.0 1.4.1","CIS Debian 12 4.1.1")"},
    {"linux.firewall.default_deny", "The firewall denies inbound by default", "high",
     R"("PCI DSS 4.0 1.3.1","CIS Debian 12 4.2.6")"},
    {"linux.kernel.aslr", "Address space layout randomization is on", "medium", R"("CIS Debian 12 1.5.3")"},
    {"linux.kernel.ptrace_scope", "ptrace is restricted", "medium", R"("CIS Debian 12 1.5.2")"},
    {"linux.kernel.core_dumps", "Core dumps are restricted", "medium", R"("PCI DSS 4.0 3.3.1","CIS Debian 12 1.5.1")"},
    {"linux.kernel.ip_forward", "IP forwarding is off", "medium", R"("CIS Debian 12 3.3.1")"},
    {"linux.kernel.icmp_redirects", "ICMP redirects are not accepted", "low", R"("CIS Debian 12 3.3.2")"},
    {"linux.kernel.syncookies", "TCP SYN cookies are on", "low", R"("CIS Debian 12 3.3.10")"},
    {"linux.usb.storage_disabled", "USB mass storage is disabled", "high",
     R"("PCI DSS 4.0 9.4.1","CIS Debian 12 1.1.1.8")"},
    {"linux.time.synchronized", "The clock is synchronized", "medium", R"("PCI DSS 4.0 10.6.1","CIS Debian 12 2.3.1")"},
    {"linux.time.trusted_sources", "Time comes from designated sources", "low", R"("PCI DSS 4.0 10.6.2")"},
    {"linux.accounts.no_empty_passwords", "No account has an empty password", "critical",
     R"("PCI DSS 4.0 8.3.1","CIS Debian 12 7.2.2")"},
    {"linux.accounts.uid0_only_root", "Only root has UID 0", "critical", R"("CIS Debian 12 7.2.3")"},
    {"linux.accounts.password_max_days", "Passwords expire within 90 days", "medium",
     R"("PCI DSS 4.0 8.3.9","CIS Debian 12 5.4.1.1")"},
    {"linux.accounts.lockout", "Accounts lock after failed logins", "medium",
     R"("PCI DSS 4.0 8.3.4","CIS Debian 12 5.3.3.1")"},
    {"linux.accounts.inactive_lock", "Inactive accounts are disabled", "low", R"("PCI DSS 4.0 8.2.6")"},
    {"linux.audit.auditd_running", "The audit daemon runs", "high", R"("PCI DSS 4.0 10.2.1","CIS Debian 12 6.3.1.2")"},
    {"linux.audit.log_retention", "Audit logs are kept for a year", "medium", R"("PCI DSS 4.0 10.5.1")"},
    {"linux.audit.privileged_commands", "Use of privileged commands is audited", "medium",
     R"("PCI DSS 4.0 10.2.1.2","CIS Debian 12 6.3.3.6")"},
    {"linux.logging.remote", "Logs go to a central server", "medium",
     R"("PCI DSS 4.0 10.3.3","CIS Debian 12 6.2.1.1.6")"},
    {"linux.logging.permissions", "Log files are not world-readable", "low",
     R"("PCI DSS 4.0 10.3.2","CIS Debian 12 6.2.3.1")"},
    {"linux.fs.tmp_noexec", "/tmp is mounted noexec", "medium", R"("CIS Debian 12 1.1.2.1.4")"},
    {"linux.fs.world_writable", "No world-writable files outside /tmp", "medium", R"("CIS Debian 12 7.1.11")"},
    {"linux.fs.suid_review", "SUID binaries match the baseline", "medium", R"("CIS Debian 12 7.1.13")"},
    {"linux.services.unneeded", "No unneeded network services listen", "high",
     R"("PCI DSS 4.0 2.2.4","CIS Debian 12 2.2")"},
    {"linux.services.avahi_disabled", "Avahi is not running", "low", R"("CIS Debian 12 2.2.2")"},
    {"linux.services.cups_disabled", "CUPS is not running", "low", R"("CIS Debian 12 2.2.3")"},
    {"linux.boot.grub_password", "The boot loader is password protected", "medium", R"("CIS Debian 12 1.4.1")"},
    {"linux.boot.secure_boot", "Secure Boot is enabled", "medium", R"("PCI DSS 4.0 2.2.1")"},
    {"linux.malware.scanner_active", "An anti-malware scanner runs", "high",
     R"("PCI DSS 4.0 5.2.1","PCI DSS 4.0 5.3.1")"},
    {"linux.malware.signatures_current", "Anti-malware signatures are current", "high", R"("PCI DSS 4.0 5.3.1")"},
    {"linux.patch.security_updates_recent", "Security updates were applied within 30 days", "high",
     R"("PCI DSS 4.0 6.3.3")"},
    {"linux.patch.unattended_upgrades", "Unattended security upgrades are enabled", "medium", R"("PCI DSS 4.0 6.3.3")"},
    {"postured.cache.encrypted", "Every customer cache is encrypted", "critical",
     R"("PCI DSS 4.0 3.5.1","GDPR Art. 32")"},
    {"postured.scan.no_pan", "No card numbers in logs or exports", "critical",
     R"("PCI DSS 4.0 3.3.1","PCI DSS 4.0 3.4.1")"},
}};

// The part of a device's report that stays the same from one report to the next: everything after
// "generated_at". Device `index` fails a few checks of its own, so that devices differ.
inline std::string report_rest(const std::string& device_id, const std::string& store_id, std::size_t index) {
  std::string out;
  out.reserve(24 * 1024);
  out += R"("agent_version":"0.1.0","device":{"id":")" + device_id + R"(","store_id":")" + store_id +
         R"(","hostname":")" + device_id +
         R"x(.pos.example","os":{"id":"debian","version_id":"12","pretty_name":"Debian GNU/Linux 12 (bookworm)",)x"
         R"("kernel":"6.1.0-27-amd64"},"agent_version":"0.1.0"},"checks":[)";
  int pass = 0, fail = 0;
  for (std::size_t i = 0; i < kSimulatedChecks.size(); ++i) {
    const auto& check = kSimulatedChecks[i];
    const bool failed = (index + i) % 13 == 0;
    (failed ? fail : pass)++;
    if (i) out += ',';
    out += R"({"id":")";
    out += check.id;
    out += R"(","title":")";
    out += check.title;
    out += R"(","status":")";
    out += failed ? "fail" : "pass";
    out += R"(","severity":")";
    out += check.severity;
    out += R"(","evidence":")";
    out += failed ? "Found the setting at a value the baseline does not allow (read from the configuration file "
                    "and the running service; see remediation)."
                  : "The configured value matches the baseline; read from the configuration file and confirmed "
                    "against the running service.";
    out += R"(","remediation":"Set the value the baseline requires in the configuration file, reload the )"
           R"(service, and run posturectl doctor again to confirm.","references":[)";
    out += check.references;
    out += "]}";
  }
  char tail[1024];
  std::snprintf(
      tail, sizeof tail,
      R"(],"summary":{"pass":%d,"fail":%d,"error":0,"not_applicable":0},)"
      R"("patch":{"packages_total":825,"below_baseline":[{"name":"openssl","installed":"3.0.14-1~deb12u1",)"
      R"("required":"3.0.15-1~deb12u1"}],"last_security_update_at":"2026-11-20T03:12:00Z",)"
      R"("pending_security_updates":%zu,"reboot_required":false},)"
      R"("caches":[{"name":"loyalty","path":"/var/lib/pos/loyalty.db","encrypted":true,"cipher_version":"4.6.1 community",)"
      R"("rows":48211,"purged_rows":112,"transformed_values":3904,"pan_findings":0,"last_enforced_at":"2026-11-26T02:00:00Z"},)"
      R"({"name":"receipts","path":"/var/lib/pos/receipts.db","encrypted":true,"cipher_version":"4.6.1 community",)"
      R"("rows":250117,"purged_rows":2301,"transformed_values":0,"pan_findings":0,"last_enforced_at":"2026-11-26T02:00:00Z"}],)"
      R"("scan":{"files_scanned":1204,"bytes_scanned":734003200,"pan_findings":%zu,)"
      R"("locations":[{"path":"/var/log/pos/export-2026-11-25.csv","count":%zu,"action":"redacted"}]}})",
      pass, fail, index % 4, index % 3, index % 3);
  out += tail;
  return out;
}

// The changing start of a report, up to and including the comma before report_rest().
inline std::string report_prefix(const std::string& report_id, const std::string& generated_at) {
  return R"({"schema":"postured.report/v1","report_id":")" + report_id + R"(","generated_at":")" + generated_at +
         R"(",)";
}

// A device's report_rest(), deflated once: what every one of its request bodies ends with.
struct CompressedRest {
  std::string deflated;  // raw deflate, ending with a final block
  uLong crc = 0;         // CRC-32 of the uncompressed rest
  std::size_t size = 0;  // uncompressed size
};

inline CompressedRest compress_rest(std::string_view rest) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  CompressedRest out;
  out.deflated.resize(deflateBound(&z, static_cast<uLong>(rest.size())) + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
  z.avail_in = static_cast<uInt>(rest.size());
  z.next_out = reinterpret_cast<Bytef*>(out.deflated.data());
  z.avail_out = static_cast<uInt>(out.deflated.size());
  const int rc = deflate(&z, Z_FINISH);
  out.deflated.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  out.crc = crc32(0, reinterpret_cast<const Bytef*>(rest.data()), static_cast<uInt>(rest.size()));
  out.size = rest.size();
  return out;
}

// Builds request bodies: one gzip member of prefix + rest (see the top of this file). Keeps one
// deflate state for every prefix, so a body costs a few microseconds.
class GzipSplicer {
 public:
  GzipSplicer() {
    if (deflateInit2(&z_, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
  }
  ~GzipSplicer() { deflateEnd(&z_); }
  GzipSplicer(const GzipSplicer&) = delete;
  GzipSplicer& operator=(const GzipSplicer&) = delete;

  std::string body(std::string_view prefix, const CompressedRest& rest) {
    // RFC 1952 header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    static constexpr unsigned char kHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    std::string out(reinterpret_cast<const char*>(kHeader), sizeof kHeader);
    deflateReset(&z_);
    std::array<char, 512> head{};
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(prefix.data()));
    z_.avail_in = static_cast<uInt>(prefix.size());
    z_.next_out = reinterpret_cast<Bytef*>(head.data());
    z_.avail_out = static_cast<uInt>(head.size());
    if (deflate(&z_, Z_SYNC_FLUSH) != Z_OK || z_.avail_in != 0) throw std::runtime_error("prefix too long");
    out.append(head.data(), head.size() - z_.avail_out);
    out += rest.deflated;
    const uLong prefix_crc = crc32(0, reinterpret_cast<const Bytef*>(prefix.data()), static_cast<uInt>(prefix.size()));
    const uLong crc = crc32_combine(prefix_crc, rest.crc, static_cast<z_off_t>(rest.size));
    const auto size = static_cast<std::uint32_t>(prefix.size() + rest.size);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (8 * i)) & 0xff);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((size >> (8 * i)) & 0xff);
    return out;
  }

 private:
  z_stream z_{};
};

// Random (version 4) UUIDs from a seeded PRNG: unique enough for 10^6 reports (122 random bits).
class UuidSource {
 public:
  UuidSource() : engine_(std::random_device{}()) {}
  std::string next() {
    std::array<unsigned char, 16> b{};
    for (std::size_t i = 0; i < b.size(); i += 8) {
      const std::uint64_t r = engine_();
      for (std::size_t j = 0; j < 8; ++j) b[i + j] = static_cast<unsigned char>(r >> (8 * j));
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    char text[37];
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                  b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return text;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace postured::bench
