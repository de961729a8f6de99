// The operator API in-process on a loopback port, over a real SQLite storage seeded through
// Storage::store_reports, asked with real HTTP requests (a Beast client on a TCP socket).
#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <mbedtls/sha256.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "api/operator_api.hpp"
#include "api/views.hpp"
#include "api_fleet_fixture.hpp"
#include "core/asio.hpp"
#include "support/openssl_pki.hpp"
#include "support/process.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using namespace postured::console;
using namespace std::chrono_literals;

constexpr const char* kToken = "op-7Gq2rX9vLk4TzP1m";

std::string sha256_hex(const std::string& text) {
  unsigned char digest[32];
  REQUIRE(mbedtls_sha256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest, 0) == 0);
  std::string out;
  char byte[3];
  for (const unsigned char b : digest) {
    std::snprintf(byte, sizeof byte, "%02x", b);
    out += byte;
  }
  return out;
}

struct Reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json document() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
};

// One request on its own connection. `extra` headers go as given; `token` empty sends no Authorization.
Reply request(unsigned short port, http::verb method, const std::string& target, const std::string& token,
              const std::vector<std::pair<std::string, std::string>>& extra = {}, const std::string& body = "") {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  for (const auto& [name, value] : extra) req.set(name, value);
  if (!body.empty()) {
    req.body() = body;
    req.prepare_payload();
  }
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  if (method == http::verb::head) parser.skip(true);
  http::read(socket, buffer, parser);
  Reply reply;
  reply.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string().data(), field.name_string().size());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name].assign(field.value().data(), field.value().size());
  }
  reply.body = parser.get().body();
  return reply;
}

Reply get(unsigned short port, const std::string& target, const std::string& token = kToken) {
  return request(port, http::verb::get, target, token);
}

// A seeded SQLite storage and an OperatorApi on 127.0.0.1:0, run on two threads.
struct ApiFixture {
  std::filesystem::path dir;
  std::unique_ptr<Storage> storage;
  Metrics metrics;
  asio::io_context io;
  std::unique_ptr<OperatorApi> api;
  std::vector<std::thread> threads;
  Clock::time_point now = Clock::now();

