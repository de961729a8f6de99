#include <catch2/catch_test_macros.hpp>

#include "privacy/pan_detector.hpp"

using namespace postured::privacy;

namespace {

std::vector<std::string> masked(std::string_view text, std::vector<std::string> ignored = {}) {
  std::vector<std::string> out;
  for (const auto& m : PanDetector(std::move(ignored)).find_all(text)) out.push_back(m.masked);
  return out;
}

}  // namespace

TEST_CASE("Luhn, brands and masking", "[pan]") {
  CHECK(luhn_valid("4111111111111111"));
  CHECK_FALSE(luhn_valid("4111111111111112"));
  CHECK(card_brand("4111111111111111") == CardBrand::visa);
  CHECK(card_brand("5555555555554444") == CardBrand::mastercard);
  CHECK(card_brand("2223003122003222") == CardBrand::mastercard);
  CHECK(card_brand("378282246310005") == CardBrand::amex);
  CHECK(card_brand("6011111111111117") == CardBrand::discover);
  CHECK(card_brand("3530111333300000") == CardBrand::jcb);
  CHECK(card_brand("36227206271667") == CardBrand::diners);
  CHECK(card_brand("6200000000000005") == CardBrand::unionpay);
  CHECK(card_brand("6759649826438453") == CardBrand::maestro);
  CHECK(card_brand("2200000000000004") == CardBrand::mir);
  CHECK_FALSE(card_brand("1234567812345670"));  // no network starts with 1
  CHECK_FALSE(card_brand("41111111111111"));    // Visa is 13, 16 or 19 digits
  CHECK(mask_pan("4111111111111111") == "411111******1111");
  CHECK(mask_pan("378282246310005") == "378282*****0005");
}

TEST_CASE("PANs are found contiguous and in printed groupings, with their offsets", "[pan]") {
  const std::string text = "paid with 4111 1111 1111 1111 and 378282246310005; amex 3782-822463-10005.";
  const auto found = PanDetector().find_all(text);
  REQUIRE(found.size() == 3);
  CHECK(found[0].offset == 10);
  CHECK(found[0].length == 19);
  CHECK(found[0].brand == CardBrand::visa);
  CHECK(found[1].masked == "378282*****0005");
  CHECK(found[2].offset == text.find("3782-"));
  CHECK(found[2].length == 17);
}

TEST_CASE("decoys are not PANs", "[pan]") {
  CHECK(masked("4111111111111112").empty());                        // Luhn fails
  CHECK(masked("41111111111111111").empty());                       // 17 digits: no Visa length
  CHECK(masked("x 94111111111111111 y").empty());                   // part of a longer run
  CHECK(masked("41111111111111110").empty());                       // a PAN followed by more digits
  CHECK(masked("0000000000000000 4444444444444444").empty());       // one digit repeated
  CHECK(masked("DE89 3704 0044 0532 0130 00").empty());             // IBAN
  CHECK(masked("+44 20 7946 0958, 2026-11-25 10:00:00").empty());   // phone, timestamp
  CHECK(masked("41 1111 1111 1111 1111").empty());                  // not a printed grouping
  CHECK(masked("4111 1111-1111 1111").empty());                     // mixed separators
  CHECK(masked("4111111111111111", {"4111111111111111"}).empty());  // an ignored test card
}

TEST_CASE("a number after a word-separating space is read on its own", "[pan]") {
  CHECK(masked("Order 1234 4111111111111111 ok") == std::vector<std::string>{"411111******1111"});
  CHECK(masked("4111111111111111 1234") == std::vector<std::string>{"411111******1111"});
}

