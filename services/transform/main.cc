// mcsink-transform: converts RecordBatches from ingest into rows of the target table and streams
// them to the writer; records that fail go to the error topic.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/config/secrets.h"
#include "mcsink/connection/connection.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/transform/transform_service.h"

ABSL_FLAG(std::string, connector_config, "", "connector config (JSON, proto ConnectorConfig)");
ABSL_FLAG(std::string, writer_address, "127.0.0.1:50053", "host:port of the writer");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50052", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9465", "host:port of /metrics");
ABSL_FLAG(int, drain_seconds, 30, "how long SIGTERM may take to finish in-flight batches");

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
  auto kafka = mcsink::config::KafkaPropertiesFor(*config);
  auto target = mcsink::connection::Connect(config->target());
  if (!kafka.ok() || !target.ok()) {
    MCSINK_LOG(ERROR) << (kafka.ok() ? target.status() : kafka.status());
    return 1;
  }
  mcsink::transform::TransformServiceOptions options;
  options.connector = *config;
  options.schema = target->schema;
  options.kafka_properties = *kafka;
  options.writer_channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_writer_address), grpc::InsecureChannelCredentials());
  options.max_unacked_bytes = mcsink::runtime::TransformUnackedBytesFromFlags();
  auto service = mcsink::transform::TransformService::Create(options, *registry);
  if (!service.ok()) {
    MCSINK_LOG(ERROR) << service.status();
    return 1;
  }
  auto server = mcsink::GrpcServer::Start(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{service->get(), mcsink::v1::Transform::service_full_name()}}});
  if (!server.ok()) {
    MCSINK_LOG(ERROR) << server.status();
    return 1;
  }
  MCSINK_LOG(INFO) << "transform serving on port " << (*server)->port() << ", metrics on port "
                   << (*metrics)->port();
  mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "draining";
  (*server)->SetServing(false);
  (*service)->Stop(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  (*server)->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << "transform stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-transform --connector_config=FILE --writer_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
