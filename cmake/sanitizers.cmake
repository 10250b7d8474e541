# PHOENIX_SANITIZE=ON builds everything with ASan + UBSan; UBSan findings abort so tests fail.
option(PHOENIX_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(PHOENIX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
