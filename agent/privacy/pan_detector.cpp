#include "privacy/pan_detector.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace postured::privacy {
namespace {

constexpr std::size_t kMinDigits = 13;
constexpr std::size_t kMaxDigits = 19;
// A printed card number is 2 to 5 groups of digits (4-4-4-4-3 is the longest).
constexpr std::size_t kMaxGroups = 5;
// Groups of a printed card number have at most this many digits, except Maestro's 6-13.
constexpr std::size_t kMaxGroupDigits = 6;
// A printed card number may have another number beside it on the line, one space or dash away: a
// time's seconds, a quantity, an amount, an expiry. A neighbour of 4 to 6 digits could be one more
// group, so then the groups are taken to be one longer number (an IBAN, an account number).
constexpr std::size_t kMaxNeighbourDigits = 3;
constexpr std::size_t kTrack1MaxName = 26;   // ISO/IEC 7813
constexpr std::size_t kTrack1MaxBytes = 79;  // ISO/IEC 7813, sentinels included
constexpr std::size_t kTrack2MaxBytes = 40;  // ISO/IEC 7813, sentinels included
constexpr std::size_t kTrackTailDigits = 7;  // expiry YYMM + service code, present on every track
// A track's start ('%B' or ';') precedes its PAN by at most this many bytes.
constexpr std::size_t kTrackLeadBytes = 2;

bool is_digit(char c) {
  return static_cast<unsigned char>(c - '0') < 10;
}
bool is_letter(char c) {
  return static_cast<unsigned char>((c | 0x20) - 'a') < 26;
}
bool is_separator(char c) {
  return c == ' ' || c == '-';
}
// Track 1's character set (ISO/IEC 7813: 0x20-0x5F) without its sentinels and field separator.
bool is_track1_data(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u <= 0x5F && c != '%' && c != '^' && c != '?';
}

// Group sizes packed 5 bits each, first group lowest: one integer compare per grouping.
constexpr std::uint32_t pack(std::initializer_list<std::size_t> groups) {
  std::uint32_t key = 0, shift = 0;
  for (auto g : groups) key |= static_cast<std::uint32_t>(g) << shift, shift += 5;
  return key;
}

// The printed groupings of 13-19 digit card numbers.
bool known_grouping(const std::size_t* groups, std::size_t count) {
  static constexpr std::array<std::uint32_t, 10> kGroupings{
      pack({4, 4, 4, 4}),    pack({4, 6, 5}),       pack({4, 6, 4}),       pack({4, 4, 5}), pack({4, 4, 4, 1}),
      pack({4, 4, 4, 4, 1}), pack({4, 4, 4, 4, 2}), pack({4, 4, 4, 4, 3}), pack({6, 13}),   pack({5, 5, 5, 4})};
  std::uint32_t key = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (groups[i] > kMaxDigits) return false;
    key |= static_cast<std::uint32_t>(groups[i]) << (5 * i);
  }
  return std::find(kGroupings.begin(), kGroupings.end(), key) != kGroupings.end();
}

// All one digit, or counting up or down by one: test patterns and placeholders, not cards.
bool degenerate(std::string_view digits) {
  const bool same = std::all_of(digits.begin(), digits.end(), [&](char c) { return c == digits[0]; });
  bool up = true, down = true;
  for (std::size_t i = 1; i < digits.size(); ++i) {
    up = up && digits[i] == static_cast<char>('0' + (digits[i - 1] - '0' + 1) % 10);
    down = down && digits[i] == static_cast<char>('0' + (digits[i - 1] - '0' + 9) % 10);
  }
  return same || up || down;
}

int prefix(std::string_view digits, std::size_t n) {
  int value = 0;
  for (std::size_t i = 0; i < n && i < digits.size(); ++i) value = value * 10 + (digits[i] - '0');
  return value;
}

// Position of the next digit at or after `i`, or text.size().
std::size_t next_digit(std::string_view text, std::size_t i) {
#if defined(__SSE2__)
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i nine = _mm_set1_epi8(9);
  while (i + 16 <= text.size()) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i offset = _mm_sub_epi8(bytes, zero);
    const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(offset, nine), offset));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  while (i < text.size() && !is_digit(text[i])) ++i;
  return i;
}

