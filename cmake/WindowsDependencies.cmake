# Dependencies of the Windows cross build, all from POSTURED_MINGW_PREFIX (scripts/windows-deps; the
# toolchain file limits every find_* to it and the MinGW sysroot):
# - static libraries built from Debian's source packages: mbedTLS, SQLCipher with libtomcrypt, Catch2,
#   zlib, lz4 (pkg-config files and CMake package configs in the prefix);
# - header-only libraries: Debian's Boost, nlohmann json, toml++ and CLI11 headers, linked into
#   <prefix>/include folder by folder so that no Linux-only header of /usr/include is visible.
# The targets have the Linux build's names, so the CMakeLists.txt files below need no WIN32 branch.
if(NOT POSTURED_MINGW_PREFIX OR NOT EXISTS "${POSTURED_MINGW_PREFIX}/.complete")
  message(FATAL_ERROR "POSTURED_MINGW_PREFIX ('${POSTURED_MINGW_PREFIX}') is not a finished scripts/windows-deps "
    "prefix. Run: export POSTURED_MINGW_PREFIX=$(scripts/windows-deps) and configure again.")
endif()

# find_* results are cached; with another prefix they would still point into the old one.
if(POSTURED_MINGW_PREFIX_CONFIGURED AND NOT POSTURED_MINGW_PREFIX_CONFIGURED STREQUAL POSTURED_MINGW_PREFIX)
  message(FATAL_ERROR "This build dir was configured with ${POSTURED_MINGW_PREFIX_CONFIGURED}; configure it "
    "afresh for ${POSTURED_MINGW_PREFIX}: cmake --preset windows-cross --fresh")
endif()
set(POSTURED_MINGW_PREFIX_CONFIGURED "${POSTURED_MINGW_PREFIX}" CACHE INTERNAL "the prefix the find_* results come from")

# Windows 10 (IoT Enterprise LTSC 2019 and later) is the oldest target: it decides which Win32 APIs the
# headers declare, and Boost.Asio wants it stated. NOMINMAX keeps <windows.h> from defining min/max.
# WIN32_LEAN_AND_MEAN keeps <windows.h> from including the old <winsock.h>, which clashes with the
# <winsock2.h> that Asio includes; Asio defines it too, so every file sees the same <windows.h> whatever
# its include order. (Include <wincrypt.h>, <dpapi.h>, <shellapi.h> ... explicitly where needed.)
add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00 NOMINMAX WIN32_LEAN_AND_MEAN)

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# Header-only: Boost (Asio, Beast), nlohmann json, CLI11, toml++.
find_path(POSTURED_BOOST_INCLUDE_DIR boost/version.hpp REQUIRED)
file(STRINGS "${POSTURED_BOOST_INCLUDE_DIR}/boost/version.hpp" boost_version_line REGEX "^#define BOOST_LIB_VERSION ")
message(STATUS "Boost headers (${boost_version_line}): ${POSTURED_BOOST_INCLUDE_DIR}")
add_library(Boost::headers INTERFACE IMPORTED)
target_include_directories(Boost::headers INTERFACE ${POSTURED_BOOST_INCLUDE_DIR})
# Asio on Windows uses Winsock and its extensions (AcceptEx, ConnectEx).
target_link_libraries(Boost::headers INTERFACE ws2_32 mswsock)

find_path(POSTURED_NLOHMANN_INCLUDE_DIR nlohmann/json.hpp REQUIRED)
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${POSTURED_NLOHMANN_INCLUDE_DIR})

find_path(POSTURED_CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(CLI11::CLI11 INTERFACE IMPORTED)
target_include_directories(CLI11::CLI11 INTERFACE ${POSTURED_CLI11_INCLUDE_DIR})

pkg_check_modules(TOMLPLUSPLUS REQUIRED tomlplusplus>=3.3)

# Static libraries.
find_package(MbedTLS 3.6 REQUIRED)
message(STATUS "mbedTLS: ${MbedTLS_DIR}")
pkg_check_modules(SQLCIPHER REQUIRED IMPORTED_TARGET sqlcipher>=3.46)
find_package(ZLIB REQUIRED)
if(POSTURED_TESTS)
  find_package(Catch2 3 REQUIRED)
  include(Catch)
endif()
