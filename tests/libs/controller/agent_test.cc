// The agent runs, pauses, restarts and stops connectors as the controller's watch stream says,
// and reports each state. The controller here is a fake ConnectorService streaming scripted
// events; connectors are test doubles.
#include "mcsink/runtime/agent.h"

#include <deque>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/controller.grpc.pb.h"

namespace mcsink::runtime {
namespace {

class FakeController final : public v1::ConnectorService::Service {
 public:
  void Send(v1::ConnectorEvent event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  grpc::Status WatchConnectors(grpc::ServerContext* context, const v1::WatchConnectorsRequest*,
                               grpc::ServerWriter<v1::ConnectorEvent>* writer) override {
    {
      absl::MutexLock lock(&mu_);
      metadata_token_.clear();
      auto it = context->client_metadata().find("authorization");
      if (it != context->client_metadata().end()) {
        metadata_token_ = std::string(it->second.data(), it->second.size());
      }
    }
    // As the controller: the current state, SYNCED, then the changes.
    std::vector<v1::ConnectorEvent> snapshot;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, upsert] : state_) {
        if (!gone_.contains(name)) snapshot.push_back(upsert);
      }
    }
    v1::ConnectorEvent synced;
    synced.set_type(v1::ConnectorEvent::TYPE_SYNCED);
    snapshot.push_back(synced);
    for (const v1::ConnectorEvent& event : snapshot) {
      if (!writer->Write(event)) return grpc::Status::OK;
    }
    while (!context->IsCancelled()) {
      std::optional<v1::ConnectorEvent> event;
      {
        absl::MutexLock lock(&mu_);
        if (end_watch_) {
          end_watch_ = false;
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller restarting");
        }
        auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !events_.empty(); };
        if (mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100))) {
          event = events_.front();
          events_.pop_front();
          if (event->type() == v1::ConnectorEvent::TYPE_UPSERT) {
            state_[event->name()] = *event;
          } else {
            state_.erase(event->name());
          }
        }
      }
      if (event.has_value() && !writer->Write(*event)) break;
    }
    return grpc::Status::OK;
  }
  // Ends the current watch, as a controller restart does; `name` was deleted meanwhile.
  void EndWatchAndDelete(const std::string& name) {
    absl::MutexLock lock(&mu_);
    end_watch_ = true;
    gone_.insert(name);
  }
  std::string token() {
    absl::MutexLock lock(&mu_);
    return metadata_token_;
  }

 private:
  absl::Mutex mu_;
  std::deque<v1::ConnectorEvent> events_ ABSL_GUARDED_BY(mu_);
  std::string metadata_token_ ABSL_GUARDED_BY(mu_);
  bool end_watch_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> gone_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::ConnectorEvent> state_ ABSL_GUARDED_BY(mu_);  // latest UPSERTs
};

