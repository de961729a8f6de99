// The console's CA (mbedTLS) checked by openssl, CSR checks, console.toml and the report model.
#include <sys/stat.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "console/endpoint_harness.hpp"
#include "core/text.hpp"
#include "server/config.hpp"
#include "server/pki.hpp"
#include "server/report_model.hpp"
#include "server/tokens.hpp"

using namespace postured::test;
using namespace postured::console;
using Catch::Matchers::ContainsSubstring;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "console-pki-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

std::string openssl_csr(const TempDir& dir, const std::string& name, const std::vector<std::string>& key_args,
                        const std::string& subject) {
  std::vector<std::string> args{"/usr/bin/openssl",      "req",   "-new",  "-nodes", "-keyout",
                                dir.file(name + ".key"), "-subj", subject, "-out",   dir.file(name + ".csr")};
  args.insert(args.begin() + 3, key_args.begin(), key_args.end());
  const auto made = run(args);
  if (made.exit_code != 0) throw std::runtime_error("openssl req: " + made.err);
  return read_text(dir.file(name + ".csr"));
}

const std::vector<std::string> kP256{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};

}  // namespace

TEST_CASE("pki: ca init makes a CA and a server certificate that openssl accepts", "[console][pki]") {
  TempDir dir;
  const auto files = initialise_ca(dir.path() / "ca", {"localhost", "127.0.0.1", "console.store.example"}, false,
                                   std::chrono::system_clock::now());
  CHECK(mode_of(files.ca_key.string()) == 0600);
  CHECK(mode_of(files.server_key.string()) == 0600);

  const auto verified = run({"/usr/bin/openssl", "verify", "-CAfile", files.ca_certificate.string(), "-purpose",
                             "sslserver", files.server_certificate.string()});
  CHECK(verified.exit_code == 0);

  const auto ca = run({"/usr/bin/openssl", "x509", "-in", files.ca_certificate.string(), "-noout", "-text"});
  CHECK_THAT(ca.out, ContainsSubstring("CA:TRUE, pathlen:0"));
  CHECK_THAT(ca.out, ContainsSubstring("Certificate Sign"));
  CHECK_THAT(ca.out, ContainsSubstring("ecdsa-with-SHA256"));
  CHECK_THAT(ca.out, ContainsSubstring("prime256v1"));
  const auto dates = run({"/usr/bin/openssl", "x509", "-in", files.ca_certificate.string(), "-noout", "-checkend",
                          std::to_string(9L * 365 * 86400)});
  CHECK(dates.exit_code == 0);  // still valid 9 years from now

  const auto server = run({"/usr/bin/openssl", "x509", "-in", files.server_certificate.string(), "-noout", "-text"});
  CHECK_THAT(server.out, ContainsSubstring("DNS:localhost"));
  CHECK_THAT(server.out, ContainsSubstring("IP Address:127.0.0.1"));
  CHECK_THAT(server.out, ContainsSubstring("DNS:console.store.example"));
  CHECK_THAT(server.out, ContainsSubstring("TLS Web Server Authentication"));
  CHECK_THAT(server.out, ContainsSubstring("CA:FALSE"));

  // A second init does not replace the CA (every device certificate hangs on it) unless forced.
  const std::string before = read_text(files.ca_certificate);
  CHECK_THROWS_AS(initialise_ca(dir.path() / "ca", {"localhost"}, false, std::chrono::system_clock::now()), PkiError);
  CHECK(read_text(files.ca_certificate) == before);
  initialise_ca(dir.path() / "ca", {"localhost"}, true, std::chrono::system_clock::now());
  CHECK(read_text(files.ca_certificate) != before);
}

TEST_CASE("pki: the CLI's ca init refuses to overwrite and reports JSON", "[console][pki]") {
  ConsoleUnderTest console;  // ran `ca init` already
  const auto again = console.cli({"ca", "init"});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, ContainsSubstring("already exists"));
  const auto forced = console.cli({"ca", "init", "--force", "--json"});
  CHECK(forced.exit_code == 0);
  const auto doc = nlohmann::json::parse(forced.out);
  CHECK(doc.at("ca_certificate").get<std::string>() == console.ca());
}

