// One connector's data plane in one process: its internal topics created or checked, its
// MaxCompute target connected, and writer, transform and ingest joined by in-process gRPC
// channels (the same code as the split services, without the network hops). Started by the
// all-in-one executable, for --connector_config or for each connector the controller runs.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/v1/connector.pb.h"
#include "prometheus/registry.h"

namespace mcsink::runtime {

// Something running one connector (a ConnectorRunner, or a test double).
class RunningConnector {
 public:
  virtual ~RunningConnector() = default;
  // Drains until `deadline`; afterwards nothing of the connector runs. Idempotent.
  virtual void Stop(absl::Time deadline) = 0;
  // `restart --only-failed`: consumes the partitions the failure policy "stop" stopped again from
  // their committed offsets, leaving the others undisturbed. Unimplemented (the default): the
  // caller restarts the whole connector instead. A part without partitions of its own (split
  // transform or writer) has nothing to restart and returns OK.
  virtual absl::Status RestartStoppedPartitions() {
    return absl::UnimplementedError("restarting only the stopped partitions");
  }
};

struct ConnectorRunnerOptions {
  v1::ConnectorConfig config;                // normalized (config::Normalize)
  prometheus::Registry* registry = nullptr;  // metrics; not owned, must outlive the runner
  // Where transform serves (with health and reflection) in the one-connector mode: the public
  // port, secured by the TLS flags, with the --health_address port. Empty (when the controller
  // runs many connectors): a free local port in plaintext, reached only in-process.
  std::string transform_address;
};

class ConnectorRunner final : public RunningConnector {
 public:
  // Starts everything; on error nothing is left running and the status says what failed.
  static absl::StatusOr<std::unique_ptr<ConnectorRunner>> Start(ConnectorRunnerOptions options);
  // Stops at once if Stop was not called (in-flight work is then replayed from Kafka).
  ~ConnectorRunner() override;
  ConnectorRunner(const ConnectorRunner&) = delete;
  ConnectorRunner& operator=(const ConnectorRunner&) = delete;

  // Drains: ingest stops consuming and waits for acknowledgements of what it sent (meanwhile
  // the writer commits early), commits, leaves the group; transform and the writer finish by
  // `deadline`. Afterwards nothing of the connector runs. Idempotent.
  void Stop(absl::Time deadline) override;
  // Ingest's IngestService::RestartStoppedPartitions; FailedPrecondition once stopped.
  absl::Status RestartStoppedPartitions() override;

  const v1::ConnectorConfig& config() const;
  int transform_port() const;

 private:
  struct Parts;
  explicit ConnectorRunner(std::unique_ptr<Parts> parts);
  absl::Mutex mu_;
  std::unique_ptr<Parts> parts_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mcsink::runtime
