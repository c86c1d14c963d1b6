// mcsink-transform: converts RecordBatches from ingest into rows of the target table and streams
// them to the writer; records that fail go to the error topic. With --controller_address it
// follows the connector there (restarts, config changes: mcsink/runtime/service_part.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/runtime/service_part.h"

ABSL_FLAG(std::string, writer_address, "127.0.0.1:50053", "host:port of the writer");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50052", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9465", "host:port of /metrics");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-transform (--connector_config=FILE | --controller_address=HOST:PORT "
      "--connector=NAME) --writer_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return mcsink::runtime::RunSplitService(
      {.role = mcsink::runtime::ServiceRole::kTransform,
       .grpc_address = absl::GetFlag(FLAGS_grpc_address),
       .downstream_address = absl::GetFlag(FLAGS_writer_address),
       .metrics_address = absl::GetFlag(FLAGS_metrics_address)});
}
