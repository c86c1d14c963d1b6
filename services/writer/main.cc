// mcsink-writer: takes rows from transform, writes them to MaxCompute upload sessions per pt and
// acknowledges them once committed.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/writer/writer_service.h"

ABSL_FLAG(std::string, connector_config, "", "connector config (JSON, proto ConnectorConfig)");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50053", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9466", "host:port of /metrics");
ABSL_FLAG(int, drain_seconds, 30, "how long SIGTERM may take to commit what is buffered");

namespace {

int Run() {
  auto config = mcsink::config::LoadJsonFile(absl::GetFlag(FLAGS_connector_config));
  if (!config.ok()) {
    MCSINK_LOG(ERROR) << config.status();
    return 2;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address), registry);
  if (!metrics.ok()) {
    MCSINK_LOG(ERROR) << metrics.status();
    return 1;
  }
  auto target = mcsink::connection::Connect(config->target());
  if (!target.ok()) {
    MCSINK_LOG(ERROR) << target.status();
    return 1;
  }
  mcsink::connection::MaxComputeTunnelBackend backend(target->rest.get(), target->tunnel.get());
  mcsink::writer::WriterMetrics writer_metrics(*registry, config->name(), config->target().table());
  auto service = mcsink::writer::WriterService::Create(
      mcsink::runtime::WriterOptionsFromFlags(config->target().table()), &backend,
      {.metrics = &writer_metrics});
  if (!service.ok()) {
    MCSINK_LOG(ERROR) << service.status();
    return 1;
  }
  auto server = mcsink::GrpcServer::Start(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{service->get(), mcsink::v1::Writer::service_full_name()}}});
  if (!server.ok()) {
    MCSINK_LOG(ERROR) << server.status();
    return 1;
  }
  MCSINK_LOG(INFO) << "writer serving on port " << (*server)->port() << ", metrics on port "
                   << (*metrics)->port();
  mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "draining";
  (*server)->SetServing(false);
  if (absl::Status s =
          (*service)->Drain(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
      !s.ok()) {
    MCSINK_LOG(WARNING) << "drain: " << s;
  }
  (*server)->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << "writer stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("mcsink-writer --connector_config=FILE");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
