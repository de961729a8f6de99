// Reads a file as text for the PAN detector, whatever its container and encoding: plain bytes,
// gzip (every member, decompressed as a stream) and UTF-16 (LE or BE, with or without a BOM).
// agent/privacy/SCANNING.md describes the formats and how offsets map back to the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_handle.hpp"

namespace postured::privacy {

enum class Compression { none, gzip };
// `bytes`: one byte per character in an ASCII-compatible encoding (UTF-8, Latin-1, CP-1252, ...).
enum class TextEncoding { bytes, utf16le, utf16be };

std::string_view to_string(Compression compression);  // "none", "gzip"
std::string_view to_string(TextEncoding encoding);    // "8bit", "utf-16le", "utf-16be"

// Bytes per character unit of `encoding`: 1, or 2 for UTF-16.
std::size_t unit_bytes(TextEncoding encoding);

// The encoding of content that starts with `head`, and the length of its byte-order mark (0 or 2).
// Without a BOM, UTF-16 is recognised by its NULs: mostly ASCII text in UTF-16LE has a NUL in
// nearly every odd byte and almost none in the even ones (BE the other way round).
TextEncoding detect_encoding(std::string_view head, std::size_t& bom_bytes);

// A file's content: its bytes, or for a gzip file (magic 1f 8b) what all its members decompress to.
// At most `max_bytes` of content are produced: the first `max_bytes`, then read() fails with
// over_limit() set, so a gzip bomb costs no more than a plain file of the allowed size.
class ContentReader {
 public:
  // Reads `file` from its current offset. The file stays the caller's.
  ContentReader(NativeFile file, std::uint64_t max_bytes);
  ~ContentReader();
  ContentReader(const ContentReader&) = delete;
  ContentReader& operator=(const ContentReader&) = delete;

  Compression compression() const { return compression_; }
  // Up to `size` bytes of content; 0 at the end or on an error (then error() is not empty).
  std::size_t read(char* out, std::size_t size);
  const std::string& error() const { return error_; }
  bool over_limit() const { return over_limit_; }
  std::uint64_t produced() const { return produced_; }

 private:
  struct Inflater;
  // Reads the file itself into out; 0 at its end or on an error.
  std::size_t read_file(char* out, std::size_t size);
  std::size_t read_gzip(char* out, std::size_t size);
  // Counts `n` more bytes of content against the limit; how many of them may be given (fewer, with
  // an error, past it).
  std::size_t count(std::size_t n);
  void fail(std::string message);

  NativeFile fd_;
  std::uint64_t max_bytes_;
  std::uint64_t produced_ = 0;
  Compression compression_ = Compression::none;
  std::vector<char> input_;      // file bytes read but not consumed yet (the probe, or gzip input)
  std::size_t input_begin_ = 0;  // first unconsumed byte of input_
  bool file_ended_ = false;
  std::unique_ptr<Inflater> inflater_;
  std::string error_;
  bool over_limit_ = false;
};

// A file's text as the detector reads it: one byte per character unit. 8-bit text is passed
// through; UTF-16 is narrowed, an ASCII unit to its byte and any other unit to 0x80 (neither a
// digit, a separator nor a letter to the detector, like a UTF-8 lead byte). Text offset k is then
// content byte bom_bytes() + k * unit_bytes(encoding()).
class TextReader {
 public:
  explicit TextReader(ContentReader& content);

  TextEncoding encoding() const { return encoding_; }
  std::size_t bom_bytes() const { return bom_bytes_; }
  // The content byte where text offset `offset` begins.
  std::uint64_t content_offset(std::uint64_t offset) const { return bom_bytes_ + offset * unit_bytes(encoding_); }
  // Up to `size` bytes of text; 0 at the end or on a content error (see ContentReader::error()).
  std::size_t read(char* out, std::size_t size);

 private:
  // Narrows `units` UTF-16 units from pending_ into `out`.
  std::size_t narrow(char* out, std::size_t units);

  ContentReader& content_;
  TextEncoding encoding_ = TextEncoding::bytes;
  std::size_t bom_bytes_ = 0;
  std::vector<char> pending_;  // content read but not yet returned (the probe, then UTF-16 input)
  std::size_t pending_begin_ = 0;
};

}  // namespace postured::privacy
