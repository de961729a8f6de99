# Cross build for 64-bit Windows with Debian's MinGW-w64 (package g++-mingw-w64-x86-64-posix).
# The -posix compilers use winpthreads, which std::thread and std::mutex need.
# Libraries come only from the MinGW sysroot and from the prefix that scripts/windows-deps builds
# (POSTURED_MINGW_PREFIX, its one line of output), never from the host's /usr.
# Tests run under Wine: CMAKE_CROSSCOMPILING_EMULATOR makes ctest start each .exe with wine64.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(POSTURED_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${POSTURED_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${POSTURED_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${POSTURED_MINGW_TRIPLE}-windres)

if(NOT POSTURED_MINGW_PREFIX AND DEFINED ENV{POSTURED_MINGW_PREFIX})
  set(POSTURED_MINGW_PREFIX "$ENV{POSTURED_MINGW_PREFIX}")
endif()
set(POSTURED_MINGW_PREFIX "${POSTURED_MINGW_PREFIX}" CACHE PATH
  "Static MinGW dependencies made by scripts/windows-deps (its output)")
# try_compile() projects read this file again; hand them the prefix too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES POSTURED_MINGW_PREFIX)

set(CMAKE_FIND_ROOT_PATH /usr/${POSTURED_MINGW_TRIPLE} ${POSTURED_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config (SQLCipher, liblz4, tomlplusplus) reads only the prefix's .pc files.
if(POSTURED_MINGW_PREFIX)
  set(ENV{PKG_CONFIG_LIBDIR} "${POSTURED_MINGW_PREFIX}/lib/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "")
endif()

# One self-contained .exe: libstdc++, libgcc and winpthreads linked in, so Wine and a terminal
# need no MinGW DLLs next to it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Debian's wine64 package installs the loader in /usr/lib/wine, not on PATH.
find_program(POSTURED_WINE64 NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(POSTURED_WINE64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${POSTURED_WINE64})
endif()
