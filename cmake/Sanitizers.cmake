# POSTURED_SANITIZE=address,undefined builds everything, tests included, with those sanitizers.
if(POSTURED_SANITIZE)
  add_compile_options(-fsanitize=${POSTURED_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${POSTURED_SANITIZE})
endif()