// What the agent did, in order: "start sink", "stop sink", "report sink RUNNING", ...
class Journal {
 public:
  void Add(const std::string& entry) {
    absl::MutexLock lock(&mu_);
    entries_.push_back(entry);
  }
  // Waits until `entry` appears after position `from`; returns its position or -1.
  int WaitFor(const std::string& entry, int from = 0, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    int found = -1;
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (int i = from; i < static_cast<int>(entries_.size()); ++i) {
        if (entries_[static_cast<size_t>(i)] == entry) {
          found = i;
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
    return found;
  }
  std::string last_message() {
    absl::MutexLock lock(&mu_);
    return last_message_;
  }
  void SetMessage(const std::string& m) {
    absl::MutexLock lock(&mu_);
    last_message_ = m;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> entries_ ABSL_GUARDED_BY(mu_);
  std::string last_message_ ABSL_GUARDED_BY(mu_);
};

// `partial`: it can restart only its stopped partitions; otherwise only as a whole (the default).
class FakeConnector final : public RunningConnector {
 public:
  FakeConnector(Journal* journal, std::string name, bool partial)
      : journal_(journal), name_(std::move(name)), partial_(partial) {}
  void Stop(absl::Time) override {
    if (!stopped_) journal_->Add("stop " + name_);
    stopped_ = true;
  }
  absl::Status RestartStoppedPartitions() override {
    if (!partial_) return RunningConnector::RestartStoppedPartitions();
    journal_->Add("restart stopped partitions " + name_);
    return absl::OkStatus();
  }
  ~FakeConnector() override { Stop(absl::Now()); }

 private:
  Journal* journal_;
  std::string name_;
  bool partial_;
  bool stopped_ = false;
};

v1::ConnectorEvent Upsert(const std::string& name, v1::TargetState target, uint64_t version,
                          uint64_t generation = 0, const std::string& table = "t",
                          bool only_failed = false) {
  v1::ConnectorEvent e;
  e.set_type(v1::ConnectorEvent::TYPE_UPSERT);
  e.set_name(name);
  v1::ConnectorConfig config;
  config.set_name(name);
  config.set_source_topic("input");
  config.mutable_target()->set_table(table);
  *e.mutable_record()->mutable_config() = config::WithDefaults(config);
  e.mutable_record()->set_target_state(target);
  e.mutable_record()->set_version(version);
  e.mutable_record()->set_restart_generation(generation);
  e.mutable_record()->set_restart_only_failed(only_failed);
  return e;
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        server_, GrpcServer::Start(
                     {.services = {{&controller_, v1::ConnectorService::service_full_name()}}}));
  }
  // `partial`: the connectors can restart only their stopped partitions. `stop_when_paused`:
  // as AgentOptions.
  void StartAgent(const std::string& token = "", bool partial = false,
                  bool stop_when_paused = true) {
    agent_ = Agent::Start(
        {.controller = server_->InProcessChannel(),
         .token = token,
         .start = [this, partial](const v1::ConnectorConfig& config)
             -> absl::StatusOr<std::unique_ptr<RunningConnector>> {
           if (config.target().table() == "missing") {
             journal_.Add("start failed " + config.name());
             return absl::NotFoundError("table connector_test.missing does not exist");
           }
           journal_.Add("start " + config.name());
           return std::make_unique<FakeConnector>(&journal_, config.name(), partial);
         },
         .report =
             [this](const v1::ConnectorConfig& config, const v1::ConnectorStatus& status) {
               journal_.SetMessage(status.message());
               journal_.Add("report " + config.name() + " " +
                            v1::ConnectorState_Name(status.state()) + " generation " +
                            std::to_string(status.observed_restart_generation()));
               journal_.Add("report " + config.name() + " " +
                            v1::ConnectorState_Name(status.state()));
               return absl::OkStatus();
             },
         .retry_interval = absl::Seconds(1),
         .stop_when_paused = stop_when_paused,
         .drain = absl::Seconds(1)});
  }
  void TearDown() override {
    if (agent_ != nullptr) agent_->Stop(absl::Now() + absl::Seconds(1));
    server_->Shutdown(absl::Seconds(1));
  }

  FakeController controller_;
  std::unique_ptr<GrpcServer> server_;
  Journal journal_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, RunsADeployedConnectorAndReportsItRunning) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  const int started = journal_.WaitFor("start sink");
  ASSERT_GE(started, 0);
  EXPECT_GT(journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING", started), started);
}

TEST_F(AgentTest, DoesNotRunAConnectorThatIsNotDeployed) {
  StartAgent();
  controller_.Send(Upsert("idle", v1::TARGET_STATE_STOPPED, 1));
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  ASSERT_GE(journal_.WaitFor("report idle CONNECTOR_STATE_STOPPED"), 0);
  ASSERT_GE(journal_.WaitFor("start sink"), 0);
  // idle came first and is decided no later than sink (in its own pass, or first by name).
  EXPECT_EQ(journal_.WaitFor("start idle", 0, absl::ZeroDuration()), -1);
}

TEST_F(AgentTest, PauseStopsTheConnectorAndResumeStartsItAgain) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  ASSERT_GE(journal_.WaitFor("start sink"), 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_PAUSED, 2));
  const int stopped = journal_.WaitFor("stop sink");
  ASSERT_GE(stopped, 0);
  const int paused = journal_.WaitFor("report sink CONNECTOR_STATE_PAUSED", stopped);
  ASSERT_GT(paused, stopped);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 3));
  EXPECT_GT(journal_.WaitFor("start sink", paused), paused);
}

TEST_F(AgentTest, ANewRestartGenerationRestartsTheConnector) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, /*generation=*/0));
  const int first = journal_.WaitFor("start sink");
  ASSERT_GE(first, 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 2, /*generation=*/1));
  const int stopped = journal_.WaitFor("stop sink", first);
  ASSERT_GT(stopped, first);
  EXPECT_GT(journal_.WaitFor("start sink", stopped), stopped);
}

TEST_F(AgentTest, ARestartOfOnlyTheFailedPartitionsKeepsTheRunnerAndReportsTheGeneration) {
  StartAgent("", /*partial=*/true);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, /*generation=*/0));
  const int first = journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING generation 0");
  ASSERT_GE(first, 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 2, /*generation=*/1, "t",
                          /*only_failed=*/true));
  const int restarted = journal_.WaitFor("restart stopped partitions sink", first);
  ASSERT_GT(restarted, first);
  // The generation is observed only once the partitions were restarted; the runner was kept.
  EXPECT_GT(journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING generation 1", first), restarted);
  EXPECT_EQ(journal_.WaitFor("stop sink", 0, absl::ZeroDuration()), -1);
  EXPECT_EQ(journal_.WaitFor("start sink", first, absl::ZeroDuration()), -1);
}

TEST_F(AgentTest, ARestartOfOnlyTheFailedPartitionsRestartsWhatCannotDoThatWhole) {
  StartAgent("", /*partial=*/false);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, /*generation=*/0));
  const int first = journal_.WaitFor("start sink");
  ASSERT_GE(first, 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 2, /*generation=*/1, "t",
                          /*only_failed=*/true));
  const int stopped = journal_.WaitFor("stop sink", first);
  ASSERT_GT(stopped, first);
  const int started = journal_.WaitFor("start sink", stopped);
  ASSERT_GT(started, stopped);
  EXPECT_GT(journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING generation 1", started), started);
}

