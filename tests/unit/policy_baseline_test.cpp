// config/policies/pos-linux-baseline.toml: every check passes on a hardened fixture root and fails
// with one change to it. A check in the file without a case here fails the suite.
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "policy/policy_checks.hpp"
#include "support/fixture_root.hpp"

namespace {

using postured::Status;
using postured::test::FixtureRoot;
namespace policy = postured::policy;

const std::filesystem::path kBaseline = std::string(POSTURED_SOURCE_DIR) + "/config/policies/pos-linux-baseline.toml";

void chmod(const FixtureRoot& root, std::string_view path, unsigned mode) {
  std::filesystem::permissions(root.real(path), static_cast<std::filesystem::perms>(mode),
                               std::filesystem::perm_options::replace);
}

// dpkg's status file with `names` installed (and chrony removed with its config files left).
std::string dpkg_status(const std::vector<std::string>& names) {
  std::string text = "Package: chrony\nStatus: deinstall ok config-files\nVersion: 4.3-2\n\n";
  for (const auto& name : names) text += "Package: " + name + "\nStatus: install ok installed\nVersion: 1.0\n\n";
  return text;
}

const std::vector<std::string> kHardenedPackages{"openssh-server", "libpam-pwquality", "cron", "sudo", "usbguard"};

const std::string kSshd =
    "Include /etc/ssh/sshd_config.d/*.conf\nDisableForwarding yes\nClientAliveInterval 300\nClientAliveCountMax 3\n"
    "LogLevel VERBOSE\nCiphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes256-ctr\n"
    "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com\nPermitEmptyPasswords no\n";

const std::string kCmdline =
    "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro audit=1 audit_backlog_limit=8192 quiet\n";

const std::map<std::string, std::string> kSysctls{{"kernel/randomize_va_space", "2"},
                                                  {"kernel/yama/ptrace_scope", "1"},
                                                  {"fs/suid_dumpable", "0"},
                                                  {"net/ipv4/ip_forward", "0"},
                                                  {"net/ipv4/conf/all/accept_redirects", "0"},
                                                  {"net/ipv4/conf/default/accept_redirects", "0"},
                                                  {"net/ipv4/conf/all/accept_source_route", "0"},
                                                  {"net/ipv4/conf/default/accept_source_route", "0"},
                                                  {"net/ipv4/tcp_syncookies", "1"},
                                                  {"net/ipv4/conf/all/log_martians", "1"},
                                                  {"net/ipv4/conf/default/log_martians", "1"},
                                                  {"net/ipv6/conf/all/accept_ra", "0"},
                                                  {"net/ipv6/conf/default/accept_ra", "0"}};

std::string sysctl_path(std::string_view name) {
  return "/proc/sys/" + std::string(name);
}

// A terminal hardened the way the baseline wants. "root" is this test's own uid, so that files the
// test creates are root's without chown.
void harden(FixtureRoot& root) {
  const auto uid = std::to_string(::geteuid()), gid = std::to_string(::getegid());
  root.write("/etc/passwd",
             "root:x:" + uid + ":" + gid + ":root:/root:/bin/bash\npos:x:1000:1000::/home/pos:/bin/bash\n")
      .write("/etc/group", "root:x:" + gid + ":\nshadow:x:42:\npos:x:1000:\n")
      .write("/etc/shadow", "root:$y$j9T$salt$hash:19700:0:90:7:::\npos:!:19700:0:90:7:::\n")
      .write("/etc/login.defs", "# shadow\nPASS_MAX_DAYS 90\nENCRYPT_METHOD YESCRYPT\nUMASK 027\n")
      .write("/etc/profile.d/tmout.sh", "readonly TMOUT=900 ; export TMOUT\n")
      .write("/etc/pam.d/common-auth",
             "auth required pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so\n")
      .write("/etc/security/faillock.conf", "# faillock\ndeny = 5\nunlock_time = 1800\n")
      .write("/etc/security/pwquality.conf", "minlen = 14\n")
      .write("/var/lib/dpkg/status", dpkg_status(kHardenedPackages))
      .write("/etc/ssh/sshd_config", kSshd)
      .write("/etc/ssh/ssh_host_ed25519_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
      .write("/proc/cmdline", kCmdline)
      .mkdir("/var/log/journal")
      .write("/etc/systemd/timesyncd.conf", "[Time]\nNTP=ntp1.store.example ntp2.store.example\n")
      .symlink("/lib/systemd/system/systemd-timesyncd.service",
               "/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service")
      .symlink("/lib/systemd/system/usbguard.service", "/etc/systemd/system/multi-user.target.wants/usbguard.service")
      .write("/etc/apt/sources.list.d/debian.sources",
             "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n\n"
             "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n")
      .write("/etc/apt/apt.conf.d/20auto-upgrades", "APT::Periodic::Unattended-Upgrade \"1\";\n")
      .write("/etc/modprobe.d/pos-filesystems.conf",
             "install cramfs /bin/false\ninstall freevxfs /bin/false\ninstall hfs /bin/false\n"
             "install hfsplus /bin/false\ninstall jffs2 /bin/false\ninstall udf /bin/false\nblacklist udf\n")
      .write("/etc/crontab", "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n")
      .write("/boot/grub/grub.cfg", "set superusers=\"root\"\n")
      .write("/etc/sudoers", "Defaults env_reset, use_pty\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n")
      .write("/etc/sudoers.d/README", "# Files in this folder are read by sudo\n");
  for (const auto& [name, value] : kSysctls) root.write(sysctl_path(name), value + "\n");
  for (const auto* dir :
       {"/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly"}) {
    root.mkdir(dir);
    chmod(root, dir, 0700);
  }
  chmod(root, "/etc/passwd", 0644);
  chmod(root, "/etc/group", 0644);
  chmod(root, "/etc/shadow", 0640);
  chmod(root, "/etc/ssh/sshd_config", 0600);
  chmod(root, "/etc/ssh/ssh_host_ed25519_key", 0600);
  chmod(root, "/etc/crontab", 0600);
  chmod(root, "/boot/grub/grub.cfg", 0600);
  chmod(root, "/etc/sudoers", 0440);
}

void append(FixtureRoot& root, std::string_view path, std::string_view more) {
  auto text = root.host()->read_file(path).value_or("");
  root.write(path, text + std::string(more));
}

void replace(FixtureRoot& root, std::string_view path, std::string_view from, std::string_view to) {
  auto text = root.host()->read_file(path).value_or("");
  const auto at = text.find(from);
  if (at == std::string::npos)
    throw std::logic_error("fixture has no '" + std::string(from) + "' in " + std::string(path));
  root.write(path, text.replace(at, from.size(), to));
}

void install(FixtureRoot& root, std::string name) {
  auto names = kHardenedPackages;
  names.push_back(std::move(name));
  root.write("/var/lib/dpkg/status", dpkg_status(names));
}

using Mutation = std::function<void(FixtureRoot&)>;

// For each check: one change to the hardened root that must make it fail.
const std::map<std::string, Mutation>& failing_changes() {
  static const std::map<std::string, Mutation> changes{
      {"pos.accounts.no_empty_passwords", [](auto& r) { append(r, "/etc/shadow", "kiosk::19700:0:99999:7:::\n"); }},
      {"pos.accounts.only_root_uid0", [](auto& r) { append(r, "/etc/passwd", "toor:x:0:0::/root:/bin/sh\n"); }},
      {"pos.accounts.password_max_days",
       [](auto& r) { replace(r, "/etc/login.defs", "PASS_MAX_DAYS 90", "PASS_MAX_DAYS 99999"); }},
      {"pos.accounts.password_hashing", [](auto& r) { replace(r, "/etc/login.defs", "YESCRYPT", "MD5"); }},
      {"pos.accounts.default_umask", [](auto& r) { replace(r, "/etc/login.defs", "UMASK 027", "UMASK 022"); }},
      {"pos.accounts.shell_timeout", [](auto& r) { replace(r, "/etc/profile.d/tmout.sh", "900", "3600"); }},
      {"pos.accounts.lockout_after_failures", [](auto& r) { append(r, "/etc/security/faillock.conf", "deny = 20\n"); }},
      {"pos.accounts.password_min_length", [](auto& r) { r.write("/etc/security/pwquality.conf", "minlen = 8\n"); }},
      {"pos.ssh.config_permissions", [](auto& r) { chmod(r, "/etc/ssh/sshd_config", 0644); }},
      {"pos.ssh.host_private_keys", [](auto& r) { chmod(r, "/etc/ssh/ssh_host_ed25519_key", 0640); }},
      {"pos.ssh.disable_forwarding",
       [](auto& r) { replace(r, "/etc/ssh/sshd_config", "DisableForwarding yes", "DisableForwarding no"); }},
      {"pos.ssh.permit_empty_passwords",
       [](auto& r) { replace(r, "/etc/ssh/sshd_config", "PermitEmptyPasswords no", "PermitEmptyPasswords yes"); }},
      {"pos.ssh.idle_timeout",
       [](auto& r) { replace(r, "/etc/ssh/sshd_config", "ClientAliveInterval 300", "ClientAliveInterval 0"); }},
      {"pos.ssh.log_level", [](auto& r) { replace(r, "/etc/ssh/sshd_config", "LogLevel VERBOSE", "LogLevel QUIET"); }},
      {"pos.ssh.strong_ciphers",
       [](auto& r) { replace(r, "/etc/ssh/sshd_config", "aes256-ctr", "aes256-ctr,aes128-cbc"); }},
      {"pos.ssh.strong_macs", [](auto& r) { replace(r, "/etc/ssh/sshd_config", "MACs ", "MACs hmac-sha1,"); }},
      {"pos.kernel.aslr", [](auto& r) { r.write(sysctl_path("kernel/randomize_va_space"), "1\n"); }},
      {"pos.kernel.ptrace_scope", [](auto& r) { r.write(sysctl_path("kernel/yama/ptrace_scope"), "0\n"); }},
      {"pos.kernel.setuid_core_dumps", [](auto& r) { r.write(sysctl_path("fs/suid_dumpable"), "2\n"); }},
      {"pos.net.ip_forward", [](auto& r) { r.write(sysctl_path("net/ipv4/ip_forward"), "1\n"); }},
      {"pos.net.icmp_redirects", [](auto& r) { r.write(sysctl_path("net/ipv4/conf/all/accept_redirects"), "1\n"); }},
      {"pos.net.source_route",
       [](auto& r) { r.write(sysctl_path("net/ipv4/conf/default/accept_source_route"), "1\n"); }},
      {"pos.net.syn_cookies", [](auto& r) { r.write(sysctl_path("net/ipv4/tcp_syncookies"), "0\n"); }},
      {"pos.net.log_martians", [](auto& r) { r.write(sysctl_path("net/ipv4/conf/all/log_martians"), "0\n"); }},
      {"pos.net.ipv6_router_advertisements",
       [](auto& r) { r.write(sysctl_path("net/ipv6/conf/default/accept_ra"), "1\n"); }},
      {"pos.services.avahi_absent", [](auto& r) { install(r, "avahi-daemon"); }},
      {"pos.services.cleartext_servers_absent", [](auto& r) { install(r, "telnetd"); }},
      {"pos.services.cleartext_clients_absent", [](auto& r) { install(r, "telnet"); }},
      {"pos.logging.journal_persistent",
       [](auto& r) { r.write("/etc/systemd/journald.conf", "[Journal]\nStorage=volatile\n"); }},
      {"pos.audit.early_boot", [](auto& r) { replace(r, "/proc/cmdline", " audit=1", ""); }},
      {"pos.audit.backlog_limit", [](auto& r) { replace(r, "/proc/cmdline", "=8192", "=64"); }},
      {"pos.time.single_daemon", [](auto& r) { install(r, "chrony"); }},
      {"pos.time.sources_configured", [](auto& r) { r.write("/etc/systemd/timesyncd.conf", "[Time]\n#NTP=\n"); }},
      {"pos.updates.security_source",
       [](auto& r) {
         replace(r, "/etc/apt/sources.list.d/debian.sources", "bookworm-security", "bookworm-backports");
       }},
      {"pos.updates.signed_only",
       [](auto& r) { r.write("/etc/apt/apt.conf.d/99insecure", "APT::Get::AllowUnauthenticated \"true\";\n"); }},
      {"pos.usb.device_authorization",
       [](auto& r) { r.remove("/etc/systemd/system/multi-user.target.wants/usbguard.service"); }},
      {"pos.usb.uncommon_filesystems_disabled",
       [](auto& r) { replace(r, "/etc/modprobe.d/pos-filesystems.conf", "install udf /bin/false\n", ""); }},
      {"pos.files.passwd", [](auto& r) { chmod(r, "/etc/passwd", 0664); }},
      {"pos.files.shadow", [](auto& r) { chmod(r, "/etc/shadow", 0644); }},
      {"pos.files.crontab", [](auto& r) { chmod(r, "/etc/crontab", 0644); }},
      {"pos.files.cron_directories", [](auto& r) { chmod(r, "/etc/cron.daily", 0755); }},
      {"pos.files.grub_config", [](auto& r) { chmod(r, "/boot/grub/grub.cfg", 0644); }},
      {"pos.sudo.use_pty", [](auto& r) { replace(r, "/etc/sudoers", ", use_pty", ""); }},
      {"pos.sudo.password_required", [](auto& r) { r.write("/etc/sudoers.d/pos", "pos ALL=(ALL) NOPASSWD: ALL\n"); }},
  };
  return changes;
}

postured::CheckList baseline_checks() {
  auto loaded = policy::load_policy_checks({kBaseline}, postured::check_ids(postured::builtin_checks()), {});
  for (const auto& e : loaded.errors) FAIL(e.to_string());
  return std::move(loaded.checks);
}

postured::Outcome run(const postured::CheckList& checks, const std::string& id, const FixtureRoot& root) {
  const auto host = root.host();
  for (const auto& check : checks) {
    if (check->info().id == id) return check->run(postured::Context{*host, std::chrono::system_clock::now()});
  }
  throw std::invalid_argument("no check " + id);
}

}  // namespace

TEST_CASE("the shipped baseline is valid, has at least 30 checks, each with references", "[policy][baseline]") {
  const auto load = policy::load_policy_file(kBaseline, postured::check_ids(postured::builtin_checks()));
  for (const auto& e : load.errors) UNSCOPED_INFO(e.to_string());
  REQUIRE(load.policy);
  CHECK(load.policy->checks.size() >= 30);
  for (const auto& spec : load.policy->checks) {
    INFO(spec.info.id);
    CHECK(spec.info.id.rfind("pos.", 0) == 0);
    const auto& refs = spec.info.references;
    CHECK(std::any_of(refs.begin(), refs.end(), [](const std::string& r) { return r.rfind("PCI DSS 4.0 ", 0) == 0; }));
  }
}

TEST_CASE("every baseline check has a failing change in this test, and no change is stale", "[policy][baseline]") {
  const auto checks = baseline_checks();
  std::set<std::string> ids;
  for (const auto& check : checks) ids.insert(check->info().id);
  for (const auto& id : ids) {
    INFO("no failing fixture for " << id);
    CHECK(failing_changes().count(id) == 1);
  }
  for (const auto& [id, change] : failing_changes()) {
    INFO("fixture for a check the baseline does not have: " << id);
    CHECK(ids.count(id) == 1);
  }
}

TEST_CASE("every baseline check passes on a hardened terminal", "[policy][baseline]") {
  const auto checks = baseline_checks();
  FixtureRoot root;
  harden(root);
  for (const auto& check : checks) {
    const auto outcome = run(checks, check->info().id, root);
    INFO(check->info().id << ": " << outcome.evidence);
    CHECK(outcome.status == Status::pass);
  }
}

TEST_CASE("every baseline check fails after its one change, with evidence", "[policy][baseline]") {
  const auto checks = baseline_checks();
  for (const auto& [id, change] : failing_changes()) {
    FixtureRoot root;
    harden(root);
    change(root);
    const auto outcome = run(checks, id, root);
    INFO(id << ": " << outcome.evidence);
    CHECK(outcome.status == Status::fail);
    CHECK(!outcome.evidence.empty());
  }
}

TEST_CASE("baseline checks whose subject is absent are not applicable", "[policy][baseline]") {
  const auto checks = baseline_checks();
  FixtureRoot root;
  harden(root);
  root.write("/var/lib/dpkg/status", dpkg_status({"libpam-pwquality", "usbguard"}));
  root.remove("/boot/grub/grub.cfg");
  root.remove("/proc/sys/net/ipv6");
  for (const auto* id : {"pos.ssh.config_permissions", "pos.ssh.disable_forwarding", "pos.ssh.strong_macs",
                         "pos.files.crontab", "pos.files.cron_directories", "pos.files.grub_config", "pos.sudo.use_pty",
                         "pos.sudo.password_required", "pos.net.ipv6_router_advertisements"}) {
    const auto outcome = run(checks, id, root);
    INFO(id << ": " << outcome.evidence);
    CHECK(outcome.status == Status::not_applicable);
    CHECK(outcome.evidence.rfind("requirement not met: ", 0) == 0);
  }
}

TEST_CASE("evidence quotes a matched line only from files others may read", "[policy][baseline]") {
  const auto checks = baseline_checks();
  FixtureRoot root;
  harden(root);
  append(root, "/etc/shadow", "kiosk::19700:0:99999:7:::\n");
  const auto empty = run(checks, "pos.accounts.no_empty_passwords", root);
  CHECK(empty.evidence == "line 3 of /etc/shadow");
  replace(root, "/etc/login.defs", "PASS_MAX_DAYS 90", "PASS_MAX_DAYS 99999");
  const auto days = run(checks, "pos.accounts.password_max_days", root);
  CHECK(days.evidence == "\"PASS_MAX_DAYS 99999\" (/etc/login.defs:2): expected <= 90");
}
