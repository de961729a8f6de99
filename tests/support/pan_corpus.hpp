// A deterministic generator of text lines that hold card numbers, track data and decoys, with the
// ground truth of where each card number is. The PAN detector's precision/recall test and the scan
// benchmark use it.
//
// Every PAN is generated: a real network's IIN, random digits, then the Luhn check digit fixed. None
// is a real card. The brand table here is written from the networks' IIN tables independently of
// the detector's, so that the corpus is an oracle and not a copy of the code under test.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "privacy/pan_detector.hpp"

namespace postured::test {

// One card number or track in a line, as the detector should report it.
struct PanTruth {
  privacy::FindingKind kind = privacy::FindingKind::pan;
  privacy::CardBrand brand = privacy::CardBrand::visa;
  std::size_t offset = 0;  // in the line: the PAN's first digit, or the track's first byte
  std::size_t length = 0;  // bytes, separators and track fields included
  std::string digits;      // the PAN alone
};

struct PanCorpusLine {
  std::string text;             // no newline
  std::vector<PanTruth> truth;  // empty on decoy lines
  std::string_view category;    // what the line is meant to test, e.g. "pan.dashes", "decoy.iban"
};

class PanCorpus {
 public:
  explicit PanCorpus(std::uint64_t seed) : state_(seed) {}

  // Half the lines carry card numbers or tracks, half are decoys only.
  PanCorpusLine line() { return below(2) == 0 ? pan_line() : decoy_line(); }

  // One or two PANs, or a track, inside a log, JSON, CSV, key=value or quoted context.
  PanCorpusLine pan_line() {
    const auto pick = below(100);
    if (pick < 12) return track1_line();
    if (pick < 24) return track2_line();
    if (pick < 30) return two_pans_line();
    PanCorpusLine line;
    const auto card = random_card();
    const auto [printed, category] = print(card.digits);
    line.category = category;
    emit_context(line, card, printed);
    return line;
  }

  // Digits everywhere, none of them a card number: timestamps, order numbers, IBANs, phone numbers,
  // UUIDs, barcodes, amounts, masked PANs, near-misses of every kind.
  PanCorpusLine decoy_line() {
    PanCorpusLine line;
    std::string decoy;
    switch (below(18)) {
      case 0: decoy = iso_timestamp(), line.category = "decoy.iso_timestamp"; break;
      case 1: decoy = epoch(), line.category = "decoy.epoch"; break;
      case 2: decoy = order_number(), line.category = "decoy.order_number"; break;
      case 3: decoy = iban(), line.category = "decoy.iban"; break;
      case 4: decoy = phone(), line.category = "decoy.phone"; break;
      case 5: decoy = uuid(), line.category = "decoy.uuid"; break;
      case 6: decoy = wrong_iin(), line.category = "decoy.luhn_valid_wrong_iin"; break;
      case 7: decoy = wrong_length(), line.category = "decoy.luhn_valid_wrong_length"; break;
      case 8: decoy = luhn_invalid(), line.category = "decoy.luhn_invalid"; break;
      case 9: decoy = long_run(), line.category = "decoy.long_run_holding_a_pan"; break;
      case 10: decoy = degenerate(), line.category = "decoy.repeated_or_sequential"; break;
      case 11: decoy = amount(), line.category = "decoy.amount"; break;
      case 12: decoy = masked_pan(), line.category = "decoy.masked_pan"; break;
      case 13: decoy = barcode(), line.category = "decoy.barcode"; break;
      case 14: decoy = hex_digest(), line.category = "decoy.hex_digest"; break;
      case 15: decoy = track_lookalike(), line.category = "decoy.track_lookalike"; break;
      case 16: decoy = grouped_numbers(), line.category = "decoy.grouped_numbers"; break;
      default: decoy = address(), line.category = "decoy.ip_or_version"; break;
    }
    line.text = log_prefix() + decoy_context(decoy);
    return line;
  }

