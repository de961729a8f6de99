#include "privacy/pan_detector.hpp"

#include <algorithm>
#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace postured::privacy {
namespace {

constexpr std::size_t kMinDigits = 13;
constexpr std::size_t kMaxDigits = 19;
// Groups joined by one space or dash are printed card numbers only when each group is short; a
// longer run after a separator is a separate number ("Order 1234 4111111111111111").
constexpr std::size_t kMaxGroupDigits = 6;
constexpr std::size_t kTrack1MaxName = 26;  // ISO/IEC 7813
constexpr std::size_t kTrackTailDigits = 7;  // expiry YYMM + service code, present on every track

bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// The printed groupings of 13–19 digit card numbers.
bool known_grouping(const std::size_t* groups, std::size_t count) {
  static constexpr std::array<std::array<std::size_t, 6>, 10> kGroupings{{{4, 4, 4, 4},
                                                                          {4, 6, 5},
                                                                          {4, 6, 4},
                                                                          {4, 4, 5},
                                                                          {4, 4, 4, 1},
                                                                          {4, 4, 4, 4, 1},
                                                                          {4, 4, 4, 4, 2},
                                                                          {4, 4, 4, 4, 3},
                                                                          {6, 13},
                                                                          {5, 5, 5, 4}}};
  for (const auto& grouping : kGroupings) {
    std::size_t n = 0;
    while (n < grouping.size() && grouping[n] != 0) ++n;
    if (n == count && std::equal(groups, groups + count, grouping.begin())) return true;
  }
  return false;
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

// Position of the next digit that can begin a card number: one in a run of digits, spaces and dashes
// that holds at least 13 digits. Shorter runs (times, amounts, ids: most digits in a log) are
// stepped over without being parsed.
std::size_t next_start(std::string_view text, std::size_t i) {
  const std::size_t n = text.size();
  for (;;) {
    i = next_digit(text, i);
    if (i >= n) return n;
    std::size_t digits = 0;
    std::size_t j = i;
    for (; j < n; ++j) {
      const char c = text[j];
      if (is_digit(c)) {
        if (++digits == kMinDigits) return i;
      } else if (c != ' ' && c != '-') {
        break;
      }
    }
    i = j;
  }
}

std::size_t digit_run(std::string_view text, std::size_t i) {
  std::size_t j = i;
  while (j < text.size() && is_digit(text[j])) ++j;
  return j - i;
}

// One number as printed: digit groups joined by single spaces or dashes. Fixed-size, because the
// scan meets a digit run every few bytes in a log and must not allocate for each.
struct Candidate {
  std::array<char, kMaxDigits> digits{};
  std::size_t count = 0;      // digits in the number (may exceed kMaxDigits: then it is too long)
  std::size_t end = 0;        // one past the last byte that belongs to the number
  bool contiguous = true;     // no separators: the only form track data uses
  bool plausible = false;     // 13–19 digits in a printed grouping

  std::string_view view() const { return {digits.data(), std::min(count, kMaxDigits)}; }
};

// Reads the digit groups that start at `i` (a digit with no digit before it).
Candidate read_candidate(std::string_view text, std::size_t i) {
  Candidate c;
  std::array<std::size_t, 6> groups{};
  std::size_t group_count = 0;
  char separator = 0;
  std::size_t j = i;
  for (;;) {
    const std::size_t run = digit_run(text, j);
    groups[group_count++] = run;
    for (std::size_t k = 0; k < run && c.count + k < kMaxDigits; ++k) c.digits[c.count + k] = text[j + k];
    c.count += run;
    j += run;
    c.end = j;
    const bool separator_next = j + 1 < text.size() && (text[j] == ' ' || text[j] == '-') && is_digit(text[j + 1]) &&
                                (separator == 0 || text[j] == separator);
    if (!separator_next || run > kMaxGroupDigits || group_count == groups.size()) break;
    // A following group longer than a printed group is a separate number, unless it ends a
    // {6, 13} Maestro grouping.
    const std::size_t next = digit_run(text, j + 1);
    if (next > kMaxGroupDigits && !(group_count == 1 && run == 6 && next == 13)) break;
    separator = text[j];
    j += 1;
  }
  c.contiguous = group_count == 1;
  c.plausible = c.count >= kMinDigits && c.count <= kMaxDigits &&
                (c.contiguous || known_grouping(groups.data(), group_count));
  return c;
}

// For a contiguous PAN at [start, end): the track it belongs to, and the track's byte range.
std::optional<FindingKind> track_around(std::string_view text, std::size_t start, std::size_t end,
                                        std::size_t& track_start, std::size_t& track_end) {
  const auto digits_then = [&](std::size_t at) { return at < text.size() ? digit_run(text, at) : 0; };
  // Track 2: [;]PAN=YYMM SSS ...[?]
  if (end < text.size() && text[end] == '=' && digits_then(end + 1) >= kTrackTailDigits) {
    track_start = start > 0 && text[start - 1] == ';' ? start - 1 : start;
    track_end = end + 1 + digits_then(end + 1);
    if (track_end < text.size() && text[track_end] == '?') ++track_end;
    return FindingKind::track2;
  }
  // Track 1: [%]B PAN ^ NAME ^ YYMM SSS ...[?]
  if (start > 0 && text[start - 1] == 'B' && end < text.size() && text[end] == '^') {
    const auto name_end = text.find('^', end + 1);
    if (name_end == std::string_view::npos || name_end - end - 1 > kTrack1MaxName) return std::nullopt;
    const auto name = text.substr(end + 1, name_end - end - 1);
    if (name.find('\n') != std::string_view::npos || digits_then(name_end + 1) < kTrackTailDigits) return std::nullopt;
    track_start = start - 1;
    if (track_start > 0 && text[track_start - 1] == '%') --track_start;
    track_end = name_end + 1 + digits_then(name_end + 1);
    while (track_end < text.size() && track_end - track_start < PanDetector::kMaxMatchBytes && text[track_end] != '?' &&
           text[track_end] != '\n' && static_cast<unsigned char>(text[track_end]) >= 0x20) {
      ++track_end;  // discretionary data
    }
    if (track_end < text.size() && text[track_end] == '?') ++track_end;
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
  if ((p2 == 36 && length_in(14, 19)) || (((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 38 || p2 == 39) &&
                                          (n == 14 || length_in(16, 19)))) {
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

void PanDetector::scan(std::string_view text, std::size_t from, std::size_t to,
                       const std::function<void(const PanMatch&)>& found) const {
  to = std::min(to, text.size());
  // Start a full match length early: a window can begin inside a grouped number or a track, and
  // reading from there would see its tail as a number of its own. From here, candidates are parsed
  // as one pass over the whole text would parse them; only those starting at `from` or later count.
  std::size_t i = next_start(text, from > kMaxMatchBytes ? from - kMaxMatchBytes : 0);
  while (i < to) {
    if (i > 0 && is_digit(text[i - 1])) {
      i = next_start(text, i + digit_run(text, i));  // the middle of a run that began before the window
      continue;
    }
    const auto candidate = read_candidate(text, i);
    const auto digits = candidate.view();
    if (candidate.plausible && luhn_valid(digits) && !degenerate(digits) &&
        !std::binary_search(ignored_.begin(), ignored_.end(), digits,
                            [](std::string_view a, std::string_view b) { return a < b; })) {
      if (const auto brand = card_brand(digits)) {
        PanMatch match;
        match.kind = FindingKind::pan;
        match.brand = *brand;
        match.offset = i;
        match.length = candidate.end - i;
        match.masked = mask_pan(digits);
        std::size_t track_start = 0, track_end = 0;
        if (candidate.contiguous) {
          if (const auto track = track_around(text, i, candidate.end, track_start, track_end)) {
            match.kind = *track;
            match.offset = track_start;
            match.length = track_end - track_start;
          }
        }
        if (match.offset >= from) found(match);
        i = next_start(text, match.offset + match.length);
        continue;
      }
    }
    i = next_start(text, candidate.end);
  }
}

std::vector<PanMatch> PanDetector::find_all(std::string_view text) const {
  std::vector<PanMatch> matches;
  scan(text, 0, text.size(), [&](const PanMatch& m) { matches.push_back(m); });
  return matches;
}

}  // namespace postured::privacy