TEST_CASE("pki: a signed CSR becomes a client certificate with only CN and OU", "[console][pki]") {
  TempDir dir;
  initialise_ca(dir.path() / "ca", {"localhost"}, false, std::chrono::system_clock::now());
  const auto ca = CertificateAuthority::load(dir.path() / "ca");
  const std::string pem = openssl_csr(dir, "dev", kP256, "/CN=pos-0042/OU=store-7/O=Ignored Org/emailAddress=x@y");
  const auto request = CertificateRequest::parse(pem);
  CHECK(request.common_name() == "pos-0042");
  CHECK(request.organizational_unit() == "store-7");
  const auto now = std::chrono::system_clock::now();
  const auto issued = ca->sign(request, 90, now);
  CHECK(issued.serial.size() == 32);  // 16 bytes, the first not zero
  CHECK(issued.not_after - issued.not_before == std::chrono::hours(24 * 90) + std::chrono::minutes(5));
  write_text(dir.file("dev.crt"), issued.certificate_pem);

  const auto verified = run({"/usr/bin/openssl", "verify", "-CAfile", (dir.path() / "ca" / "ca.crt").string(),
                             "-purpose", "sslclient", dir.file("dev.crt")});
  CHECK(verified.exit_code == 0);
  const auto text =
      run({"/usr/bin/openssl", "x509", "-in", dir.file("dev.crt"), "-noout", "-text", "-nameopt", "RFC2253"});
  CHECK_THAT(text.out, ContainsSubstring("Subject: OU=store-7,CN=pos-0042"));
  CHECK_THAT(text.out, !ContainsSubstring("Ignored Org"));
  CHECK_THAT(text.out, ContainsSubstring("TLS Web Client Authentication"));
  CHECK_THAT(text.out, ContainsSubstring("Digital Signature"));
  const auto serial = run({"/usr/bin/openssl", "x509", "-in", dir.file("dev.crt"), "-noout", "-serial"});
  CHECK_THAT(postured::text::lower(serial.out), ContainsSubstring(issued.serial));
}

