// The agent endpoint of the real posture-console binary, driven by curl and openssl s_client.
#include <sqlite3.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "console/endpoint_harness.hpp"
#include "support/encodings.hpp"

using namespace postured::test;
using Catch::Matchers::ContainsSubstring;
using json = nlohmann::json;

namespace {

json enroll_body(const std::string& token, const std::string& csr, const std::string& device_time) {
  return {{"token", token}, {"csr_pem", csr}, {"device_time", device_time}};
}

// openssl s_client with a client certificate over TLS 1.2, where the server's verdict on the client
// certificate ends the handshake itself. stdin is empty, so a handshake that succeeds ends at once too.
Ran s_client(const ConsoleUnderTest& console, const std::string& cert, const std::string& key,
             const std::string& version = "-tls1_2") {
  const std::string command = "/usr/bin/openssl s_client -connect 127.0.0.1:" + std::to_string(console.port()) +
                              " -CAfile " + console.ca() + " -cert " + cert + " -key " + key + " " + version +
                              " </dev/null";
  return run({"/bin/sh", "-c", command});
}

}  // namespace

TEST_CASE("endpoint: enrollment with an openssl CSR gives a certificate openssl verifies", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  const std::string csr = console.csr("dev-1", "/CN=dev-1/OU=store-7");
  const auto answer =
      console.post("/v1/enroll", enroll_body(console.token("store-7"), csr, ConsoleUnderTest::now_rfc3339()).dump());
  REQUIRE(answer.status == 200);
  const auto body = answer.json();
  REQUIRE(body.contains("certificate_pem"));
  CHECK(body.at("ca_pem").get<std::string>() == read_text(console.ca()));
  CHECK(body.contains("not_after"));
  CHECK(body.contains("server_time"));
  write_text(console.file("dev-1.crt"), body.at("certificate_pem").get<std::string>());

  const auto verified =
      run({"/usr/bin/openssl", "verify", "-CAfile", console.ca(), "-purpose", "sslclient", console.file("dev-1.crt")});
  CHECK(verified.exit_code == 0);
  CHECK_THAT(verified.out, ContainsSubstring("OK"));
  const auto text = run({"/usr/bin/openssl", "x509", "-in", console.file("dev-1.crt"), "-noout", "-text"});
  CHECK_THAT(text.out, ContainsSubstring("CN = dev-1"));
  CHECK_THAT(text.out, ContainsSubstring("OU = store-7"));
  CHECK_THAT(text.out, ContainsSubstring("TLS Web Client Authentication"));
  CHECK_THAT(text.out, ContainsSubstring("Digital Signature"));
  // The certificate's key is the CSR's key.
  const auto cert_key = run({"/usr/bin/openssl", "x509", "-in", console.file("dev-1.crt"), "-noout", "-pubkey"});
  const auto own_key = run({"/usr/bin/openssl", "pkey", "-in", console.file("dev-1.key"), "-pubout"});
  CHECK(cert_key.out == own_key.out);
}

