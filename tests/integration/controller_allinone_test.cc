// The all-in-one `mcsink --kafka_bootstrap_servers=...` (controller and agent in one process) as
// users drive it through the API, with the real broker (fixture `kafka`) and mclocal: a created
// and deployed connector moves records into the table; pause, reset offsets and resume re-read
// from the reset point; Create checks the table's schema against mode and format; neither the
// AccessKey secret nor the API token appears in the log; `restart --only-failed` restarts only
// the stopped partition. And the split forms: mcsink-controller with `mcsink
// --controller_address` as its data plane, across a controller crash; and with mcsink-ingest,
// -transform and -writer following it through pause and resume.
#include <fstream>
#include <sstream>

#include "../e2e/e2e_harness.h"
#include "absl/strings/match.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/v1/controller.grpc.pb.h"

namespace mcsink {
namespace {

constexpr char kToken[] = "api-token-5d1e";

class ControllerAllInOneTest : public PipelineE2ETest {
 protected:
  void SetUp() override {
    PipelineE2ETest::SetUp();
    if (HasFatalFailure()) return;
    const int port = testing::FreePort();
    auto env = Env();
    env["MCSINK_CONTROLLER_TOKEN"] = kToken;
    ASSERT_OK_AND_ASSIGN(
        mcsink_, ChildProcess::Start({MCSINK_ALLINONE, "--kafka_bootstrap_servers=" + bootstrap_,
                                      "--registry_topic=" + testing::UniqueTopicName("registry"),
                                      absl::StrCat("--grpc_address=127.0.0.1:", port),
                                      "--metrics_address=127.0.0.1:0",
                                      "--commit_interval_seconds=1", "--drain_seconds=10"},
                                     dir_ + "/mcsink.log", env));
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(60))))
        << "mcsink did not serve; see " << dir_ << "/mcsink.log";
    stub_ = v1::ConnectorService::NewStub(channel);
    ASSERT_OK_AND_ASSIGN(config_, config::LoadJsonFile(dir_ + "/connector.json"));
  }

  void TearDown() override {
    if (mcsink_.Running()) {
      EXPECT_EQ(mcsink_.Stop(absl::Seconds(30)), 0);
    }
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    return context;
  }

  using NameCall = grpc::Status (v1::ConnectorService::Stub::*)(grpc::ClientContext*,
                                                                const v1::ConnectorName&,
                                                                v1::Connector*);
  grpc::Status Call(NameCall call) {
    v1::ConnectorName request;
    request.set_name(config_.name());
    v1::Connector response;
    return (stub_.get()->*call)(Context().get(), request, &response);
  }

  // Polls the connector's status until it is `state` (the data plane is another process).
  v1::ConnectorStatus WaitForState(v1::ConnectorState state) {
    v1::ConnectorStatus status;
    const absl::Time deadline = absl::Now() + absl::Seconds(90);
    while (absl::Now() < deadline) {
      v1::ConnectorName request;
      request.set_name(config_.name());
      if (stub_->GetConnectorStatus(Context().get(), request, &status).ok() &&
          status.state() == state) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    return status;
  }

  int64_t CommittedTotal() {
    v1::ConnectorName request;
    request.set_name(config_.name());
    v1::ConnectorOffsets offsets;
    if (!stub_->GetOffsets(Context().get(), request, &offsets).ok()) return -1;
    int64_t total = 0;
    for (const v1::PartitionOffset& p : offsets.partitions()) {
      total += std::max<int64_t>(0, p.committed_offset());
    }
    return total;
  }

  std::string Log() {
    std::ifstream in(dir_ + "/mcsink.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  ChildProcess mcsink_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::unique_ptr<v1::ConnectorService::Stub> stub_;
  v1::ConnectorConfig config_;
};

TEST_F(ControllerAllInOneTest, CreatedAndDeployedConnectorMovesRecordsAndRereadsAfterAReset) {
  v1::CreateConnectorRequest create;
  *create.mutable_config() = config_;
  create.set_deploy(true);
  v1::Connector created;
  const grpc::Status s = stub_->CreateConnector(Context().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::ConnectorStatus running = WaitForState(v1::CONNECTOR_STATE_RUNNING);
  ASSERT_EQ(running.state(), v1::CONNECTOR_STATE_RUNNING) << running.DebugString();

  constexpr int64_t kRecords = 200;
  ASSERT_OK(Produce(kRecords));
  EXPECT_EQ(WaitForRows(kRecords, absl::Seconds(120)), kRecords);
  // Committed once the rows are: wait for the group's offsets to reach the end.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CommittedTotal() < kRecords && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_EQ(CommittedTotal(), kRecords);

  // Pause: the consumers leave the group, so the offsets can be reset.
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::PauseConnector).ok());
  const v1::ConnectorStatus paused = WaitForState(v1::CONNECTOR_STATE_PAUSED);
  ASSERT_EQ(paused.state(), v1::CONNECTOR_STATE_PAUSED) << paused.DebugString();
  v1::ResetOffsetsRequest reset;
  reset.set_name(config_.name());
  reset.set_earliest(true);
  v1::ConnectorOffsets offsets;
  const grpc::Status reset_status = stub_->ResetOffsets(Context().get(), reset, &offsets);
  ASSERT_TRUE(reset_status.ok()) << reset_status.error_message();
  EXPECT_EQ(CommittedTotal(), 0);

  // Resume: everything is read again from the reset point.
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::ResumeConnector).ok());
  EXPECT_EQ(WaitForRows(2 * kRecords, absl::Seconds(120)), 2 * kRecords);

  ASSERT_EQ(mcsink_.Stop(absl::Seconds(30)), 0);
  const std::string log = Log();
  EXPECT_FALSE(absl::StrContains(log, Env()["MC_SK"])) << "the AccessKey secret is logged";
  EXPECT_FALSE(absl::StrContains(log, kToken)) << "the API token is logged";
}