// Bit k set: byte k of the 64 at `p` is a digit; is a space or a dash.
void classify_64(const char* p, std::uint64_t& digits, std::uint64_t& separators) {
  digits = separators = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i dash = _mm_set1_epi8('-');
  for (int k = 0; k < 4; ++k) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i offset = _mm_sub_epi8(bytes, zero);
    const __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(offset, nine), offset);
    const __m128i separator = _mm_or_si128(_mm_cmpeq_epi8(bytes, space), _mm_cmpeq_epi8(bytes, dash));
    digits |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(digit))) << (16 * k);
    separators |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(separator))) << (16 * k);
  }
#else
  for (int k = 0; k < 64; ++k) {
    digits |= static_cast<std::uint64_t>(is_digit(p[k])) << k;
    separators |= static_cast<std::uint64_t>(is_separator(p[k])) << k;
  }
#endif
}

// The first digit at or after `i` (a digit with no digit before it, or the end) from which 13 bytes
// are all digits or single spaces or dashes between digits; no PAN can start before it. A filter,
// 64 bytes at a time: the decisions are made after it, on the candidates it lets through.
std::size_t next_possible_start(std::string_view text, std::size_t i) {
  // Blocks overlap by kMinDigits + 1 bytes: a run is found whole in the block where it starts, and a
  // separator's neighbours are both in the block.
  constexpr std::size_t kBlock = 64, kStep = kBlock - kMinDigits - 1;
  for (std::size_t block = i; block < text.size(); block += kStep) {
    std::array<char, kBlock> tail{};
    const bool last = text.size() - block <= kBlock;
    const char* bytes = text.data() + block;
    if (last) {  // the end of the text, padded with bytes that are neither digits nor separators
      std::copy(text.begin() + static_cast<std::ptrdiff_t>(block), text.end(), tail.begin());
      bytes = tail.data();
    }
    std::uint64_t digits = 0, separators = 0;
    classify_64(bytes, digits, separators);
    std::uint64_t run = digits | (separators & (digits << 1) & (digits >> 1));
    run &= run >> 1;                                    // bit k: bytes k..k+1 all in a run
    run &= run >> 2;                                    // k..k+3
    run &= run >> 4;                                    // k..k+7
    run &= run >> 5;                                    // k..k+12: 13 bytes
    if (!last) run &= (std::uint64_t{1} << kStep) - 1;  // later starts are the next block's
    // The lowest start is where the run begins: in the first block `i` itself at the latest, and
    // in a later one it cannot begin before the block, or the previous block would have found it.
    if (run != 0) return block + static_cast<std::size_t>(__builtin_ctzll(run));
    if (last) break;
  }
  return text.size();
}

// True if the digits, spaces and dashes from `i` on hold at least kMinDigits digits; if not, `stop` is
// where they end. No card number can start in a shorter stretch: this steps over the dates, times,
// amounts and counters that put a digit every few bytes in a log without parsing them.
bool enough_digits(std::string_view text, std::size_t i, std::size_t& stop) {
  std::size_t digits = 0;
  for (; i < text.size(); ++i) {
    if (is_digit(text[i])) {
      if (++digits == kMinDigits) return true;
    } else if (!is_separator(text[i])) {
      break;
    }
  }
  stop = i;
  return false;
}

// The number of digits from `i` on, counting at most `limit`: callers that only need to know whether
// a run is short must not read a long one again for every candidate next to it.
std::size_t digit_run(std::string_view text, std::size_t i, std::size_t limit = std::string_view::npos) {
  std::size_t j = i;
  while (j < text.size() && j - i < limit && is_digit(text[j])) ++j;
  return j - i;
}

// The number of digits (at most kMaxDigits + 1) that end right before `end`.
std::size_t digit_run_before(std::string_view text, std::size_t end) {
  std::size_t n = 0;
  while (end > n && is_digit(text[end - n - 1]) && n <= kMaxDigits) ++n;
  return n;
}

// True if a neighbour of `n` digits could be one more group of a printed card number.
bool could_be_a_group(std::size_t n) {
  return n > kMaxNeighbourDigits && n <= kMaxGroupDigits;
}

