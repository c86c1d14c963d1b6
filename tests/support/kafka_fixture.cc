#include "mcsink/testing/kafka_fixture.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mcsink::testing {

absl::StatusOr<std::string> KafkaFixtureBootstrap() {
  const char* path = std::getenv("MCSINK_KAFKA_BOOTSTRAP_FILE");
  if (path == nullptr) {
    return absl::FailedPreconditionError(
        "MCSINK_KAFKA_BOOTSTRAP_FILE is not set: run this test through ctest, which starts the "
        "kafka fixture");
  }
  std::ifstream in(path);
  std::string bootstrap;
  std::getline(in, bootstrap);
  bootstrap = std::string(absl::StripAsciiWhitespace(bootstrap));
  if (bootstrap.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no bootstrap address in ", path, ": did the kafka fixture start?"));
  }
  return bootstrap;
}

std::string UniqueTopicName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return absl::StrCat(prefix, "-", getpid(), "-", counter.fetch_add(1));
}

}  // namespace mcsink::testing
