include(GoogleTest)

# mcsink_add_gtest(<name> SOURCES <files...> [LIBS <targets...>] LABELS <labels...>
#                  [FIXTURES <fixtures...>] [ENVIRONMENT <VAR=value...>] [TIMEOUT <seconds>])
# Builds one GoogleTest binary and registers each of its tests with CTest. Labels are
# unit, integration, interop, e2e, fault or bench; FIXTURES names CTest fixtures the tests need
# (e.g. kafka, see tests/fixtures).
function(mcsink_add_gtest name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;FIXTURES;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} mcsink_test_support GTest::gmock GTest::gtest_main)
  mcsink_warnings(${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set(props LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  if(T_FIXTURES)
    list(APPEND props FIXTURES_REQUIRED "${T_FIXTURES}")
    if("kafka" IN_LIST T_FIXTURES)
      list(APPEND T_ENVIRONMENT "MCSINK_KAFKA_BOOTSTRAP_FILE=${MCSINK_KAFKA_FIXTURE_DIR}/bootstrap")
    endif()
  endif()
  if(T_ENVIRONMENT)
    list(APPEND props ENVIRONMENT "${T_ENVIRONMENT}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