TEST_CASE("track 1 and track 2 data are reported as tracks, masked", "[pan]") {
  const std::string track1 = "%B4111111111111111^DOE/JOHN^2512101000000000000000?";
  const std::string track2 = ";4111111111111111=25121010000000000?";
  const auto found = PanDetector().find_all("a " + track1 + " b " + track2 + " c");
  REQUIRE(found.size() == 2);
  CHECK(found[0].kind == FindingKind::track1);
  CHECK(found[0].offset == 2);
  CHECK(found[0].length == track1.size());
  CHECK(found[0].masked == "411111******1111");
  CHECK(found[1].kind == FindingKind::track2);
  CHECK(found[1].length == track2.size());
  CHECK(PanDetector().find_all("4111111111111111=2512101")[0].kind == FindingKind::track2);  // no sentinel
  CHECK(PanDetector().find_all("4111111111111111=12")[0].kind == FindingKind::pan);          // too short a tail
}

TEST_CASE("matches are reported only when they start inside the window", "[pan]") {
  const std::string text = "4111111111111111 and 5555555555554444";
  std::vector<std::size_t> offsets;
  PanDetector().scan(text, 5, text.size(), [&](const PanMatch& m) { offsets.push_back(m.offset); });
  CHECK(offsets == std::vector<std::size_t>{21});  // the first starts before the window
  offsets.clear();
  PanDetector().scan(text, 0, 21, [&](const PanMatch& m) { offsets.push_back(m.offset); });
  CHECK(offsets == std::vector<std::size_t>{0});
}

// The fixes below came from the generated corpus (pan_corpus_test.cpp) and the fuzz target (pan_fuzz).

TEST_CASE("a printed PAN may have a short number beside it: a time, a quantity, an amount, an expiry", "[pan]") {
  // Log columns: the seconds of a time and a lane number before it, an amount after it.
  const std::string columns = "12:48:40 7 5555 5555 5555 4444 12.50 EUR";
  const auto found = PanDetector().find_all(columns);
  REQUIRE(found.size() == 1);
  CHECK(found[0].offset == columns.find("5555"));
  CHECK(found[0].length == 19);
  CHECK(found[0].masked == "555555******4444");
  CHECK(masked("4111-1111-1111-1111 12/26") == std::vector<std::string>{"411111******1111"});
  CHECK(masked("3782-822463-10005 4052.77") == std::vector<std::string>{"378282*****0005"});
  // A number too long to be a group of a card number is a number of its own (epoch seconds).
  CHECK(masked("1764064800 4111 1111 1111 1111") == std::vector<std::string>{"411111******1111"});
}

TEST_CASE("a neighbour that could be one more group makes the groups one longer number", "[pan]") {
  CHECK(masked("1234 4111 1111 1111 1111").empty());  // 4 digits: a fifth group
  CHECK(masked("4111 1111 1111 1111 2026").empty());
  // A short group with the same separator completes a 4-4-4-4-2 grouping: one 18-digit number
  // (Luhn-invalid here), not a 16-digit PAN and a neighbour...
  CHECK(masked("5555 5555 5555 4444 12").empty());
  CHECK(masked("5555-5555-5555-4444-12").empty());
  // ...unless it is visibly a number of its own.
  CHECK(masked("5555 5555 5555 4444 12.50") == std::vector<std::string>{"555555******4444"});
  // An IBAN's check digits are glued to its country code: "DE89" is not a short number beside a PAN.
  CHECK(masked("IBAN DE89 4111 1111 1111 1111").empty());
  CHECK(masked("No. 89 4111 1111 1111 1111") == std::vector<std::string>{"411111******1111"});
}

TEST_CASE("digits glued to letters are part of a word, except track 1's format code", "[pan]") {
  CHECK(masked("IBAN AT621234567890123457").empty());  // compact IBAN: a valid UnionPay-shaped run after "AT62"
  CHECK(masked("GB29LOYD30123456789019").empty());     // a Lloyds sort code 30...: Diners-shaped
  CHECK(masked("etag=ab4000123456789017cd").empty());  // inside a hex string
  CHECK(masked("id=4000123456789017") == std::vector<std::string>{"400012******9017"});
  CHECK(PanDetector().find_all("B4000123456789017^DOE/JOHN^2512101")[0].kind == FindingKind::track1);
}

