#include "mcsink/runtime/flags.h"

#include <algorithm>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/common/status.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/config/secrets.h"
#include "mcsink/runtime/tls.h"

ABSL_FLAG(std::string, connector_config, "", "connector config (JSON, proto ConnectorConfig)");
ABSL_FLAG(std::string, controller_address, "",
          "instead of --connector_config: host:port of the controller whose connector "
          "(--connector) to follow");
ABSL_FLAG(std::string, connector, "",
          "with --controller_address: the connector to run (the all-in-one mcsink: empty runs "
          "every deployed one)");
ABSL_FLAG(std::string, controller_token_file, "",
          "with --controller_address: file holding the controller's API token (default: the "
          "environment variable MCSINK_CONTROLLER_TOKEN)");
ABSL_FLAG(int, drain_seconds, 30, "how long SIGTERM may take to finish in-flight work");
ABSL_FLAG(int, commit_interval_seconds, 30,
          "commit an upload session at the latest this long after its first row");
ABSL_FLAG(int, block_mb, 16, "cut a Tunnel block at this many MiB");
ABSL_FLAG(int, commit_mb, 128, "commit an upload session once it holds this many MiB");
ABSL_FLAG(int, writer_buffer_mb, 256, "most MiB the writer holds uncommitted");
ABSL_FLAG(int, ingest_in_flight_mb, 128,
          "most MiB of records ingest has sent and not seen acknowledged (then it stops polling, "
          "and pauses its partitions if that lasts)");
ABSL_FLAG(int, ingest_fetch_queue_mb, 96,
          "most MiB librdkafka holds prefetched, over all consumers (half queued, half the "
          "fetch response in progress)");
ABSL_FLAG(int, transform_unacked_mb, 128,
          "most MiB of rows transform has sent the writer and not seen acknowledged");

namespace mcsink::runtime {

absl::StatusOr<std::string> ControllerClientToken() {
  v1::SecretRef ref;
  if (const std::string file = absl::GetFlag(FLAGS_controller_token_file); !file.empty()) {
    ref.set_file(file);
  } else if (std::getenv("MCSINK_CONTROLLER_TOKEN") != nullptr) {
    ref.set_env("MCSINK_CONTROLLER_TOKEN");
  } else {
    return std::string();
  }
  return config::ReadSecret(ref);
}

absl::StatusOr<ServiceBase> StartService(const std::string& metrics_address) {
  ServiceBase base;
  MCSINK_ASSIGN_OR_RETURN(base.config, config::LoadJsonFile(absl::GetFlag(FLAGS_connector_config)));
  MCSINK_ASSIGN_OR_RETURN(base.kafka, config::KafkaPropertiesFor(base.config));
  base.registry = std::make_shared<prometheus::Registry>();
  MCSINK_ASSIGN_OR_RETURN(base.metrics, MetricsServer::Start(metrics_address, base.registry));
  return base;
}

void ServeUntilShutdown(const std::string& name, GrpcServer& server,
                        const std::function<void()>& drain) {
  const auto signal = WaitForShutdownSignal();
  MCSINK_LOG(INFO) << name << ": signal " << signal.value_or(0) << ", draining";
  server.SetServing(false);
  drain();
  server.Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << name << " stopped";
}

absl::Time DrainDeadline() {
  return absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
}

writer::TableWriterOptions WriterOptionsFromFlags(const std::string& table) {
  writer::TableWriterOptions options;
  options.table = table;
  options.commit_interval = absl::Seconds(absl::GetFlag(FLAGS_commit_interval_seconds));
  options.block_bytes = int64_t{absl::GetFlag(FLAGS_block_mb)} << 20;
  options.commit_bytes = int64_t{absl::GetFlag(FLAGS_commit_mb)} << 20;
  options.max_buffered_bytes = int64_t{absl::GetFlag(FLAGS_writer_buffer_mb)} << 20;
  return options;
}

void ApplyIngestFlags(uint32_t concurrency, ingest::IngestServiceOptions* options) {
  const int64_t threads = std::max<uint32_t>(concurrency, 1);
  const int64_t in_flight = int64_t{absl::GetFlag(FLAGS_ingest_in_flight_mb)} << 20;
  options->max_unacked_bytes = in_flight;
  options->tuning.max_in_flight_bytes = std::max<int64_t>(in_flight / threads, 1 << 20);
  options->tuning.max_batch_bytes =
      std::min(options->tuning.max_batch_bytes, options->tuning.max_in_flight_bytes / 2);
  options->tuning.fetch_queue_kbytes = std::max<int64_t>(
      (int64_t{absl::GetFlag(FLAGS_ingest_fetch_queue_mb)} << 10) / threads, 1024);
}

int64_t TransformUnackedBytesFromFlags() {
  return int64_t{absl::GetFlag(FLAGS_transform_unacked_mb)} << 20;
}

}  // namespace mcsink::runtime
