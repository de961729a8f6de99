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
  CHECK(masked("4111111111111112").empty());                      // Luhn fails
  CHECK(masked("41111111111111111").empty());                     // 17 digits: no Visa length
  CHECK(masked("x 94111111111111111 y").empty());                 // part of a longer run
  CHECK(masked("41111111111111110").empty());                     // a PAN followed by more digits
  CHECK(masked("0000000000000000 4444444444444444").empty());    // one digit repeated
  CHECK(masked("DE89 3704 0044 0532 0130 00").empty());           // IBAN
  CHECK(masked("+44 20 7946 0958, 2026-11-25 10:00:00").empty());  // phone, timestamp
  CHECK(masked("41 1111 1111 1111 1111").empty());                // not a printed grouping
  CHECK(masked("4111 1111-1111 1111").empty());                   // mixed separators
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
