# Every dependency comes from Debian's packages; scripts/bootstrap installs them.
# The Windows cross build (cmake/toolchains/mingw-w64-x86_64.cmake) takes them from the prefix that
# scripts/windows-deps builds from Debian's source packages instead: cmake/WindowsDependencies.cmake.
if(WIN32)
  include(WindowsDependencies)
  return()
endif()
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(PkgConfig REQUIRED)
# tomlplusplus is used header-only (see agent/core/config.cpp for why), so only its headers are needed.
pkg_check_modules(TOMLPLUSPLUS REQUIRED tomlplusplus>=3.3)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
# mbedTLS 3.6 LTS from trixie; >= 3.6.6 is enforced by scripts/bootstrap and by a test at run time.
find_package(MbedTLS 3.6 REQUIRED)
# pkg-config reports SQLite's version (3.46) for SQLCipher, not 4.6; the cipher version is checked at run time.
pkg_check_modules(SQLCIPHER REQUIRED IMPORTED_TARGET sqlcipher>=3.46)
if(POSTURED_TESTS)
  find_package(Catch2 3 REQUIRED)
  include(Catch)
endif()
