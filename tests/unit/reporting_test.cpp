// Reporting pieces that need no peer: backoff, renewal threshold, sealing, the spool's bounds, the
// console URL and [console]/[spool] keys, report ids.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "cache/key_hierarchy.hpp"
#include "core/config.hpp"
#include "core/report.hpp"
#include "transport/backoff.hpp"
#include "transport/client_identity.hpp"
#include "transport/enrollment.hpp"
#include "transport/http_message.hpp"
#include "transport/report_spool.hpp"

namespace {

using namespace std::chrono_literals;
using postured::transport::Backoff;
namespace fs = std::filesystem;

postured::SecretKey key_of(std::uint8_t fill) {
  postured::SecretKey key;
  for (std::size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<std::uint8_t>(fill + i);
  return key;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("postured-reporting-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("backoff: full jitter stays within [0, min(cap, base * 2^n)]", "[reporting][backoff]") {
  Backoff backoff(100ms, 3000ms, 42);
  CHECK(backoff.ceiling(1) == 100ms);
  CHECK(backoff.ceiling(2) == 200ms);
  CHECK(backoff.ceiling(5) == 1600ms);
  CHECK(backoff.ceiling(6) == 3000ms);   // 3200 capped
  CHECK(backoff.ceiling(60) == 3000ms);  // no overflow however many failures
  for (unsigned n = 1; n <= 12; ++n) {
    const auto delay = backoff.next_delay();
    INFO("failure " << n);
    CHECK(backoff.failures() == n);
    CHECK(delay >= 0ms);
    CHECK(delay <= std::min<std::chrono::milliseconds>(3000ms, 100ms * (1LL << (n - 1))));
  }
  backoff.reset();
  CHECK(backoff.next_delay() <= 100ms);
}

TEST_CASE("backoff: the waits are spread over the whole range, not bunched at the cap", "[reporting][backoff]") {
  // 2000 samples of the 4th failure's wait (ceiling 800 ms): a uniform draw fills every fifth.
  std::array<int, 5> buckets{};
  for (int i = 0; i < 2000; ++i) {
    Backoff backoff(100ms, 10s, static_cast<std::uint64_t>(i));
    std::chrono::milliseconds delay{};
    for (int n = 0; n < 4; ++n) delay = backoff.next_delay();
    REQUIRE(delay <= 800ms);
    ++buckets[static_cast<std::size_t>(std::min<long long>(4, delay.count() / 160))];
  }
  for (const int count : buckets) CHECK(count > 300);  // 400 expected in each
}

TEST_CASE("renewal is due once two thirds of the certificate's lifetime have passed", "[reporting][renewal]") {
  postured::transport::CertificateFacts facts;
  facts.not_before = std::chrono::system_clock::time_point(std::chrono::hours(24 * 1000));
  facts.not_after = facts.not_before + std::chrono::hours(24 * 90);
  CHECK(postured::transport::renewal_time(facts) == facts.not_before + std::chrono::hours(24 * 60));
  CHECK_FALSE(postured::transport::renewal_due(facts, facts.not_before + std::chrono::hours(24 * 60) - 1s));
  CHECK(postured::transport::renewal_due(facts, facts.not_before + std::chrono::hours(24 * 60)));
  CHECK(postured::transport::renewal_due(facts, facts.not_after + 1s));
}

TEST_CASE("sealed device key: opens only with the same key and associated data", "[reporting][identity]") {
  const auto key = key_of(1);
  const postured::SecretString plain(
      std::string("-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----\n"));
  const auto sealed = postured::transport::seal(key, plain, "certificate A");
  CHECK(sealed.find("PRIVATE KEY") == std::string::npos);
  CHECK(sealed.size() == plain.str().size() + 4 + 12 + 16);
  const auto opened = postured::transport::unseal(key, sealed, "certificate A");
  REQUIRE(opened);
  CHECK(opened->str() == plain.str());
  CHECK_FALSE(postured::transport::unseal(key, sealed, "certificate B"));
  CHECK_FALSE(postured::transport::unseal(key_of(2), sealed, "certificate A"));
  auto tampered = sealed;
  tampered[20] = static_cast<char>(tampered[20] ^ 1);
  CHECK_FALSE(postured::transport::unseal(key, tampered, "certificate A"));
  // Two seals of the same key differ (fresh nonce each time).
  CHECK(postured::transport::seal(key, plain, "certificate A") != sealed);
}

TEST_CASE("a device key and its CSR carry CN = device id and OU = store id", "[reporting][identity]") {
  const auto key = postured::transport::generate_device_key();
  CHECK(key.str().find("BEGIN EC PRIVATE KEY") != std::string::npos);
  const auto csr = postured::transport::make_csr(key, "device-1", "store-7");
  CHECK(csr.find("BEGIN CERTIFICATE REQUEST") != std::string::npos);
  CHECK_THROWS_AS(postured::transport::make_csr(key, "device-1,OU=other", "store-7"),
                  postured::transport::TlsConfigError);
}

TEST_CASE("spool: bounded by count, oldest dropped first, drops counted across reopen", "[reporting][spool]") {
  TempDir dir;
  std::string error;
  {
    auto spool = postured::transport::ReportSpool::open(dir.path, key_of(3), {3, 1 << 20}, error);
    REQUIRE(spool);
    long long dropped = 0;
    for (int i = 1; i <= 5; ++i) dropped += spool->add("r" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}");
    CHECK(dropped == 2);
    const auto left = spool->oldest(10);
    REQUIRE(left.size() == 3);
    CHECK(left[0].report_id == "r3");
    CHECK(left[2].report_id == "r5");
    std::string inflate_error;
    CHECK(postured::transport::gzip_decompress(left[0].body_gzip, 1024, inflate_error) == std::string(R"({"n":3})"));
    CHECK(spool->add("r5", "{}") == 0);  // the same id again changes nothing
    CHECK(spool->stats().depth == 3);
    CHECK(spool->confirm("r3"));
    CHECK_FALSE(spool->confirm("r3"));
    CHECK(spool->reject("r4"));
  }
  auto reopened = postured::transport::ReportSpool::open(dir.path, key_of(3), {3, 1 << 20}, error);
  REQUIRE(reopened);
  const auto stats = reopened->stats();
  CHECK(stats.depth == 1);
  CHECK(stats.dropped_reports == 2);
  CHECK(stats.sent_reports == 1);
  CHECK(stats.rejected_reports == 1);
  CHECK_FALSE(stats.last_success_at.empty());
}

TEST_CASE("spool: bounded by bytes, and the newest report is kept even when alone too large", "[reporting][spool]") {
  TempDir dir;
  std::string error;
  auto spool = postured::transport::ReportSpool::open(dir.path, key_of(4), {100, 300}, error);
  REQUIRE(spool);
  // Random-looking bodies do not compress: each is about 200 bytes in the spool.
  const auto body = [](int seed) {
    std::string s = "\"";
    std::uint32_t x = static_cast<std::uint32_t>(seed) * 2654435761u + 1;
    for (int i = 0; i < 200; ++i) {
      x = x * 1664525u + 1013904223u;
      s += static_cast<char>('a' + (x >> 24) % 26);
    }
    return s + "\"";
  };
  spool->add("a", body(1));
  CHECK(spool->add("b", body(2)) == 1);
  CHECK(spool->oldest(10).at(0).report_id == "b");
  CHECK(spool->stats().dropped_reports == 1);
}

TEST_CASE("spool: the file is encrypted and refuses another master key", "[reporting][spool]") {
  TempDir dir;
  std::string error;
  {
    auto spool = postured::transport::ReportSpool::open(dir.path, key_of(5), {}, error);
    REQUIRE(spool);
    spool->add("visible-id-123", R"({"device":"secret-hostname"})");
  }
  std::ifstream in(dir.path / "spool.db", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes.find("SQLite format 3") == std::string::npos);
  CHECK(bytes.find("visible-id-123") == std::string::npos);
  CHECK_FALSE(postured::transport::ReportSpool::open(dir.path, key_of(6), {}, error));
  CHECK(error.find("cannot be opened with this device's key") != std::string::npos);
}

TEST_CASE("console.url: https with a host and an optional port only", "[reporting][config]") {
  const auto ok = postured::parse_console_url("https://console.example:8443");
  REQUIRE(ok);
  CHECK(ok->host == "console.example");
  CHECK(ok->port == 8443);
  CHECK(postured::parse_console_url("https://127.0.0.1/")->port == 443);
  CHECK(postured::parse_console_url("https://[::1]:9443")->host == "::1");
  for (const auto* bad : {"http://console:8443", "https://", "https://console:0", "https://console:99999",
                          "https://console:8443/v1", "https://user@console", "https://console:", "console:8443"}) {
    INFO(bad);
    CHECK_FALSE(postured::parse_console_url(bad));
  }
}

TEST_CASE("[console] and [spool]: defaults, and a url without its CA is an error", "[reporting][config]") {
  const auto defaults = postured::default_config();
  CHECK(defaults.console.url.empty());
  CHECK(defaults.console.retry_min == 30s);
  CHECK(defaults.console.retry_max == 30min);
  CHECK(defaults.spool.max_reports == 500);
  auto load = postured::parse_config("[agent]\nstore_id = \"s\"\n[console]\nurl = \"https://c:8443\"\n", "t.toml");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].to_string().rfind("t.toml:4:7: 'console.url' is set but 'console.ca_file' is not", 0) == 0);
  load = postured::parse_config("[agent]\nstore_id = \"s\"\n[console]\nurl = \"http://c\"\n", "t.toml");
  REQUIRE_FALSE(load.errors.empty());
  CHECK(load.errors[0].message.find("must be https://HOST:PORT") != std::string::npos);
  load = postured::parse_config(
      "[agent]\nstore_id = \"s\"\n[console]\nurl = \"https://c:8443\"\nca_file = \"/etc/ca.pem\"\n"
      "retry_min = \"1h\"\nretry_max = \"1m\"\n",
      "t.toml");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].message == "'console.retry_min' is longer than 'console.retry_max'");
}

