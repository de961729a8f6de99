// The redact action: the exact bytes it writes (PANs truncated, tracks overwritten, nothing else
// touched), idempotence, UTF-16 and gzip files kept in their format, and the cases where it must
// leave a file alone (changed meanwhile, hard links, a symlinked folder).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "privacy/redactor.hpp"
#include "support/encodings.hpp"
#include "support/fixture_root.hpp"

using namespace postured::privacy;
using Catch::Matchers::ContainsSubstring;
using postured::test::FixtureRoot;
using postured::test::gunzip;
using postured::test::gzip;
using postured::test::read_file;
using postured::test::utf16;

namespace {

const PanDetector kDetector;
const FileScanner kScanner(kDetector, 1ULL << 30);

// A log with every kind of finding among text that must not change.
const std::string kLog =
    "2026-11-25T10:00:00Z till 3 order 100123 total 12.50\n"
    "sale card=4111111111111111 ok\r\n"
    "printed 5555 5555 5555 4444, amex 3782-822463-10005.\n"
    "swipe %B4111111111111111^DOE/JOHN^2512101000000000?;5555555555554444=25121010000000000? done\n"
    "iban DE89370400440532013000 phone +49 30 1234567\n";
const std::string kRedacted =
    "2026-11-25T10:00:00Z till 3 order 100123 total 12.50\n"
    "sale card=411111******1111 ok\r\n"
    "printed 5555 55** **** 4444, amex 3782-82****-*0005.\n"
    "swipe **411111******1111****************************555555******4444******************* done\n"
    "iban DE89370400440532013000 phone +49 30 1234567\n";

struct stat stat_of(const std::filesystem::path& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st;
}

}  // namespace

TEST_CASE("redacted bytes: PANs keep separators and 6 + 4 digits; tracks keep only the masked PAN", "[redact]") {
  CHECK(redacted_bytes(FindingKind::pan, "4111111111111111") == "411111******1111");
  CHECK(redacted_bytes(FindingKind::pan, "4111 1111 1111 1111") == "4111 11** **** 1111");
  CHECK(redacted_bytes(FindingKind::pan, "3782-822463-10005") == "3782-82****-*0005");
  CHECK(redacted_bytes(FindingKind::track1, "%B4111111111111111^DOE/JOHN^2512101000000000?") ==
        "**411111******1111***************************");
  CHECK(redacted_bytes(FindingKind::track2, ";5555555555554444=25121010000000000?") ==
        "*555555******4444*******************");
  CHECK(redacted_bytes(FindingKind::track2, "5555555555554444=2512101") == "555555******4444********");
}

TEST_CASE("redact rewrites exactly the card data, byte for byte, and a second run changes nothing", "[redact]") {
  FixtureRoot dir;
  dir.write("/logs/pos.log", kLog);
  const auto file = dir.real("/logs/pos.log");
  const auto result = redact_file(dir.real("/logs"), file, kScanner);
  CHECK(result.error.empty());
  CHECK(result.rewritten);
  CHECK(result.redacted == 5);
  CHECK(read_file(file) == kRedacted);
  CHECK(kDetector.find_all(kRedacted).empty());
  const auto inode = stat_of(file).st_ino;
  const auto again = redact_file(dir.real("/logs"), file, kScanner);
  CHECK_FALSE(again.rewritten);
  CHECK(again.error.empty());
  CHECK(read_file(file) == kRedacted);
  CHECK(stat_of(file).st_ino == inode);                                                   // not even rewritten
  CHECK(std::distance(std::filesystem::directory_iterator(dir.real("/logs")), {}) == 1);  // no temporary left
}

TEST_CASE("redact keeps the mode and owner and replaces the inode", "[redact]") {
  FixtureRoot dir;
  dir.write("/spool/export.csv", kLog);
  const auto file = dir.real("/spool/export.csv");
  ::chmod(file.c_str(), 0640);
  if (::geteuid() == 0) REQUIRE(::chown(file.c_str(), 1234, 5678) == 0);
  const auto before = stat_of(file);
  REQUIRE(redact_file(dir.real("/spool"), file, kScanner).rewritten);
  const auto after = stat_of(file);
  CHECK(after.st_ino != before.st_ino);
  CHECK((after.st_mode & 07777) == 0640);
  CHECK(after.st_uid == before.st_uid);
  CHECK(after.st_gid == before.st_gid);
}

