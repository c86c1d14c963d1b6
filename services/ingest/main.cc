// mcsink-ingest: consumes the connector's source topic in group connect-<name> and streams
// batches to transform; commits to Kafka only what came back acknowledged. With
// --controller_address it follows the connector there (pause, resume, restarts, config changes:
// mcsink/runtime/service_part.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/runtime/service_part.h"

ABSL_FLAG(std::string, transform_address, "127.0.0.1:50052", "host:port of transform");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of gRPC health");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of /metrics");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-ingest (--connector_config=FILE | --controller_address=HOST:PORT --connector=NAME) "
      "--transform_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return mcsink::runtime::RunSplitService(
      {.role = mcsink::runtime::ServiceRole::kIngest,
       .grpc_address = absl::GetFlag(FLAGS_grpc_address),
       .downstream_address = absl::GetFlag(FLAGS_transform_address),
       .metrics_address = absl::GetFlag(FLAGS_metrics_address)});
}
