// The file scanner on UTF-16 and gzip files: encoding detection, offsets and lines in the decoded
// text, matches across chunk and member boundaries, and broken or oversized gzip data.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "privacy/file_scanner.hpp"
#include "privacy/text_reader.hpp"
#include "support/encodings.hpp"
#include "support/fixture_root.hpp"

using namespace postured::privacy;
using Catch::Matchers::ContainsSubstring;
using postured::test::FixtureRoot;
using postured::test::gzip;
using postured::test::utf16;

namespace {

constexpr std::uint64_t kNoLimit = 1ULL << 40;

ScanSummary scan(const FixtureRoot& dir, std::string_view name, std::uint64_t limit = kNoLimit) {
  const PanDetector detector;
  ScanSummary summary;
  FileScanner(detector, limit).scan(dir.real(name), summary);
  return summary;
}

// Filler lines of `width` bytes, up to `size` bytes in all.
std::string filler(std::size_t size, std::size_t width = 63) {
  std::string text;
  while (text.size() + width + 1 <= size) text += std::string(width, 'a') + "\n";
  return text + std::string(size - text.size(), ' ');
}

}  // namespace

TEST_CASE("the encoding is told by the BOM, or by where the NULs are", "[scan][formats]") {
  std::size_t bom = 9;
  CHECK(detect_encoding(utf16("card 1", true, true), bom) == TextEncoding::utf16le);
  CHECK(bom == 2);
  CHECK(detect_encoding(utf16("card 1", false, true), bom) == TextEncoding::utf16be);
  CHECK(bom == 2);
  CHECK(detect_encoding(utf16("card 1", true, false), bom) == TextEncoding::utf16le);
  CHECK(bom == 0);
  CHECK(detect_encoding(utf16("card 1", false, false), bom) == TextEncoding::utf16be);
  CHECK(detect_encoding("plain text log line\n", bom) == TextEncoding::bytes);
  CHECK(detect_encoding("\xEF\xBB\xBFutf-8 with a BOM", bom) == TextEncoding::bytes);
  CHECK(bom == 0);
  // Binary data with NULs in both byte positions is read as bytes.
  CHECK(detect_encoding(std::string("\x01\0\0\x02\x03\0\0\x04\x05\0\0\x06", 12), bom) == TextEncoding::bytes);
  CHECK(detect_encoding("x", bom) == TextEncoding::bytes);
}

TEST_CASE("UTF-16 LE and BE, with and without BOM: masked findings, lines and content offsets", "[scan][formats]") {
  FixtureRoot dir;
  const std::string text = "header\nsale 4111 1111 1111 1111 ok\ntrack ;5555555555554444=25121010000000000?\n";
  struct Case {
    const char* name;
    bool le, bom;
    TextEncoding encoding;
  };
  for (const auto& c :
       {Case{"/le-bom.txt", true, true, TextEncoding::utf16le}, Case{"/le.txt", true, false, TextEncoding::utf16le},
        Case{"/be-bom.txt", false, true, TextEncoding::utf16be},
        Case{"/be.txt", false, false, TextEncoding::utf16be}}) {
    CAPTURE(c.name);
    dir.write(c.name, utf16(text, c.le, c.bom));
    const auto summary = scan(dir, c.name);
    REQUIRE(summary.findings.size() == 2);
    CHECK(summary.files_scanned == 1);
    CHECK(summary.bytes_scanned == 2 * text.size() + (c.bom ? 2 : 0));
    const auto& pan = summary.findings[0];
    CHECK(pan.match.masked == "411111******1111");
    CHECK(pan.line == 2);
    CHECK(pan.offset == (c.bom ? 2 : 0) + 2 * text.find("4111"));  // the byte where its first unit starts
    CHECK(pan.encoding == c.encoding);
    CHECK(pan.compression == Compression::none);
    CHECK(summary.findings[1].match.kind == FindingKind::track2);
    CHECK(summary.findings[1].line == 3);
  }
}

TEST_CASE("UTF-16: non-ASCII characters and an odd last byte are handled", "[scan][formats]") {
  FixtureRoot dir;
  std::string data = utf16("Kunde ", true, true);
  data += std::string("\xE9\x00", 2);  // U+00E9 before the number: not a letter the detector knows, so not glued
  data += utf16("4111111111111111 \n", true, false);
  data += std::string("\x00\xD8\x00\xDC", 4);             // a surrogate pair
  data += utf16(" 5555555555554444", true, false) + "7";  // half a unit at the end
  dir.write("/names.txt", data);
  const auto summary = scan(dir, "/names.txt");
  REQUIRE(summary.findings.size() == 2);
  CHECK(summary.findings[0].match.masked == "411111******1111");
  CHECK(summary.findings[0].offset == 2 + 2 * 7);
  CHECK(summary.findings[1].line == 2);
}