TEST_CASE("endpoint: enrollment refusals name the reason", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  const std::string now = ConsoleUnderTest::now_rfc3339();
  const std::string csr = console.csr("dev-2", "/CN=dev-2/OU=store-7");

  SECTION("unknown token") {
    const auto answer = console.post("/v1/enroll", enroll_body("not-a-token", csr, now).dump());
    CHECK(answer.status == 401);
    CHECK(answer.json().at("error") == "token_unknown");
    CHECK(answer.json().contains("server_time"));
  }
  SECTION("expired token") {
    const std::string token = console.token("store-7", 1, "1s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    const auto answer = console.post("/v1/enroll", enroll_body(token, csr, now).dump());
    CHECK(answer.status == 401);
    CHECK(answer.json().at("error") == "token_expired");
  }
  SECTION("used-up token") {
    const std::string token = console.token("store-7", 1);
    CHECK(console.post("/v1/enroll", enroll_body(token, csr, now).dump()).status == 200);
    const std::string other = console.csr("dev-3", "/CN=dev-3/OU=store-7");
    const auto answer = console.post("/v1/enroll", enroll_body(token, other, now).dump());
    CHECK(answer.status == 401);
    CHECK(answer.json().at("error") == "token_used_up");
  }
  SECTION("token of another store") {
    const auto answer = console.post("/v1/enroll", enroll_body(console.token("store-9"), csr, now).dump());
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "wrong_store");
  }
  SECTION("device clock too far off") {
    const auto behind = ConsoleUnderTest::now_rfc3339(std::chrono::hours(-2));
    const auto answer = console.post("/v1/enroll", enroll_body(console.token("store-7"), csr, behind).dump());
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "clock_skew");
    CHECK_THAT(answer.json().at("message").get<std::string>(), ContainsSubstring("behind"));
  }
  SECTION("not a CSR") {
    const auto answer = console.post("/v1/enroll", enroll_body(console.token("store-7"), "hello", now).dump());
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "bad_csr");
  }
}

TEST_CASE("endpoint: reports over mutual TLS are stored once, gzip or not", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  const auto cert = console.client_cert("dev-1");
  const std::string report = sample_report("dev-1", 1).dump();

  auto first = console.post("/v1/reports", report, cert);
  REQUIRE(first.status == 200);
  CHECK(first.json().at("status") == "stored");
  CHECK(first.json().at("report_id") == report_id(1));
  auto again = console.post("/v1/reports", report, cert);
  CHECK(again.status == 200);
  CHECK(again.json().at("status") == "duplicate");

  const std::string gz = gzip(sample_report("dev-1", 2).dump());
  std::vector<std::string> gzip_args = cert;
  gzip_args.insert(gzip_args.end(), {"-H", "Content-Encoding: gzip"});
  const auto compressed = console.post("/v1/reports", gz, gzip_args);
  CHECK(compressed.status == 200);
  CHECK(compressed.json().at("status") == "stored");
}

TEST_CASE("endpoint: bad report bodies are refused and the server keeps serving", "[console][endpoint]") {
  ConsoleUnderTest console("max_body_bytes = 65536\nmax_inflated_bytes = 1048576\n");
  console.start();
  console.enroll("dev-1");
  const auto cert = console.client_cert("dev-1");

  const auto malformed = console.post("/v1/reports", "{\"schema\": ", cert);
  CHECK(malformed.status == 400);
  CHECK(malformed.json().at("error") == "malformed_json");

  json wrong = sample_report("dev-1", 3);
  wrong["checks"][0]["status"] = "maybe";
  const auto schema = console.post("/v1/reports", wrong.dump(), cert);
  CHECK(schema.status == 400);
  CHECK(schema.json().at("error") == "schema");

  const auto mismatch = console.post("/v1/reports", sample_report("dev-99", 4).dump(), cert);
  CHECK(mismatch.status == 403);
  CHECK(mismatch.json().at("error") == "device_mismatch");

  const auto anonymous = console.post("/v1/reports", sample_report("dev-1", 5).dump());
  CHECK(anonymous.status == 403);
  CHECK(anonymous.json().at("error") == "no_client_certificate");

  std::string big = sample_report("dev-1", 6).dump();
  big.insert(big.size() - 1, ",\"padding\":\"" + std::string(100000, 'x') + "\"");
  const auto oversized = console.post("/v1/reports", big, cert);
  CHECK(oversized.status == 413);
  CHECK(oversized.json().at("error") == "too_large");

  // 4 MiB of zeros gzip to about 4 KiB: well under max_body_bytes, far over max_inflated_bytes.
  std::vector<std::string> gzip_args = cert;
  gzip_args.insert(gzip_args.end(), {"-H", "Content-Encoding: gzip"});
  const auto bomb = console.post("/v1/reports", gzip(std::string(4u << 20, '0')), gzip_args);
  CHECK(bomb.status == 413);
  CHECK(bomb.json().at("error") == "gzip_bomb");

  const auto fine = console.post("/v1/reports", sample_report("dev-1", 7).dump(), cert);
  CHECK(fine.status == 200);
  CHECK(fine.json().at("status") == "stored");
  CHECK(console.server().running());
}