// True if the group of digits that starts at `start` has no neighbour on its left that makes it part
// of a longer number (see kMaxNeighbourDigits); a short neighbour glued to letters is an IBAN's "DE89".
bool free_on_left(std::string_view text, std::size_t start) {
  if (start < 2 || !is_separator(text[start - 1]) || !is_digit(text[start - 2])) return true;
  std::size_t n = 0, j = start - 1;
  while (j > 0 && is_digit(text[j - 1]) && n <= kMaxGroupDigits) --j, ++n;
  if (n > kMaxGroupDigits) return true;  // too long to be a group: a number of its own
  return !could_be_a_group(n) && !(j > 0 && is_letter(text[j - 1]));
}

// True if the digits that end at `end` go on as a decimal, a date or a time ("12.50", "12/26",
// "10:30"): they are a number of their own, not a group of a printed card number.
bool continues_as_number(std::string_view text, std::size_t end) {
  return end + 1 < text.size() && (text[end] == '.' || text[end] == '/' || text[end] == ':') && is_digit(text[end + 1]);
}

// True if the printed card number whose `count` groups (joined by `separator`) end at `end` has no
// neighbour on its right that makes it part of a longer number. A short number joined by the same
// separator could be the number's own last group (4-4-4-4-2): then it is, unless it is visibly a
// decimal, a date or a time.
bool free_on_right(std::string_view text, std::size_t end, char separator, const std::size_t* groups,
                   std::size_t count) {
  if (end + 1 >= text.size() || !is_separator(text[end]) || !is_digit(text[end + 1])) return true;
  const std::size_t n = digit_run(text, end + 1, kMaxGroupDigits + 1);
  if (n > kMaxGroupDigits || continues_as_number(text, end + 1 + n)) return true;  // a number of its own
  if (could_be_a_group(n) || (end + 1 + n < text.size() && is_letter(text[end + 1 + n]))) return false;
  if (text[end] != separator || count >= kMaxGroups) return true;
  std::array<std::size_t, kMaxGroups> longer{};
  std::copy(groups, groups + count, longer.begin());
  longer[count] = n;
  return !known_grouping(longer.data(), count + 1);
}

// A PAN candidate's digits, without separators.
struct Digits {
  std::array<char, kMaxDigits> data{};
  std::size_t size = 0;
  void append(std::string_view more) {
    std::copy(more.begin(), more.end(), data.begin() + static_cast<std::ptrdiff_t>(size));
    size += more.size();
  }
  std::string_view view() const { return {data.data(), size}; }
};

