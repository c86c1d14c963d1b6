#include "mcsink/runtime/agent.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/config/secrets.h"
#include "mcsink/controller/records.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/v1/controller.grpc.pb.h"

namespace mcsink::runtime {
namespace {

// The default report: the connector's status record in its status topic.
absl::Status WriteStatusRecord(const v1::ConnectorConfig& config,
                               const v1::ConnectorStatus& status) {
  MCSINK_ASSIGN_OR_RETURN(const kafka::Properties props, config::KafkaPropertiesFor(config));
  MCSINK_ASSIGN_OR_RETURN(auto writer, kafka::KeyedWriter::Create(props));
  return writer
      ->Write(config.topics().status_topic(), controller::ConnectorKey(config.name()),
              controller::ToJson(status), absl::Seconds(10))
      .status();
}

}  // namespace

Agent::Agent(AgentOptions options) : options_(std::move(options)) {}

std::unique_ptr<Agent> Agent::Start(AgentOptions options) {
  if (!options.start) {
    prometheus::Registry* registry = options.registry;
    options.start = [registry](const v1::ConnectorConfig& config)
        -> absl::StatusOr<std::unique_ptr<RunningConnector>> {
      MCSINK_ASSIGN_OR_RETURN(auto runner,
                              ConnectorRunner::Start({.config = config, .registry = registry}));
      return std::unique_ptr<RunningConnector>(std::move(runner));
    };
  }
  if (!options.report) options.report = WriteStatusRecord;
  std::unique_ptr<Agent> agent(new Agent(std::move(options)));
  agent->watcher_ = std::thread([a = agent.get()] { a->Watch(); });
  agent->reconciler_ = std::thread([a = agent.get()] { a->ReconcileLoop(); });
  return agent;
}

Agent::~Agent() { Stop(absl::Now()); }

std::vector<std::string> Agent::Running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void Agent::Watch() {
  auto stub = v1::ConnectorService::NewStub(options_.controller);
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    grpc::ClientContext context;
    if (!options_.token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      watch_context_ = &context;
    }
    v1::WatchConnectorsRequest request;
    request.set_name(options_.connector);
    auto reader = stub->WatchConnectors(&context, request);
    v1::ConnectorEvent event;
    bool received = false;
    // The connectors of this watch's snapshot: on SYNCED, every other one known here was
    // deleted while no watch ran (a fresh watch says nothing of those).
    std::set<std::string> snapshot;
    bool synced = false;
    while (reader->Read(&event)) {
      received = true;
      absl::MutexLock lock(&mu_);
      switch (event.type()) {
        case v1::ConnectorEvent::TYPE_UPSERT:
          desired_[event.name()] = event.record();
          if (!synced) snapshot.insert(event.name());
          break;
        case v1::ConnectorEvent::TYPE_DELETE:
          desired_[event.name()] = std::nullopt;
          break;
        case v1::ConnectorEvent::TYPE_SYNCED:
          synced = true;
          for (auto& [name, record] : desired_) {
            if (record.has_value() && !snapshot.contains(name)) {
              MCSINK_LOG(INFO) << "connector " << name << " was deleted while the watch was down";
              record = std::nullopt;
            }
          }
          break;
        default:  // a newer controller's event: nothing this agent acts on
          continue;
      }
      dirty_ = true;
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      watch_context_ = nullptr;
      if (stopping_) return;
    }
    if (received) backoff = absl::Milliseconds(200);
    MCSINK_LOG(WARNING) << "watch of the controller ended (" << FromGrpcStatus(status)
                        << "); watching again in " << absl::FormatDuration(backoff);
    // Connectors keep running meanwhile; a fresh watch starts with the whole state again.
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

void Agent::ReconcileLoop() {
  while (true) {
    std::map<std::string, std::optional<v1::ConnectorRecord>> desired;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || dirty_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), options_.retry_interval);
      if (stopping_) return;
      dirty_ = false;
      desired = desired_;
      // Deletions are acted on once.
      for (auto it = desired_.begin(); it != desired_.end();) {
        it = it->second.has_value() ? std::next(it) : desired_.erase(it);
      }
    }
    for (const auto& [name, record] : desired) Reconcile(name, record);
    std::vector<std::string> running;
    for (const auto& [name, actual] : actual_) {
      if (actual.runner != nullptr) running.push_back(name);
    }
    absl::MutexLock lock(&mu_);
    running_ = std::move(running);
  }
}

