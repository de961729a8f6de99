// Looks for PANs and track data in files and folders, streaming: memory stays at one buffer
// whatever the file size. Reads plain text, UTF-16 and gzip files (text_reader.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "privacy/pan_detector.hpp"
#include "privacy/text_reader.hpp"

namespace postured::privacy {

struct FileFinding {
  PanMatch match;  // masked only
  std::filesystem::path path;
  std::uint64_t line = 0;  // 1-based, in the decoded text
  // Byte offset in the file's content (for gzip, the decompressed bytes) where the match begins;
  // for UTF-16, of its first code unit, so a BOM counts.
  std::uint64_t offset = 0;
  TextEncoding encoding = TextEncoding::bytes;
  Compression compression = Compression::none;
};

struct SkippedFile {
  std::filesystem::path path;
  std::string reason;  // "larger than ...", "permission denied", ...
};

struct ScanSummary {
  std::uint64_t files_scanned = 0;
  std::uint64_t bytes_scanned = 0;
  std::vector<FileFinding> findings;
  std::vector<SkippedFile> skipped;
};

// One match while a file's text streams past: `bytes` (the match's narrowed text, see TextReader)
// is valid only during the call.
struct TextMatch {
  const PanMatch& match;  // match.offset is not meaningful here: use `offset`
  std::string_view bytes;
  std::uint64_t offset = 0;          // text offset from the start of the file's text
  std::uint64_t content_offset = 0;  // as FileFinding::offset
  std::uint64_t line = 0;            // 1-based
};

// How one file's text was read.
struct TextScan {
  Compression compression = Compression::none;
  TextEncoding encoding = TextEncoding::bytes;
  std::size_t bom_bytes = 0;
  std::uint64_t content_bytes = 0;  // bytes of content read (decompressed for gzip)
  std::string error;                // why the text could not be read to its end; empty if it was
  bool over_limit = false;          // the error is scan.max_file_bytes
};

class FileScanner {
 public:
  // Files larger than `max_file_bytes`, on disk or decompressed, are skipped and listed as such.
  FileScanner(const PanDetector& detector, std::uint64_t max_file_bytes);

  // Scans a file, or every regular file below a folder (symlinks are not followed). A file whose
  // content cannot be read to its end is listed as skipped; the matches found before that are kept.
  void scan(const std::filesystem::path& path, ScanSummary& summary) const;
  // Streams an open file's text from its current offset through the detector, in order.
  TextScan scan_text(NativeFile file, const std::function<void(const TextMatch&)>& found) const;

  std::uint64_t max_file_bytes() const { return max_file_bytes_; }

 private:
  void scan_file(const std::filesystem::path& path, std::uint64_t size, ScanSummary& summary) const;

  const PanDetector& detector_;
  std::uint64_t max_file_bytes_;
};

}  // namespace postured::privacy
