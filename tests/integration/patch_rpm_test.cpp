// The rpm inventory against the real rpm: packages built with rpmbuild, installed into a database
// with rpm, then read by us and listed by `rpm -qa`, which must agree.
#include <sqlite3.h>

#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "patch/inventory.hpp"
#include "patch/rpm_version.hpp"
#include "patch/rpmdb.hpp"
#include "support/fixture_root.hpp"
#include "support/process.hpp"

using namespace postured::patch;
using postured::test::bin;
using postured::test::FixtureRoot;
using postured::test::run;

namespace {

// The first `name` on PATH, or empty.
std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// One spec file: an epoch, a tilde and a caret version, a release with dots, and a subpackage whose
// SOURCERPM names the spec's package rather than itself.
struct Spec {
  std::string name, epoch, version, release, subpackage;
};
const std::vector<Spec> kSpecs{
    {"alpha", "2", "1.0~rc1", "3.el9", ""},
    {"beta", "", "2.5", "1", ""},
    {"gamma", "", "0.9^git20240101", "2.fc40", "libgamma1"},
    {"delta", "0", "10.2", "0.1.beta", ""},
};

std::string spec_text(const Spec& s) {
  std::string text = "Name: " + s.name + "\n" + (s.epoch.empty() ? "" : "Epoch: " + s.epoch + "\n") +
                     "Version: " + s.version + "\nRelease: " + s.release +
                     "\nSummary: test\nLicense: MIT\nBuildArch: noarch\nSource0: " + s.name +
                     ".tar.gz\n%description\ntest\n%files\n";
  if (!s.subpackage.empty())
    text += "%package -n " + s.subpackage + "\nSummary: sub\n%description -n " + s.subpackage + "\nsub\n%files -n " +
            s.subpackage + "\n";
  return text;
}

// rpm's options for a throw-away database at `dbpath`, whatever this machine's rpm defaults to.
std::vector<std::string> rpm_args(const std::string& rpm, const std::filesystem::path& dbpath,
                                  std::vector<std::string> args) {
  std::vector<std::string> argv{rpm, "--dbpath", dbpath.string(), "--define", "_db_backend sqlite"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Builds every spec's binary packages with rpmbuild; their paths.
std::vector<std::string> build_packages(const std::string& rpmbuild, const std::filesystem::path& top) {
  for (const auto& spec : kSpecs) {
    const auto file = top / (spec.name + ".spec");
    std::filesystem::create_directories(top);
    std::ofstream(file) << spec_text(spec);
    const auto ran = run({rpmbuild, "-bb", "--quiet", "--define", "_topdir " + top.string(), "--define",
                          "_build_id_links none", file.string()});
    INFO(ran.err);
    REQUIRE(ran.exit_code == 0);
  }
  std::vector<std::string> rpms;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(top / "RPMS")) {
    if (entry.path().extension() == ".rpm") rpms.push_back(entry.path());
  }
  std::sort(rpms.begin(), rpms.end());
  return rpms;
}

// "name version arch" lines, sorted.
std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Every blob of the database parsed by us, by package name: for the tags InstalledPackage leaves out.
std::map<std::string, RpmHeader> headers_by_name(const std::filesystem::path& file) {
  std::map<std::string, RpmHeader> headers;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &select, nullptr) == SQLITE_OK);
  while (sqlite3_step(select) == SQLITE_ROW) {
    const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(select, 0));
    const auto parsed = parse_rpm_header({bytes, static_cast<std::size_t>(sqlite3_column_bytes(select, 0))});
    REQUIRE(parsed.header);
    headers[parsed.header->name] = *parsed.header;
  }
  sqlite3_finalize(select);
  sqlite3_close(db);
  return headers;
}

}  // namespace