TEST_CASE("13 digits after a 6-digit group are the second half of a 6-13 number", "[pan]") {
  CHECK(masked("123456 4222222222222").empty());  // "1234564222222222222" is no card
  CHECK(masked("123456-4222222222222").empty());
  CHECK(masked("12345 4222222222222") == std::vector<std::string>{"422222***2222"});
  CHECK(masked("501800 0000000000007") == std::vector<std::string>{"501800*********0007"});  // Maestro 6-13
}

TEST_CASE("track data ends where the track ends", "[pan]") {
  // Without the end sentinel, track 1 ends after its digits instead of taking the rest of the line.
  const std::string json = R"({"track1":"%B4111111111111111^DOE/JOHN^2512101000","reader":"USB-1"})";
  auto found = PanDetector().find_all(json);
  REQUIRE(found.size() == 1);
  CHECK(found[0].kind == FindingKind::track1);
  CHECK(found[0].offset == json.find('%'));
  CHECK(found[0].length == std::string("%B4111111111111111^DOE/JOHN^2512101000").size());
  // An end sentinel beyond track 1's 79 characters is not this track's.
  const std::string track = "%B4111111111111111^DOE/JOHN^2512101" + std::string(30, '0');  // 65 bytes
  found = PanDetector().find_all(track + " ABCDEFGHIJKLMNOPQRS?");                         // '?' at byte 85
  REQUIRE(found.size() == 1);
  CHECK(found[0].length == track.size());
  // A digit tail longer than track 2's 40 characters: a PAN followed by another number.
  found = PanDetector().find_all("4111111111111111=" + std::string(30, '1'));
  REQUIRE(found.size() == 1);
  CHECK(found[0].kind == FindingKind::pan);
  CHECK(found[0].length == 16);
}

TEST_CASE("a track is reported by the window that holds its start sentinel", "[pan]") {
  const std::string text = "ab %B4111111111111111^DOE/JOHN^2512101?";
  const std::size_t pan = text.find("4111");
  std::vector<std::size_t> offsets;
  const auto collect = [&](const PanMatch& m) { offsets.push_back(m.offset); };
  PanDetector().scan(text, pan, text.size(), collect);
  CHECK(offsets.empty());  // the track starts before this window
  PanDetector().scan(text, 0, pan, collect);
  CHECK(offsets == std::vector<std::size_t>{3});
}

TEST_CASE("overlapping windows report exactly what one pass reports, for every split point", "[pan]") {
  // A PAN inside track 1's discretionary data belongs to the track: a window that starts between
  // the two must not report it on its own.
  std::string text = "x %B4111111111111111^DOE/JOHN^2512101 5555555555554444? y\n";
  text += "12:48:40 7 5555 5555 5555 4444 12.50 EUR; 501800 0000000000007, ;6200000000000005=2701201000?\n";
  text += "IBAN DE89 3704 0044 0532 0130 00 6759-6498-2643-8453-12 1234 4111 1111 1111 1111, 4111 1111 1111 1111\n";
  const PanDetector detector;
  const auto whole = detector.find_all(text);
  REQUIRE(whole.size() == 5);
  constexpr std::size_t kOverlap = PanDetector::kMaxMatchBytes;
  for (std::size_t split = 0; split <= text.size(); ++split) {
    std::vector<std::pair<std::size_t, std::size_t>> windowed;
    const std::string_view all(text);
    detector.scan(all.substr(0, split + kOverlap), 0, split,
                  [&](const PanMatch& m) { windowed.emplace_back(m.offset, m.length); });
    const std::size_t begin = split - std::min(split, kOverlap);
    detector.scan(all.substr(begin), split - begin, text.size() - begin,
                  [&](const PanMatch& m) { windowed.emplace_back(begin + m.offset, m.length); });
    REQUIRE(windowed.size() == whole.size());
    for (std::size_t i = 0; i < whole.size(); ++i) {
      CHECK(windowed[i] == std::make_pair(whole[i].offset, whole[i].length));
    }
  }
}
