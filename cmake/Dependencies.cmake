# Every external dependency is found here, once, the way Debian 12 ships it
# (see docs/build.md for why each is found the way it is).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)              # FindProtobuf module: Debian ships no protobuf-config.cmake
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
find_package(cpprestsdk CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED) # no version argument: the package has no version file
find_package(simdjson CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)
if(MCSINK_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_package(benchmark CONFIG REQUIRED)
endif()