  // A Luhn-valid PAN of `brand` and `length` (the length must be one the brand issues).
  std::string generate_pan(privacy::CardBrand brand, std::size_t length) {
    for (;;) {
      for (const auto& spec : brand_specs()) {
        if (spec.brand != brand || std::find(spec.lengths.begin(), spec.lengths.end(), length) == spec.lengths.end())
          continue;
        auto digits = with_check_digit(iin(spec) + random_digits(length - spec.width - 1));
        if (!is_degenerate(digits)) return digits;
      }
    }
  }

  // What a printed card number looks like: the grouping the networks use for each length.
  static std::vector<std::vector<std::size_t>> groupings(std::size_t length) {
    switch (length) {
      case 13: return {{4, 4, 5}, {4, 4, 4, 1}};
      case 14: return {{4, 6, 4}};
      case 15: return {{4, 6, 5}};
      case 16: return {{4, 4, 4, 4}};
      case 17: return {{4, 4, 4, 4, 1}};
      case 18: return {{4, 4, 4, 4, 2}};
      case 19: return {{4, 4, 4, 4, 3}, {5, 5, 5, 4}, {6, 13}};
      default: return {};
    }
  }

  static bool luhn(std::string_view digits) {
    int sum = 0;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      int d = digits[digits.size() - 1 - i] - '0';
      if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return sum % 10 == 0;
  }

  // All one digit, or counting up or down by one (wrapping 9 → 0).
  static bool is_degenerate(std::string_view digits) {
    bool same = true, up = true, down = true;
    for (std::size_t i = 1; i < digits.size(); ++i) {
      const int step = (digits[i] - digits[i - 1] + 10) % 10;
      same = same && step == 0;
      up = up && step == 1;
      down = down && step == 9;
    }
    return same || up || down;
  }

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  // One IIN range of a network, with the lengths it issues, from the networks' published tables.
  struct BrandSpec {
    privacy::CardBrand brand;
    int low, high;      // IIN prefix range, inclusive
    std::size_t width;  // digits in the prefix
    std::vector<std::size_t> lengths;
  };

  static const std::vector<BrandSpec>& brand_specs() {
    using B = privacy::CardBrand;
    static const std::vector<BrandSpec> kSpecs{
        {B::visa, 4, 4, 1, {13, 16, 19}},
        {B::mastercard, 51, 55, 2, {16}},
        {B::mastercard, 2221, 2720, 4, {16}},
        {B::amex, 34, 34, 2, {15}},
        {B::amex, 37, 37, 2, {15}},
        {B::discover, 6011, 6011, 4, {16, 17, 18, 19}},
        {B::discover, 644, 649, 3, {16, 17, 18, 19}},
        {B::discover, 65, 65, 2, {16, 17, 18, 19}},
        {B::jcb, 3528, 3589, 4, {16, 17, 18, 19}},
        {B::diners, 36, 36, 2, {14, 15, 16, 17, 18, 19}},
        {B::diners, 300, 305, 3, {14, 16, 17, 18, 19}},
        {B::diners, 3095, 3095, 4, {14, 16, 17, 18, 19}},
        {B::diners, 38, 39, 2, {14, 16, 17, 18, 19}},
        {B::unionpay, 62, 62, 2, {16, 17, 18, 19}},
        {B::maestro, 5018, 5018, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 5020, 5020, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 5038, 5038, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 5893, 5893, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 6304, 6304, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 6759, 6759, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::maestro, 6761, 6763, 4, {13, 14, 15, 16, 17, 18, 19}},
        {B::mir, 2200, 2204, 4, {16, 17, 18, 19}},
    };
    return kSpecs;
  }

  // The brand whose table fits `digits`, by the table above.
  static bool has_brand(std::string_view digits) {
    for (const auto& spec : brand_specs()) {
      if (digits.size() < spec.width) continue;
      const int p = std::stoi(std::string(digits.substr(0, spec.width)));
      if (p >= spec.low && p <= spec.high &&
          std::find(spec.lengths.begin(), spec.lengths.end(), digits.size()) != spec.lengths.end()) {
        return true;
      }
    }
    return false;
  }

  struct Card {
    privacy::CardBrand brand;
    std::string digits;
  };