TEST_CASE("redact writes UTF-16 files back in UTF-16 and gzip files as gzip", "[redact]") {
  FixtureRoot dir;
  dir.write("/f/le.txt", utf16(kLog, true, true)).write("/f/be.txt", utf16(kLog, false, false));
  dir.write("/f/log.gz", gzip(kLog.substr(0, 100)) + gzip(kLog.substr(100)));
  dir.write("/f/log16.gz", gzip(utf16(kLog, true, true)));
  for (const char* name : {"/f/le.txt", "/f/be.txt", "/f/log.gz", "/f/log16.gz"}) {
    CAPTURE(name);
    const auto result = redact_file(dir.real("/f"), dir.real(name), kScanner);
    CHECK(result.error.empty());
    CHECK(result.redacted == 5);
  }
  CHECK(read_file(dir.real("/f/le.txt")) == utf16(kRedacted, true, true));
  CHECK(read_file(dir.real("/f/be.txt")) == utf16(kRedacted, false, false));
  const auto gz = read_file(dir.real("/f/log.gz"));
  CHECK(gz.substr(0, 2) == "\x1f\x8b");
  CHECK(gunzip(gz) == kRedacted);
  CHECK(gunzip(read_file(dir.real("/f/log16.gz"))) == utf16(kRedacted, true, true));
  ScanSummary summary;
  kScanner.scan(dir.real("/f"), summary);
  CHECK(summary.findings.empty());
  CHECK(summary.files_scanned == 4);
}

TEST_CASE("redact does not clobber a file that changes meanwhile: it retries once, then gives up", "[redact]") {
  FixtureRoot dir;
  dir.write("/logs/pos.log", kLog);
  const auto file = dir.real("/logs/pos.log");
  const auto append = [&] { std::ofstream(file, std::ios::app) << "appended 6011111111111117\n"; };

  int calls = 0;
  const auto once = redact_file(dir.real("/logs"), file, kScanner, [&] {
    if (calls++ == 0) append();
  });
  CHECK(calls == 2);
  CHECK(once.rewritten);
  CHECK(read_file(file) == kRedacted + "appended 601111******1117\n");  // the retry saw the new line

  dir.write("/logs/busy.log", kLog);
  const auto busy = dir.real("/logs/busy.log");
  const auto always =
      redact_file(dir.real("/logs"), busy, kScanner, [&] { std::ofstream(busy, std::ios::app) << "more\n"; });
  CHECK_FALSE(always.rewritten);
  CHECK_THAT(always.error, ContainsSubstring("changed while it was being redacted"));
  CHECK(read_file(busy) == kLog + "more\nmore\n");  // nothing lost
  CHECK(std::distance(std::filesystem::directory_iterator(dir.real("/logs")), {}) == 2);
}

TEST_CASE("redact leaves hard-linked files, symlinked folders and unreadable gzip alone", "[redact]") {
  FixtureRoot dir;
  dir.write("/logs/a.log", kLog).write("/elsewhere/secret.log", kLog);
  std::filesystem::create_hard_link(dir.real("/logs/a.log"), dir.real("/logs/b.log"));
  const auto linked = redact_file(dir.real("/logs"), dir.real("/logs/a.log"), kScanner);
  CHECK_FALSE(linked.rewritten);
  CHECK_THAT(linked.error, ContainsSubstring("2 hard links"));
  CHECK(read_file(dir.real("/logs/a.log")) == kLog);

  // A folder below the scanned one swapped for a link to somewhere else.
  dir.symlink(dir.real("/elsewhere").string(), "/logs/sub");
  const auto through_link = redact_file(dir.real("/logs"), dir.real("/logs/sub/secret.log"), kScanner);
  CHECK_FALSE(through_link.rewritten);
  CHECK_THAT(through_link.error, ContainsSubstring("without following a link"));
  CHECK(read_file(dir.real("/elsewhere/secret.log")) == kLog);
  const auto outside = redact_file(dir.real("/logs"), dir.real("/elsewhere/secret.log"), kScanner);
  CHECK_THAT(outside.error, ContainsSubstring("is not below"));

  dir.write("/logs/broken.gz", gzip(kLog).substr(0, 60));
  const auto broken = redact_file(dir.real("/logs"), dir.real("/logs/broken.gz"), kScanner);
  CHECK_FALSE(broken.rewritten);
  CHECK_THAT(broken.error, ContainsSubstring("truncated gzip data"));
}

TEST_CASE("redact and its checks leave a file that another process has open", "[redact]") {
  FixtureRoot dir;
  dir.write("/logs/open.log", kLog);
  const auto file = dir.real("/logs/open.log");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a POS program holding its log open
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
    if (::write(ready[1], "x", 1) != 1 || fd < 0) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  const auto result = redact_file(dir.real("/logs"), file, kScanner);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  CHECK_FALSE(result.rewritten);
  CHECK_THAT(result.error, ContainsSubstring("open in pid " + std::to_string(child)));
  CHECK(read_file(file) == kLog);
}