TEST_CASE("endpoint: keep-alive serves several requests on one connection", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  write_text(console.file("report.json"), sample_report("dev-1", 11).dump());
  std::vector<std::string> args{"/usr/bin/curl",
                                "-v",
                                "-sS",
                                "--cacert",
                                console.ca(),
                                "--cert",
                                console.file("dev-1.crt"),
                                "--key",
                                console.file("dev-1.key"),
                                "-H",
                                "Content-Type: application/json",
                                "--data-binary",
                                "@" + console.file("report.json"),
                                console.url("/v1/reports"),
                                console.url("/v1/reports"),
                                console.url("/v1/reports")};
  const auto ran = run(args);
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, ContainsSubstring("Re-using existing connection"));
  CHECK_THAT(ran.out, ContainsSubstring("\"stored\""));
  CHECK_THAT(ran.out, ContainsSubstring("\"duplicate\""));
}

TEST_CASE("endpoint: revoked, expired and foreign client certificates are refused at the handshake",
          "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  console.enroll("dev-2");

  // The control: a good certificate completes the handshake with openssl.
  const auto good = s_client(console, console.file("dev-2.crt"), console.file("dev-2.key"));
  CHECK(good.exit_code == 0);

  SECTION("revoked") {
    REQUIRE(console.cli({"device", "revoke", "dev-1"}).exit_code == 0);
    // The running server reads the revocation list every 2 s.
    Ran refused;
    for (int i = 0; i < 20; ++i) {
      refused = s_client(console, console.file("dev-1.crt"), console.file("dev-1.key"));
      if (refused.exit_code != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.out + refused.err, ContainsSubstring("alert"));
    // TLS 1.3 (curl's default): no HTTP answer either.
    const auto over_13 = console.post("/v1/reports", sample_report("dev-1", 20).dump(), console.client_cert("dev-1"));
    CHECK(over_13.status == 0);
    CHECK(over_13.exit_code != 0);
    // Another device of the same CA is still served.
    CHECK(console.post("/v1/reports", sample_report("dev-2", 21).dump(), console.client_cert("dev-2")).status == 200);
    // A revoked device may not enroll again.
    const std::string csr = console.csr("dev-1b", "/CN=dev-1/OU=store-7");
    const auto again =
        console.post("/v1/enroll", enroll_body(console.token("store-7"), csr, ConsoleUnderTest::now_rfc3339()).dump());
    CHECK(again.status == 403);
    CHECK(again.json().at("error") == "device_revoked");
  }
  SECTION("expired, from the console's own CA") {
    const auto dir = console.dir();
    write_text(dir / "index.txt", "");
    write_text(dir / "serial", "1000\n");
    write_text(dir / "ca.cnf", "[ca]\ndefault_ca = dated\n[dated]\ndatabase = " + (dir / "index.txt").string() +
                                   "\nnew_certs_dir = " + dir.string() + "\nserial = " + (dir / "serial").string() +
                                   "\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\n"
                                   "commonName = supplied\norganizationalUnitName = optional\n");
    write_text(dir / "client.ext",
               "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
               "extendedKeyUsage=clientAuth\n");
    console.csr("old", "/CN=dev-2/OU=store-7");
    const auto made = run({"/usr/bin/openssl",
                           "ca",
                           "-batch",
                           "-notext",
                           "-config",
                           console.file("ca.cnf"),
                           "-cert",
                           console.ca(),
                           "-keyfile",
                           console.ca_key(),
                           "-in",
                           console.file("old.csr"),
                           "-startdate",
                           "20200101000000Z",
                           "-enddate",
                           "20210101000000Z",
                           "-extfile",
                           console.file("client.ext"),
                           "-out",
                           console.file("old.crt")});
    REQUIRE(made.exit_code == 0);
    const auto refused = s_client(console, console.file("old.crt"), console.file("old.key"));
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.out + refused.err, ContainsSubstring("alert"));
    CHECK(console.post("/v1/reports", sample_report("dev-2", 22).dump(), console.client_cert("old")).status == 0);
  }
  SECTION("from another CA") {
    const auto ca_made =
        run({"/usr/bin/openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", console.file("other-ca.key"), "-subj", "/CN=Other CA", "-days", "30", "-addext",
             "basicConstraints=critical,CA:TRUE", "-out", console.file("other-ca.crt")});
    REQUIRE(ca_made.exit_code == 0);
    console.csr("foreign", "/CN=dev-2/OU=store-7");
    write_text(console.dir() / "client.ext", "extendedKeyUsage=clientAuth\n");
    const auto signed_ =
        run({"/usr/bin/openssl", "x509", "-req", "-in", console.file("foreign.csr"), "-CA",
             console.file("other-ca.crt"), "-CAkey", console.file("other-ca.key"), "-CAcreateserial", "-days", "30",
             "-extfile", console.file("client.ext"), "-out", console.file("foreign.crt")});
    REQUIRE(signed_.exit_code == 0);
    const auto refused = s_client(console, console.file("foreign.crt"), console.file("foreign.key"));
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.out + refused.err, ContainsSubstring("alert"));
    CHECK(console.post("/v1/reports", sample_report("dev-2", 23).dump(), console.client_cert("foreign")).status == 0);
  }
}