void Agent::Report(const v1::ConnectorConfig& config, uint64_t version, Actual& actual,
                   v1::ConnectorState state, const std::string& message) {
  if (actual.reported == state && actual.reported_version == version &&
      state != v1::CONNECTOR_STATE_FAILED) {
    return;
  }
  v1::ConnectorStatus status;
  status.set_name(config.name());
  status.set_state(state);
  status.set_message(message);
  status.set_updated_at_ms(controller::NowMillis());
  status.set_observed_restart_generation(actual.generation);
  if (absl::Status s = options_.report(config, status); !s.ok()) {
    MCSINK_LOG(WARNING) << "connector " << config.name() << ": cannot report "
                        << controller::ConnectorStateName(state) << ": " << s;
    return;  // reported again on the next pass
  }
  actual.reported = state;
  actual.reported_version = version;
}

void Agent::Reconcile(const std::string& name, const std::optional<v1::ConnectorRecord>& desired) {
  auto found = actual_.find(name);
  if (!desired.has_value()) {  // deleted
    if (found == actual_.end()) return;
    if (found->second.runner != nullptr) {
      found->second.runner->Stop(absl::Now() + options_.drain);
      MCSINK_LOG(INFO) << "connector " << name << " deleted: stopped";
    }
    actual_.erase(found);
    return;
  }
  Actual& actual = actual_[name];
  const v1::ConnectorConfig& config = desired->config();
  const uint64_t version = desired->version();
  const std::string config_bytes = config.SerializeAsString();
  const bool paused = desired->target_state() == v1::TARGET_STATE_PAUSED;
  const bool run =
      desired->target_state() == v1::TARGET_STATE_RUNNING || (paused && !options_.stop_when_paused);
  const v1::ConnectorState running_state =
      paused ? v1::CONNECTOR_STATE_PAUSED : v1::CONNECTOR_STATE_RUNNING;

  if (actual.runner != nullptr && run && actual.config == config_bytes &&
      actual.generation != desired->restart_generation() &&
      RestartOnlyFailed(name, *desired, actual)) {
    Report(config, version, actual, running_state, "");
    return;
  }
  // A runner that runs an older config or generation, or should not run, stops first.
  if (actual.runner != nullptr && (!run || actual.config != config_bytes ||
                                   actual.generation != desired->restart_generation())) {
    MCSINK_LOG(INFO) << "connector " << name << ": stopping ("
                     << controller::TargetStateName(desired->target_state()) << ", generation "
                     << desired->restart_generation() << ")";
    actual.runner->Stop(absl::Now() + options_.drain);
    actual.runner.reset();
  }
  if (!run) {
    actual.failed = false;
    Report(config, version, actual,
           paused ? v1::CONNECTOR_STATE_PAUSED : v1::CONNECTOR_STATE_STOPPED, "");
    return;
  }
  if (actual.runner != nullptr) {
    Report(config, version, actual, running_state, "");
    return;
  }
  const bool changed = actual.config != config_bytes ||
                       actual.generation != desired->restart_generation() ||
                       actual.reported_version != version;
  if (actual.failed && !changed && absl::Now() < actual.retry_at) return;
  actual.config = config_bytes;
  actual.generation = desired->restart_generation();
  auto runner = options_.start(config);
  if (!runner.ok()) {
    actual.failed = true;
    actual.retry_at = absl::Now() + options_.retry_interval;
    MCSINK_LOG(ERROR) << "connector " << name << " cannot run: " << runner.status()
                      << "; retrying in " << absl::FormatDuration(options_.retry_interval);
    Report(config, version, actual, v1::CONNECTOR_STATE_FAILED,
           std::string(runner.status().message()));
    return;
  }
  actual.failed = false;
  actual.runner = std::move(*runner);
  Report(config, version, actual, running_state, "");
}

bool Agent::RestartOnlyFailed(const std::string& name, const v1::ConnectorRecord& desired,
                              Actual& actual) {
  // The record keeps only the latest restart's flag: when generations were skipped, one of them
  // may have been a full restart, so only the very next generation is restarted partially.
  if (!desired.restart_only_failed() || desired.restart_generation() != actual.generation + 1) {
    return false;
  }
  if (absl::Status s = actual.runner->RestartStoppedPartitions(); !s.ok()) {
    MCSINK_LOG(WARNING) << "connector " << name << ": cannot restart only the failed partitions ("
                        << s << "); restarting the whole connector";
    return false;
  }
  MCSINK_LOG(INFO) << "connector " << name << ": restarted its failed partitions (generation "
                   << desired.restart_generation() << ")";
  actual.generation = desired.restart_generation();
  return true;
}

void Agent::Stop(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  if (watcher_.joinable()) watcher_.join();
  if (reconciler_.joinable()) reconciler_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [name, actual] : actual_) {
    if (actual.runner == nullptr) continue;
    actual.runner->Stop(deadline);
    actual.runner.reset();
    std::optional<v1::ConnectorRecord>& desired = desired_[name];
    if (desired.has_value()) {
      Report(desired->config(), desired->version(), actual, v1::CONNECTOR_STATE_STOPPED,
             "the process running it shut down");
    }
  }
  running_.clear();
}

}  // namespace mcsink::runtime
