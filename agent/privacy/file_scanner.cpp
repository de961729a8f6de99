#include "privacy/file_scanner.hpp"

#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunkBytes = 1 << 20;
// Bytes kept from one chunk to the next: a match that starts near the end of a chunk is found
// whole in the next, and the detector sees what precedes a candidate.
constexpr std::size_t kOverlap = 2 * PanDetector::kMaxMatchBytes;

// Bits set in a 16-bit mask. Not __builtin_popcount: without -mpopcnt (not every target CPU has it)
// that is a libgcc call, which cost about 10% of a scan.
std::uint64_t bits_set(unsigned mask) {
  mask = mask - ((mask >> 1) & 0x5555u);
  mask = (mask & 0x3333u) + ((mask >> 2) & 0x3333u);
  mask = (mask + (mask >> 4)) & 0x0F0Fu;
  return (mask + (mask >> 8)) & 0x1Fu;
}

std::uint64_t count_newlines(const char* data, std::size_t size) {
  std::uint64_t lines = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  for (; i + 16 <= size; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    lines += bits_set(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, newline))));
  }
#endif
  for (; i < size; ++i) lines += data[i] == '\n' ? 1 : 0;
  return lines;
}

}  // namespace

FileScanner::FileScanner(const PanDetector& detector, std::uint64_t max_file_bytes)
    : detector_(detector), max_file_bytes_(max_file_bytes) {}

void FileScanner::scan(const fs::path& path, ScanSummary& summary) const {
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (ec) {
    summary.skipped.push_back({path, ec.message()});
    return;
  }
  if (fs::is_regular_file(status)) {
    scan_file(path, fs::file_size(path, ec), summary);
    return;
  }
  if (!fs::is_directory(status)) {
    summary.skipped.push_back({path, fs::is_symlink(status) ? "a symlink (not followed)" : "not a regular file"});
    return;
  }
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const auto entry_status = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(entry_status)) scan_file(it->path(), it->file_size(ec), summary);
  }
  if (ec) summary.skipped.push_back({path, "cannot list: " + ec.message()});
}

TextScan FileScanner::scan_text(NativeFile fd, const std::function<void(const TextMatch&)>& found) const {
  ContentReader content(fd, max_file_bytes_);
  TextReader reader(content);
  std::vector<char> buffer(kOverlap + kChunkBytes);
  std::size_t kept = 0;             // bytes at the start of `buffer` carried over from the last chunk
  std::size_t scan_from = 0;        // in buffer: matches starting before this were reported already
  std::uint64_t buffer_offset = 0;  // text offset of buffer[0]
  std::uint64_t lines_before = 0;   // newlines in the text before buffer[counted]
  std::size_t counted = 0;
  bool eof = false;
  while (!eof) {
    std::size_t filled = kept;
    while (filled < buffer.size()) {
      const std::size_t n = reader.read(buffer.data() + filled, buffer.size() - filled);
      if (n == 0) {
        eof = true;  // the end of the text, or an error that content.error() reports
        break;
      }
      filled += n;
    }
    const std::string_view text(buffer.data(), filled);
    // Until the end of the text, a match must start early enough to lie wholly in this buffer.
    const std::size_t scan_to = eof ? filled : filled - kOverlap;
    detector_.scan(text, scan_from, scan_to, [&](const PanMatch& match) {
      lines_before += count_newlines(buffer.data() + counted, match.offset - counted);
      counted = match.offset;
      const std::uint64_t offset = buffer_offset + match.offset;
      found({match, text.substr(match.offset, match.length), offset, reader.content_offset(offset), lines_before + 1});
    });
    if (eof) break;
    // Carry the tail over: the last kOverlap bytes are context and may hold the start of a match.
    const std::size_t keep_from = scan_to - PanDetector::kMaxMatchBytes;
    if (counted <= keep_from) {
      lines_before += count_newlines(buffer.data() + counted, keep_from - counted);
      counted = 0;
    } else {
      counted -= keep_from;  // a match in the kept tail already counted past keep_from
    }
    std::memmove(buffer.data(), buffer.data() + keep_from, filled - keep_from);
    kept = filled - keep_from;
    buffer_offset += keep_from;
    scan_from = scan_to - keep_from;
  }
  TextScan result;
  result.compression = content.compression();
  result.encoding = reader.encoding();
  result.bom_bytes = reader.bom_bytes();
  result.content_bytes = content.produced();
  result.error = content.error();
  result.over_limit = content.over_limit();
  return result;
}

void FileScanner::scan_file(const fs::path& path, std::uint64_t size, ScanSummary& summary) const {
  if (size > max_file_bytes_) {
    summary.skipped.push_back({path, "larger than " + std::to_string(max_file_bytes_) + " bytes"});
    return;
  }
  // Not through a link swapped in since the walk, and without making every log look freshly read.
  FileHandle file = open_file(path);
  if (!file) {
    summary.skipped.push_back({path, last_file_error().message()});
    return;
  }
  const std::size_t first = summary.findings.size();
  const auto result = scan_text(file.get(), [&](const TextMatch& m) {
    summary.findings.push_back({m.match, path, m.line, m.content_offset});
  });
  file.reset();
  for (std::size_t i = first; i < summary.findings.size(); ++i) {
    summary.findings[i].encoding = result.encoding;
    summary.findings[i].compression = result.compression;
  }
  summary.bytes_scanned += result.content_bytes;
  if (!result.error.empty()) {
    summary.skipped.push_back({path, result.error});
    return;
  }
  ++summary.files_scanned;
}

}  // namespace postured::privacy
