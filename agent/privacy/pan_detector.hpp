// Finds payment card numbers (PANs) and magnetic-stripe track data in text, for cache columns and
// files. A candidate counts only when it has a real brand's IIN and length and passes Luhn; every
// finding carries the masked form only (first 6 and last 4 digits, PCI DSS 3.4.1).
//
// What counts as one number: a run of 13-19 digits with no digit or letter right before it (track
// 1's 'B' aside), or a printed grouping (4-4-4-4, 4-6-5, ...) joined by one space or dash. A printed
// number may have a short number beside it (a time, an amount, an expiry), but not a 4-6 digit one
// or one glued to letters: then the groups are part of a longer number, such as an IBAN.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postured::privacy {

enum class FindingKind { pan, track1, track2 };
enum class CardBrand { visa, mastercard, amex, discover, jcb, diners, unionpay, maestro, mir };

std::string_view to_string(FindingKind kind);
std::string_view to_string(CardBrand brand);

struct PanMatch {
  FindingKind kind = FindingKind::pan;
  CardBrand brand = CardBrand::visa;
  std::size_t offset = 0;  // first byte of the match (the PAN, or the track's start sentinel)
  std::size_t length = 0;  // bytes, separators and track fields included
  std::string masked;      // e.g. "411111******1111"; the only form of the number that ever leaves here
};

// True if the digit string passes the Luhn check.
bool luhn_valid(std::string_view digits);
// The brand whose IIN range and length fit `digits`, if any.
std::optional<CardBrand> card_brand(std::string_view digits);
// First 6 and last 4 digits with '*' between: "4111111111111111" → "411111******1111".
std::string mask_pan(std::string_view digits);

class PanDetector {
 public:
  // `ignored` lists PANs (digits only) that are never reported, e.g. the store's test cards.
  explicit PanDetector(std::vector<std::string> ignored = {});

  // Calls `found` for every PAN or track whose first byte (PanMatch::offset) lies in [from, to), in
  // order. Bytes outside that range are context: with kMaxMatchBytes of it on each side (or the true
  // start and end of the stream), overlapping chunks of a stream give exactly what one pass would.
  void scan(std::string_view text, std::size_t from, std::size_t to,
            const std::function<void(const PanMatch&)>& found) const;
  std::vector<PanMatch> find_all(std::string_view text) const;

  // The longest match the detector can report, and the context it reads around one, in bytes;
  // overlap stream chunks by at least this.
  static constexpr std::size_t kMaxMatchBytes = 160;

 private:
  // The brand of `digits` if they are a card number worth reporting: Luhn, a brand, not a pattern, not ignored.
  std::optional<CardBrand> card(std::string_view digits) const;
  // The PAN or track whose digits start at `start` (a digit with no digit before it, `run` of them), if any.
  std::optional<PanMatch> match_at(std::string_view text, std::size_t start, std::size_t run) const;

  std::vector<std::string> ignored_;
};

}  // namespace postured::privacy
