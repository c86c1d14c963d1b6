// mcsink-controller: the control plane. Serves ConnectorService (proto/mcsink/v1/controller.proto)
// with health and reflection on --grpc_address and /metrics on --metrics_address; keeps the
// connectors in Kafka (--kafka_bootstrap_servers, --registry_topic), so any number of
// controllers may run and restart. SIGTERM stops it cleanly.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/runtime/controller_host.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/v1/controller.grpc.pb.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50050", "host:port of the ConnectorService API");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9467", "host:port of the Prometheus /metrics");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-controller: manages connectors (create, deploy, pause, status, offsets)\n"
      "  mcsink-controller --kafka_bootstrap_servers=HOST:PORT [--token_file=FILE]");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  using mcsink::runtime::Check;
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address), registry);
  if (!Check(metrics)) return 1;
  auto host = mcsink::runtime::StartControllerHost(*registry);
  if (!Check(host)) return 2;
  auto server = mcsink::runtime::StartGrpcServer(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{host->service.get(), mcsink::v1::ConnectorService::service_full_name()}}});
  if (!Check(server)) return 1;
  MCSINK_LOG(INFO) << "mcsink-controller: gRPC on port " << (*server)->port()
                   << ", metrics on port " << (*metrics)->port();
  // Nothing to drain: every change is in Kafka once its call returned.
  mcsink::runtime::ServeUntilShutdown("mcsink-controller", **server, [] {});
  return 0;
}