  // Brands come up equally often; Visa's and Mastercard's alternative ranges and lengths all appear.
  Card random_card() {
    static constexpr std::array kBrands{
        privacy::CardBrand::visa,     privacy::CardBrand::mastercard, privacy::CardBrand::amex,
        privacy::CardBrand::discover, privacy::CardBrand::jcb,        privacy::CardBrand::diners,
        privacy::CardBrand::unionpay, privacy::CardBrand::maestro,    privacy::CardBrand::mir};
    const auto brand = kBrands[below(kBrands.size())];
    std::vector<const BrandSpec*> specs;
    for (const auto& spec : brand_specs()) {
      if (spec.brand == brand) specs.push_back(&spec);
    }
    const auto& spec = *specs[below(specs.size())];
    const auto length = spec.lengths[below(spec.lengths.size())];
    for (;;) {
      auto digits = with_check_digit(iin(spec) + random_digits(length - spec.width - 1));
      if (!is_degenerate(digits)) return {brand, digits};
    }
  }

  std::string iin(const BrandSpec& spec) {
    auto text = std::to_string(spec.low + static_cast<int>(below(static_cast<std::size_t>(spec.high - spec.low + 1))));
    return std::string(spec.width - text.size(), '0') + text;
  }

  static std::string with_check_digit(std::string body) {
    for (char c = '0'; c <= '9'; ++c) {
      if (luhn(body + c)) return body + c;
    }
    return body;  // unreachable: one of ten check digits always fits
  }

  std::string random_digits(std::size_t n) {
    std::string out(n, '0');
    for (auto& c : out) c = static_cast<char>('0' + below(10));
    return out;
  }

  std::string number(std::size_t low, std::size_t high) { return std::to_string(low + below(high - low + 1)); }
  std::string padded(std::size_t value, std::size_t width) {
    auto text = std::to_string(value);
    return std::string(width > text.size() ? width - text.size() : 0, '0') + text;
  }
  template <std::size_t N>
  std::string_view one_of(const std::array<std::string_view, N>& options) {
    return options[below(N)];
  }

  static std::string group(std::string_view digits, const std::vector<std::size_t>& groups, char separator) {
    std::string out;
    std::size_t at = 0;
    for (auto g : groups) {
      if (!out.empty()) out += separator;
      out.append(digits.substr(at, g));
      at += g;
    }
    return out;
  }

  // The PAN contiguous, or grouped with spaces or dashes where its length has a printed grouping.
  std::pair<std::string, std::string_view> print(const std::string& digits) {
    const auto options = groupings(digits.size());
    const auto style = below(100);
    if (options.empty() || style < 40) return {digits, "pan.contiguous"};
    const auto& groups = options[below(options.size())];
    if (style < 75) return {group(digits, groups, ' '), "pan.spaces"};
    return {group(digits, groups, '-'), "pan.dashes"};
  }

  // Places `printed` (the PAN as written) in one of the contexts a POS terminal writes.
  void emit_context(PanCorpusLine& line, const Card& card, const std::string& printed) {
    std::string before, after;
    switch (below(14)) {
      case 0: break;  // the number alone on its line
      case 1:
        before = iso_timestamp() + " INFO payment.auth store=" + store() + " lane=" + number(1, 12) +
                 " txn=" + number(100000, 999999) + " pan=";
        after = " amount=" + amount() + " result=approved";
        break;
      case 2: before = "card=", after = " status=" + std::string(one_of(kStatuses)); break;
      case 3:
        before = "{\"ts\":\"" + iso_timestamp() + "\",\"store\":\"" + store() + "\",\"card\":\"";
        after = "\",\"amount\":" + amount() + ",\"currency\":\"EUR\"}";
        break;
      case 4:
        before = date() + "," + clock() + "," + store() + "," + number(1, 12) + ",";
        after = "," + amount() + ",EUR," + padded(below(1000000), 6);
        break;
      case 5: before = "customer typed \"", after = "\" into the loyalty number field"; break;
      case 6: before = "note='", after = "' cashier=" + number(100, 999); break;
      case 7:
        before = syslog_prefix() + "declined ";
        after = " rc=05 stan=" + padded(below(1000000), 6);
        break;
      case 8: before = "<Payment><PAN>", after = "</PAN><Amount>" + amount() + "</Amount></Payment>"; break;
      case 9: before = "Card number: ", after = ""; break;
      case 10: before = date() + "\t" + clock() + "\t", after = "\t" + amount(); break;
      case 11: before = "[" + iso_timestamp() + "] refund to ", after = " (" + amount() + " EUR)"; break;
      case 12: before = clock() + " " + number(1, 12) + " ", after = " " + amount() + " EUR"; break;  // columns
      default: before = "pos" + number(1, 99) + " manual entry pan:", after = ";exp:" + expiry(); break;
    }
    line.text = before + printed + after;
    line.truth.push_back({privacy::FindingKind::pan, card.brand, before.size(), printed.size(), card.digits});
  }