TEST_CASE("endpoint: a full ingest queue answers 503 with Retry-After and loses nothing", "[console][endpoint]") {
  ConsoleUnderTest console("ingest_queue = 1\n");
  console.start();
  console.enroll("dev-1");

  // Hold the database's write lock, as a slow disk or a long backup would: the storage thread blocks
  // on its first batch, one more report fits the queue, the rest must be refused.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(console.database().c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);

  constexpr int kSenders = 6;
  std::vector<std::unique_ptr<Child>> senders;
  for (int i = 0; i < kSenders; ++i) {
    write_text(console.file("flood-" + std::to_string(i)), sample_report("dev-1", 100 + i).dump());
    senders.push_back(std::make_unique<Child>(std::vector<std::string>{
        "/usr/bin/curl", "-sS", "--max-time", "60", "--cacert", console.ca(), "--cert", console.file("dev-1.crt"),
        "--key", console.file("dev-1.key"), "-H", "Content-Type: application/json", "-D", "-", "--data-binary",
        "@" + console.file("flood-" + std::to_string(i)), console.url("/v1/reports")}));
    // One after the other, so that the first has reached the storage thread before the flood.
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 1000 : 100));
  }
  // Well within the storage's 5 s busy timeout, after which the blocked batch would fail instead.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);

  int overloaded = 0, stored = 0;
  for (auto& sender : senders) {
    const auto& ran = sender->wait(std::chrono::seconds(60));
    if (ran.out.find(" 503") != std::string::npos) {
      ++overloaded;
      CHECK_THAT(ran.out, ContainsSubstring("overloaded"));
      CHECK_THAT(ran.out, ContainsSubstring("Retry-After: "));
    } else if (ran.out.find("\"stored\"") != std::string::npos) {
      ++stored;
    }
  }
  CHECK(overloaded >= 1);
  CHECK(stored >= 1);
  CHECK(overloaded + stored == kSenders);
  // The refused ones are the agent's to send again; they are accepted once the queue drains.
  for (int i = 0; i < kSenders; ++i) {
    const auto again =
        console.post("/v1/reports", sample_report("dev-1", 100 + i).dump(), console.client_cert("dev-1"));
    CHECK(again.status == 200);
  }
}