  explicit ApiFixture(const std::function<void(ApiConfig&)>& adjust = {}) {
    dir = std::filesystem::temp_directory_path() /
          ("postured-api-test-" + std::to_string(::getpid()) + "-" + std::to_string(now.time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    storage = open_storage("sqlite:" + (dir / "console.db").string());
    fleet_fixture::seed(*storage, fleet_fixture::fleet(), now);
    ApiConfig config;
    config.listen = "127.0.0.1:0";
    config.operator_token_hashes = {sha256_hex("some-other-operator"), sha256_hex(kToken)};
    if (adjust) adjust(config);
    api = std::make_unique<OperatorApi>(io, *storage, metrics, config);
    api->start();
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~ApiFixture() {
    api->stop();
    io.stop();
    for (auto& t : threads) t.join();
    api.reset();
    storage.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  unsigned short port() const { return api->port(); }
};

std::vector<std::string> ids_of(const json& list) {
  std::vector<std::string> ids;
  for (const auto& d : list["devices"]) ids.push_back(d["device_id"].get<std::string>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// RFC 4180 reader for the CSV test: fields, quoted fields with doubled quotes, CRLF records.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

}  // namespace

TEST_CASE("operator API: requests without a valid bearer token are refused; dashboard and healthz are public",
          "[console][api]") {
  ApiFixture f;
  for (const std::string target : {"/api/v1/summary", "/api/v1/devices", "/api/v1/devices.csv", "/api/v1/stores",
                                   "/api/v1/devices/pos-berlin-01", "/metrics", "/api/v1/no-such-path"}) {
    INFO(target);
    const Reply none = get(f.port(), target, "");
    CHECK(none.status == 401);
    CHECK(none.header("www-authenticate").starts_with("Bearer"));
    CHECK(none.document()["error"] == "unauthorized");
    CHECK(get(f.port(), target, "wrong-token").status == 401);
    CHECK(get(f.port(), target, std::string(kToken) + "x").status == 401);
    // Basic auth with the right secret is not a bearer token.
    CHECK(request(f.port(), http::verb::get, target, "", {{"Authorization", std::string("Basic ") + kToken}}).status ==
          401);
  }
  CHECK(get(f.port(), "/api/v1/summary").status == 200);
  CHECK(get(f.port(), "/api/v1/summary", "some-other-operator").status == 200);
  // The scheme is case-insensitive (RFC 7235).
  CHECK(request(f.port(), http::verb::get, "/api/v1/stores", "", {{"Authorization", std::string("bearer ") + kToken}})
            .status == 200);

  const Reply health = get(f.port(), "/healthz", "");
  CHECK(health.status == 200);
  CHECK(health.document()["status"] == "ok");
  for (const std::string target : {"/", "/index.html", "/app.js", "/app.css", "/favicon.svg"}) {
    INFO(target);
    const Reply page = get(f.port(), target, "");
    CHECK(page.status == 200);
    CHECK_FALSE(page.body.empty());
    CHECK(page.header("content-security-policy").starts_with("default-src 'self'"));
    CHECK(page.header("x-content-type-options") == "nosniff");
  }
  CHECK(get(f.port(), "/", "").header("content-type").starts_with("text/html"));
  CHECK(get(f.port(), "/app.js", "").header("content-type").starts_with("text/javascript"));
}

TEST_CASE("operator API: the summary's numbers are what was seeded", "[console][api]") {
  ApiFixture f;
  const json s = get(f.port(), "/api/v1/summary").document();
  // Revoked devices are out of every health count and counted once, as revoked (storage's rule).
  CHECK(s["devices"] == 11);
  CHECK(s["revoked"] == 1);   // munich-03
  CHECK(s["passing"] == 4);   // berlin-01, srv-berlin, hamburg-01, munich-01
  CHECK(s["failing"] == 5);   // berlin-02, berlin-03, hamburg-02, munich-02, munich-04
  CHECK(s["erroring"] == 1);  // hamburg-03
  CHECK(s["reporting"] == 10);
  CHECK(s["compliance_score"].get<double>() == 40.0);
  CHECK(s["never_reported"] == 1);  // hamburg-04
  CHECK(s["caches_unencrypted"] == 2);
  CHECK(s["devices_with_unencrypted_caches"] == 2);
  CHECK(s["pan_findings"] == 6);  // berlin-03: 2 in a cache + 1 in files; munich-02: 3 in files
  CHECK(s["devices_with_pan_findings"] == 2);
  CHECK(s["devices_behind_on_patches"] == 2);
  CHECK(s["reboot_required"] == 1);
  CHECK(s["stale_after_seconds"] == 24 * 3600);
  CHECK(s["reports_stored"] == 22);  // two per reporting device
  // srv-berlin's last report is 72 h old; the never-reporting device counts as stale too.
  CHECK(s["stale"] == 2);

  const json& ranked = s["failing_checks"];
  REQUIRE(ranked.size() >= 2);
  CHECK(ranked[0]["id"] == "linux.ssh.permit_root_login");
  CHECK(ranked[0]["devices"] == 3);
  CHECK(ranked[0]["severity"] == "high");
  CHECK(ranked[1]["id"] == "linux.accounts.password_max_days");  // munich-04 fails it, hamburg-03 errors
  CHECK(ranked[1]["devices"] == 2);
  CHECK(std::regex_match(s["generated_at"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

TEST_CASE("operator API: device list filters by store, status, check and search", "[console][api]") {
  ApiFixture f;
  const json all = get(f.port(), "/api/v1/devices").document();
  CHECK(all["devices"].size() == 12);
  CHECK(all["count"] == 12);

  using Ids = std::vector<std::string>;
  CHECK(ids_of(get(f.port(), "/api/v1/devices?store=berlin-mitte").document()) ==
        Ids{"pos-berlin-01", "pos-berlin-02", "pos-berlin-03", "srv-berlin"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?status=fail").document()) ==
        Ids{"pos-berlin-02", "pos-berlin-03", "pos-hamburg-02", "pos-munich-02", "pos-munich-04"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?status=error").document()) == Ids{"pos-hamburg-03"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?status=stale").document()) == Ids{"pos-hamburg-04", "srv-berlin"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?check=linux.ssh.permit_root_login").document()) ==
        Ids{"pos-berlin-02", "pos-berlin-03", "pos-munich-02"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?store=berlin-mitte&status=fail&check=postured.cache.encrypted")
                   .document()) == Ids{"pos-berlin-03"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?q=hamburg").document()) ==
        Ids{"pos-hamburg-01", "pos-hamburg-02", "pos-hamburg-03", "pos-hamburg-04"});
  // Search matches host names too; '+' and %20 decode to spaces in a query.
  CHECK(ids_of(get(f.port(), "/api/v1/devices?q=backoffice").document()) == Ids{"srv-berlin"});
  CHECK(ids_of(get(f.port(), "/api/v1/devices?q=%29%2C+till04").document()) == Ids{"pos-munich-04"});
  CHECK(get(f.port(), "/api/v1/devices?store=nowhere").document()["devices"].empty());

  const json page = get(f.port(), "/api/v1/devices?limit=5&offset=10").document();
  CHECK(page["devices"].size() == 2);
  CHECK(page["limit"] == 5);
  CHECK(page["offset"] == 10);

  // One device's fields in the list.
  json berlin03;
  for (const auto& d : all["devices"])
    if (d["device_id"] == "pos-berlin-03") berlin03 = d;
  REQUIRE(berlin03.is_object());
  CHECK(berlin03["status"] == "fail");
  CHECK(berlin03["checks_fail"] == 2);
  CHECK(berlin03["checks_pass"] == 3);
  CHECK(berlin03["caches_unencrypted"] == 1);
  CHECK(berlin03["pan_findings"] == 3);
  CHECK(berlin03["stale"] == false);
  CHECK(berlin03["hostname"] == "till03.berlin");

  for (const std::string bad :
       {"/api/v1/devices?status=bogus", "/api/v1/devices?limit=ten", "/api/v1/devices?limit=-1",
        "/api/v1/devices?offset=1x", "/api/v1/devices?limit=999999999", "/api/v1/devices?q=%zz"}) {
    INFO(bad);
    const Reply reply = get(f.port(), bad);
    CHECK(reply.status == 400);
    CHECK(reply.document()["error"] == "bad_request");
    CHECK_FALSE(reply.document()["message"].get<std::string>().empty());
  }
}

TEST_CASE("operator API: a device's drill-down has every check with evidence and remediation, caches, patch, scan",
          "[console][api]") {
  ApiFixture f;
  const Reply reply = get(f.port(), "/api/v1/devices/pos-berlin-03");
  REQUIRE(reply.status == 200);
  const json d = reply.document();
  CHECK(d["device"]["device_id"] == "pos-berlin-03");
  CHECK(d["device"]["store_id"] == "berlin-mitte");
  CHECK(d["checks"].size() == fleet_fixture::checks().size());
  bool saw_failing = false;
  for (const auto& check : d["checks"]) {
    if (check["id"] == "postured.cache.encrypted") {
      saw_failing = true;
      CHECK(check["status"] == "fail");
      CHECK(check["severity"] == "critical");
      CHECK(check["evidence"] == "loyalty.db is plaintext SQLite");
      CHECK(check["remediation"] == "Run `posturectl cache encrypt loyalty` to migrate it in place.");
      CHECK(check["references"].size() == 2);
    }
  }
  CHECK(saw_failing);
  REQUIRE(d["caches"].size() == 2);
  CHECK(d["caches"][0]["name"] == "loyalty");
  CHECK(d["caches"][0]["encrypted"] == false);
  CHECK(d["scan"]["pan_findings"] == 1);
  CHECK(d["patch"]["packages_total"] == 1423);
  REQUIRE(d["history"].size() == 2);  // newest first
  CHECK(d["history"][0]["report_id"] == fleet_fixture::uuid_for("pos-berlin-03", 2));
  CHECK(d["history"][0]["status"] == "fail");
  CHECK(d["history"][1]["status"] == "pass");
  CHECK(d["report"]["report_id"] == fleet_fixture::uuid_for("pos-berlin-03", 2));

  // A device id with characters that need escaping in a path still resolves once decoded.
  CHECK(get(f.port(), "/api/v1/devices/pos%2Dberlin%2D01").status == 200);
  const Reply unknown = get(f.port(), "/api/v1/devices/pos-nowhere-99");
  CHECK(unknown.status == 404);
  CHECK(unknown.document()["error"] == "device_unknown");
  // Enrolled, never reported: no checks, no report blocks, still a 200.
  const json never = get(f.port(), "/api/v1/devices/pos-hamburg-04").document();
  CHECK(never["checks"].empty());
  CHECK(never["device"]["last_seen_at"].is_null());
  CHECK(never["report"].is_null());
}

TEST_CASE("operator API: stores are summarised per store", "[console][api]") {
  ApiFixture f;
  const json stores = get(f.port(), "/api/v1/stores").document()["stores"];
  std::map<std::string, json> by_id;
  for (const auto& s : stores) by_id[s["store_id"].get<std::string>()] = s;
  REQUIRE(by_id.size() == 3);
  CHECK(by_id["berlin-mitte"]["devices"] == 4);
  CHECK(by_id["berlin-mitte"]["failing"] == 2);
  CHECK(by_id["berlin-mitte"]["stale"] == 1);
  CHECK(by_id["berlin-mitte"]["caches_unencrypted"] == 1);
  CHECK(by_id["berlin-mitte"]["pan_findings"] == 3);
  CHECK(by_id["hamburg-hbf"]["devices"] == 4);
  CHECK(by_id["hamburg-hbf"]["erroring"] == 1);
  CHECK(by_id["munich-marienplatz"]["pan_findings"] == 3);
  CHECK(by_id["munich-marienplatz"]["devices"] == 3);  // the revoked one is out
}

TEST_CASE("operator API: the CSV export quotes per RFC 4180 and defuses spreadsheet formulas", "[console][api]") {
  ApiFixture f;
  const Reply reply = get(f.port(), "/api/v1/devices.csv");
  REQUIRE(reply.status == 200);
  CHECK(reply.header("content-type").starts_with("text/csv"));
  CHECK(reply.header("content-disposition").find("devices.csv") != std::string::npos);
  CHECK(reply.body.find("\r\n") != std::string::npos);
  const auto rows = parse_csv(reply.body);
  REQUIRE(rows.size() == 13);  // header + 12 devices
  CHECK(rows[0][0] == "device_id");
  const auto columns = rows[0].size();
  std::map<std::string, std::vector<std::string>> by_id;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].size() == columns);
    by_id[rows[i][0]] = rows[i];
  }
  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(rows[0].begin(), rows[0].end(), name) - rows[0].begin());
  };
  // The hostname starts with '=', holds a comma and quotes: prefixed with a quote, then quoted.
  CHECK(by_id["pos-munich-04"][column("hostname")] == "'=HYPERLINK(\"http://x\",\"<b>x</b>\"), till04");
  CHECK(reply.body.find("\"'=HYPERLINK(\"\"http://x\"\",\"\"<b>x</b>\"\"), till04\"") != std::string::npos);
  CHECK(by_id["pos-berlin-03"][column("pan_findings")] == "3");
  CHECK(by_id["pos-berlin-03"][column("status")] == "fail");
  CHECK(by_id["srv-berlin"][column("stale")] == "true");
  CHECK(by_id["pos-hamburg-04"][column("last_seen_at")].empty());

  // Filters apply as on the JSON list.
  CHECK(parse_csv(get(f.port(), "/api/v1/devices.csv?store=hamburg-hbf&status=fail").body).size() == 2);

  CHECK(views::csv_field("plain") == "plain");
  CHECK(views::csv_field("") == "");
  CHECK(views::csv_field("a,b") == "\"a,b\"");
  CHECK(views::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(views::csv_field("line\nbreak") == "\"line\nbreak\"");
  CHECK(views::csv_field("=1+1") == "'=1+1");
  CHECK(views::csv_field("+49 30") == "'+49 30");
  CHECK(views::csv_field("-2") == "'-2");
  CHECK(views::csv_field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(views::csv_field("\tx") == "'\tx");
  CHECK(views::csv_field("a=b") == "a=b");
}

TEST_CASE("operator API: /metrics is Prometheus text with the endpoint's counters and the fleet's gauges",
          "[console][api]") {
  ApiFixture f;
  for (int i = 0; i < 7; ++i) f.metrics.report_ingested();
  f.metrics.report_duplicate();
  f.metrics.report_rejected("schema");
  f.metrics.report_rejected("schema");
  f.metrics.report_rejected("gzip_bomb");
  f.metrics.enrollment(true);
  f.metrics.enrollment(true);
  f.metrics.enrollment(false);
  f.metrics.observe_ingest_latency(2ms);
  f.metrics.observe_ingest_latency(30ms);
  f.metrics.observe_ingest_latency(3s);

  const Reply reply = get(f.port(), "/metrics");
  REQUIRE(reply.status == 200);
  CHECK(reply.header("content-type").starts_with("text/plain; version=0.0.4"));

  // Every line is a comment (# HELP / # TYPE) or `name{labels} value`; collect the samples.
  const std::regex sample_line(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$)");
  const std::regex comment_line(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> samples;  // "name{labels}" -> value
  std::map<std::string, std::string> types;
  std::istringstream lines(reply.body);
  std::string line;
  while (std::getline(lines, line)) {
    INFO(line);
    if (line.starts_with("#")) {
      CHECK(std::regex_match(line, comment_line));
      if (line.starts_with("# TYPE ")) {
        std::istringstream words(line.substr(7));
        std::string name, type;
        words >> name >> type;
        types[name] = type;
      }
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, sample_line));
    const std::string value = m[4].str();
    samples[m[1].str() + m[2].str()] = value == "+Inf" ? INFINITY : std::stod(value);
  }
  CHECK(reply.body.back() == '\n');

  CHECK(types["posture_reports_ingested_total"] == "counter");
  CHECK(types["posture_ingest_latency_seconds"] == "histogram");
  CHECK(types["posture_devices"] == "gauge");
  CHECK(samples["posture_reports_ingested_total"] == 7);
  CHECK(samples["posture_reports_duplicate_total"] == 1);
  CHECK(samples["posture_reports_rejected_total{reason=\"schema\"}"] == 2);
  CHECK(samples["posture_reports_rejected_total{reason=\"gzip_bomb\"}"] == 1);
  CHECK(samples["posture_enrollments_total{result=\"accepted\"}"] == 2);
  CHECK(samples["posture_enrollments_total{result=\"refused\"}"] == 1);
  CHECK(samples["posture_ingest_latency_seconds_bucket{le=\"0.0025\"}"] == 1);
  CHECK(samples["posture_ingest_latency_seconds_bucket{le=\"0.05\"}"] == 2);
  CHECK(samples["posture_ingest_latency_seconds_bucket{le=\"1\"}"] == 2);
  CHECK(samples["posture_ingest_latency_seconds_bucket{le=\"+Inf\"}"] == 3);
  CHECK(samples["posture_ingest_latency_seconds_count"] == 3);
  CHECK(samples["posture_ingest_latency_seconds_sum"] > 3.0);
  CHECK(samples["posture_ingest_latency_seconds_sum"] < 3.1);
  // Buckets are cumulative: never decreasing in `le` order.
  double previous = 0;
  for (const double le : Metrics::kLatencyBuckets) {
    std::ostringstream key;
    key << "posture_ingest_latency_seconds_bucket{le=\"" << le << "\"}";
    REQUIRE(samples.count(key.str()) == 1);
    CHECK(samples[key.str()] >= previous);
    previous = samples[key.str()];
  }
  const json s = get(f.port(), "/api/v1/summary").document();
  CHECK(samples["posture_devices{status=\"fail\"}"] == s["failing"].get<double>());
  CHECK(samples["posture_devices{status=\"pass\"}"] == s["passing"].get<double>());
  CHECK(samples["posture_devices{status=\"error\"}"] == 1);
  CHECK(samples["posture_devices{status=\"stale\"}"] == 2);
  CHECK(samples["posture_devices{status=\"never_reported\"}"] == 1);
  CHECK(samples["posture_devices{status=\"revoked\"}"] == 1);
}

TEST_CASE("operator API: unknown paths are 404, other methods 405, oversized requests refused", "[console][api]") {
  ApiFixture f;
  const Reply missing = get(f.port(), "/api/v1/nothing-here");
  CHECK(missing.status == 404);
  CHECK(missing.document()["error"] == "not_found");
  CHECK(get(f.port(), "/nothing-here", "").status == 404);
  CHECK(get(f.port(), "/api/v2/summary").status == 404);

  for (const auto method : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::patch}) {
    const Reply reply = request(f.port(), method, "/api/v1/summary", kToken, {}, "{}");
    CHECK(reply.status == 405);
    CHECK(reply.header("allow") == "GET, HEAD");
    CHECK(reply.document()["error"] == "method_not_allowed");
  }
  CHECK(request(f.port(), http::verb::post, "/", "", {}, "x").status == 405);
  CHECK(request(f.port(), http::verb::delete_, "/api/v1/devices/pos-berlin-01", kToken).status == 405);

  const Reply head = request(f.port(), http::verb::head, "/api/v1/summary", kToken);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(std::stoul(head.header("content-length")) > 0);

  const Reply big_body =
      request(f.port(), http::verb::post, "/api/v1/summary", kToken, {}, std::string(64 * 1024, 'x'));
  CHECK(big_body.status == 413);
  const Reply big_header =
      request(f.port(), http::verb::get, "/api/v1/summary", kToken, {{"X-Filler", std::string(32 * 1024, 'y')}});
  CHECK(big_header.status == 431);
}

TEST_CASE("operator API: one keep-alive connection serves many requests", "[console][api]") {
  ApiFixture f;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), f.port()});
  beast::flat_buffer buffer;
  for (const std::string target : {"/api/v1/summary", "/api/v1/stores", "/healthz", "/api/v1/devices?limit=1"}) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, std::string("Bearer ") + kToken);
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
  }
}

TEST_CASE("operator API: start() names the address it cannot bind", "[console][api]") {
  ApiFixture f;
  Metrics metrics;
  asio::io_context io;
  ApiConfig config;
  config.listen = "127.0.0.1:" + std::to_string(f.port());
  OperatorApi second(io, *f.storage, metrics, config);
  try {
    second.start();
    FAIL("a second API bound the same port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(config.listen) != std::string::npos);
  }
  config.listen = "not-an-address";
  OperatorApi third(io, *f.storage, metrics, config);
  CHECK_THROWS_AS(third.start(), std::runtime_error);
}

TEST_CASE("operator API: serves HTTPS to curl when given a certificate, with no client certificate asked",
          "[console][api]") {
  postured::test::OpensslPki pki;
  ApiFixture f([&](ApiConfig& config) {
    config.tls_certificate_pem = pki.read(pki.cert("server"));
    config.tls_private_key_pem = pki.read(pki.key("server"));
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(f.port());
  const auto ok = postured::test::run({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", pki.cert("ca"), "-H",
                                       std::string("Authorization: Bearer ") + kToken, url + "/api/v1/summary"});
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK(json::parse(ok.out)["devices"] == 11);
  const auto refused = postured::test::run({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", pki.cert("ca"),
                                            "-o", "/dev/null", "-w", "%{http_code}", url + "/metrics"});
  CHECK(refused.out == "401");
  // A client that does not trust the certificate's CA refuses it: the server really presented it.
  const auto untrusted = postured::test::run(
      {"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", pki.cert("other-ca"), url + "/healthz"});
  CHECK(untrusted.exit_code != 0);
  // Plain HTTP to the HTTPS port gets no answer.
  CHECK(postured::test::run(
            {"/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:" + std::to_string(f.port()) + "/healthz"})
            .exit_code != 0);
}

TEST_CASE("operator API: a certificate without its key is refused at start", "[console][api]") {
  ApiFixture f;
  Metrics metrics;
  asio::io_context io;
  ApiConfig config;
  config.listen = "127.0.0.1:0";
  config.tls_certificate_pem = "-----BEGIN CERTIFICATE-----\n";
  OperatorApi api(io, *f.storage, metrics, config);
  CHECK_THROWS_AS(api.start(), std::runtime_error);
}
