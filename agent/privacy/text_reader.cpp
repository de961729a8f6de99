#include "privacy/text_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace postured::privacy {
namespace {

// Bytes looked at to tell the encoding: enough for a line or two of a log, small enough to be free.
constexpr std::size_t kProbeBytes = 4096;
// Compressed bytes read from a gzip file at a time.
constexpr std::size_t kGzipInputBytes = 256 * 1024;
// gzip's magic number (RFC 1952).
constexpr unsigned char kGzipMagic[2] = {0x1f, 0x8b};
// zlib's windowBits for "a gzip stream, largest window" (zlib.h, inflateInit2).
constexpr int kGzipWindowBits = 16 + MAX_WBITS;

bool is_gzip_magic(const char* p) {
  return static_cast<unsigned char>(p[0]) == kGzipMagic[0] && static_cast<unsigned char>(p[1]) == kGzipMagic[1];
}

}  // namespace

std::string_view to_string(Compression compression) {
  return compression == Compression::gzip ? "gzip" : "none";
}

std::string_view to_string(TextEncoding encoding) {
  switch (encoding) {
    case TextEncoding::bytes: return "8bit";
    case TextEncoding::utf16le: return "utf-16le";
    case TextEncoding::utf16be: return "utf-16be";
  }
  return "8bit";
}

std::size_t unit_bytes(TextEncoding encoding) {
  return encoding == TextEncoding::bytes ? 1 : 2;
}

TextEncoding detect_encoding(std::string_view head, std::size_t& bom_bytes) {
  bom_bytes = 0;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 2 && byte(0) == 0xFF && byte(1) == 0xFE) return bom_bytes = 2, TextEncoding::utf16le;
  if (head.size() >= 2 && byte(0) == 0xFE && byte(1) == 0xFF) return bom_bytes = 2, TextEncoding::utf16be;
  const std::size_t units = head.size() / 2;
  std::size_t nul_high_le = 0, nul_high_be = 0;  // units that look like ASCII in LE, in BE
  for (std::size_t i = 0; i < units; ++i) {
    const bool even_nul = byte(2 * i) == 0, odd_nul = byte(2 * i + 1) == 0;
    nul_high_le += odd_nul && !even_nul ? 1 : 0;
    nul_high_be += even_nul && !odd_nul ? 1 : 0;
  }
  // Mostly ASCII in one byte order and (almost) never in the other; binary data with scattered NULs
  // fails the second test and is read as bytes, as before.
  if (units >= 2 && 2 * nul_high_le > units && 16 * nul_high_be <= units) return TextEncoding::utf16le;
  if (units >= 2 && 2 * nul_high_be > units && 16 * nul_high_le <= units) return TextEncoding::utf16be;
  return TextEncoding::bytes;
}

