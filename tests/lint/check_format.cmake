# cmake -DCLANG_FORMAT=... -DROOT=... -P check_format.cmake: fails listing every file that
# clang-format would change. Fix with: clang-format -i <files>.
file(GLOB_RECURSE files
     ${ROOT}/libs/*.h ${ROOT}/libs/*.cc ${ROOT}/services/*.h ${ROOT}/services/*.cc
     ${ROOT}/tests/*.h ${ROOT}/tests/*.cc)
set(bad "")
foreach(f IN LISTS files)
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${f}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND bad ${f})
  endif()
endforeach()
if(bad)
  list(JOIN bad "\n  " lines)
  message(FATAL_ERROR "not clang-formatted (run clang-format -i on them):\n  ${lines}")
endif()
list(LENGTH files n)
message(STATUS "${n} files formatted")