TEST_CASE("pki: CSRs that cannot be signed are refused with the reason", "[console][pki]") {
  TempDir dir;
  SECTION("RSA key") {
    const auto pem = openssl_csr(dir, "rsa", {"-newkey", "rsa:2048"}, "/CN=pos-1/OU=store-7");
    CHECK_THROWS_WITH(CertificateRequest::parse(pem), ContainsSubstring("EC P-256"));
  }
  SECTION("P-384 key") {
    const auto pem =
        openssl_csr(dir, "p384", {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"}, "/CN=pos-1/OU=store-7");
    CHECK_THROWS_WITH(CertificateRequest::parse(pem), ContainsSubstring("EC P-256"));
  }
  SECTION("no OU") {
    const auto pem = openssl_csr(dir, "noou", kP256, "/CN=pos-1");
    CHECK_THROWS_WITH(CertificateRequest::parse(pem), ContainsSubstring("OU"));
  }
  SECTION("a CN that is not an id") {
    const auto pem = openssl_csr(dir, "comma", kP256, "/CN=pos 1,OU=x/OU=store-7");
    CHECK_THROWS_AS(CertificateRequest::parse(pem), CsrError);
  }
  SECTION("signature that does not verify") {
    std::string pem = openssl_csr(dir, "ok", kP256, "/CN=pos-1/OU=store-7");
    const auto der =
        run({"/usr/bin/openssl", "req", "-in", dir.file("ok.csr"), "-outform", "DER", "-out", dir.file("ok.der")});
    REQUIRE(der.exit_code == 0);
    std::string bytes = read_text(dir.file("ok.der"));
    const auto at = bytes.find("pos-1");
    REQUIRE(at != std::string::npos);
    bytes[at + 4] = '2';  // the subject now says pos-2: the signature no longer matches
    write_text(dir.file("bad.der"), bytes);
    const auto back =
        run({"/usr/bin/openssl", "req", "-inform", "DER", "-in", dir.file("bad.der"), "-out", dir.file("bad.csr")});
    REQUIRE(back.exit_code == 0);
    CHECK_THROWS_WITH(CertificateRequest::parse(read_text(dir.file("bad.csr"))), ContainsSubstring("signature"));
  }
  SECTION("not PEM") {
    CHECK_THROWS_AS(CertificateRequest::parse("hello"), CsrError);
  }
}

TEST_CASE("pki: tokens are 32 random bytes in base64url and stored as SHA-256", "[console][pki]") {
  const std::string a = new_token();
  const std::string b = new_token();
  CHECK(a.size() == 43);
  CHECK(a != b);
  CHECK(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  TempDir dir;
  append_operator_token_hash(dir.file("operator-tokens"), sha256_hex(a));
  append_operator_token_hash(dir.file("operator-tokens"), sha256_hex(b));
  CHECK(mode_of(dir.file("operator-tokens")) == 0600);
  CHECK(read_operator_token_hashes(dir.file("operator-tokens")) ==
        std::vector<std::string>{sha256_hex(a), sha256_hex(b)});
  write_text(dir.file("bad-tokens"), "nothex\n");
  CHECK_THROWS_WITH(read_operator_token_hashes(dir.file("bad-tokens")), ContainsSubstring("bad-tokens:1"));
}

TEST_CASE("pki: config/console.toml states exactly the built-in defaults", "[console][config]") {
  const auto shipped = load_console_config(std::string(POSTURED_SOURCE_DIR) + "/config/console.toml");
  for (const auto& e : shipped.errors) UNSCOPED_INFO(e.to_string());
  REQUIRE(shipped.config);
  const auto builtin = parse_console_config("", "(defaults)");
  REQUIRE(builtin.config);
  const auto& a = *shipped.config;
  const auto& b = *builtin.config;
  CHECK(a.server.listen == b.server.listen);
  CHECK(a.server.names == b.server.names);
  CHECK(a.server.data_dir == b.server.data_dir);
  CHECK(a.server.threads == b.server.threads);
  CHECK(a.server.max_body_bytes == b.server.max_body_bytes);
  CHECK(a.server.max_inflated_bytes == b.server.max_inflated_bytes);
  CHECK(a.server.ingest_queue == b.server.ingest_queue);
  CHECK(a.server.ingest_queue_bytes == b.server.ingest_queue_bytes);
  CHECK(a.server.certificate_days == b.server.certificate_days);
  CHECK(a.storage.url == b.storage.url);
  CHECK(a.storage.raw_report_days == b.storage.raw_report_days);
  CHECK(a.api.listen == b.api.listen);
  CHECK(a.api.stale_after == b.api.stale_after);
  CHECK(a.enroll.token_ttl == b.enroll.token_ttl);
  CHECK(a.enroll.max_clock_skew == b.enroll.max_clock_skew);
  CHECK(b.server.max_body_bytes == 1048576);
  CHECK(b.enroll.max_clock_skew == std::chrono::minutes(5));
  CHECK(b.storage_url() == "sqlite:/var/lib/posture-console/console.db");
}

TEST_CASE("pki: console.toml errors name file, line and column", "[console][config]") {
  const auto load = parse_console_config(
      "[server]\nlisen = \"0.0.0.0:1\"\nthreads = 0\n[api]\nstale_after = \"soon\"\n"
      "[storag]\n",
      "console.toml");
  REQUIRE(load.errors.size() == 4);
  CHECK(load.errors[0].to_string() == "console.toml:2:1: unknown key 'server.lisen'; did you mean 'listen'?");
  CHECK_THAT(load.errors[1].to_string(), ContainsSubstring("console.toml:3:11: 'server.threads' is 0, out of range"));
  CHECK_THAT(load.errors[2].to_string(), ContainsSubstring("console.toml:5:15: 'api.stale_after' is \"soon\""));
  CHECK_THAT(load.errors[3].to_string(), ContainsSubstring("console.toml:6:2: unknown section 'storag'"));

  TempDir dir;
  write_text(dir.file("bad.toml"), "[server]\nlisten = \"nowhere\"\n");
  const auto ran = run({bin("posture-console"), "serve", "--config", dir.file("bad.toml")});
  CHECK(ran.exit_code == 2);
  CHECK_THAT(ran.err, ContainsSubstring("bad.toml:2:10: 'server.listen'"));
}

TEST_CASE("pki: the report model validates postured.report/v1 and reduces it to a device state", "[console][report]") {
  const auto good = validate_report(sample_report("pos-1", 1).dump());
  REQUIRE(std::holds_alternative<ValidatedReport>(good));
  const auto& report = std::get<ValidatedReport>(good);
  CHECK(report.device_id == "pos-1");
  CHECK(report.state.status == "fail");
  CHECK(report.state.checks_fail == 1);
  CHECK(report.state.checks_pass == 1);
  CHECK(report.state.caches_total == 1);
  CHECK(report.state.caches_unencrypted == 1);
  CHECK(report.state.pan_findings == 3);  // 1 in a cache + 2 in scanned files
  CHECK(report.state.packages_below_baseline == 1);
  CHECK(report.state.pending_security_updates == 2);
  CHECK(report.state.last_security_update_at == parse_rfc3339("2026-11-20T03:00:00Z"));
  CHECK(report.state.checks.size() == 2);

  // What the agent sends when it knows less: nulls for unknown figures, no scan.
  auto sparse = sample_report("pos-1", 2);
  sparse["patch"]["pending_security_updates"] = nullptr;
  sparse["patch"]["packages_total"] = nullptr;
  sparse["scan"] = nullptr;
  sparse["checks"][0]["status"] = "error";
  sparse["extra_field_from_a_newer_agent"] = {{"x", 1}};
  const auto ok = validate_report(sparse.dump());
  REQUIRE(std::holds_alternative<ValidatedReport>(ok));
  CHECK(std::get<ValidatedReport>(ok).state.status == "error");
  CHECK(std::get<ValidatedReport>(ok).state.pending_security_updates == -1);

  CHECK(std::get<ReportProblem>(validate_report("{nope")).code == "malformed_json");
  auto bad = sample_report("pos-1", 3);
  bad["schema"] = "postured.doctor/v1";
  CHECK(std::get<ReportProblem>(validate_report(bad.dump())).code == "schema");
  bad = sample_report("pos-1", 3);
  bad["report_id"] = "42";
  CHECK(std::get<ReportProblem>(validate_report(bad.dump())).message == "report_id must be a UUID");
  bad = sample_report("pos-1", 3);
  bad["caches"][0]["pan_findings"] = -1;
  CHECK_THAT(std::get<ReportProblem>(validate_report(bad.dump())).message, ContainsSubstring("caches[0].pan_findings"));

  CHECK(parse_rfc3339("2026-11-26T10:15:00+01:00") == parse_rfc3339("2026-11-26T09:15:00Z"));
  CHECK(parse_rfc3339("2026-11-26T09:15:00.5Z") > parse_rfc3339("2026-11-26T09:15:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-11-26 nope"));
  CHECK_FALSE(parse_rfc3339("2026-13-26T09:15:00Z"));
  // Years are bounded before any arithmetic: the nanosecond clock overflows in 2262 (UB before the bound).
  CHECK(parse_rfc3339("2200-12-31T23:59:59Z"));
  CHECK_FALSE(parse_rfc3339("2201-01-01T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  CHECK_FALSE(parse_rfc3339("1969-12-31T23:59:59Z"));
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == postured::console::Clock::time_point{});
}

TEST_CASE("pki: a report with U+0000 in any string or key is refused as schema", "[console][report]") {
  auto bad = sample_report("pos-1", 4);
  bad["device"]["hostname"] = std::string("pos\0one", 7);
  auto problem = std::get<ReportProblem>(validate_report(bad.dump()));
  CHECK(problem.code == "schema");
  CHECK_THAT(problem.message, ContainsSubstring("U+0000"));
  bad = sample_report("pos-1", 4);
  bad["checks"][1]["evidence"] = std::string("a\0", 2);  // deep inside, in a field the model does not read
  CHECK(std::get<ReportProblem>(validate_report(bad.dump())).code == "schema");
  bad = sample_report("pos-1", 4);
  bad["extra"][std::string("k\0", 2)] = 1;  // in a key
  CHECK(std::get<ReportProblem>(validate_report(bad.dump())).code == "schema");
  // Deep nesting is walked without recursion.
  std::string deep = sample_report("pos-1", 4).dump();
  deep.pop_back();
  deep += ",\"extra\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(std::holds_alternative<ValidatedReport>(validate_report(deep)));
}
