// Looks for PANs and track data in files and folders, streaming: memory stays at one buffer
// whatever the file size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "privacy/pan_detector.hpp"

namespace postured::privacy {

struct FileFinding {
  PanMatch match;  // masked only
  std::filesystem::path path;
  std::uint64_t line = 0;    // 1-based
  std::uint64_t offset = 0;  // byte offset in the file
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

class FileScanner {
 public:
  // Files larger than `max_file_bytes` are skipped and listed as such.
  FileScanner(const PanDetector& detector, std::uint64_t max_file_bytes);

  // Scans a file, or every regular file below a folder (symlinks are not followed).
  void scan(const std::filesystem::path& path, ScanSummary& summary) const;

 private:
  void scan_file(const std::filesystem::path& path, std::uint64_t size, ScanSummary& summary) const;

  const PanDetector& detector_;
  std::uint64_t max_file_bytes_;
};

}  // namespace postured::privacy
