// mcsink-ingest: consumes the connector's source topic in group connect-<name> and streams
// batches to transform; commits to Kafka only what came back acknowledged.
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
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/runtime/flags.h"

ABSL_FLAG(std::string, connector_config, "", "connector config (JSON, proto ConnectorConfig)");
ABSL_FLAG(std::string, transform_address, "127.0.0.1:50052", "host:port of transform");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of gRPC health");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of /metrics");
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
  if (!kafka.ok()) {
    MCSINK_LOG(ERROR) << kafka.status();
    return 2;
  }
  // The first service of a connector to start creates (or checks) its internal topics.
  auto admin = mcsink::kafka::Admin::Create(*kafka);
  if (!admin.ok()) {
    MCSINK_LOG(ERROR) << admin.status();
    return 1;
  }
  if (absl::Status s = mcsink::controller::EnsureInternalTopics(**admin, *config); !s.ok()) {
    MCSINK_LOG(ERROR) << s;
    return 1;
  }
  mcsink::ingest::IngestServiceOptions options;
  options.connector = *config;
  options.extra_kafka_properties = *kafka;
  options.transform_channel = grpc::CreateChannel(absl::GetFlag(FLAGS_transform_address),
                                                  grpc::InsecureChannelCredentials());
  mcsink::runtime::ApplyIngestFlags(config->concurrency(), &options);
  auto service = mcsink::ingest::IngestService::Create(options, *registry);
  if (!service.ok()) {
    MCSINK_LOG(ERROR) << service.status();
    return 1;
  }
  auto server = mcsink::GrpcServer::Start({.address = absl::GetFlag(FLAGS_grpc_address)});
  if (!server.ok()) {
    MCSINK_LOG(ERROR) << server.status();
    return 1;
  }
  (*service)->Start();
  MCSINK_LOG(INFO) << "ingest running: health on port " << (*server)->port() << ", metrics on port "
                   << (*metrics)->port();
  mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "draining";
  (*server)->SetServing(false);
  (*service)->Stop(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  (*server)->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << "ingest stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-ingest --connector_config=FILE --transform_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
