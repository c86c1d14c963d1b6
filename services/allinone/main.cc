// mcsink all-in-one: every mcsink service in one process.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of the gRPC API");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of the Prometheus /metrics");
ABSL_FLAG(int, drain_seconds, 30, "how long SIGTERM may take to finish in-flight work");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("mcsink all-in-one: Kafka to MaxCompute sink connector");
  absl::ParseCommandLine(argc, argv);
  mcsink::BlockShutdownSignals();

  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address),
                                              std::make_shared<prometheus::Registry>());
  if (!metrics.ok()) {
    MCSINK_LOG(ERROR) << metrics.status();
    return 1;
  }
  mcsink::GrpcServerOptions options;
  options.address = absl::GetFlag(FLAGS_grpc_address);
  auto server = mcsink::GrpcServer::Start(options);
  if (!server.ok()) {
    MCSINK_LOG(ERROR) << server.status();
    return 1;
  }
  MCSINK_LOG(INFO) << "mcsink serving gRPC on port " << (*server)->port() << ", metrics on port "
                   << (*metrics)->port();

  const auto signal = mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "signal " << signal.value_or(0) << ": draining";
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  MCSINK_LOG(INFO) << "mcsink stopped";
  return 0;
}
