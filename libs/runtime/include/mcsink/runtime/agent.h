// The data plane's side of the control plane: follows the controller's WatchConnectors stream
// and runs, pauses, restarts and stops ConnectorRunners so each connector matches its record's
// target state, config and restart generation; reports each connector's state (RUNNING,
// PAUSED, FAILED with the reason, STOPPED) as `connector-<name>` in its status topic.
//
// Pausing stops the connector's runner (its consumers leave the group, so offsets can be reset);
// a connector whose start failed is retried every retry_interval. A new restart generation
// restarts the runner, except `restart --only-failed` (restart_only_failed, one generation
// later, same config): then the runner restarts only its stopped partitions, when it can.
//
// The all-in-one process runs one agent for every connector's whole data plane; each split
// service (mcsink-ingest, -transform, -writer) runs one for its own part of one connector
// (service_part.h), so the decision "what should run" lives here once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/runtime/connector_runner.h"
#include "mcsink/v1/controller.grpc.pb.h"

namespace mcsink::runtime {

struct AgentOptions {
  std::shared_ptr<grpc::Channel> controller;  // the ConnectorService
  std::string token;                          // sent as `authorization: Bearer` when set
  std::string connector;                      // only this connector; empty: every one
  // Starts a connector; default: a ConnectorRunner with metrics in `registry`.
  std::function<absl::StatusOr<std::unique_ptr<RunningConnector>>(const v1::ConnectorConfig&)>
      start;
  prometheus::Registry* registry = nullptr;
  // Reports a connector's state; default: `connector-<name>` in its status topic.
  std::function<absl::Status(const v1::ConnectorConfig&, const v1::ConnectorStatus&)> report;
  absl::Duration retry_interval = absl::Seconds(10);
  // Whether PAUSED stops the runner. False for the parts that consume nothing (split transform
  // and writer): they keep serving, so what ingest sent before the pause is still acknowledged.
  bool stop_when_paused = true;
  // How long a runner may drain when it is paused, restarted or stopped.
  absl::Duration drain = absl::Seconds(30);
};

class Agent {
 public:
  static std::unique_ptr<Agent> Start(AgentOptions options);
  // Stop(now) if not stopped.
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Stops following the controller, then drains every connector until `deadline` and reports
  // it STOPPED.
  void Stop(absl::Time deadline);

  // The connectors running now (for tests and logs).
  std::vector<std::string> Running() const;

 private:
  struct Actual {
    std::unique_ptr<RunningConnector> runner;
    std::string config;  // serialized ConnectorConfig the runner runs
    uint64_t generation = 0;
    bool failed = false;
    absl::Time retry_at = absl::InfinitePast();
    v1::ConnectorState reported = v1::CONNECTOR_STATE_UNSPECIFIED;
    uint64_t reported_version = 0;
  };

  explicit Agent(AgentOptions options);
  void Watch();
  void ReconcileLoop();
  void Reconcile(const std::string& name, const std::optional<v1::ConnectorRecord>& desired);
  void Report(const v1::ConnectorConfig& config, uint64_t version, Actual& actual,
              v1::ConnectorState state, const std::string& message);
  // `restart --only-failed` without stopping the runner; false: restart it whole instead.
  bool RestartOnlyFailed(const std::string& name, const v1::ConnectorRecord& desired,
                         Actual& actual);

  const AgentOptions options_;
  std::thread watcher_;
  std::thread reconciler_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // What the controller asks for; nullopt: deleted.
  std::map<std::string, std::optional<v1::ConnectorRecord>> desired_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Actual> actual_;  // the reconcile thread's only, then Stop's
  std::vector<std::string> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::runtime
