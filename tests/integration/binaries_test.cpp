// The command-line contract of postured and posturectl (DESIGN.md), run as real processes.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include <cstring>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "core/device.hpp"
#include "core/text.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"
#include "support/unix_socket.hpp"

using Catch::Matchers::ContainsSubstring;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

namespace {

const std::string kExampleConfig = POSTURED_SOURCE_DIR "/config/postured.toml";

std::string config_for(const FixtureRoot& dir, const std::string& extra = "") {
  const auto path = (dir.path() / "postured.toml").string();
  std::ofstream(path) << "[agent]\nstore_id = \"store-42\"\ndevice_id = \"pos-42-01\"\nstate_dir = \""
                      << (dir.path() / "state").string() << "\"\nruntime_dir = \"" << (dir.path() / "run").string()
                      << "\"\n"
                      << extra;
  return path;
}

}  // namespace

TEST_CASE("postured --check-config accepts the example config", "[cli][config]") {
  const auto r = run({bin("postured"), "--check-config", "--config", kExampleConfig});
  CHECK(r.exit_code == 0);
  CHECK(r.out == kExampleConfig + ": ok\n");
}

TEST_CASE("postured --check-config prints every problem as FILE:LINE:COL and exits 2", "[cli][config]") {
  FixtureRoot dir;
  const auto path = (dir.path() / "bad.toml").string();
  std::ofstream(path) << "[agent]\nstor_id = \"x\"\n[schedule]\ncheck_interval = \"10s\"\njitter = true\n";
  const auto r = run({bin("postured"), "--check-config", "--config", path});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  const std::regex line("^" + path + ":[0-9]+:[0-9]+: .+$");
  int lines = 0;
  for (const auto l : postured::text::lines(r.err)) {
    if (l.empty()) continue;
    CHECK(std::regex_match(std::string(l), line));
    ++lines;
  }
  CHECK(lines == 4);
  CHECK_THAT(r.err, ContainsSubstring(path + ":2:1: unknown key 'agent.stor_id'; did you mean 'store_id'?"));
  CHECK_THAT(r.err, ContainsSubstring("'schedule.jitter' must be a duration"));
}

TEST_CASE("malformed and missing config files exit 2 without crashing", "[cli][config]") {
  FixtureRoot dir;
  const auto garbage = (dir.path() / "garbage.toml").string();
  std::string bytes;
  for (int i = 0; i < 4096; ++i) bytes += static_cast<char>((i * 7919) % 256);
  std::ofstream(garbage, std::ios::binary) << bytes;
  const auto r = run({bin("postured"), "--check-config", "--config", garbage});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, ContainsSubstring(garbage + ":"));
  const auto missing = run({bin("postured"), "--check-config", "--config", "/nonexistent.toml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == "/nonexistent.toml:1:1: no such file\n");
  CHECK(run({bin("postured"), "--no-such-flag"}).exit_code == 2);
}

TEST_CASE("posturectl doctor --json on this machine tells the truth about OS and kernel", "[cli][doctor]") {
  const auto r = run({bin("posturectl"), "doctor", "--json", "--config", kExampleConfig});
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "postured.doctor/v1");
  std::ifstream os_release("/etc/os-release");
  const auto fields = postured::parse_os_release(std::string(std::istreambuf_iterator<char>(os_release), {}));
  CHECK(doc["device"]["os"]["id"] == fields.at("ID"));
  CHECK(doc["device"]["os"]["version_id"] == fields.at("VERSION_ID"));
  utsname uts{};
  ::uname(&uts);
  CHECK(doc["device"]["os"]["kernel"] == uts.release);
  CHECK(doc["device"]["hostname"] == uts.nodename);
  CHECK(doc["device"]["store_id"] == "store-0001");
  const auto& s = doc["summary"];
  CHECK(s["pass"].get<int>() + s["fail"].get<int>() + s["error"].get<int>() + s["not_applicable"].get<int>() ==
        static_cast<int>(doc["checks"].size()));
  CHECK(r.exit_code == (s["fail"].get<int>() + s["error"].get<int>() > 0 ? 1 : 0));
}

