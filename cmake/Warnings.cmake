# Every target of ours gets the same warnings; CI turns them into errors (POSTURED_WERROR).
# No -Wnull-dereference: it fires on Boost.Asio 1.74 internals inlined into our code.
add_library(postured_warnings INTERFACE)
target_compile_options(postured_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
if(POSTURED_WERROR)
  target_compile_options(postured_warnings INTERFACE -Werror)
endif()