TEST_F(AgentTest, ASkippedGenerationRestartsTheWholeConnectorEvenIfTheLatestIsOnlyFailed) {
  StartAgent("", /*partial=*/true);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, /*generation=*/0));
  const int first = journal_.WaitFor("start sink");
  ASSERT_GE(first, 0);
  // Generation 1 (perhaps a full restart) was never seen here: only 2 arrives.
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 3, /*generation=*/2, "t",
                          /*only_failed=*/true));
  const int stopped = journal_.WaitFor("stop sink", first);
  ASSERT_GT(stopped, first);
  EXPECT_GT(journal_.WaitFor("start sink", stopped), stopped);
  EXPECT_EQ(journal_.WaitFor("restart stopped partitions sink", 0, absl::ZeroDuration()), -1);
}

TEST_F(AgentTest, APartThatRunsWhilePausedKeepsRunningAndReportsPaused) {
  StartAgent("", /*partial=*/false, /*stop_when_paused=*/false);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  const int started = journal_.WaitFor("start sink");
  ASSERT_GE(started, 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_PAUSED, 2));
  const int paused = journal_.WaitFor("report sink CONNECTOR_STATE_PAUSED", started);
  ASSERT_GT(paused, started);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 3));
  EXPECT_GT(journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING", paused), paused);
  EXPECT_EQ(journal_.WaitFor("stop sink", 0, absl::ZeroDuration()), -1);
  // Stopping (target STOPPED) still stops it.
  controller_.Send(Upsert("sink", v1::TARGET_STATE_STOPPED, 4));
  EXPECT_GT(journal_.WaitFor("stop sink", paused), paused);
}

TEST_F(AgentTest, AChangedConfigRestartsTheConnector) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, 0, "t1"));
  const int first = journal_.WaitFor("start sink");
  ASSERT_GE(first, 0);
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 2, 0, "t2"));
  const int stopped = journal_.WaitFor("stop sink", first);
  ASSERT_GT(stopped, first);
  EXPECT_GT(journal_.WaitFor("start sink", stopped), stopped);
}

TEST_F(AgentTest, AConnectorThatCannotStartIsReportedFailedWithTheReasonAndRetried) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1, 0, "missing"));
  const int failed = journal_.WaitFor("report sink CONNECTOR_STATE_FAILED");
  ASSERT_GE(failed, 0);
  EXPECT_EQ(journal_.last_message(), "table connector_test.missing does not exist");
  // retry_interval is 1 s: the start is tried again.
  EXPECT_GT(journal_.WaitFor("start failed sink", failed), failed);
}

TEST_F(AgentTest, ADeletedConnectorIsStopped) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  const int started = journal_.WaitFor("start sink");
  ASSERT_GE(started, 0);
  v1::ConnectorEvent del;
  del.set_type(v1::ConnectorEvent::TYPE_DELETE);
  del.set_name("sink");
  controller_.Send(del);
  EXPECT_GT(journal_.WaitFor("stop sink", started), started);
}

TEST_F(AgentTest, AConnectorDeletedWhileTheWatchWasDownIsStoppedOnReconnect) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  controller_.Send(Upsert("other", v1::TARGET_STATE_RUNNING, 1));
  const int started = journal_.WaitFor("start sink");
  ASSERT_GE(started, 0);
  ASSERT_GE(journal_.WaitFor("report other CONNECTOR_STATE_RUNNING"), 0);
  controller_.EndWatchAndDelete("sink");
  const int stopped = journal_.WaitFor("stop sink", started);
  EXPECT_GT(stopped, started);
  // The new watch's snapshot (ended by SYNCED) still holds `other`: it keeps running.
  EXPECT_EQ(journal_.WaitFor("stop other", 0, absl::ZeroDuration()), -1);
}

TEST_F(AgentTest, StopDrainsEveryConnectorAndReportsItStopped) {
  StartAgent();
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  ASSERT_GE(journal_.WaitFor("report sink CONNECTOR_STATE_RUNNING"), 0);
  agent_->Stop(absl::Now() + absl::Seconds(1));
  const int stopped = journal_.WaitFor("stop sink");
  ASSERT_GE(stopped, 0);
  EXPECT_GT(journal_.WaitFor("report sink CONNECTOR_STATE_STOPPED", stopped), stopped);
  EXPECT_EQ(journal_.last_message(), "the process running it shut down");
}

TEST_F(AgentTest, SendsTheTokenToTheController) {
  StartAgent("s3cret-token");
  controller_.Send(Upsert("sink", v1::TARGET_STATE_RUNNING, 1));
  ASSERT_GE(journal_.WaitFor("start sink"), 0);
  EXPECT_EQ(controller_.token(), "Bearer s3cret-token");
}

}  // namespace
}  // namespace mcsink::runtime
