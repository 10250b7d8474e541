# PHOENIX_SANITIZE=ON builds everything with ASan + UBSan; UBSan findings abort so tests fail.
option(PHOENIX_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
# GCC leaves float-cast-overflow out of -fsanitize=undefined (clang includes it); a float such as 1e80
# converted to an integer is undefined behaviour, so both compilers check it.
if(PHOENIX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined,float-cast-overflow)
endif()
