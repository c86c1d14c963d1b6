// The split services (mcsink-ingest, mcsink-transform, mcsink-writer): each runs its part of one
// connector. With --connector_config the part runs that config until SIGTERM; with
// --controller_address and --connector it follows the connector in the controller through an
// Agent, the same reconciliation the all-in-one process uses (agent.h), so what runs when is
// decided in one place:
//   - ingest stops consuming while the connector is paused (its consumers leave the group) and
//     starts again on resume; it restarts only its stopped partitions on `restart --only-failed`
//     and reports the connector's state in the status topic;
//   - transform and writer keep serving while it is paused (ingest's last batches are still
//     acknowledged) and report nothing (ingest does);
//   - every part restarts with the new config on a config change or a full restart, and stops
//     (draining: the writer commits what it buffers) when the connector is stopped or deleted,
//     then idles until it is deployed (or created) again.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mcsink/runtime/connector_runner.h"
#include "mcsink/v1/connector.pb.h"
#include "prometheus/registry.h"

namespace mcsink::runtime {

enum class ServiceRole { kIngest, kTransform, kWriter };

struct ServicePartOptions {
  ServiceRole role = ServiceRole::kIngest;
  // Transform and writer: where the service listens (with health and reflection; TLS flags).
  // Ingest: where its health service listens, for the whole life of the process.
  std::string grpc_address;
  // Ingest: transform's address; transform: the writer's. Unused by the writer.
  std::string downstream_address;
  std::string metrics_address;
};

// One role's part of one connector.
class ServicePart final : public RunningConnector {
 public:
  // Starts the part for `config` (normalized) with its metrics in `registry` (not owned, must
  // outlive the part). Ingest creates (or checks) the internal topics first. On error nothing is
  // left running.
  static absl::StatusOr<std::unique_ptr<ServicePart>> Start(const ServicePartOptions& options,
                                                            const v1::ConnectorConfig& config,
                                                            prometheus::Registry& registry);
  ~ServicePart() override;
  ServicePart(const ServicePart&) = delete;
  ServicePart& operator=(const ServicePart&) = delete;

  // Ingest drains its consumers (and leaves the group); transform waits for what it sent to be
  // acknowledged; the writer commits what it buffers; all by `deadline`. Idempotent.
  void Stop(absl::Time deadline) override;
  // Ingest: IngestService::RestartStoppedPartitions. Transform and writer: nothing to do, OK.
  absl::Status RestartStoppedPartitions() override;
  // The port the part's own server listens on (transform, writer); 0 for ingest.
  int port() const;

 private:
  struct Parts;
  explicit ServicePart(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// What a split service's main does after parsing flags (--connector_config, or
// --controller_address with --connector, --drain_seconds, the TLS flags): runs `options.role`
// until SIGTERM or SIGINT, then drains. Returns the process's exit code (2: bad flags or config,
// 1: cannot start).
int RunSplitService(ServicePartOptions options);

}  // namespace mcsink::runtime
