// libFuzzer target for the PAN and track detector. On any bytes: no crash, hang or leak; every match
// lies inside the input, in order and without overlap; its masked form has the PAN's length and shows
// only the first 6 and last 4 digits; scanning in two windows that overlap by kMaxMatchBytes (as the
// file scanner reads a stream in chunks) reports exactly what one pass reports; and newlines before
// the text only shift the matches (the detector's 64-byte filter must not depend on where its blocks
// fall). Build with the `fuzz` preset (clang).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "privacy/pan_detector.hpp"

using namespace postured::privacy;

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool same(const PanMatch& a, const PanMatch& b) {
  return a.kind == b.kind && a.brand == b.brand && a.offset == b.offset && a.length == b.length && a.masked == b.masked;
}

// The PAN inside a match's bytes: the digits of a printed number, or the number after a track's sentinels.
std::string pan_of(std::string_view span, FindingKind kind) {
  std::string digits;
  if (kind == FindingKind::pan) {
    for (char c : span) {
      if (is_digit(c))
        digits += c;
      else if (c != ' ' && c != '-')
        std::abort();  // a printed PAN is digits and separators only
    }
    return digits;
  }
  std::size_t i = 0;
  if (kind == FindingKind::track1) {
    if (i < span.size() && span[i] == '%') ++i;
    if (i >= span.size() || span[i] != 'B') std::abort();
    ++i;
  } else if (i < span.size() && span[i] == ';') {
    ++i;
  }
  while (i < span.size() && is_digit(span[i])) digits += span[i++];
  if (i >= span.size() || span[i] != (kind == FindingKind::track1 ? '^' : '=')) std::abort();
  return digits;
}

void check_match(std::string_view text, const PanMatch& m) {
  if (m.length == 0 || m.offset > text.size() || m.length > text.size() - m.offset) std::abort();
  if (m.length > PanDetector::kMaxMatchBytes) std::abort();
  const auto pan = pan_of(text.substr(m.offset, m.length), m.kind);
  if (pan.size() < 13 || pan.size() > 19 || !luhn_valid(pan) || card_brand(pan) != m.brand) std::abort();
  // Masked: the PAN's length, first 6 and last 4 digits shown, '*' in between; never the full PAN.
  if (m.masked.size() != pan.size()) std::abort();
  for (std::size_t i = 0; i < pan.size(); ++i) {
    const bool shown = i < 6 || i + 4 >= pan.size();
    if (m.masked[i] != (shown ? pan[i] : '*')) std::abort();
  }
}

// One pass against two windows split at `split`, each with kMaxMatchBytes of the other as context.
void check_windows(std::string_view text, const PanDetector& detector, const std::vector<PanMatch>& whole,
                   std::size_t split) {
  constexpr std::size_t kOverlap = PanDetector::kMaxMatchBytes;
  std::vector<PanMatch> windowed;
  const auto first = text.substr(0, split + kOverlap);
  detector.scan(first, 0, split, [&](const PanMatch& m) { windowed.push_back(m); });
  const std::size_t begin = split - std::min(split, kOverlap);
  const auto second = text.substr(begin);
  detector.scan(second, split - begin, second.size(), [&](const PanMatch& m) {
    windowed.push_back(m);
    windowed.back().offset += begin;
  });
  if (windowed.size() != whole.size()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (!same(windowed[i], whole[i])) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const PanDetector detector;
  const auto whole = detector.find_all(text);
  for (std::size_t i = 0; i < whole.size(); ++i) {
    check_match(text, whole[i]);
    if (i > 0 && whole[i].offset < whole[i - 1].offset + whole[i - 1].length) std::abort();  // ordered, disjoint
  }
  // Split points from a hash of the input: every mutation moves them, and a failure replays exactly.
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x100000001b3ULL;
  for (int k = 0; k < 4; ++k, hash = hash * 6364136223846793005ULL + 1442695040888963407ULL) {
    check_windows(text, detector, whole, static_cast<std::size_t>((hash >> 17) % (size + 1)));
  }
  const std::size_t shift = 1 + (hash >> 40) % 64;
  const auto shifted = detector.find_all(std::string(shift, '\n') + std::string(text));
  if (shifted.size() != whole.size()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i) {
    auto moved = whole[i];
    moved.offset += shift;
    if (!same(shifted[i], moved)) std::abort();
  }
  return 0;
}
