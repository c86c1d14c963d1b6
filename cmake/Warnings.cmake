# mcsink_warnings(target): project code is built with these; generated code is not.
function(mcsink_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough
                                           # designated initializers may leave defaulted members out
                                           -Wno-missing-field-initializers)
  if(MCSINK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