struct ContentReader::Inflater {
  z_stream stream{};
  bool member_ended = false;  // between two members (or after the last)
  bool ready = false;
  Inflater() { ready = inflateInit2(&stream, kGzipWindowBits) == Z_OK; }
  ~Inflater() {
    if (ready) inflateEnd(&stream);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

ContentReader::ContentReader(NativeFile fd, std::uint64_t max_bytes) : fd_(fd), max_bytes_(max_bytes) {
  // Two bytes tell gzip from anything else; read more than that so small files take one read.
  input_.resize(kProbeBytes);
  std::size_t filled = 0;
  while (filled < 2) {
    const std::size_t n = read_file(input_.data() + filled, input_.size() - filled);
    if (n == 0) break;
    filled += n;
  }
  input_.resize(filled);
  if (filled >= 2 && is_gzip_magic(input_.data())) {
    compression_ = Compression::gzip;
    inflater_ = std::make_unique<Inflater>();
    if (!inflater_->ready) fail("zlib could not start");
  }
}

ContentReader::~ContentReader() = default;

void ContentReader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

std::size_t ContentReader::read_file(char* out, std::size_t size) {
  if (file_ended_ || !error_.empty()) return 0;
  const auto n = read_some(fd_, out, size);
  if (n > 0) return static_cast<std::size_t>(n);
  if (n < 0) fail("read error: " + last_file_error().message());
  file_ended_ = true;
  return 0;
}

std::size_t ContentReader::count(std::size_t n) {
  if (n <= max_bytes_ - produced_) {
    produced_ += n;
    return n;
  }
  // Exactly the first max_bytes_ are given, whatever the read sizes, then the error.
  n = static_cast<std::size_t>(max_bytes_ - produced_);
  produced_ = max_bytes_;
  over_limit_ = true;
  fail((compression_ == Compression::gzip ? "decompresses to more than " : "grew past ") + std::to_string(max_bytes_) +
       " bytes (scan.max_file_bytes); not scanned past that");
  return n;
}

std::size_t ContentReader::read(char* out, std::size_t size) {
  if (!error_.empty() || size == 0) return 0;
  // One byte past the limit is enough to know it was passed.
  size = static_cast<std::size_t>(std::min<std::uint64_t>(size, max_bytes_ - produced_ + 1));
  std::size_t n = 0;
  if (compression_ == Compression::gzip) {
    n = read_gzip(out, size);
  } else if (input_begin_ < input_.size()) {
    n = std::min(size, input_.size() - input_begin_);
    std::memcpy(out, input_.data() + input_begin_, n);
    input_begin_ += n;
  } else {
    n = read_file(out, size);
  }
  return count(n);
}

std::size_t ContentReader::read_gzip(char* out, std::size_t size) {
  auto& z = inflater_->stream;
  for (;;) {
    if (input_begin_ == input_.size() && !file_ended_) {
      input_.resize(kGzipInputBytes);
      input_.resize(read_file(input_.data(), input_.size()));
      input_begin_ = 0;
      if (!error_.empty()) return 0;
    }
    const std::size_t available = input_.size() - input_begin_;
    if (inflater_->member_ended) {
      if (available == 0) return 0;  // the end of the last member
      // Another member follows (gzip -c a b > ab.gz, log rotators that append): its magic may be
      // split across two reads, so keep the first byte and read on.
      if (available == 1 && !file_ended_) {
        const char first = input_[input_begin_];
        input_.assign(1, first);
        input_.resize(1 + read_file(input_.data() + 1, kGzipInputBytes - 1));
        input_begin_ = 0;
        continue;
      }
      if (available < 2 || !is_gzip_magic(input_.data() + input_begin_)) {
        fail("data after the last gzip member is not gzip");
        return 0;
      }
      inflateReset(&z);
      inflater_->member_ended = false;
    }
    z.next_in = reinterpret_cast<Bytef*>(input_.data() + input_begin_);
    z.avail_in = static_cast<uInt>(available);
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(size, std::numeric_limits<uInt>::max()));
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t consumed = available - z.avail_in;
    input_begin_ += consumed;
    const std::size_t produced = static_cast<std::size_t>(reinterpret_cast<char*>(z.next_out) - out);
    if (rc == Z_STREAM_END) {
      inflater_->member_ended = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      // What was inflated before the damage is still the file's content.
      fail(std::string("corrupt gzip data: ") + (z.msg ? z.msg : "inflate error " + std::to_string(rc)));
      return produced;
    }
    if (produced > 0) return produced;
    if (inflater_->member_ended) continue;
    // Inside a member with nothing inflated: it needs more input, and there is none.
    if (input_begin_ == input_.size() && file_ended_) {
      fail("truncated gzip data");
      return 0;
    }
    if (consumed == 0 && input_begin_ < input_.size()) {  // never expected from zlib; never spin
      fail("corrupt gzip data: inflate made no progress");
      return 0;
    }
  }
}

TextReader::TextReader(ContentReader& content) : content_(content) {
  pending_.resize(kProbeBytes);
  std::size_t filled = 0;
  while (filled < pending_.size()) {
    const std::size_t n = content_.read(pending_.data() + filled, pending_.size() - filled);
    if (n == 0) break;
    filled += n;
  }
  pending_.resize(filled);
  encoding_ = detect_encoding({pending_.data(), pending_.size()}, bom_bytes_);
  pending_begin_ = bom_bytes_;
}

std::size_t TextReader::read(char* out, std::size_t size) {
  if (encoding_ == TextEncoding::bytes) {
    if (pending_begin_ == pending_.size()) return content_.read(out, size);
    const std::size_t n = std::min(size, pending_.size() - pending_begin_);
    std::memcpy(out, pending_.data() + pending_begin_, n);
    pending_begin_ += n;
    return n;
  }
  // UTF-16: gather 2 * size content bytes (an odd byte waits for its partner), then narrow them.
  const std::size_t want = 2 * size;
  if (pending_.size() - pending_begin_ < want) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_begin_));
    pending_begin_ = 0;
    std::size_t filled = pending_.size();
    pending_.resize(want);
    while (filled < want) {
      const std::size_t n = content_.read(pending_.data() + filled, want - filled);
      if (n == 0) break;
      filled += n;
    }
    pending_.resize(filled);
  }
  // A last odd byte is half a unit: it cannot be a character, so it is dropped.
  const std::size_t units = std::min(size, (pending_.size() - pending_begin_) / 2);
  return narrow(out, units);
}

std::size_t TextReader::narrow(char* out, std::size_t units) {
  const auto* in = reinterpret_cast<const unsigned char*>(pending_.data() + pending_begin_);
  const std::size_t high = encoding_ == TextEncoding::utf16le ? 1 : 0;
  for (std::size_t i = 0; i < units; ++i) {
    const unsigned unit = static_cast<unsigned>(in[2 * i + high]) << 8 | in[2 * i + 1 - high];
    out[i] = unit < 0x80 ? static_cast<char>(unit) : static_cast<char>(0x80);
  }
  pending_begin_ += 2 * units;
  return units;
}

}  // namespace postured::privacy
