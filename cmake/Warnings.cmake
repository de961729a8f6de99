# Every target of ours gets the same warnings; CI turns them into errors (POSTURED_WERROR).
# No -Wnull-dereference: it fires on Boost.Asio 1.74 internals inlined into our code.
# The C key client (agent/cache/key_client.c) gets the same set less the C++-only flags.
add_library(postured_warnings INTERFACE)
target_compile_options(postured_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wcast-align -Wunused -Wformat=2 -Wimplicit-fallthrough
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
if(POSTURED_WERROR)
  target_compile_options(postured_warnings INTERFACE -Werror)
endif()
