// console_storage_bench: store_reports throughput of both storage backends, in reports per second.
//
// Reports are ~6 KB of JSON with 30 checks each, from a fleet of devices, stored in batches as the
// endpoint's storage thread does; each batch is one transaction, durable when store_reports returns.
// SQLite runs on a fresh file in a temporary folder; PostgreSQL in a fresh schema of the database named
// by POSTURED_TEST_PG_URL (scripts/postgres-for-tests), dropped afterwards.
//
//   console_storage_bench [--small] [--reports N] [--batch N] [--devices N] [--backend sqlite|postgresql|both]
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/storage.hpp"

using namespace postured::console;

namespace {

struct Options {
  int reports = 20000;
  int batch = 256;
  int devices = 2000;
  std::string backend = "both";
};

constexpr int checks_per_report = 30;

IncomingReport make_report(int n, int devices, Clock::time_point base) {
  IncomingReport r;
  const int device = n % devices;
  r.device_id = "pos-" + std::to_string(device);
  char id[40];
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", n);
  r.report_id = id;
  r.generated_at = base + std::chrono::seconds(n);
  r.received_at = r.generated_at + std::chrono::milliseconds(200);
  DeviceState& s = r.state;
  s.device_id = r.device_id;
  s.store_id = "store-" + std::to_string(device / 20);
  s.hostname = "till-" + std::to_string(device);
  s.os_pretty_name = "Debian GNU/Linux 12 (bookworm)";
  s.agent_version = "0.1.0";
  std::string checks;
  for (int c = 0; c < checks_per_report; ++c) {
    const bool fails = (n + c) % 7 == 0;
    CheckState check{"linux.check_" + std::to_string(c), "Hardening check number " + std::to_string(c),
                     fails ? "fail" : "pass", c % 3 ? "medium" : "high"};
    (fails ? s.checks_fail : s.checks_pass)++;
    if (!checks.empty()) checks += ',';
    checks += R"({"id":")" + check.id + R"(","title":")" + check.title + R"(","status":")" + check.status +
              R"(","severity":")" + check.severity +
              R"(","evidence":"/etc/ssh/sshd_config: PermitRootLogin no; checked 3 files, 2 drop-ins",)"
              R"("remediation":"Set the option in the main file and restart the service",)"
              R"("references":["PCI DSS 4.0 2.2.6","CIS Debian 12 5.1.20"]})";
    s.checks.push_back(std::move(check));
  }
  s.status = s.checks_fail ? "fail" : "pass";
  s.caches_total = 3;
  s.pending_security_updates = n % 5;
  r.json = R"({"schema":"postured.report/v1","report_id":")" + r.report_id + R"(","device":{"id":")" + r.device_id +
           R"("},"checks":[)" + checks + "]}";
  return r;
}

std::string pg_url() {
  const char* url = std::getenv("POSTURED_TEST_PG_URL");
  return url && *url ? url : "postgresql://postured:postured-test@127.0.0.1:5432/postured_test";
}

void pg_admin(const std::string& sql) {
  PGconn* conn = PQconnectdb(pg_url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("PostgreSQL unreachable (scripts/postgres-for-tests): " + why);
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  const std::string why = PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("PostgreSQL: " + why);
}

// Stores every report in batches; returns reports per second, and checks that all were stored.
double run(Storage& storage, const std::vector<IncomingReport>& reports, int batch) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t stored = 0;
  for (std::size_t i = 0; i < reports.size(); i += static_cast<std::size_t>(batch)) {
    const auto end = std::min(reports.size(), i + static_cast<std::size_t>(batch));
    const std::vector<IncomingReport> slice(reports.begin() + static_cast<std::ptrdiff_t>(i),
                                            reports.begin() + static_cast<std::ptrdiff_t>(end));
    for (const auto outcome : storage.store_reports(slice)) stored += outcome == IngestOutcome::stored;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stored != reports.size()) throw std::runtime_error("not every report was stored");
  return static_cast<double>(reports.size()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--small") {
      o.reports = 1000;
      o.devices = 200;
    } else if (a == "--reports") {
      o.reports = std::stoi(value());
    } else if (a == "--batch") {
      o.batch = std::stoi(value());
    } else if (a == "--devices") {
      o.devices = std::stoi(value());
    } else if (a == "--backend") {
      o.backend = value();
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const auto base = Clock::now() - std::chrono::hours(24 * 30);
  std::vector<IncomingReport> reports;
  std::size_t bytes = 0;
  for (int n = 0; n < o.reports; ++n) {
    reports.push_back(make_report(n, o.devices, base));
    bytes += reports.back().json.size();
  }
  std::printf("%d reports (%.1f KB average, %d checks each) from %d devices, batches of %d\n", o.reports,
              static_cast<double>(bytes) / o.reports / 1024.0, checks_per_report, o.devices, o.batch);
  try {
    if (o.backend == "sqlite" || o.backend == "both") {
      const auto dir = std::filesystem::temp_directory_path() / ("console-storage-bench-" + std::to_string(::getpid()));
      std::filesystem::create_directories(dir);
      double rate = 0;
      {
        auto storage = open_storage("sqlite:" + (dir / "console.db").string());
        rate = run(*storage, reports, o.batch);
      }
      std::printf("sqlite      %8.0f reports/s  (WAL, synchronous=FULL, %.0f MB file)\n", rate,
                  static_cast<double>(std::filesystem::file_size(dir / "console.db")) / 1e6);
      std::filesystem::remove_all(dir);
    }
    if (o.backend == "postgresql" || o.backend == "both") {
      const std::string schema = "storage_bench_" + std::to_string(::getpid());
      pg_admin("CREATE SCHEMA " + schema);
      double rate = 0;
      try {
        const std::string pg_base = pg_url();
        auto storage = open_storage(pg_base + (pg_base.find('?') == std::string::npos ? "?" : "&") +
                                    "options=-csearch_path%3D" + schema);
        rate = run(*storage, reports, o.batch);
      } catch (...) {
        pg_admin("SET client_min_messages = warning; DROP SCHEMA " + schema + " CASCADE");
        throw;
      }
      pg_admin("SET client_min_messages = warning; DROP SCHEMA " + schema + " CASCADE");
      std::printf("postgresql  %8.0f reports/s  (local server, synchronous_commit on)\n", rate);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "console_storage_bench: %s\n", e.what());
    return 3;
  }
  return 0;
}
