// The durable queue of reports waiting for the console: a SQLCipher database, <state_dir>/spool.db,
// keyed with a purpose key from the device master key. A report is committed here before any attempt
// to send it and leaves only once the console has confirmed that very report_id. Bounded by count and
// bytes: the oldest reports go first, and every drop is counted in the database itself, so the count
// survives restarts and reaches the console in the next report.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.hpp"

struct sqlite3;

namespace postured::transport {

// The spool's file name in agent.state_dir.
inline constexpr std::string_view kSpoolFileName = "spool.db";
// The purpose label of the spool's SQLCipher key (key_hierarchy.hpp).
inline constexpr std::string_view kSpoolKeyPurpose = "report spool v1";

struct SpoolLimits {
  long long max_reports = 500;
  long long max_bytes = 50LL << 20;
};

struct SpooledReport {
  long long sequence = 0;
  std::string report_id;
  std::string body_gzip;  // the report as sent: gzip-compressed JSON
  std::string spooled_at;
};

// What the spool holds and has lost, for `posturectl status` and the report's transport block.
struct SpoolStats {
  long long depth = 0;             // reports waiting
  long long bytes = 0;             // their compressed size
  long long dropped_reports = 0;   // pushed out by the bounds, ever
  long long rejected_reports = 0;  // refused by the console as malformed or too large, ever
  long long sent_reports = 0;      // confirmed by the console, ever
  std::string last_success_at;     // RFC 3339, "" when never
  std::string last_error;          // the last failed attempt's reason, "" after a success
  std::string last_error_at;
};

class ReportSpool {
 public:
  // Opens (creating when missing, mode 0600) the spool; nullptr with `error` when it cannot, e.g. the
  // file was made under another master key.
  static std::unique_ptr<ReportSpool> open(const std::filesystem::path& state_dir, const SecretKey& master,
                                           SpoolLimits limits, std::string& error);
  ~ReportSpool();
  ReportSpool(const ReportSpool&) = delete;
  ReportSpool& operator=(const ReportSpool&) = delete;

  void set_limits(SpoolLimits limits);

  // Commits `json` (compressed) under `report_id`, then drops the oldest reports beyond the bounds
  // (never the one just added). Returns how many were dropped; throws std::runtime_error when the
  // report could not be committed. Adding a report_id already spooled changes nothing.
  long long add(std::string_view report_id, std::string_view json);
  // Up to `n` reports, oldest first.
  std::vector<SpooledReport> oldest(std::size_t n);
  // Removes a report the console confirmed; counts it as sent. False when it was not there.
  bool confirm(std::string_view report_id);
  // Removes a report the console will never take (400, 413); counts it as rejected.
  bool reject(std::string_view report_id);
  void note_error(std::string_view message);
  SpoolStats stats();

 private:
  ReportSpool(sqlite3* db, SpoolLimits limits);
  bool remove(std::string_view report_id, std::string_view counter);
  void exec(const char* sql);

  std::mutex mutex_;  // one connection, used from the loop (add) and the sender's thread
  sqlite3* db_;
  SpoolLimits limits_;
};

}  // namespace postured::transport
