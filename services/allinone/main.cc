// mcsink all-in-one: the whole connector platform in one process.
//   mcsink --kafka_bootstrap_servers=HOST:PORT   the controller (ConnectorService on
//       --grpc_address) and an agent that runs every deployed connector in this process;
//       manage connectors with mcsinkctl. The quickstart's default.
//   mcsink --connector_config=FILE   one connector, no controller: ingest, transform and writer
//       joined by in-process gRPC channels (transform on --grpc_address).
//   mcsink --controller_address=HOST:PORT [--connector=NAME]   the data plane of a controller
//       elsewhere (mcsink-controller): runs its deployed connectors here.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/runtime/agent.h"
#include "mcsink/runtime/connector_runner.h"
#include "mcsink/runtime/controller_host.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/v1/controller.grpc.pb.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of the gRPC API");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of the Prometheus /metrics");

namespace {

using mcsink::runtime::Check;

// Without a connector or a controller the process serves health and /metrics only.
int RunIdle() {
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address),
                                              std::make_shared<prometheus::Registry>());
  if (!Check(metrics)) return 1;
  auto server = mcsink::runtime::StartGrpcServer({.address = absl::GetFlag(FLAGS_grpc_address)});
  if (!Check(server)) return 1;
  MCSINK_LOG(INFO) << "mcsink without a connector (--connector_config) or a controller "
                      "(--kafka_bootstrap_servers): gRPC on port "
                   << (*server)->port() << ", metrics on port " << (*metrics)->port();
  mcsink::WaitForShutdownSignal();
  (*server)->Shutdown(absl::Seconds(1));
  return 0;
}

// One connector from --connector_config, as before the controller existed.
int RunOneConnector() {
  auto base = mcsink::runtime::StartService(absl::GetFlag(FLAGS_metrics_address));
  if (!Check(base)) return 2;
  auto runner = mcsink::runtime::ConnectorRunner::Start(
      {.config = base->config,
       .registry = base->registry.get(),
       .transform_address = absl::GetFlag(FLAGS_grpc_address)});
  if (!Check(runner)) return 1;
  MCSINK_LOG(INFO) << "mcsink " << base->config.name() << ": gRPC on port "
                   << (*runner)->transform_port() << ", metrics on port " << base->metrics->port();
  const auto signal = mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "signal " << signal.value_or(0) << ": draining";
  (*runner)->Stop(mcsink::runtime::DrainDeadline());
  MCSINK_LOG(INFO) << "mcsink stopped";
  return 0;
}

// The controller and an agent running its connectors here, over an in-process channel.
int RunController() {
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address), registry);
  if (!Check(metrics)) return 1;
  auto host = mcsink::runtime::StartControllerHost(*registry);
  if (!Check(host)) return 2;
  auto server = mcsink::runtime::StartGrpcServer(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{host->service.get(), mcsink::v1::ConnectorService::service_full_name()}}});
  if (!Check(server)) return 1;
  auto agent =
      mcsink::runtime::Agent::Start({.controller = (*server)->InProcessChannel(),
                                     .token = host->token,
                                     .registry = registry.get(),
                                     .drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds))});
  MCSINK_LOG(INFO) << "mcsink: controller and connectors in one process; gRPC on port "
                   << (*server)->port() << ", metrics on port " << (*metrics)->port();
  mcsink::runtime::ServeUntilShutdown("mcsink", **server,
                                      [&] { agent->Stop(mcsink::runtime::DrainDeadline()); });
  return 0;
}

// The data plane of a controller elsewhere: runs its connectors (or only --connector) here.
int RunRemoteAgent() {
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address), registry);
  if (!Check(metrics)) return 1;
  auto token = mcsink::runtime::ControllerClientToken();
  if (!Check(token)) return 2;
  auto server = mcsink::runtime::StartGrpcServer({.address = absl::GetFlag(FLAGS_grpc_address)});
  if (!Check(server)) return 1;
  const std::string controller = absl::GetFlag(FLAGS_controller_address);
  auto channel = mcsink::runtime::Dial(controller);
  if (!Check(channel)) return 2;
  auto agent =
      mcsink::runtime::Agent::Start({.controller = *channel,
                                     .token = *token,
                                     .connector = absl::GetFlag(FLAGS_connector),
                                     .registry = registry.get(),
                                     .drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds))});
  MCSINK_LOG(INFO) << "mcsink: running the connectors of the controller at " << controller
                   << "; gRPC health on port " << (*server)->port() << ", metrics on port "
                   << (*metrics)->port();
  mcsink::runtime::ServeUntilShutdown("mcsink", **server,
                                      [&] { agent->Stop(mcsink::runtime::DrainDeadline()); });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink all-in-one: Kafka to MaxCompute sink connector\n"
      "  mcsink --kafka_bootstrap_servers=HOST:PORT   controller and connectors (use mcsinkctl)\n"
      "  mcsink --connector_config=FILE               one connector, no controller\n"
      "  mcsink --controller_address=HOST:PORT [--connector=NAME]\n"
      "      the connectors of a controller elsewhere (mcsink-controller)");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  if (!absl::GetFlag(FLAGS_connector_config).empty()) return RunOneConnector();
  if (!absl::GetFlag(FLAGS_kafka_bootstrap_servers).empty()) return RunController();
  if (!absl::GetFlag(FLAGS_controller_address).empty()) return RunRemoteAgent();
  return RunIdle();
}