TEST_CASE("report ids are random version 4 UUIDs", "[reporting][report]") {
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = postured::random_uuid_v4();
    REQUIRE(std::regex_match(id, uuid));
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("the report document heads with schema, report_id, generated_at and agent_version", "[reporting][report]") {
  postured::DoctorReport report;
  report.device.id = "d";
  report.device.agent_version = "0.1.0";
  const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));
  const auto document = postured::to_report_json(report, "id-1", when);
  std::vector<std::string> keys;
  for (const auto& [key, value] : document.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"schema", "report_id", "generated_at", "agent_version", "device", "checks",
                                         "summary"});
  CHECK(document["schema"] == "postured.report/v1");
  CHECK(document["generated_at"] == "2026-11-18T11:06:40Z");
}

TEST_CASE("enrollment refusals are explained; clock skew shows both clocks", "[reporting][enroll]") {
  using postured::transport::explain_enrollment_error;
  const auto skew = explain_enrollment_error("clock_skew", "off by 3600 s", "2026-11-26T10:00:00Z",
                                             "2026-11-26T09:00:00Z", "store-7");
  CHECK(skew.find("this device said 2026-11-26T10:00:00Z") != std::string::npos);
  CHECK(skew.find("the console's clock read 2026-11-26T09:00:00Z") != std::string::npos);
  CHECK(skew.find("Set the clock (NTP)") != std::string::npos);
  CHECK(explain_enrollment_error("token_used_up", "", "", "", "store-7").find("--store store-7 --uses N") !=
        std::string::npos);
  CHECK(explain_enrollment_error("something_new", "why", "", "", "s") ==
        "The console refused: something_new (console: why).");
}

