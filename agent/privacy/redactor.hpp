// The `redact` action: rewrites a file with every PAN truncated to its first 6 and last 4 digits
// and every track overwritten, atomically, keeping its mode and owner (agent/privacy/SCANNING.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "privacy/file_scanner.hpp"
#include "privacy/pan_detector.hpp"

namespace postured::privacy {

// The redacted form of a match's bytes, the same length. A PAN keeps its separators and its first
// 6 and last 4 digits, '*' for the digits between ("4111 11** **** 1111"). A track is sensitive
// authentication data: every byte becomes '*' except its PAN's first 6 and last 4 digits.
std::string redacted_bytes(FindingKind kind, std::string_view match);

struct RedactResult {
  bool rewritten = false;      // the file was replaced by its redacted copy
  std::uint64_t redacted = 0;  // PANs and tracks redacted
  std::string error;           // why the file was left as it was; empty if nothing failed
};

// Redacts `file`, which lies below the scanned folder `root` (no symlink below `root` is followed).
// The copy is written to a temporary file in the same folder with the original's mode and owner,
// fsynced and renamed over it. A file that changed meanwhile (a log being appended to) is not
// clobbered: the redaction is tried once more, then reported as not done. Files with other hard
// links or open in another process are left alone (SCANNING.md says why). `prepared` runs after the
// copy is durable and before the file is checked and replaced (tests change the file there).
RedactResult redact_file(const std::filesystem::path& root, const std::filesystem::path& file,
                         const FileScanner& scanner, const std::function<void()>& prepared = {});

}  // namespace postured::privacy