TEST_CASE("posturectl doctor prints a plain table when stdout is not a TTY", "[cli][doctor]") {
  FixtureRoot root;
  const auto r = run({bin("posturectl"), "doctor", "--root", root.path().string(), "--config", kExampleConfig});
  CHECK(r.out.find('\033') == std::string::npos);
  CHECK_THAT(r.out, ContainsSubstring("STATUS SEVERITY  CHECK"));
  CHECK_THAT(r.out, ContainsSubstring("Device  pos-test-01"));
}

TEST_CASE("posturectl exit codes: 2 for usage and config errors", "[cli][doctor]") {
  CHECK(run({bin("posturectl")}).exit_code == 2);
  CHECK(run({bin("posturectl"), "doctor", "--bogus"}).exit_code == 2);
  CHECK(run({bin("posturectl"), "frobnicate"}).exit_code == 2);
  FixtureRoot dir;
  const auto path = (dir.path() / "bad.toml").string();
  std::ofstream(path) << "[agent\n";
  const auto r = run({bin("posturectl"), "doctor", "--config", path});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, ContainsSubstring(path + ":1:"));
  CHECK(run({bin("posturectl"), "--help"}).exit_code == 0);
}

TEST_CASE("postured --once writes the report to the state directory, mode 0600 in a 0700 folder", "[cli][daemon]") {
  FixtureRoot dir;
  const auto r = run({bin("postured"), "--once", "--config", config_for(dir)});
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  CHECK_THAT(r.err, ContainsSubstring("info: cycle: "));
  const auto report_path = dir.path() / "state" / "last-report.json";
  std::ifstream in(report_path);
  const auto doc = nlohmann::json::parse(in);
  CHECK(doc["device"]["id"] == "pos-42-01");
  CHECK(doc["device"]["store_id"] == "store-42");
  CHECK(std::regex_match(doc["generated_at"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  struct stat st {};
  REQUIRE(::stat(report_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir.path() / "state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("postured --once exits 3 when it cannot record the result", "[cli][daemon]") {
  FixtureRoot dir;
  dir.mkdir("/state/last-report.json/in-the-way");  // a folder where the report file should go
  const auto r = run({bin("postured"), "--once", "--config", config_for(dir)});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, ContainsSubstring("error: cannot write "));
}

TEST_CASE("postured refuses to start with a master key file that others could read", "[cli][daemon][cache]") {
  FixtureRoot dir;
  const auto config = config_for(dir);
  REQUIRE(run({bin("postured"), "--once", "--config", config}).exit_code != 3);  // creates the key
  const auto key = dir.path() / "state" / "keys" / "master.key";
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  ::chmod(key.c_str(), 0644);
  const auto r = run({bin("postured"), "--once", "--config", config});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, ContainsSubstring("error: master key: " + key.string() + " has mode 0644; it must be 0600 or 0400"));
  ::chmod(key.c_str(), 0600);
  CHECK(run({bin("postured"), "--once", "--config", config}).exit_code != 3);
}

TEST_CASE("the daemon notifies systemd, keeps its config on a bad reload, takes a good one, stops on SIGTERM",
          "[cli][daemon]") {
  FixtureRoot dir;
  const auto socket_path = (dir.path() / "notify.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto address = postured::test::unix_address(socket_path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const auto next_message = [&] {
    std::string message(512, '\0');
    const auto n = ::recv(fd, message.data(), message.size(), 0);
    message.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return n > 0 ? message : std::string("<timeout>");
  };
  // Skips watchdog pings, which arrive whenever they are due.
  const auto next_state = [&] {
    for (;;) {
      auto m = next_message();
      if (m != "WATCHDOG=1") return m;
    }
  };

  const auto config = config_for(dir, "[schedule]\ncheck_interval = \"1m\"\njitter = 0\n");
  postured::test::Child daemon({bin("postured"), "--config", config},
                               {"NOTIFY_SOCKET=" + socket_path, "WATCHDOG_USEC=2000000"});
  CHECK(next_state() == "READY=1\nSTATUS=serving");
  REQUIRE(daemon.wait_for_stderr("info: cycle: ", std::chrono::seconds(10)));
  CHECK(next_message() == "WATCHDOG=1");  // every second with a 2 s watchdog

  std::ofstream(config, std::ios::trunc) << "[agent]\nstore_id = 7\n";
  daemon.signal(SIGHUP);
  CHECK(next_state().rfind("RELOADING=1", 0) == 0);
  CHECK(next_state() == "READY=1\nSTATUS=serving");
  REQUIRE(daemon.wait_for_stderr("keeping the running configuration", std::chrono::seconds(5)));
  CHECK_THAT(daemon.result().err, ContainsSubstring(config + ":2:12: 'agent.store_id' must be a string"));
  CHECK(daemon.running());

  config_for(dir, "[schedule]\ncheck_interval = \"2m\"\n");
  daemon.signal(SIGHUP);
  REQUIRE(daemon.wait_for_stderr("is in effect", std::chrono::seconds(5)));
  CHECK(daemon.running());

  daemon.signal(SIGTERM);
  CHECK(next_state().rfind("RELOADING=1", 0) == 0);
  CHECK(next_state() == "READY=1\nSTATUS=serving");
  CHECK(next_state().rfind("STOPPING=1", 0) == 0);
  const auto& r = daemon.wait(std::chrono::seconds(10));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, ContainsSubstring("SIGTERM: shutting down"));
  CHECK_THAT(r.err, ContainsSubstring("postured stopped"));
  ::close(fd);
}

namespace {

// A terminal that follows every recommendation: each compiled-in check passes on it.
void build_hardened_terminal(FixtureRoot& root) {
  const auto enable = [&](const std::string& unit) {
    root.symlink("/lib/systemd/system/" + unit, "/etc/systemd/system/multi-user.target.wants/" + unit);
  };
  root.write("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
      .write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
      .write("/usr/sbin/sshd", "")
      .write("/etc/ssh/sshd_config", "PermitRootLogin no\nPasswordAuthentication no\nMaxAuthTries 3\n")
      .write("/etc/nftables.conf",
             "flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; "
             "policy drop;\n    ct state established,related accept\n  }\n}\n")
      .write("/etc/modprobe.d/usb-storage.conf", "install usb-storage /bin/false\nblacklist usb-storage\n")
      .write("/proc/modules", "ext4 1003520 1 - Live 0x0000000000000000\n")
      .process(1, "systemd")
      .process(310, "chronyd")
      .write("/etc/chrony/chrony.conf", "pool 2.debian.pool.ntp.org iburst\n")
      .write("/usr/bin/apt-get", "")
      .write("/usr/bin/unattended-upgrade", "")
      .write("/etc/apt/apt.conf.d/20auto-upgrades",
             "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n")
      .write("/etc/apt/apt.conf.d/50unattended-upgrades",
             "Unattended-Upgrade::Origins-Pattern {\n  \"origin=Debian,codename=${distro_codename},label=Debian-Security\";\n};\n")
      .write("/sbin/auditd", "")
      .process(402, "auditd")
      .write("/etc/audit/rules.d/pci.rules", "-w /etc/passwd -p wa -k identity\n");
  enable("nftables.service");
  enable("chrony.service");
  enable("auditd.service");
}

}  // namespace

TEST_CASE("posturectl doctor exits 0 on a terminal where every check passes, 1 when one fails", "[cli][doctor]") {
  FixtureRoot root;
  build_hardened_terminal(root);
  const auto args = std::vector<std::string>{bin("posturectl"), "doctor", "--json", "--root", root.path().string(),
                                             "--config", kExampleConfig};
  auto r = run(args);
  auto doc = nlohmann::json::parse(r.out);
  for (const auto& check : doc["checks"]) {
    INFO(check["id"].get<std::string>() << ": " << check["status"].get<std::string>() << ": "
                                        << check["evidence"].get<std::string>());
    // The example config names no patch baseline, so the patch age check has nothing to time.
    if (check["id"] == "patch.security_updates_age") CHECK(check["status"] == "not_applicable");
    else CHECK(check["status"] == "pass");
  }
  CHECK(doc["summary"]["pass"].get<std::size_t>() + 1 == doc["checks"].size());
  CHECK(doc["checks"].size() >= 10);
  CHECK(r.exit_code == 0);

  root.write("/etc/ssh/sshd_config", "PermitRootLogin yes\nPasswordAuthentication no\nMaxAuthTries 3\n");
  r = run(args);
  doc = nlohmann::json::parse(r.out);
  CHECK(r.exit_code == 1);
  CHECK(doc["summary"]["fail"] == 1);
}

TEST_CASE("postured respects checks.disabled", "[cli][daemon]") {
  FixtureRoot dir;
  const auto config = config_for(dir, "[checks]\ndisabled = [\"linux.ssh.permit_root_login\"]\n");
  const auto r = run({bin("postured"), "--once", "--config", config});
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  std::ifstream in(dir.path() / "state" / "last-report.json");
  const auto doc = nlohmann::json::parse(in);
  for (const auto& check : doc["checks"]) CHECK(check["id"] != "linux.ssh.permit_root_login");
  CHECK_FALSE(doc["checks"].empty());
}

TEST_CASE("postured --check-config rejects a misspelt check id in checks.disabled", "[cli][config]") {
  FixtureRoot dir;
  const auto config = config_for(dir, "[checks]\ndisabled = [\"linux.usb.storage_blokced\"]\n");
  const auto r = run({bin("postured"), "--check-config", "--config", config});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, ContainsSubstring(":7:13: 'checks.disabled' names unknown check 'linux.usb.storage_blokced'; "
                                      "did you mean 'linux.usb.storage_blocked'?"));
}

TEST_CASE("postured --once reports the patch level and scans the configured folders", "[cli][daemon][scan]") {
  FixtureRoot dir;
  const auto logs = dir.path() / "pos-logs";
  std::filesystem::create_directories(logs);
  // A Visa test number (Luhn-valid) in a POS log, and a clean log.
  std::ofstream(logs / "till.log") << "2026-11-26 10:00:01 sale ok card 4111 1111 1111 1111 amount 12.50\n";
  std::ofstream(logs / "clean.log") << "2026-11-26 10:00:02 sale ok card 411111******1111\n";
  const auto config = config_for(dir, "[[scan_folder]]\npath = \"" + logs.string() + "\"\naction = \"redact\"\n");
  const auto r = run({bin("postured"), "--once", "--config", config});
  CHECK(r.exit_code == 1);  // card data was found (and redacted)
  CHECK(r.err.find("4111111111111111") == std::string::npos);
  CHECK(r.err.find("4111 1111 1111 1111") == std::string::npos);

  std::ifstream in(dir.path() / "state" / "last-report.json");
  const auto doc = nlohmann::json::parse(in);
  REQUIRE(doc["scan"].is_object());
  CHECK(doc["scan"]["pan_findings"] == 1);
  REQUIRE(doc["scan"]["locations"].size() == 1);
  CHECK(doc["scan"]["locations"][0]["path"] == (logs / "till.log").string());
  CHECK(doc["scan"]["locations"][0]["result"] == "redacted");
  CHECK(doc.dump().find("4111111111111111") == std::string::npos);
  std::ifstream redacted(logs / "till.log");
  const std::string text((std::istreambuf_iterator<char>(redacted)), std::istreambuf_iterator<char>());
  CHECK(text == "2026-11-26 10:00:01 sale ok card 4111 11** **** 1111 amount 12.50\n");

  // The patch block of DESIGN.md, from this machine's real dpkg database.
  REQUIRE(doc["patch"].is_object());
  CHECK(doc["patch"]["packages_total"].get<int>() > 100);
  for (const char* field : {"below_baseline", "last_security_update_at", "pending_security_updates", "reboot_required"}) {
    CHECK(doc["patch"].contains(field));
  }
}
