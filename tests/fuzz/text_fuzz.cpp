// libFuzzer target for the file scanner's decoding path (agent/privacy/text_reader.cpp): gzip
// members, UTF-16 detection and narrowing, on any bytes. Besides no crash, hang or leak:
// - the content never exceeds the size limit, and a file that is not gzip comes out unchanged;
// - the text is the same whatever sizes it is read in (the scanner's chunks must not matter);
// - UTF-16 text has one byte per whole code unit, each ASCII or 0x80.
// The input goes through a memfd, as the scanner reads a file descriptor. Build with the `fuzz` preset.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "privacy/text_reader.hpp"

using namespace postured::privacy;

namespace {

// A limit small enough that a gzip bomb among the inputs hits it at once.
constexpr std::uint64_t kLimit = 1 << 20;

struct Decoded {
  std::string content, text;
  Compression compression = Compression::none;
  TextEncoding encoding = TextEncoding::bytes;
  std::size_t bom = 0;
  bool failed = false;
};

// Decodes `fd` from its start, reading `step` bytes at a time (content and text read separately).
Decoded decode(int fd, std::size_t step) {
  Decoded d;
  ::lseek(fd, 0, SEEK_SET);
  {
    ContentReader content(fd, kLimit);
    std::string buffer(step, '\0');
    while (const auto n = content.read(buffer.data(), step)) d.content.append(buffer, 0, n);
    if (content.produced() > kLimit || d.content.size() > kLimit) std::abort();
    d.compression = content.compression();
    d.failed = !content.error().empty();
  }
  ::lseek(fd, 0, SEEK_SET);
  ContentReader content(fd, kLimit);
  TextReader reader(content);
  std::string buffer(step, '\0');
  while (const auto n = reader.read(buffer.data(), step)) d.text.append(buffer, 0, n);
  d.encoding = reader.encoding();
  d.bom = reader.bom_bytes();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = ::memfd_create("text_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  const std::size_t odd_step = 1 + (size > 0 ? data[0] % 97 : 0);
  const auto whole = decode(fd, 1 << 16);
  const auto pieces = decode(fd, odd_step);
  ::close(fd);
  if (whole.content != pieces.content || whole.text != pieces.text || whole.encoding != pieces.encoding) std::abort();
  if (whole.compression == Compression::none &&
      whole.content != std::string(reinterpret_cast<const char*>(data), size)) {
    std::abort();
  }
  if (whole.encoding == TextEncoding::bytes) {
    if (!whole.failed && whole.text != whole.content) std::abort();
  } else {
    if (!whole.failed && whole.text.size() != (whole.content.size() - whole.bom) / 2) std::abort();
    for (char c : whole.text) {
      if (static_cast<unsigned char>(c) > 0x80) std::abort();
    }
  }
  return 0;
}