TEST_CASE("endpoint: renewal over mutual TLS issues a new certificate for the same subject", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  const std::string csr = console.csr("dev-1-next", "/CN=dev-1/OU=store-7");
  const auto renewed =
      console.post("/v1/renew", json{{"csr_pem", csr}, {"device_time", ConsoleUnderTest::now_rfc3339()}}.dump(),
                   console.client_cert("dev-1"));
  REQUIRE(renewed.status == 200);
  write_text(console.file("dev-1-next.crt"), renewed.json().at("certificate_pem").get<std::string>());
  CHECK(console.post("/v1/reports", sample_report("dev-1", 30).dump(), console.client_cert("dev-1-next")).status ==
        200);

  const std::string other = console.csr("dev-x", "/CN=dev-x/OU=store-7");
  const auto wrong =
      console.post("/v1/renew", json{{"csr_pem", other}, {"device_time", ConsoleUnderTest::now_rfc3339()}}.dump(),
                   console.client_cert("dev-1"));
  CHECK(wrong.status == 400);
  CHECK(wrong.json().at("error") == "bad_csr");
  const auto anonymous =
      console.post("/v1/renew", json{{"csr_pem", csr}, {"device_time", ConsoleUnderTest::now_rfc3339()}}.dump());
  CHECK(anonymous.status == 403);
}

TEST_CASE("endpoint: a client that trickles its request is cut off after the request timeout", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  // Python's ssl (OpenSSL): half a request header, then silence; how long until the console hangs up.
  write_text(console.file("slow.py"),
             "import socket, ssl, sys, time\n"
             "context = ssl.create_default_context(cafile=sys.argv[2])\n"
             "raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
             "tls = context.wrap_socket(raw, server_hostname='127.0.0.1')\n"
             "tls.sendall(b'POST /v1/reports HTTP/1.1\\r\\nHost: console\\r\\n')\n"
             "start = time.monotonic()\n"
             "try:\n"
             "    data = tls.recv(100)\n"
             "except (ssl.SSLError, OSError) as e:\n"
             "    data = b''\n"
             "print(round(time.monotonic() - start), len(data))\n");
  Child client({"/usr/bin/python3", console.file("slow.py"), std::to_string(console.port()), console.ca()});
  const auto& ran = client.wait(std::chrono::seconds(60));
  REQUIRE(ran.exit_code == 0);
  const int seconds = std::stoi(ran.out);
  CHECK(seconds >= 25);  // the whole request gets 30 s
  CHECK(seconds <= 40);
  CHECK(ran.out.substr(ran.out.find(' ') + 1) == "0\n");  // no answer, just the end of the connection
  CHECK(console.server().running());
}

namespace {

// Signs <name>.csr with the console's own CA by openssl, with the extensions `extensions` (a test
// needs certificates the console never issues: no clientAuth, no OU).
void sign_with_console_ca(const ConsoleUnderTest& console, const std::string& name, const std::string& extensions) {
  const auto dir = console.dir();
  write_text(dir / (name + ".ext"), extensions);
  const auto made = run({"/usr/bin/openssl", "x509", "-req", "-in", console.file(name + ".csr"), "-CA", console.ca(),
                         "-CAkey", console.ca_key(), "-CAcreateserial", "-CAserial", console.file(name + ".srl"),
                         "-days", "30", "-extfile", console.file(name + ".ext"), "-out", console.file(name + ".crt")});
  if (made.exit_code != 0) throw std::runtime_error("openssl x509 -req failed: " + made.err);
}

}  // namespace