  PanCorpusLine two_pans_line() {
    PanCorpusLine line;
    const auto first = random_card(), second = random_card();
    const auto a = print(first.digits).first, b = print(second.digits).first;
    const std::string before = log_prefix() + "card changed from ";
    const std::string middle(one_of(std::array<std::string_view, 3>{" to ", ", ", " -> "}));
    line.text = before + a + middle + b + " by cashier " + number(100, 999);
    line.truth.push_back({privacy::FindingKind::pan, first.brand, before.size(), a.size(), first.digits});
    line.truth.push_back(
        {privacy::FindingKind::pan, second.brand, before.size() + a.size() + middle.size(), b.size(), second.digits});
    line.category = "pan.two_in_a_line";
    return line;
  }

  // %B PAN ^ NAME ^ YYMM SSS discretionary ? — sometimes without the sentinels, as in dumps that strip them.
  PanCorpusLine track1_line() {
    PanCorpusLine line;
    const auto card = random_card();
    const bool start_sentinel = below(10) != 0, end_sentinel = below(5) != 0;
    std::string track = std::string(start_sentinel ? "%" : "") + "B" + card.digits + "^" + holder_name() + "^" +
                        expiry_yymm() + service_code() + random_digits(below(20));
    if (end_sentinel) track += "?";
    std::string before, after;
    switch (below(4)) {
      case 0: before = log_prefix() + "msr raw=", after = " len=" + number(40, 79); break;
      case 1: before = "{\"track1\":\"", after = "\",\"reader\":\"USB-" + number(1, 4) + "\"}"; break;
      case 2: before = date() + "," + clock() + ",", after = "," + amount(); break;
      default: break;
    }
    line.text = before + track + after;
    line.truth.push_back({privacy::FindingKind::track1, card.brand, before.size(), track.size(), card.digits});
    line.category = "track1";
    return line;
  }

  // ; PAN = YYMM SSS discretionary ? — at most 40 characters, as ISO/IEC 7813 allows.
  PanCorpusLine track2_line() {
    PanCorpusLine line;
    const auto card = random_card();
    const bool start_sentinel = below(10) != 0, end_sentinel = below(5) != 0;
    const std::size_t room = 40 - 3 - card.digits.size() - 1 - 7;  // sentinels, LRC, '=', YYMM SSS
    std::string track = std::string(start_sentinel ? ";" : "") + card.digits + "=" + expiry_yymm() + service_code() +
                        random_digits(below(room + 1));
    if (end_sentinel) track += "?";
    std::string before, after;
    switch (below(4)) {
      case 0: before = log_prefix() + "emv fallback track2=", after = " entry=90"; break;
      case 1: before = "{\"t2\":\"", after = "\"}"; break;
      case 2: before = "TRACK2 ", after = ""; break;
      default: break;
    }
    line.text = before + track + after;
    line.truth.push_back({privacy::FindingKind::track2, card.brand, before.size(), track.size(), card.digits});
    line.category = "track2";
    return line;
  }

  // --- pieces of context ---

  static constexpr std::array<std::string_view, 4> kStatuses{"approved", "declined", "voided", "pending"};

