#include <catch2/catch_test_macros.hpp>

#include "core/config.hpp"

TEST_CASE("placeholder config", "[config]") { CHECK(postured::parse_duration("15m")->count() == 900); }