TEST_CASE("endpoint: an enrolled device cannot be taken over by enrolling again; release lets it back",
          "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  const std::string now = ConsoleUnderTest::now_rfc3339();

  // The same device id with a token of another store: refused, and the token keeps its use.
  const std::string token = console.token("store-9");
  const auto takeover =
      console.post("/v1/enroll", enroll_body(token, console.csr("thief", "/CN=dev-1/OU=store-9"), now).dump());
  CHECK(takeover.status == 409);
  CHECK(takeover.json().at("error") == "device_exists");
  CHECK_THAT(takeover.json().at("message").get<std::string>(),
             ContainsSubstring("posture-console device release dev-1"));
  CHECK(
      console.post("/v1/enroll", enroll_body(token, console.csr("dev-9", "/CN=dev-9/OU=store-9"), now).dump()).status ==
      200);
  // The device still reports into its own store.
  CHECK(console.post("/v1/reports", sample_report("dev-1", 40).dump(), console.client_cert("dev-1")).status == 200);

  // A reinstalled terminal: central IT releases it, the old certificate dies, a new enrollment works.
  const auto released = console.cli({"device", "release", "dev-1", "--json"});
  REQUIRE(released.exit_code == 0);
  CHECK(json::parse(released.out).at("released") == true);
  CHECK(console.cli({"device", "release", "no-such-device"}).exit_code == 1);
  CurlResult old_cert;
  for (int i = 0; i < 20; ++i) {  // the running server reads the revocation list every 2 s
    old_cert = console.post("/v1/reports", sample_report("dev-1", 41).dump(), console.client_cert("dev-1"));
    if (old_cert.status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  CHECK(old_cert.status != 200);
  const auto again =
      console.post("/v1/enroll",
                   enroll_body(console.token("store-7"), console.csr("dev-1-new", "/CN=dev-1/OU=store-7"), now).dump());
  REQUIRE(again.status == 200);
  write_text(console.file("dev-1-new.crt"), again.json().at("certificate_pem").get<std::string>());
  CHECK(console.post("/v1/reports", sample_report("dev-1", 42).dump(), console.client_cert("dev-1-new")).status == 200);
  // Active again: one more enrollment is a takeover attempt once more.
  CHECK(console
            .post("/v1/enroll",
                  enroll_body(console.token("store-7"), console.csr("dev-1-3", "/CN=dev-1/OU=store-7"), now).dump())
            .status == 409);
}

TEST_CASE("endpoint: a CSR for the wrong store does not spend the token", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  const std::string now = ConsoleUnderTest::now_rfc3339();
  const std::string token = console.token("store-7");
  const auto typo =
      console.post("/v1/enroll", enroll_body(token, console.csr("a", "/CN=dev-1/OU=store-71"), now).dump());
  CHECK(typo.status == 400);
  CHECK(typo.json().at("error") == "wrong_store");
  CHECK(console.post("/v1/enroll", enroll_body(token, console.csr("b", "/CN=dev-1/OU=store-7"), now).dump()).status ==
        200);
  const auto spent =
      console.post("/v1/enroll", enroll_body(token, console.csr("c", "/CN=dev-2/OU=store-7"), now).dump());
  CHECK(spent.json().at("error") == "token_used_up");
}

TEST_CASE("endpoint: a device revoked while its keep-alive connection is open is refused on it",
          "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  write_text(console.file("first.json"), sample_report("dev-1", 50).dump());
  write_text(console.file("second.json"), sample_report("dev-1", 51).dump());
  // Python's http.client over ssl: one connection, a report, the revocation (and the 2 s refresh), a report.
  write_text(console.file("keepalive.py"),
             "import http.client, ssl, subprocess, sys, time\n"
             "port, ca, cert, key, first, second = sys.argv[1:7]\n"
             "context = ssl.create_default_context(cafile=ca)\n"
             "context.load_cert_chain(cert, key)\n"
             "connection = http.client.HTTPSConnection('127.0.0.1', int(port), context=context)\n"
             "headers = {'Content-Type': 'application/json'}\n"
             "connection.request('POST', '/v1/reports', open(first, 'rb').read(), headers)\n"
             "answer = connection.getresponse()\n"
             "print(answer.status, answer.read().decode())\n"
             "subprocess.run(sys.argv[7:], check=True, stdout=subprocess.DEVNULL)\n"
             "time.sleep(4)\n"
             "print('open' if connection.sock is not None else 'closed')\n"
             "connection.request('POST', '/v1/reports', open(second, 'rb').read(), headers)\n"
             "answer = connection.getresponse()\n"
             "print(answer.status, answer.read().decode(), answer.getheader('Connection'))\n");
  const auto ran = run({"/usr/bin/python3", console.file("keepalive.py"), std::to_string(console.port()), console.ca(),
                        console.file("dev-1.crt"), console.file("dev-1.key"), console.file("first.json"),
                        console.file("second.json"), bin("posture-console"), "device", "revoke", "dev-1", "--config",
                        console.config()});
  REQUIRE(ran.exit_code == 0);
  CHECK_THAT(ran.out, ContainsSubstring("200 {\"report_id\""));
  CHECK_THAT(ran.out, ContainsSubstring("\nopen\n"));  // the second request went over the same connection
  CHECK_THAT(ran.out, ContainsSubstring("403 {\"error\":\"device_revoked\""));
  CHECK_THAT(ran.out, ContainsSubstring("close"));
}

TEST_CASE("endpoint: bodies that cannot be accepted are refused right after the headers", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  // Python's ssl without a client certificate: the headers announce a large body that never comes; the
  // answer must arrive anyway (before, the console waited for the body until the request timeout).
  write_text(console.file("headers_only.py"),
             "import socket, ssl, sys, time\n"
             "context = ssl.create_default_context(cafile=sys.argv[2])\n"
             "raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
             "tls = context.wrap_socket(raw, server_hostname='127.0.0.1')\n"
             "tls.sendall(('POST ' + sys.argv[3] + ' HTTP/1.1\\r\\nHost: console\\r\\n'\n"
             "             'Content-Length: ' + sys.argv[4] + '\\r\\n\\r\\n').encode())\n"
             "tls.settimeout(5)\n"
             "data = b''\n"
             "try:\n"
             "    while True:\n"
             "        chunk = tls.recv(4096)\n"
             "        if not chunk: break\n"
             "        data += chunk\n"
             "except (socket.timeout, ssl.SSLError, OSError):\n"
             "    pass\n"
             "print(data.decode(errors='replace'))\n");
  const auto send_headers = [&](const std::string& target, const std::string& length) {
    return run({"/usr/bin/python3", console.file("headers_only.py"), std::to_string(console.port()), console.ca(),
                target, length});
  };
  const auto report = send_headers("/v1/reports", "500000");
  CHECK_THAT(report.out, ContainsSubstring("HTTP/1.1 403"));
  CHECK_THAT(report.out, ContainsSubstring("no_client_certificate"));
  const auto renew = send_headers("/v1/renew", "1000");
  CHECK_THAT(renew.out, ContainsSubstring("HTTP/1.1 403"));
  const auto enroll = send_headers("/v1/enroll", "100000");  // over the 64 KiB enrollment limit
  CHECK_THAT(enroll.out, ContainsSubstring("HTTP/1.1 413"));
  CHECK_THAT(enroll.out, ContainsSubstring("too_large"));
  CHECK(console.server().running());
}

TEST_CASE("endpoint: reports with NUL, from the future or with another device's id are refused",
          "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  console.enroll("dev-2");

  SECTION("a string with U+0000") {
    auto report = sample_report("dev-1", 60);
    report["checks"][0]["evidence"] = std::string("PermitRootLogin\0yes", 19);
    const auto answer = console.post("/v1/reports", report.dump(), console.client_cert("dev-1"));
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "schema");
    CHECK_THAT(answer.json().at("message").get<std::string>(), ContainsSubstring("U+0000"));
    // The same report without the NUL is stored: nothing else was wrong with it.
    report["checks"][0]["evidence"] = "PermitRootLogin yes";
    CHECK(console.post("/v1/reports", report.dump(), console.client_cert("dev-1")).status == 200);
  }
  SECTION("generated_at far ahead of the console's clock") {
    auto report = sample_report("dev-1", 61);
    report["generated_at"] = ConsoleUnderTest::now_rfc3339(std::chrono::hours(24 * 365));
    const auto answer = console.post("/v1/reports", report.dump(), console.client_cert("dev-1"));
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "schema");
    CHECK_THAT(answer.json().at("message").get<std::string>(), ContainsSubstring("ahead"));
    report["generated_at"] = "2199-01-01T00:00:00Z";
    CHECK(console.post("/v1/reports", report.dump(), console.client_cert("dev-1")).status == 400);
    // Within max_clock_skew (5 min) is accepted.
    report["generated_at"] = ConsoleUnderTest::now_rfc3339(std::chrono::seconds(60));
    CHECK(console.post("/v1/reports", report.dump(), console.client_cert("dev-1")).status == 200);
  }
  SECTION("a report id already stored for another device") {
    REQUIRE(console.post("/v1/reports", sample_report("dev-1", 62).dump(), console.client_cert("dev-1")).status == 200);
    const auto answer = console.post("/v1/reports", sample_report("dev-2", 62).dump(), console.client_cert("dev-2"));
    CHECK(answer.status == 409);
    CHECK(answer.json().at("error") == "report_id_conflict");
    // The owner sending it again is still a duplicate, acknowledged.
    const auto again = console.post("/v1/reports", sample_report("dev-1", 62).dump(), console.client_cert("dev-1"));
    CHECK(again.status == 200);
    CHECK(again.json().at("status") == "duplicate");
  }
  CHECK(console.server().running());
}