  std::string date() { return "20" + number(20, 29) + "-" + padded(1 + below(12), 2) + "-" + padded(1 + below(28), 2); }
  std::string clock() { return padded(below(24), 2) + ":" + padded(below(60), 2) + ":" + padded(below(60), 2); }
  std::string iso_timestamp() {
    switch (below(4)) {
      case 0: return date() + "T" + clock() + "Z";
      case 1: return date() + "T" + clock() + "." + padded(below(1000), 3) + "Z";
      case 2: return date() + " " + clock();
      default: return date() + "T" + clock() + "+0" + number(1, 9) + ":00";
    }
  }
  std::string store() { return "S" + padded(below(10000), 4); }
  // Most POS amounts are small; one in twenty has four digits before the point.
  std::string amount() {
    const auto size = below(20);
    const auto whole = size < 14 ? number(0, 99) : size < 19 ? number(100, 999) : number(1000, 4999);
    return whole + "." + padded(below(100), 2);
  }
  std::string expiry() { return padded(1 + below(12), 2) + "/" + number(25, 34); }
  std::string expiry_yymm() { return number(25, 34) + padded(1 + below(12), 2); }
  std::string service_code() {
    return std::string(one_of(std::array<std::string_view, 4>{"101", "201", "121", "601"}));
  }
  std::string holder_name() {
    static constexpr std::array<std::string_view, 6> kSurnames{"DOE",          "MUELLER", "SMITH",
                                                               "GARCIA LOPEZ", "O'BRIEN", "NGUYEN"};
    static constexpr std::array<std::string_view, 6> kGiven{"JOHN", "ANNA M", "LI", "JEAN-PAUL", "MR", "K"};
    return std::string(one_of(kSurnames)) + "/" + std::string(one_of(kGiven));
  }
  std::string syslog_prefix() {
    static constexpr std::array<std::string_view, 4> kMonths{"Jan", "Mar", "Jul", "Nov"};
    return std::string(one_of(kMonths)) + " " + number(10, 28) + " " + clock() + " pos-" + padded(below(1000), 3) +
           " payd[" + number(300, 65000) + "]: ";
  }
  std::string log_prefix() {
    switch (below(3)) {
      case 0: return iso_timestamp() + " INFO pos.app lane=" + number(1, 12) + " ";
      case 1: return syslog_prefix();
      default: return "[" + iso_timestamp() + "] [" + store() + "] ";
    }
  }
  std::string decoy_context(const std::string& decoy) {
    switch (below(5)) {
      case 0: return "value=" + decoy;
      case 1: return "{\"field\":\"" + decoy + "\",\"n\":" + number(0, 99) + "}";
      case 2: return "ref " + decoy + " ok";
      case 3: return "\"" + decoy + "\"," + amount();
      default: return decoy;
    }
  }

  // --- decoys ---

  std::string epoch() {
    switch (below(3)) {
      case 0: return number(1700000000, 1999999999);                               // seconds
      case 1: return number(1700000000, 1999999999) + padded(below(1000), 3);      // milliseconds: 13 digits
      default: return number(1700000000, 1999999999) + padded(below(1000000), 6);  // microseconds: 16 digits
    }
  }

  std::string order_number() {
    switch (below(5)) {
      case 0: return "ORD-20" + number(20, 29) + "-" + padded(below(1000000), 6);
      case 1: return "order #" + number(1000000, 9999999999);
      case 2: return store() + "-" + padded(below(100), 2) + "-" + padded(below(100000000), 8);
      case 3:
        return "receipt " + padded(below(10000), 4) + " " + padded(below(10000), 4) + " " + padded(below(10000), 4);
      default: return "PO" + random_digits(12);
    }
  }

