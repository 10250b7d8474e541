# Warnings are errors for everything the project compiles itself.
# GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string operator+ at -O2/-O3
# (GCC bug 105651), which breaks Release builds of plain string concatenation; it is off for GCC only.
function(phoenix_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor -Woverloaded-virtual -Werror
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
endfunction()