TEST_CASE("a PAN split across the scanner's chunk boundary is found once, in UTF-16 and in gzip", "[scan][formats]") {
  FixtureRoot dir;
  // The scanner reads 1 MiB of text at a time: put PANs just around the first two boundaries.
  std::string text;
  std::vector<std::size_t> offsets;
  for (std::size_t boundary : {std::size_t{1} << 20, std::size_t{2} << 20}) {
    for (long shift : {-400L, -45L, -10L, 300L}) {  // increasing, and never overlapping
      const auto at = static_cast<std::size_t>(static_cast<long>(boundary) + shift);
      text += filler(at - text.size() - 1) + " ";
      offsets.push_back(text.size());
      text += "4111 1111 1111 1111 ";
    }
  }
  text += "\n";
  dir.write("/big16.txt", utf16(text, true, true));
  dir.write("/big.gz", gzip(text));
  dir.write("/big16.gz", gzip(utf16(text, false, false)));
  for (const char* name : {"/big16.txt", "/big.gz", "/big16.gz"}) {
    CAPTURE(name);
    const auto summary = scan(dir, name);
    REQUIRE(summary.findings.size() == offsets.size());
    CHECK(summary.skipped.empty());
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      const auto& f = summary.findings[i];
      const std::uint64_t expected = std::string_view(name) == "/big.gz"      ? offsets[i]
                                     : std::string_view(name) == "/big16.txt" ? 2 + 2 * offsets[i]
                                                                              : 2 * offsets[i];
      CHECK(f.offset == expected);
      CHECK(f.line == static_cast<std::uint64_t>(std::count(text.begin(), text.begin() + offsets[i], '\n') + 1));
    }
  }
}

TEST_CASE("gzip: every member is read, a number split between members included", "[scan][formats]") {
  FixtureRoot dir;
  const std::string first = "rotated log\nold sale 5555555555554444\nsplit 4111 1111", second = " 1111 1111 end\n";
  dir.write("/multi.gz", gzip(first) + gzip(second) + gzip("") + gzip("third 378282246310005\n"));
  const auto summary = scan(dir, "/multi.gz");
  REQUIRE(summary.findings.size() == 3);
  CHECK(summary.skipped.empty());
  CHECK(summary.files_scanned == 1);
  CHECK(summary.findings[0].match.masked == "555555******4444");
  CHECK(summary.findings[0].compression == Compression::gzip);
  CHECK(summary.findings[0].encoding == TextEncoding::bytes);
  CHECK(summary.findings[1].match.masked == "411111******1111");
  CHECK(summary.findings[1].offset == first.find("4111"));
  CHECK(summary.findings[1].line == 3);
  CHECK(summary.findings[2].line == 4);
  CHECK(summary.bytes_scanned == first.size() + second.size() + 22);
}

TEST_CASE("gzip: corrupt, truncated and trailing data are per-file errors; the scan goes on", "[scan][formats]") {
  FixtureRoot dir;
  std::string text = "before 4111111111111111\n";
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i * 7919 % 100000) + " of a log\n";
  const auto good = gzip(text);
  auto corrupt = good;
  for (std::size_t i = good.size() / 2; i < good.size() / 2 + 16; ++i)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5A);
  dir.write("/logs/corrupt.gz", corrupt)
      .write("/logs/truncated.gz", good.substr(0, good.size() - 40))
      .write("/logs/trailing.gz", good + "garbage")
      .write("/logs/magic-only.gz", "\x1f\x8b")
      .write("/logs/zz-clean.log", "5555555555554444\n");
  const auto summary = scan(dir, "/logs");
  CHECK(summary.files_scanned == 1);  // only the plain log is read to its end
  std::map<std::string, std::string> reasons;
  for (const auto& s : summary.skipped) reasons[s.path.filename().string()] = s.reason;
  CHECK_THAT(reasons["corrupt.gz"], ContainsSubstring("corrupt gzip data"));
  CHECK_THAT(reasons["truncated.gz"], ContainsSubstring("truncated gzip data"));
  CHECK_THAT(reasons["trailing.gz"], ContainsSubstring("data after the last gzip member is not gzip"));
  CHECK_THAT(reasons["magic-only.gz"], ContainsSubstring("truncated gzip data"));
  // What was read before the damage still counts.
  std::size_t found_before_damage = 0;
  for (const auto& f : summary.findings) found_before_damage += f.match.masked == "411111******1111" ? 1 : 0;
  CHECK(found_before_damage >= 2);  // truncated and trailing at least; corrupt may fail before it
  CHECK(std::any_of(summary.findings.begin(), summary.findings.end(),
                    [](const FileFinding& f) { return f.path.filename() == "zz-clean.log"; }));
}

TEST_CASE("gzip bomb: decompressed bytes count against the size limit; the file is skipped", "[scan][formats]") {
  FixtureRoot dir;
  const std::string bomb = gzip("4111111111111111\n" + std::string(16u << 20, '\n'));
  REQUIRE(bomb.size() < 64 * 1024);
  dir.write("/bomb.gz", bomb);
  const auto summary = scan(dir, "/bomb.gz", 1u << 20);
  CHECK(summary.files_scanned == 0);
  REQUIRE(summary.skipped.size() == 1);
  CHECK_THAT(summary.skipped[0].reason, ContainsSubstring("decompresses to more than 1048576 bytes"));
  CHECK(summary.bytes_scanned == 1u << 20);
  CHECK(summary.findings.size() == 1);  // what was read before the limit is reported
}

TEST_CASE("the text reader passes plain files through unchanged", "[scan][formats]") {
  FixtureRoot dir;
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 31 % 251 + 1);
  dir.write("/plain.bin", data);
  const int fd = ::open(dir.real("/plain.bin").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  ContentReader content(fd, kNoLimit);
  TextReader reader(content);
  std::string out(data.size() + 10, '\0');
  std::size_t filled = 0;
  while (const auto n = reader.read(out.data() + filled, std::min<std::size_t>(777, out.size() - filled))) filled += n;
  ::close(fd);
  out.resize(filled);
  CHECK(reader.encoding() == TextEncoding::bytes);
  CHECK(content.compression() == Compression::none);
  CHECK(out == data);
}
