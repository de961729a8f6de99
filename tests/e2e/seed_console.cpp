// Seeds a posture-console storage with the fixture fleet (tests/console/api_fleet_fixture.hpp) for the
// dashboard's browser test: `e2e_seed_console STORAGE_URL [EXTRA_DEVICES]`, e.g. sqlite:/tmp/x/console.db.
// The reports go through the console's own report validation and Storage::store_reports, as ingest does.
// EXTRA_DEVICES adds that many generated devices (10 per store, every fifth failing) to size the API.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>

#include "api_fleet_fixture.hpp"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: e2e_seed_console STORAGE_URL [EXTRA_DEVICES]\n";
    return 2;
  }
  try {
    using namespace postured::console;
    auto storage = open_storage(argv[1]);
    auto devices = fleet_fixture::fleet();
    const int extra = argc == 3 ? std::stoi(argv[2]) : 0;
    const auto& checks = fleet_fixture::checks();
    for (int i = 0; i < extra; ++i) {
      fleet_fixture::DeviceSpec d;
      d.id = "pos-gen-" + std::to_string(i);
      d.store = "store-" + std::to_string(i / 10);
      d.hostname = "till" + std::to_string(i % 10) + ".store" + std::to_string(i / 10);
      if (i % 5 == 0) d.failing.push_back(checks[static_cast<std::size_t>(i / 5) % checks.size()].id);
      d.caches.push_back({"loyalty", i % 50 != 0, 1000 + i % 700, 0});
      devices.push_back(std::move(d));
    }
    // Batches of a few hundred devices: one transaction each, as the endpoint's storage thread batches.
    const auto now = Clock::now();
    constexpr std::size_t kBatch = 250;
    for (std::size_t start = 0; start < devices.size(); start += kBatch)
      fleet_fixture::seed(*storage,
                          {devices.begin() + static_cast<std::ptrdiff_t>(start),
                           devices.begin() + static_cast<std::ptrdiff_t>(std::min(devices.size(), start + kBatch))},
                          now);
    std::cout << "seeded " << devices.size() << " devices into " << storage->backend() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "e2e_seed_console: " << e.what() << "\n";
    return 3;
  }
}
