# mcsink_warnings(target): project code is built with these; generated code is not.
function(mcsink_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough
                                           # designated initializers may leave defaulted members out
                                           -Wno-missing-field-initializers)
  # GCC 12 at -O2/-O3 reports std::string appends in libstdc++ as overlapping copies (GCC bug
  # 105329): a false -Wrestrict that would fail Release builds under -Werror.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(MCSINK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
