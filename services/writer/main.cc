// mcsink-writer: takes rows from transform, writes them to MaxCompute upload sessions per pt and
// acknowledges them once committed. With --controller_address it follows the connector there
// (restarts, config changes: mcsink/runtime/service_part.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/runtime/service_part.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50053", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9466", "host:port of /metrics");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-writer (--connector_config=FILE | --controller_address=HOST:PORT --connector=NAME)");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return mcsink::runtime::RunSplitService(
      {.role = mcsink::runtime::ServiceRole::kWriter,
       .grpc_address = absl::GetFlag(FLAGS_grpc_address),
       .metrics_address = absl::GetFlag(FLAGS_metrics_address)});
}