  // A real-format IBAN with correct mod-97 check digits, compact or printed in groups of four.
  std::string iban() {
    struct Format {
      std::string_view country;
      std::string_view bban;  // 'n' digit, 'a' upper-case letter
    };
    static constexpr std::array<Format, 7> kFormats{{{"DE", "nnnnnnnnnnnnnnnnnn"},
                                                     {"FR", "nnnnnnnnnnnnnnnnnnnnnnn"},
                                                     {"GB", "aaaannnnnnnnnnnnnn"},
                                                     {"NL", "aaaannnnnnnnnn"},
                                                     {"ES", "nnnnnnnnnnnnnnnnnnnn"},
                                                     {"IT", "annnnnnnnnnnnnnnnnnnnnn"},
                                                     {"AT", "nnnnnnnnnnnnnnnn"}}};
    const auto& format = kFormats[below(kFormats.size())];
    std::string bban;
    for (char c : format.bban)
      bban += c == 'n' ? static_cast<char>('0' + below(10)) : static_cast<char>('A' + below(26));
    // ISO 13616: move the country code and "00" to the end, letters as 10..35, mod 97; the check is 98 - that.
    int mod = 0;
    for (char c : bban + std::string(format.country) + "00") {
      const int value = c >= 'A' ? c - 'A' + 10 : c - '0';
      mod = value >= 10 ? (mod * 100 + value) % 97 : (mod * 10 + value) % 97;
    }
    const auto compact = std::string(format.country) + padded(static_cast<std::size_t>(98 - mod), 2) + bban;
    if (below(2) == 0) return "IBAN " + compact;
    std::string printed;
    for (std::size_t i = 0; i < compact.size(); i += 4) printed += (i ? " " : "") + compact.substr(i, 4);
    return "IBAN " + printed;
  }

  std::string phone() {
    switch (below(6)) {
      case 0: return "+1 " + number(201, 989) + " 555 " + padded(below(10000), 4);
      case 1: return "+44 20 " + padded(below(10000), 4) + " " + padded(below(10000), 4);
      case 2: return "(" + number(201, 989) + ") 555-" + padded(below(10000), 4);
      case 3: return "+49 " + number(30, 89) + " " + random_digits(8);
      case 4:
        return "+33 " + number(1, 9) + " " + padded(below(100), 2) + " " + padded(below(100), 2) + " " +
               padded(below(100), 2) + " " + padded(below(100), 2);
      default: return "tel:+" + number(1, 99) + random_digits(10);
    }
  }

  std::string uuid() {
    static constexpr std::string_view kHex = "0123456789abcdef";
    // Often all digits in a segment: the shape most likely to be read as numbers.
    const bool digits_only = below(3) == 0;
    std::string out;
    for (std::size_t len : {8, 4, 4, 4, 12}) {
      if (!out.empty()) out += '-';
      for (std::size_t i = 0; i < len; ++i) out += kHex[below(digits_only ? 10 : 16)];
    }
    return out;
  }

  // Luhn valid, 13–19 digits, but no network issues that prefix.
  std::string wrong_iin() {
    for (;;) {
      std::string prefix;
      switch (below(7)) {
        case 0: prefix = std::to_string(below(2)); break;           // 0, 1
        case 1: prefix = std::to_string(7 + below(3)); break;       // 7, 8, 9
        case 2: prefix = std::to_string(2205 + below(16)); break;   // between Mir and Mastercard
        case 3: prefix = std::to_string(2721 + below(279)); break;  // above Mastercard's 2-series
        case 4: prefix = std::to_string(31 + below(3)); break;      // 31–33
        case 5: prefix = "6" + std::to_string(below(2) ? 1 : 6); break;
        default: prefix = "69" + std::to_string(below(10)); break;
      }
      const auto length = 13 + below(7);
      auto digits = with_check_digit(prefix + random_digits(length - prefix.size() - 1));
      if (!has_brand(digits) && !is_degenerate(digits)) return maybe_grouped(digits);
    }
  }

  // Luhn valid with a real IIN, but a length that network never issues (a Visa of 17, an Amex of 16).
  std::string wrong_length() {
    for (;;) {
      const auto& spec = brand_specs()[below(brand_specs().size())];
      const auto length = 13 + below(7);
      auto digits = with_check_digit(iin(spec) + random_digits(length - spec.width - 1));
      if (!has_brand(digits) && !is_degenerate(digits)) return maybe_grouped(digits);
    }
  }

  // A real brand and length whose check digit is wrong.
  std::string luhn_invalid_digits() {
    auto digits = random_card().digits;
    digits.back() = static_cast<char>('0' + (digits.back() - '0' + 1 + below(9)) % 10);
    return digits;
  }
  std::string luhn_invalid() { return maybe_grouped(luhn_invalid_digits()); }