TEST_CASE("rpm inventory: the packages rpm installed, as rpm -qa lists them", "[patch][rpm][integration]") {
  const auto rpm = on_path("rpm");
  const auto rpmbuild = on_path("rpmbuild");
  if (rpm.empty() || rpmbuild.empty()) SKIP("rpm and rpmbuild are needed as the oracle");

  FixtureRoot root;
  const auto dbpath = root.real("/var/lib/rpm");
  auto ran = run(rpm_args(rpm, dbpath, {"--initdb"}));
  REQUIRE(ran.exit_code == 0);
  REQUIRE(std::filesystem::exists(dbpath / "rpmdb.sqlite"));

  const auto rpms = build_packages(rpmbuild, root.real("/build"));
  REQUIRE(rpms.size() == kSpecs.size() + 1);  // gamma's subpackage too
  std::vector<std::string> install{"-i", "--justdb", "--nodeps", "--ignorearch", "--noscripts", "--nosignature"};
  install.insert(install.end(), rpms.begin(), rpms.end());
  ran = run(rpm_args(rpm, dbpath, install));
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);

  // rpm's own view: the version as we report it ("[epoch:]version-release"), and with EPOCHNUM.
  ran = run(rpm_args(rpm, dbpath, {"-qa", "--qf", "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\\n"}));
  REQUIRE(ran.exit_code == 0);
  const auto expected = sorted_lines(ran.out);
  REQUIRE(expected.size() == rpms.size());
  ran = run(rpm_args(rpm, dbpath, {"-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{INSTALLTIME}\\n"}));
  std::map<std::string, std::pair<std::string, std::string>> epochnum_and_time;
  for (const auto& line : sorted_lines(ran.out)) {
    std::istringstream fields(line);
    std::string name, evr, time;
    fields >> name >> evr >> time;
    epochnum_and_time[name] = {evr, time};
  }

  // Ours, through Host below the fixture root, as the agent reads it.
  const auto read = read_inventory(*root.host());
  INFO(read.error);
  REQUIRE(read.inventory);
  CHECK(read.inventory->format == PackageFormat::rpm);
  CHECK(read.skipped.empty());
  std::string ours;
  for (const auto& p : read.inventory->packages) {
    ours += p.name + " " + p.version + " " + p.arch + "\n";
    // rpm's ordering holds the two spellings equal: no epoch is epoch 0.
    CHECK(compare_rpm_versions(p.version, epochnum_and_time[p.name].first) == 0);
  }
  CHECK(sorted_lines(ours) == expected);

  const auto libgamma = std::find_if(read.inventory->packages.begin(), read.inventory->packages.end(),
                                     [](const auto& p) { return p.name == "libgamma1"; });
  REQUIRE(libgamma != read.inventory->packages.end());
  CHECK(libgamma->source == "gamma");
  CHECK(libgamma->source_version == "0.9^git20240101-2.fc40");
  for (const auto& p : read.inventory->packages) {
    if (p.name != "libgamma1") CHECK(p.source == p.name);
  }

  // The same file in place (immutable), and the tags the inventory does not report.
  const auto direct = read_rpmdb_sqlite(dbpath / "rpmdb.sqlite");
  REQUIRE(direct.packages);
  CHECK(direct.packages->size() == rpms.size());
  for (const auto& [name, header] : headers_by_name(dbpath / "rpmdb.sqlite")) {
    REQUIRE(header.install_time);
    CHECK(std::to_string(*header.install_time) == epochnum_and_time[name].second);
    CHECK(header.source_rpm.ends_with(".src.rpm"));
  }
}

TEST_CASE("posturectl patch --json on an rpm root: package_manager rpm, versions as rpm writes them",
          "[patch][rpm][integration]") {
  const auto rpm = on_path("rpm");
  const auto rpmbuild = on_path("rpmbuild");
  if (rpm.empty() || rpmbuild.empty()) SKIP("rpm and rpmbuild are needed as the oracle");

  FixtureRoot root;
  const auto dbpath = root.real("/usr/lib/sysimage/rpm");
  REQUIRE(run(rpm_args(rpm, dbpath, {"--initdb"})).exit_code == 0);
  const auto rpms = build_packages(rpmbuild, root.real("/build"));
  std::vector<std::string> install{"-i", "--justdb", "--nodeps", "--ignorearch", "--noscripts", "--nosignature"};
  install.insert(install.end(), rpms.begin(), rpms.end());
  REQUIRE(run(rpm_args(rpm, dbpath, install)).exit_code == 0);
  root.write("/cfg/postured.toml", "[agent]\nstore_id = \"store-1\"\n")
      .write("/b/baseline.toml", "[[package]]\nname = \"gamma\"\nfixed = \"0.9^git20240102-1\"\n");

  const auto ran = run({bin("posturectl"), "patch", "--json", "--root", root.path(), "--config",
                        root.real("/cfg/postured.toml"), "--baseline", root.real("/b/baseline.toml")});
  INFO(ran.err);
  const auto block = nlohmann::json::parse(ran.out);
  CHECK(block["package_manager"] == "rpm");
  CHECK(block["packages_total"] == rpms.size());
  // The baseline names gamma's source package: its binary libgamma1 is below it, by rpm's ordering.
  REQUIRE(block["below_baseline"].size() == 2);
  CHECK(block["below_baseline"][0]["installed"] == "0.9^git20240101-2.fc40");
  CHECK(ran.exit_code == 1);
}