TEST_CASE("endpoint: a device_time with a year past 2262 is a clock_skew refusal", "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  const std::string csr = console.csr("dev-1", "/CN=dev-1/OU=store-7");
  for (const char* when : {"9999-12-31T23:59:59Z", "2263-01-01T00:00:00Z", "0001-01-01T00:00:00Z"}) {
    const auto answer = console.post("/v1/enroll", enroll_body(console.token("store-7"), csr, when).dump());
    CHECK(answer.status == 400);
    CHECK(answer.json().at("error") == "clock_skew");
  }
  CHECK(console.server().running());
}

TEST_CASE("endpoint: client certificates without clientAuth or without a store are not accepted",
          "[console][endpoint]") {
  ConsoleUnderTest console;
  console.start();
  console.enroll("dev-1");
  SECTION("no extendedKeyUsage, from the console's own CA") {
    console.csr("plain", "/CN=dev-1/OU=store-7");
    sign_with_console_ca(console, "plain", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n");
    const auto refused = s_client(console, console.file("plain.crt"), console.file("plain.key"));
    CHECK(refused.exit_code != 0);
    CHECK(console.post("/v1/reports", sample_report("dev-1", 70).dump(), console.client_cert("plain")).status == 0);
  }
  SECTION("serverAuth only") {
    console.csr("server", "/CN=dev-1/OU=store-7");
    sign_with_console_ca(console, "server", "extendedKeyUsage=serverAuth\n");
    const auto refused = s_client(console, console.file("server.crt"), console.file("server.key"));
    CHECK(refused.exit_code != 0);
  }
  SECTION("no OU") {
    console.csr("nostore", "/CN=dev-1");
    sign_with_console_ca(console, "nostore", "extendedKeyUsage=clientAuth\n");
    const auto answer = console.post("/v1/reports", sample_report("dev-1", 71).dump(), console.client_cert("nostore"));
    CHECK(answer.status == 403);
    CHECK(answer.json().at("error") == "bad_certificate");
  }
  // The control: the console's own certificate is served.
  CHECK(console.post("/v1/reports", sample_report("dev-1", 72).dump(), console.client_cert("dev-1")).status == 200);
}