TEST_CASE("enroll: 409 device_exists names the release command for this device", "[reporting][enroll]") {
  using postured::transport::explain_enrollment_error;
  const auto text = explain_enrollment_error("device_exists", "", "", "", "store-7", "device-1");
  CHECK(text.find("already has a valid certificate for this device") != std::string::npos);
  CHECK(text.find("`posture-console device release device-1`") != std::string::npos);
}

TEST_CASE("stored certificate: expired or issued for another device or store needs a new enrollment",
          "[reporting][identity]") {
  using postured::transport::identity_problem;
  using Kind = postured::transport::IdentityProblem::Kind;
  postured::transport::CertificateFacts facts;
  facts.subject = "CN=device-1, OU=store-7";
  facts.common_name = "device-1";
  facts.organizational_unit = "store-7";
  facts.not_before = std::chrono::sys_days{std::chrono::year{2026} / 11 / 1};
  facts.not_after = facts.not_before + std::chrono::hours(24 * 90);

  // Fine: same subject, inside its lifetime (renewal due or not is another matter).
  CHECK_FALSE(identity_problem(facts, "device-1", "store-7", facts.not_before + 1h));
  CHECK_FALSE(identity_problem(facts, "device-1", "store-7", facts.not_after - 1s));

  // Expired: from not_after on.
  for (const auto now : {facts.not_after, facts.not_after + std::chrono::hours(24 * 400)}) {
    const auto expired = identity_problem(facts, "device-1", "store-7", now);
    REQUIRE(expired);
    CHECK(expired->kind == Kind::expired);
    CHECK(expired->message.find("certificate expired on 2027-01-30T00:00:00Z") == 0);
    CHECK(expired->message.find("posturectl enroll --force --token") != std::string::npos);
  }

  // Mismatch: another store, another device; reported even when also expired (the subject is what
  // a new enrollment must fix first).
  const auto store = identity_problem(facts, "device-1", "store-8", facts.not_before + 1h);
  REQUIRE(store);
  CHECK(store->kind == Kind::subject_mismatch);
  CHECK(store->message.find("issued for device device-1 / store store-7, configured device device-1 / store store-8") !=
        std::string::npos);
  const auto device = identity_problem(facts, "device-2", "store-7", facts.not_after + 1h);
  REQUIRE(device);
  CHECK(device->kind == Kind::subject_mismatch);
  CHECK(device->message.find("configured device device-2 / store store-7") != std::string::npos);
}
