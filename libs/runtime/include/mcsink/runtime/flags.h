// Flags the services share with the all-in-one process (memory bounds, commit policy),
// declared once.
#pragma once

#include <memory>
#include <string>
#include "absl/flags/declare.h"

#include <functional>

#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsink/writer/table_writer.h"

ABSL_DECLARE_FLAG(std::string, connector_config);
ABSL_DECLARE_FLAG(std::string, controller_address);
ABSL_DECLARE_FLAG(std::string, connector);
ABSL_DECLARE_FLAG(int, drain_seconds);
ABSL_DECLARE_FLAG(int, commit_interval_seconds);
ABSL_DECLARE_FLAG(int, block_mb);
ABSL_DECLARE_FLAG(int, commit_mb);
ABSL_DECLARE_FLAG(int, writer_buffer_mb);
ABSL_DECLARE_FLAG(int, ingest_in_flight_mb);
ABSL_DECLARE_FLAG(int, ingest_fetch_queue_mb);
ABSL_DECLARE_FLAG(int, transform_unacked_mb);

namespace mcsink::runtime {

// What the all-in-one process with --connector_config starts from: the connector config of
// --connector_config (validated); its Kafka properties with secret references read; and /metrics
// serving `registry`. (The split services and a data plane following a controller get their
// configs from an Agent: agent.h, service_part.h.)
struct ServiceBase {
  v1::ConnectorConfig config;
  kafka::Properties kafka;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<MetricsServer> metrics;
};
absl::StatusOr<ServiceBase> StartService(const std::string& metrics_address);

// The token a client of the controller sends: the content of --controller_token_file, else
// the environment variable MCSINK_CONTROLLER_TOKEN, else empty.
absl::StatusOr<std::string> ControllerClientToken();

// When a drain that starts now must end (--drain_seconds).
absl::Time DrainDeadline();

// Waits for SIGTERM or SIGINT, then marks `server` not serving, runs `drain` (which finishes
// in-flight work by DrainDeadline()) and stops the server. `name` is for the logs.
void ServeUntilShutdown(const std::string& name, GrpcServer& server,
                        const std::function<void()>& drain);

// Logs a failed result; true when it is OK.
template <typename T>
bool Check(const absl::StatusOr<T>& result) {
  if (result.ok()) return true;
  MCSINK_LOG(ERROR) << result.status();
  return false;
}
inline bool Check(const absl::Status& status) {
  if (status.ok()) return true;
  MCSINK_LOG(ERROR) << status;
  return false;
}

// TableWriterOptions for `table` from the flags above.
writer::TableWriterOptions WriterOptionsFromFlags(const std::string& table);

// Ingest's memory bounds from the flags, shared among `concurrency` consumer threads.
void ApplyIngestFlags(uint32_t concurrency, ingest::IngestServiceOptions* options);

// Transform's bound on rows sent to the writer and not yet acknowledged.
int64_t TransformUnackedBytesFromFlags();

}  // namespace mcsink::runtime