TEST_F(ControllerAllInOneTest, CreateChecksTheTableSchemaAgainstModeAndFormatNamingTheColumn) {
  // The guide's table without `key`: DEFAULT mode writes the key there.
  ASSERT_OK(rest_->RunSql({.query = "CREATE TABLE IF NOT EXISTS no_key(topic STRING,"
                                    "partition BIGINT,offset BIGINT,value STRING) "
                                    "PARTITIONED by (pt STRING);"}));
  v1::CreateConnectorRequest create;
  *create.mutable_config() = config_;
  create.mutable_config()->mutable_target()->set_table("no_key");
  v1::Connector created;
  const grpc::Status s = stub_->CreateConnector(Context().get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "target.table: ")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "key")) << s.error_message();

  create.mutable_config()->mutable_target()->set_table("missing_table");
  const grpc::Status missing = stub_->CreateConnector(Context().get(), create, &created);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(missing.error_message(), "missing_table"))
      << missing.error_message();

  // Without the token nothing is answered.
  v1::ListConnectorsResponse list;
  grpc::ClientContext anonymous;
  EXPECT_EQ(stub_->ListConnectors(&anonymous, {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ControllerAllInOneTest, DeleteStopsTheRunningConnector) {
  v1::CreateConnectorRequest create;
  *create.mutable_config() = config_;
  create.set_deploy(true);
  v1::Connector created;
  ASSERT_TRUE(stub_->CreateConnector(Context().get(), create, &created).ok());
  ASSERT_EQ(WaitForState(v1::CONNECTOR_STATE_RUNNING).state(), v1::CONNECTOR_STATE_RUNNING);
  v1::DeleteConnectorRequest request;
  request.set_name(config_.name());
  v1::DeleteConnectorResponse response;
  ASSERT_TRUE(stub_->DeleteConnector(Context().get(), request, &response).ok());
  EXPECT_EQ(Call(&v1::ConnectorService::Stub::GetConnector).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Delete waited for the data plane: the connector had stopped before the call returned.
  EXPECT_TRUE(absl::StrContains(Log(), "connector " + config_.name() + " stopped")) << Log();
}

// `restart --only-failed`: a partition stopped by the failure policy "stop" (a commit MaxCompute
// refused) consumes again, while the connector's runner, and so every other partition's
// consumer, keeps running.
TEST_F(ControllerAllInOneTest, RestartOnlyFailedRestartsTheStoppedPartitionAndNothingElse) {
  WriteConfig("FAILURE_POLICY_STOP");
  ASSERT_OK_AND_ASSIGN(config_, config::LoadJsonFile(dir_ + "/connector.json"));
  v1::CreateConnectorRequest create;
  *create.mutable_config() = config_;
  create.set_deploy(true);
  v1::Connector created;
  const grpc::Status s = stub_->CreateConnector(Context().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(WaitForState(v1::CONNECTOR_STATE_RUNNING).state(), v1::CONNECTOR_STATE_RUNNING);
  ASSERT_OK(Produce(100));
  ASSERT_EQ(WaitForRows(100, absl::Seconds(120)), 100);

  // Given partition 3 stopped: MaxCompute refuses its next commit (not retryable).
  ASSERT_OK_AND_ASSIGN(auto mclocal,
                       maxcompute_client::HttpClient::Create({.base_url = endpoint_}));
  auto set_faults = [&](const std::string& rules) -> absl::Status {
    maxcompute_client::HttpRequest request;
    request.method = rules.empty() ? "DELETE" : "POST";
    request.path = "/admin/faults";
    if (!rules.empty()) request.SetBody(rules);
    MCSINK_ASSIGN_OR_RETURN(const auto response, mclocal->Send(request));
    return response.status == 200 ? absl::OkStatus()
                                  : absl::InternalError(absl::StrCat("mclocal: ", response.body));
  };
  ASSERT_OK(set_faults("commit:fail:400"));
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, 10, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("value-", i); }, 3));
  const v1::ConnectorStatus failed = WaitForState(v1::CONNECTOR_STATE_FAILED);
  ASSERT_EQ(failed.state(), v1::CONNECTOR_STATE_FAILED) << failed.DebugString();
  ASSERT_EQ(failed.partitions_size(), 12) << failed.DebugString();
  ASSERT_EQ(failed.partitions(3).state(), v1::PARTITION_STATE_STOPPED) << failed.DebugString();
  for (const v1::PartitionStatus& p : failed.partitions()) {
    if (p.partition() != 3) {
      EXPECT_EQ(p.state(), v1::PARTITION_STATE_RUNNING) << p.DebugString();
    }
  }

  // When the cause is gone and only the failed partitions are restarted,
  ASSERT_OK(set_faults(""));
  v1::RestartConnectorRequest restart;
  restart.set_name(config_.name());
  restart.set_only_failed_partitions(true);
  v1::Connector restarted;
  const grpc::Status r = stub_->RestartConnector(Context().get(), restart, &restarted);
  ASSERT_TRUE(r.ok()) << r.error_message();
  ASSERT_EQ(restarted.record().restart_generation(), 1u);

  // then partition 3 writes its records and runs again,
  EXPECT_EQ(WaitForRows(110, absl::Seconds(120)), 110);
  const v1::ConnectorStatus running = WaitForState(v1::CONNECTOR_STATE_RUNNING);
  ASSERT_EQ(running.state(), v1::CONNECTOR_STATE_RUNNING) << running.DebugString();
  EXPECT_EQ(running.observed_restart_generation(), 1u);
  ASSERT_EQ(running.partitions_size(), 12);
  EXPECT_EQ(running.partitions(3).state(), v1::PARTITION_STATE_RUNNING) << running.DebugString();
  // and the connector was not restarted: it started once, its runner never stopped.
  const std::string log = Log();
  const std::string started = "connector " + config_.name() + " running:";
  EXPECT_EQ(log.find(started), log.rfind(started)) << "the runner was rebuilt: " << log;
  EXPECT_FALSE(absl::StrContains(log, "connector " + config_.name() + " stopped"));
  EXPECT_TRUE(absl::StrContains(log, "restarted its failed partitions"));
}

// Split: mcsink-controller alone, and `mcsink --controller_address` as its data plane in another
// process, which learns from the watch stream what to run.
class SplitControllerTest : public PipelineE2ETest {
 protected:
  void SetUp() override {
    PipelineE2ETest::SetUp();
    if (HasFatalFailure()) return;
    registry_ = testing::UniqueTopicName("registry");
    port_ = testing::FreePort();
    ASSERT_NO_FATAL_FAILURE(StartController());
    ASSERT_OK_AND_ASSIGN(config_, config::LoadJsonFile(dir_ + "/connector.json"));
    ASSERT_NO_FATAL_FAILURE(StartDataPlane());
  }
  virtual void StartDataPlane() {
    ASSERT_OK_AND_ASSIGN(
        data_plane_, ChildProcess::Start(
                         {MCSINK_ALLINONE, absl::StrCat("--controller_address=127.0.0.1:", port_),
                          "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                          "--commit_interval_seconds=1", "--drain_seconds=10"},
                         dir_ + "/data-plane.log", ControllerEnv()));
  }
  // The controller reads the secret references too: it describes the target table at Create.
  std::map<std::string, std::string> ControllerEnv() const {
    auto env = Env();
    env["MCSINK_CONTROLLER_TOKEN"] = kToken;
    return env;
  }
  void StartController() {
    ASSERT_OK_AND_ASSIGN(
        controller_,
        ChildProcess::Start(
            {MCSINK_CONTROLLER, "--kafka_bootstrap_servers=" + bootstrap_,
             "--registry_topic=" + registry_, absl::StrCat("--grpc_address=127.0.0.1:", port_),
             "--metrics_address=127.0.0.1:0"},
            dir_ + "/controller.log", ControllerEnv()));
    // A fresh connection: gRPC would otherwise share the connection to the controller that
    // was killed, which it may still think ready.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                             grpc::InsecureChannelCredentials(), args);
    ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(60))))
        << "mcsink-controller did not serve; see " << dir_ << "/controller.log";
    stub_ = v1::ConnectorService::NewStub(channel);
  }
  void TearDown() override {
    if (data_plane_.Running()) {
      EXPECT_EQ(data_plane_.Stop(absl::Seconds(30)), 0);
    }
    if (controller_.Running()) {
      EXPECT_EQ(controller_.Stop(absl::Seconds(30)), 0);
    }
  }
  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    return context;
  }
  v1::ConnectorStatus Status() {
    v1::ConnectorName request;
    request.set_name(config_.name());
    v1::ConnectorStatus status;
    const grpc::Status s = stub_->GetConnectorStatus(Context().get(), request, &status);
    if (!s.ok()) status.set_message(s.error_message());
    return status;
  }
  v1::ConnectorStatus WaitForRunning() { return WaitForState(v1::CONNECTOR_STATE_RUNNING); }
  v1::ConnectorStatus WaitForState(v1::ConnectorState state) {
    v1::ConnectorStatus status;
    const absl::Time deadline = absl::Now() + absl::Seconds(90);
    while (absl::Now() < deadline) {
      status = Status();
      if (status.state() == state) break;
      absl::SleepFor(absl::Milliseconds(500));
    }
    return status;
  }
  // Creates and deploys the connector, waits for RUNNING, then for `rows` produced records to be
  // rows in the table.
  void CreateRunningWithRows(int rows, v1::Connector* created) {
    v1::CreateConnectorRequest create;
    *create.mutable_config() = config_;
    create.set_deploy(true);
    const grpc::Status s = stub_->CreateConnector(Context().get(), create, created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(WaitForRunning().state(), v1::CONNECTOR_STATE_RUNNING) << Status().DebugString();
    ASSERT_OK(Produce(rows));
    ASSERT_EQ(WaitForRows(rows, absl::Seconds(120)), rows);
  }
  grpc::Status Call(grpc::Status (v1::ConnectorService::Stub::*call)(grpc::ClientContext*,
                                                                     const v1::ConnectorName&,
                                                                     v1::Connector*)) {
    v1::ConnectorName request;
    request.set_name(config_.name());
    v1::Connector response;
    return (stub_.get()->*call)(Context().get(), request, &response);
  }
  std::string ReadLog(const std::string& name) {
    std::ifstream in(dir_ + "/" + name + ".log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static int Count(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::string registry_;
  int port_ = 0;
  ChildProcess controller_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  ChildProcess data_plane_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::unique_ptr<v1::ConnectorService::Stub> stub_;
  v1::ConnectorConfig config_;
};

TEST_F(SplitControllerTest, TheDataPlaneRunsWhatTheControllerSaysAndOutlivesAControllerRestart) {
  v1::Connector created;
  ASSERT_NO_FATAL_FAILURE(CreateRunningWithRows(100, &created));

  // The controller crashes and comes back: the connector, its state and its offsets are as
  // they were, and the data plane kept running meanwhile.
  v1::ConnectorName name;
  name.set_name(config_.name());
  v1::ConnectorOffsets before;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int64_t committed = 0;
  while (committed < 100 && absl::Now() < deadline) {
    ASSERT_TRUE(stub_->GetOffsets(Context().get(), name, &before).ok());
    committed = 0;
    for (const auto& p : before.partitions())
      committed += std::max<int64_t>(0, p.committed_offset());
    if (committed < 100) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_EQ(committed, 100);
  controller_.Kill();
  ASSERT_OK(Produce(50));
  EXPECT_EQ(WaitForRows(150, absl::Seconds(120)), 150);
  ASSERT_NO_FATAL_FAILURE(StartController());
  v1::Connector after;
  const grpc::Status got = stub_->GetConnector(Context().get(), name, &after);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(after.record().SerializeAsString(), created.record().SerializeAsString());
  EXPECT_EQ(WaitForRunning().state(), v1::CONNECTOR_STATE_RUNNING);
  EXPECT_TRUE(data_plane_.Running());
}

// The split services following the controller: mcsink-ingest, -transform and -writer started
// with --controller_address and --connector, no config file. Pausing the connector stops ingest
// (records stop arriving) and keeps transform and the writer running; resuming consumes again.
class SplitServicesTest : public SplitControllerTest {
 protected:
  void StartDataPlane() override {
    const std::string transform = absl::StrCat("127.0.0.1:", testing::FreePort());
    const std::string writer = absl::StrCat("127.0.0.1:", testing::FreePort());
    auto start = [&](const std::string& binary, const std::string& name,
                     std::vector<std::string> flags) {
      std::vector<std::string> args = {
          binary, absl::StrCat("--controller_address=127.0.0.1:", port_),
          "--connector=" + config_.name(), "--metrics_address=127.0.0.1:0", "--drain_seconds=10"};
      args.insert(args.end(), flags.begin(), flags.end());
      return ChildProcess::Start(args, dir_ + "/" + name + ".log", ControllerEnv());
    };
    ASSERT_OK_AND_ASSIGN(writer_,
                         start(MCSINK_WRITER, "writer",
                               {"--grpc_address=" + writer, "--commit_interval_seconds=1"}));
    ASSERT_OK_AND_ASSIGN(transform_,
                         start(MCSINK_TRANSFORM, "transform",
                               {"--grpc_address=" + transform, "--writer_address=" + writer}));
    ASSERT_OK_AND_ASSIGN(ingest_,
                         start(MCSINK_INGEST, "ingest",
                               {"--grpc_address=127.0.0.1:0", "--transform_address=" + transform}));
  }
  void TearDown() override {
    // Ingest first, so that what it has read drains through transform and the writer.
    for (ChildProcess* p : {&ingest_, &transform_, &writer_}) {
      if (p->Running()) {
        EXPECT_EQ(p->Stop(absl::Seconds(30)), 0);
      }
    }
    SplitControllerTest::TearDown();
  }

  ChildProcess ingest_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  ChildProcess transform_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
  ChildProcess writer_ = *ChildProcess::Start({"/bin/true"}, "/dev/null");
};

TEST_F(SplitServicesTest, IngestStopsConsumingWhilePausedAndConsumesAgainOnResume) {
  v1::Connector created;
  ASSERT_NO_FATAL_FAILURE(CreateRunningWithRows(100, &created));

  // Paused: ingest reports it once its consumers have left the group.
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::PauseConnector).ok());
  const v1::ConnectorStatus paused = WaitForState(v1::CONNECTOR_STATE_PAUSED);
  ASSERT_EQ(paused.state(), v1::CONNECTOR_STATE_PAUSED) << paused.DebugString();
  ASSERT_OK(Produce(50));
  // Nothing consumes: what is produced now stays in Kafka (a while of silence shows it).
  absl::SleepFor(absl::Seconds(5));
  EXPECT_EQ(CountRows().value_or(-1), 100);

  // Resumed: ingest consumes again, from where it left.
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::ResumeConnector).ok());
  EXPECT_EQ(WaitForRows(150, absl::Seconds(120)), 150);
  EXPECT_EQ(WaitForRunning().state(), v1::CONNECTOR_STATE_RUNNING);

  // Ingest ran twice; transform and the writer served throughout (never restarted).
  const std::string running = " of connector " + config_.name() + " running";
  EXPECT_EQ(Count(ReadLog("ingest"), "ingest" + running), 2) << ReadLog("ingest");
  EXPECT_EQ(Count(ReadLog("transform"), "transform" + running), 1) << ReadLog("transform");
  EXPECT_EQ(Count(ReadLog("writer"), "writer" + running), 1) << ReadLog("writer");

  // Deleted: every service stops its part and idles; each still exits cleanly on SIGTERM.
  v1::DeleteConnectorRequest request;
  request.set_name(config_.name());
  v1::DeleteConnectorResponse response;
  ASSERT_TRUE(stub_->DeleteConnector(Context().get(), request, &response).ok());
  for (ChildProcess* p : {&ingest_, &transform_, &writer_}) {
    EXPECT_TRUE(p->Running());
    EXPECT_EQ(p->Stop(absl::Seconds(30)), 0);
  }
  EXPECT_EQ(Count(ReadLog("ingest"), "ingest of connector " + config_.name() + " stopped"), 2);
  EXPECT_EQ(Count(ReadLog("writer"), "writer of connector " + config_.name() + " stopped"), 1);
}

}  // namespace
}  // namespace mcsink