// For a contiguous PAN at [start, end): the track it belongs to, and the track's byte range.
std::optional<FindingKind> track_around(std::string_view text, std::size_t start, std::size_t end,
                                        std::size_t& track_start, std::size_t& track_end) {
  // Counted only as far as a track can reach: a longer run makes the track too long, whatever its length.
  const auto digits_then = [&](std::size_t at) { return at < text.size() ? digit_run(text, at, kTrack1MaxBytes) : 0; };
  // Track 2: [;]PAN=YYMM SSS ...[?]
  if (end < text.size() && text[end] == '=' && digits_then(end + 1) >= kTrackTailDigits) {
    track_start = start > 0 && text[start - 1] == ';' ? start - 1 : start;
    track_end = end + 1 + digits_then(end + 1);
    if (track_end < text.size() && text[track_end] == '?') ++track_end;
    // Longer than a track can be: a PAN followed by another number, not a track.
    if (track_end - track_start > kTrack2MaxBytes) return std::nullopt;
    return FindingKind::track2;
  }
  // Track 1: [%]B PAN ^ NAME ^ YYMM SSS discretionary [?]
  if (start > 0 && text[start - 1] == 'B' && end < text.size() && text[end] == '^') {
    const auto name = text.substr(end + 1, kTrack1MaxName + 1);
    const auto name_length = name.find('^');
    if (name_length == std::string_view::npos || name.substr(0, name_length).find('\n') != std::string_view::npos) {
      return std::nullopt;
    }
    const std::size_t name_end = end + 1 + name_length;
    if (digits_then(name_end + 1) < kTrackTailDigits) return std::nullopt;
    track_start = start - 1;
    if (track_start > 0 && text[track_start - 1] == '%') --track_start;
    // Discretionary data runs to the end sentinel when there is one within the track's length;
    // without it, only the digits after the expiry and service code are taken as the track's.
    const std::size_t digits_end = name_end + 1 + digits_then(name_end + 1);
    std::size_t p = digits_end;
    while (p < text.size() && p - track_start < kTrack1MaxBytes && is_track1_data(text[p])) ++p;
    track_end = p < text.size() && p - track_start < kTrack1MaxBytes && text[p] == '?' ? p + 1 : digits_end;
    if (track_end - track_start > kTrack1MaxBytes) return std::nullopt;
    return FindingKind::track1;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(FindingKind kind) {
  switch (kind) {
    case FindingKind::pan: return "pan";
    case FindingKind::track1: return "track1";
    case FindingKind::track2: return "track2";
  }
  return "pan";
}

std::string_view to_string(CardBrand brand) {
  switch (brand) {
    case CardBrand::visa: return "visa";
    case CardBrand::mastercard: return "mastercard";
    case CardBrand::amex: return "amex";
    case CardBrand::discover: return "discover";
    case CardBrand::jcb: return "jcb";
    case CardBrand::diners: return "diners";
    case CardBrand::unionpay: return "unionpay";
    case CardBrand::maestro: return "maestro";
    case CardBrand::mir: return "mir";
  }
  return "visa";
}

bool luhn_valid(std::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return !digits.empty() && sum % 10 == 0;
}

std::optional<CardBrand> card_brand(std::string_view digits) {
  const std::size_t n = digits.size();
  const int p1 = prefix(digits, 1), p2 = prefix(digits, 2), p3 = prefix(digits, 3), p4 = prefix(digits, 4);
  const auto length_in = [n](std::size_t lo, std::size_t hi) { return n >= lo && n <= hi; };
  // Ranges from the card networks' published IIN tables; the more specific ones first.
  if (p4 >= 2200 && p4 <= 2204 && length_in(16, 19)) return CardBrand::mir;
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16) return CardBrand::mastercard;
  if ((p2 == 34 || p2 == 37) && n == 15) return CardBrand::amex;
  if ((p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) && length_in(16, 19)) return CardBrand::discover;
  if (p4 >= 3528 && p4 <= 3589 && length_in(16, 19)) return CardBrand::jcb;
  if ((p2 == 36 && length_in(14, 19)) ||
      (((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 38 || p2 == 39) && (n == 14 || length_in(16, 19)))) {
    return CardBrand::diners;
  }
  if (p2 == 62 && length_in(16, 19)) return CardBrand::unionpay;
  static constexpr std::array<int, 9> kMaestro{5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763};
  if (std::find(kMaestro.begin(), kMaestro.end(), p4) != kMaestro.end() && length_in(13, 19)) return CardBrand::maestro;
  if (p1 == 4 && (n == 13 || n == 16 || n == 19)) return CardBrand::visa;
  return std::nullopt;
}

std::string mask_pan(std::string_view digits) {
  if (digits.size() <= 10) return std::string(digits.size(), '*');
  return std::string(digits.substr(0, 6)) + std::string(digits.size() - 10, '*') +
         std::string(digits.substr(digits.size() - 4));
}

PanDetector::PanDetector(std::vector<std::string> ignored) : ignored_(std::move(ignored)) {
  std::sort(ignored_.begin(), ignored_.end());
}

std::optional<CardBrand> PanDetector::card(std::string_view digits) const {
  if (!luhn_valid(digits) || degenerate(digits) ||
      std::binary_search(ignored_.begin(), ignored_.end(), digits, std::less<>{})) {
    return std::nullopt;
  }
  return card_brand(digits);
}

std::optional<PanMatch> PanDetector::match_at(std::string_view text, std::size_t start, std::size_t first) const {
  // Digits glued to a letter are part of a word: an IBAN ("AT61...", "GB..LOYD30..."), a hex string,
  // a serial number. The one exception is track 1's format code, 'B', right before the PAN.
  const bool glued = start > 0 && is_letter(text[start - 1]);
  if (glued && text[start - 1] != 'B') return std::nullopt;
  // A printed card number: groups joined by one space or dash, the same all through.
  if (!glued && first >= 4 && first <= kMaxGroupDigits && start + first + 1 < text.size() &&
      is_separator(text[start + first]) && is_digit(text[start + first + 1]) && free_on_left(text, start)) {
    const char separator = text[start + first];
    std::array<std::size_t, kMaxGroups> groups{first};
    std::array<std::size_t, kMaxGroups> ends{start + first};
    std::size_t count = 1;
    while (count < kMaxGroups && ends[count - 1] + 1 < text.size() && text[ends[count - 1]] == separator &&
           is_digit(text[ends[count - 1] + 1])) {
      const std::size_t next = digit_run(text, ends[count - 1] + 1, kMaxDigits + 1);
      const bool maestro_19 = count == 1 && first == 6 && next == 13;
      if (next > kMaxGroupDigits && !maestro_19) break;
      groups[count] = next;
      ends[count] = ends[count - 1] + 1 + next;
      ++count;
      if (maestro_19) break;
    }
    // The longest grouping wins: 4-4-4-4-1 over 4-4-4-4 with a one-digit neighbour.
    for (std::size_t n = count; n >= 2; --n) {
      if (!known_grouping(groups.data(), n) || continues_as_number(text, ends[n - 1]) ||
          !free_on_right(text, ends[n - 1], separator, groups.data(), n)) {
        continue;
      }
      Digits digits;
      for (std::size_t g = 0, at = start; g < n; at = ends[g] + 1, ++g) digits.append(text.substr(at, groups[g]));
      if (const auto brand = card(digits.view())) {
        return PanMatch{FindingKind::pan, *brand, start, ends[n - 1] - start, mask_pan(digits.view())};
      }
    }
  }
  // A contiguous card number, which may be the PAN of a track.
  if (first < kMinDigits || first > kMaxDigits) return std::nullopt;
  // 13 digits after a 6-digit group and one separator are the second group of a 6-13 number.
  if (first == 13 && start > kMaxGroupDigits && is_separator(text[start - 1]) &&
      digit_run_before(text, start - 1) == 6) {
    return std::nullopt;
  }
  const auto digits = text.substr(start, first);
  const auto brand = card(digits);
  if (!brand) return std::nullopt;
  PanMatch match{FindingKind::pan, *brand, start, first, mask_pan(digits)};
  std::size_t track_start = 0, track_end = 0;
  const auto track = track_around(text, start, start + first, track_start, track_end);
  if (glued && track != FindingKind::track1) return std::nullopt;
  if (track) {
    match.kind = *track;
    match.offset = track_start;
    match.length = track_end - track_start;
  }
  return match;
}

void PanDetector::scan(std::string_view text, std::size_t from, std::size_t to,
                       const std::function<void(const PanMatch&)>& found) const {
  to = std::min(to, text.size());
  if (from >= to) return;
  // Start kMaxMatchBytes early and report nothing before `from`: a match that began there (a track
  // with digits in its tail) hides candidates inside it exactly as in one pass over the whole text.
  std::size_t i = next_digit(text, from - std::min(from, kMaxMatchBytes));
  if (i > 0 && i < text.size() && is_digit(text[i - 1])) i = next_digit(text, i + digit_run(text, i));
  // A track is reported at its start sentinel, up to kTrackLeadBytes before its PAN.
  const std::size_t last_start = std::min(text.size(), to + kTrackLeadBytes);
  while (i < last_start) {
    i = next_possible_start(text, i);
    if (i >= last_start) break;
    if (std::size_t stop = 0; !enough_digits(text, i, stop)) {
      i = next_digit(text, stop);
      continue;
    }
    const std::size_t run = digit_run(text, i);
    // Most digit runs in logs are short and alone (dates, times, counters): no PAN can start there.
    const bool may_start = run >= kMinDigits || (run >= 4 && run <= kMaxGroupDigits && i + run + 1 < text.size() &&
                                                 is_separator(text[i + run]) && is_digit(text[i + run + 1]));
    const auto match = may_start ? match_at(text, i, run) : std::nullopt;
    if (match) {
      if (match->offset >= from && match->offset < to) found(*match);
      i = next_digit(text, match->offset + match->length);
    } else {
      i = next_digit(text, i + run);
    }
  }
}

std::vector<PanMatch> PanDetector::find_all(std::string_view text) const {
  std::vector<PanMatch> matches;
  scan(text, 0, text.size(), [&](const PanMatch& m) { matches.push_back(m); });
  return matches;
}

}  // namespace postured::privacy
