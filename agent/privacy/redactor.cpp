#include "privacy/redactor.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <vector>

#include "privacy/contained_file.hpp"
#include "privacy/text_reader.hpp"

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

// Content bytes copied at a time while the redacted copy is written.
constexpr std::size_t kCopyBytes = 1 << 20;
// Attempts before a file that keeps changing is reported as not redacted: the first, and one retry.
constexpr int kAttempts = 2;
// zlib's windowBits for "write a gzip stream, largest window" (zlib.h, deflateInit2).
constexpr int kGzipWindowBits = 16 + MAX_WBITS;
// Digits of a PAN left in clear at each end (PCI DSS 3.4.1's truncation: first 6, last 4).
constexpr std::size_t kKeepFirst = 6, kKeepLast = 4;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Replaces bytes of the content at `offset` (content coordinates: decompressed, UTF-16 encoded).
struct ContentEdit {
  std::uint64_t offset = 0;
  std::string bytes;
};

// The content bytes of redacted text `text` for a file in `encoding`: every character of a match is
// ASCII, so in UTF-16 it is that byte and a NUL in the file's byte order.
std::string encode(std::string_view text, TextEncoding encoding) {
  if (encoding == TextEncoding::bytes) return std::string(text);
  std::string out;
  out.reserve(2 * text.size());
  for (char c : text) {
    if (encoding == TextEncoding::utf16le) {
      out += c;
      out += '\0';
    } else {
      out += '\0';
      out += c;
    }
  }
  return out;
}

// Writes content to a file, gzip-compressed when the original was.
class ContentWriter {
 public:
  ContentWriter(NativeFile fd, Compression compression) : fd_(fd), gzip_(compression == Compression::gzip) {
    if (gzip_ && deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      error_ = "zlib could not start";
      gzip_ = false;
    }
    started_ = gzip_;
  }
  ~ContentWriter() {
    if (started_) deflateEnd(&z_);
  }
  ContentWriter(const ContentWriter&) = delete;
  ContentWriter& operator=(const ContentWriter&) = delete;

  bool write(const char* data, std::size_t size) {
    if (!error_.empty()) return false;
    if (!gzip_) return write_file(data, size);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = static_cast<uInt>(size);
    return deflate_all(Z_NO_FLUSH);
  }
  // Ends the gzip stream; true if everything was written.
  bool finish() { return error_.empty() && (!gzip_ || deflate_all(Z_FINISH)); }
  const std::string& error() const { return error_; }

 private:
  bool write_file(const void* data, std::size_t size) {
    if (write_all(fd_, data, size)) return true;
    error_ = "cannot write the redacted copy: " + file_error_text();
    return false;
  }
  bool deflate_all(int flush) {
    std::array<char, 64 * 1024> out;
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(out.data());
      z_.avail_out = static_cast<uInt>(out.size());
      const int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) {
        error_ = "zlib could not compress";
        return false;
      }
      if (!write_file(out.data(), out.size() - z_.avail_out)) return false;
      if (flush == Z_FINISH ? rc == Z_STREAM_END : z_.avail_out != 0) return true;
    }
  }

  NativeFile fd_;
  bool gzip_;
  bool started_ = false;
  z_stream z_{};
  std::string error_;
};

// Every match in the file, as content edits in order, and how the file was read.
std::vector<ContentEdit> plan_edits(NativeFile fd, const FileScanner& scanner, TextScan& scan) {
  struct TextEdit {
    std::uint64_t offset;
    std::string text;
  };
  std::vector<TextEdit> text_edits;
  scan = scanner.scan_text(fd, [&](const TextMatch& m) {
    text_edits.push_back({m.offset, redacted_bytes(m.match.kind, m.bytes)});
  });
  std::vector<ContentEdit> edits;
  edits.reserve(text_edits.size());
  const std::uint64_t unit = unit_bytes(scan.encoding);
  for (const auto& e : text_edits) edits.push_back({scan.bom_bytes + e.offset * unit, encode(e.text, scan.encoding)});
  return edits;
}

// Copies the content of `from` (from its start) to `to` with `edits` applied; an error message or "".
std::string write_redacted(NativeFile from, NativeFile to, const TextScan& scan, const std::vector<ContentEdit>& edits,
                           std::uint64_t max_bytes) {
  if (!rewind(from)) return "cannot read the file again: " + file_error_text();
  ContentReader content(from, max_bytes);
  ContentWriter writer(to, scan.compression);
  std::vector<char> buffer(kCopyBytes);
  std::uint64_t position = 0;  // content offset of buffer[0]
  std::size_t next = 0;        // first edit not wholly applied yet
  while (const std::size_t n = content.read(buffer.data(), buffer.size())) {
    const std::uint64_t end = position + n;
    for (std::size_t k = next; k < edits.size() && edits[k].offset < end; ++k) {
      const auto& e = edits[k];
      const std::uint64_t from_at = std::max(e.offset, position);
      const std::uint64_t to_at = std::min<std::uint64_t>(e.offset + e.bytes.size(), end);
      if (from_at < to_at) {
        std::copy_n(e.bytes.data() + (from_at - e.offset), to_at - from_at, buffer.data() + (from_at - position));
      }
    }
    while (next < edits.size() && edits[next].offset + edits[next].bytes.size() <= end) ++next;
    if (!writer.write(buffer.data(), n)) return writer.error();
    position = end;
  }
  if (!content.error().empty()) return "cannot read the file again: " + content.error();
  if (next < edits.size()) return "the file is shorter than when it was scanned";
  if (!writer.finish()) return writer.error();
  return {};
}

