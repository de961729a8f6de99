#include "patch/decompress.hpp"

#include <lz4frame.h>
#include <zlib.h>

#include <array>
#include <memory>

namespace postured::patch {
namespace {

// A list or log larger than this is not what apt or dpkg write; refuse it rather than fill memory.
constexpr std::size_t kMaxDecompressedBytes = std::size_t{512} << 20;
constexpr std::size_t kChunkBytes = std::size_t{256} << 10;

std::optional<std::string> gunzip(std::string_view data) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header and trailer, as gzip(1) and logrotate write.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const auto used = out.size();
    out.resize(used + kChunkBytes);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    stream.avail_out = static_cast<uInt>(kChunkBytes);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(used + kChunkBytes - stream.avail_out);
    // A concatenated member (gzip allows several) starts again after the first one's trailer.
    if (rc == Z_STREAM_END && stream.avail_in > 0) rc = inflateReset(&stream);
    if ((rc != Z_OK && rc != Z_STREAM_END) || out.size() > kMaxDecompressedBytes) {
      inflateEnd(&stream);
      return std::nullopt;
    }
    if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return std::nullopt;  // truncated
    }
  }
  inflateEnd(&stream);
  return out;
}

std::optional<std::string> unlz4(std::string_view data) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) return std::nullopt;
  const std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> context(raw,
                                                                                      &LZ4F_freeDecompressionContext);
  std::string out;
  std::size_t offset = 0;
  for (;;) {
    const auto used = out.size();
    out.resize(used + kChunkBytes);
    std::size_t produced = kChunkBytes;
    std::size_t consumed = data.size() - offset;
    const auto hint =
        LZ4F_decompress(context.get(), out.data() + used, &produced, data.data() + offset, &consumed, nullptr);
    if (LZ4F_isError(hint)) return std::nullopt;
    out.resize(used + produced);
    offset += consumed;
    if (out.size() > kMaxDecompressedBytes) return std::nullopt;
    // 0: a frame ended. apt writes one; a next one (rare) is decoded after it.
    if (hint == 0 && offset == data.size()) break;
    if (hint != 0 && offset == data.size() && produced == 0) return std::nullopt;  // truncated
  }
  return out;
}

}  // namespace

std::optional<std::string> decompress_for(std::string_view path, std::string data) {
  if (path.ends_with(".gz")) return gunzip(data);
  if (path.ends_with(".lz4")) return unlz4(data);
  for (const auto* other : {".xz", ".zst", ".bz2", ".lzma"}) {
    if (path.ends_with(other)) return std::nullopt;
  }
  return data;
}

}  // namespace postured::patch