  // A valid PAN inside a run of 20 or more digits: an account or reference number, not a card.
  std::string long_run() {
    const auto pan = random_card().digits;
    const auto lead = below(4);
    const auto trail = std::max<std::size_t>(20 - std::min<std::size_t>(20, pan.size() + lead), below(5));
    return random_digits(lead) + pan + random_digits(trail);
  }

  // One digit repeated, or a run counting up or down: placeholders and test patterns.
  std::string degenerate() {
    const auto length = 13 + below(7);
    const auto first = below(10);
    const auto step = std::array<std::size_t, 3>{0, 1, 9}[below(3)];
    std::string digits;
    for (std::size_t i = 0; i < length; ++i) digits += static_cast<char>('0' + (first + i * step) % 10);
    return maybe_grouped(digits);
  }

  std::string masked_pan() {
    const auto pan = random_card().digits;
    switch (below(4)) {
      case 0: return pan.substr(0, 6) + std::string(pan.size() - 10, '*') + pan.substr(pan.size() - 4);
      case 1: return std::string(pan.size() - 4, '*') + pan.substr(pan.size() - 4);
      case 2: return "XXXX XXXX XXXX " + pan.substr(pan.size() - 4);
      default: return pan.substr(0, 6) + "XXXXXX" + pan.substr(pan.size() - 4);
    }
  }

  // EAN-13 and GTIN-14 barcodes with their own (mod 10, weights 3/1) check digit: every POS logs them.
  std::string barcode() {
    const auto length = below(2) == 0 ? 13 : 14;
    auto body = random_digits(length - 1);
    int sum = 0;
    for (std::size_t i = 0; i < body.size(); ++i) sum += (body[body.size() - 1 - i] - '0') * (i % 2 == 0 ? 3 : 1);
    body += static_cast<char>('0' + (10 - sum % 10) % 10);
    return (length == 13 ? "ean=" : "gtin=") + body;
  }

  std::string hex_digest() {
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string out = below(2) ? "sha256:" : "etag=";
    for (int i = 0; i < 64; ++i) out += kHex[below(16)];
    return out;
  }

  // Shaped like track data, but the number in it is no card: no network's IIN, or a failed Luhn check.
  std::string track_lookalike() {
    std::string digits;
    do {
      digits = below(2) == 0 ? luhn_invalid_digits() : "1" + random_digits(15);
    } while (has_brand(digits) && luhn(digits));
    if (below(2) == 0) return ";" + digits + "=" + expiry_yymm() + service_code() + "?";
    return "%B" + digits + "^" + holder_name() + "^" + expiry_yymm() + service_code() + "?";
  }

  // Short numbers in a row, separated by single spaces or dashes, that add up to 13–19 digits.
  std::string grouped_numbers() {
    switch (below(4)) {
      case 0: return "items " + number(1, 9) + " " + number(1, 9) + " " + number(10, 99) + " " + number(100, 999);
      case 1:
        return "route " + padded(below(100), 2) + "-" + padded(below(10000), 4) + "-" + padded(below(10000), 4) + "-" +
               padded(below(10000), 4);
      case 2:
        return "ref " + padded(below(1000), 3) + " " + padded(below(1000), 3) + " " + padded(below(1000), 3) + " " +
               padded(below(1000), 3) + " " + padded(below(1000), 3);
      default: return "batch " + random_digits(7) + " " + random_digits(8);
    }
  }

  std::string address() {
    if (below(2) == 0) return number(1, 254) + "." + number(0, 255) + "." + number(0, 255) + "." + number(1, 254);
    return "v" + number(1, 20) + "." + number(0, 99) + "." + number(0, 999) + " build " + random_digits(8);
  }

  // Decoys of the number kinds that a printed card number could be confused with, sometimes grouped.
  std::string maybe_grouped(const std::string& digits) {
    const auto options = groupings(digits.size());
    if (options.empty() || below(2) == 0) return digits;
    return group(digits, options[below(options.size())], below(2) ? ' ' : '-');
  }

  std::uint64_t next() {  // splitmix64: small, fast, and the same sequence on every platform
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_;
};

}  // namespace postured::test