enum class Outcome { finished, changed };

// One attempt. `changed` is returned when the file was written to or replaced meanwhile.
Outcome attempt(const fs::path& root, const fs::path& file, const FileScanner& scanner,
                const std::function<void()>& prepared, RedactResult& result) {
  result = {};
  auto contained = open_contained(root, file, result.error);
  if (!contained) return Outcome::finished;
  const auto& dir = contained->dir;
  const auto& name = contained->name;
  FileHandle original = open_file_at(dir, name);
  FileInfo before;
  if (!original || !file_info(original.get(), before)) {
    result.error = "cannot open: " + file_error_text();
    return Outcome::finished;
  }
  if (result.error = why_not_replace(original, before); !result.error.empty()) return Outcome::finished;

  TextScan scan;
  const auto edits = plan_edits(original.get(), scanner, scan);
  if (!scan.error.empty()) {
    result.error = "cannot be read to its end (" + scan.error + "), so it cannot be rewritten";
    return Outcome::finished;
  }
  if (edits.empty()) return Outcome::finished;  // nothing (left) to redact

  std::string temp_name;
  FileHandle temp = create_temp_file(dir, "." + name + ".postured-redact-", temp_name);
  if (!temp) {
    result.error = "cannot create a temporary file beside it: " + file_error_text();
    return Outcome::finished;
  }
  const auto discard = [&] {
    temp.reset();  // Windows removes a name only when it is no longer open
    remove_at(dir, temp_name);
  };
  result.error = write_redacted(original.get(), temp.get(), scan, edits, scanner.max_file_bytes());
  // The copy gets the original's owner and access (POSIX: chown first, since it clears set-id bits).
  if (result.error.empty() && !copy_owner_and_access(original, before, temp))
    result.error = "cannot give the redacted copy the original's owner and access: " + file_error_text();
  if (result.error.empty() && !flush(temp)) result.error = "cannot fsync the redacted copy: " + file_error_text();
  if (!result.error.empty()) {
    discard();
    return Outcome::finished;
  }
  temp.reset();
  if (prepared) prepared();
  // The copy is only right if the file is still the one that was read, as it was read.
  FileInfo now_open, now_named;
  if (!file_info(original.get(), now_open) || !file_info_at(dir, name, now_named) || !same_version(before, now_open) ||
      !same_version(before, now_named)) {
    discard();
    return Outcome::changed;
  }
  // Closed first: holding it protects nothing (the rename is by name), and a file system without
  // POSIX renames (FAT, older Windows, Wine) refuses to replace a file that is open anywhere.
  original.reset();
  if (!rename_at(dir, temp_name, name, true)) {
    result.error = "cannot replace the file: " + file_error_text();
    discard();
    return Outcome::finished;
  }
  if (!flush(dir)) result.error = "replaced, but the folder could not be fsynced: " + file_error_text();
  result.rewritten = true;
  result.redacted = edits.size();
  return Outcome::finished;
}

}  // namespace

std::string redacted_bytes(FindingKind kind, std::string_view match) {
  std::string out(match);
  if (kind == FindingKind::pan) {
    const auto digits = static_cast<std::size_t>(std::count_if(out.begin(), out.end(), is_digit));
    std::size_t seen = 0;
    for (char& c : out) {
      if (!is_digit(c)) continue;
      if (seen >= kKeepFirst && seen + kKeepLast < digits) c = '*';
      ++seen;
    }
    return out;
  }
  // A track: its PAN is the first run of digits (after "%B" or ";"), and nothing else survives.
  const auto pan_start = static_cast<std::size_t>(std::find_if(out.begin(), out.end(), is_digit) - out.begin());
  std::size_t pan_end = pan_start;
  while (pan_end < out.size() && is_digit(out[pan_end])) ++pan_end;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool shown = i >= pan_start && i < pan_end && (i < pan_start + kKeepFirst || i + kKeepLast >= pan_end);
    if (!shown) out[i] = '*';
  }
  return out;
}

RedactResult redact_file(const fs::path& root, const fs::path& file, const FileScanner& scanner,
                         const std::function<void()>& prepared) {
  RedactResult result;
  for (int i = 0; i < kAttempts; ++i) {
    if (attempt(root, file, scanner, prepared, result) == Outcome::finished) return result;
  }
  result.error = "changed while it was being redacted, " + std::to_string(kAttempts) +
                 " times; left as it was and tried again at the next scan";
  return result;
}

}  // namespace postured::privacy
