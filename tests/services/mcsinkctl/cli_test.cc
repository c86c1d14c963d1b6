// mcsinkctl's commands against an in-process ConnectorService that answers as scripted: what
// each command sends, what it prints (table and JSON), and the exit code it returns.
#include "mcsinkctl/cli.h"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/testing/process.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsinkctl/output.h"

namespace mcsink::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeConnectorService final : public v1::ConnectorService::Service {
 public:
  std::mutex mu;
  std::optional<std::string> required_token;
  std::vector<std::string> authorizations;
  std::vector<v1::CreateConnectorRequest> creates;
  std::vector<v1::ResetOffsetsRequest> resets;
  std::vector<v1::RestartConnectorRequest> restarts;
  grpc::Status next_error = grpc::Status::OK;
  v1::Connector connector;
  // GetConnectorStatus answers these in turn, repeating the last.
  std::deque<v1::ConnectorStatus> statuses;
  int status_calls = 0;
  v1::ValidateConnectorResponse validation;
  v1::ConnectorOffsets offsets;
  std::vector<v1::ConnectorEvent> events;

  grpc::Status CreateConnector(grpc::ServerContext* ctx, const v1::CreateConnectorRequest* req,
                               v1::Connector* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    creates.push_back(*req);
    *resp = connector;
    *resp->mutable_record()->mutable_config() = req->config();
    return grpc::Status::OK;
  }
  grpc::Status ValidateConnector(grpc::ServerContext* ctx, const v1::ValidateConnectorRequest*,
                                 v1::ValidateConnectorResponse* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    *resp = validation;
    return grpc::Status::OK;
  }
  grpc::Status GetConnector(grpc::ServerContext* ctx, const v1::ConnectorName*,
                            v1::Connector* resp) override {
    return Answer(ctx, resp);
  }
  grpc::Status ListConnectors(grpc::ServerContext* ctx, const v1::ListConnectorsRequest*,
                              v1::ListConnectorsResponse* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    *resp->add_connectors() = connector;
    v1::Connector* second = resp->add_connectors();
    second->mutable_record()->mutable_config()->set_name("a-much-longer-connector-name");
    second->mutable_record()->set_target_state(v1::TARGET_STATE_STOPPED);
    second->mutable_status()->set_state(v1::CONNECTOR_STATE_CREATED);
    return grpc::Status::OK;
  }
  grpc::Status DeployConnector(grpc::ServerContext* ctx, const v1::ConnectorName*,
                               v1::Connector* resp) override {
    return Answer(ctx, resp);
  }
  grpc::Status PauseConnector(grpc::ServerContext* ctx, const v1::ConnectorName*,
                              v1::Connector* resp) override {
    return Answer(ctx, resp);
  }
  grpc::Status ResumeConnector(grpc::ServerContext* ctx, const v1::ConnectorName*,
                               v1::Connector* resp) override {
    return Answer(ctx, resp);
  }
  grpc::Status RestartConnector(grpc::ServerContext* ctx, const v1::RestartConnectorRequest* req,
                                v1::Connector* resp) override {
    {
      std::lock_guard lock(mu);
      restarts.push_back(*req);
    }
    return Answer(ctx, resp);
  }
  grpc::Status DeleteConnector(grpc::ServerContext* ctx, const v1::DeleteConnectorRequest*,
                               v1::DeleteConnectorResponse*) override {
    std::lock_guard lock(mu);
    return Check(ctx);
  }
  grpc::Status GetConnectorStatus(grpc::ServerContext* ctx, const v1::ConnectorName*,
                                  v1::ConnectorStatus* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    ++status_calls;
    if (statuses.empty()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no status");
    *resp = statuses.front();
    if (statuses.size() > 1) statuses.pop_front();
    return grpc::Status::OK;
  }
  grpc::Status GetOffsets(grpc::ServerContext* ctx, const v1::ConnectorName*,
                          v1::ConnectorOffsets* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    *resp = offsets;
    return grpc::Status::OK;
  }
  grpc::Status ResetOffsets(grpc::ServerContext* ctx, const v1::ResetOffsetsRequest* req,
                            v1::ConnectorOffsets* resp) override {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    resets.push_back(*req);
    *resp = offsets;
    return grpc::Status::OK;
  }
  grpc::Status WatchConnectors(grpc::ServerContext* ctx, const v1::WatchConnectorsRequest*,
                               grpc::ServerWriter<v1::ConnectorEvent>* writer) override {
    std::vector<v1::ConnectorEvent> to_send;
    {
      std::lock_guard lock(mu);
      if (auto st = Check(ctx); !st.ok()) return st;
      to_send = events;
    }
    for (const auto& e : to_send) writer->Write(e);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Check(grpc::ServerContext* ctx) {
    auto it = ctx->client_metadata().find("authorization");
    const std::string auth =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    authorizations.push_back(auth);
    if (required_token && auth != "Bearer " + *required_token) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "a valid token is required");
    }
    if (!next_error.ok()) return std::exchange(next_error, grpc::Status::OK);
    return grpc::Status::OK;
  }
  grpc::Status Answer(grpc::ServerContext* ctx, v1::Connector* resp) {
    std::lock_guard lock(mu);
    if (auto st = Check(ctx); !st.ok()) return st;
    *resp = connector;
    return grpc::Status::OK;
  }
};

v1::ConnectorStatus StatusOf(v1::ConnectorState state, int running, int total,
                             int64_t updated_at_ms = 2000, std::string message = "") {
  v1::ConnectorStatus s;
  s.set_name("c1");
  s.set_state(state);
  s.set_message(message);
  s.set_updated_at_ms(updated_at_ms);
  for (int i = 0; i < total; ++i) {
    v1::PartitionStatus* p = s.add_partitions();
    p->set_topic("in");
    p->set_partition(i);
    p->set_state(i < running ? v1::PARTITION_STATE_RUNNING : v1::PARTITION_STATE_UNASSIGNED);
    p->set_committed_offset(i < running ? 10 : -1);
    p->set_log_end_offset(15);
    p->set_lag(5);
  }
  return s;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_.connector.mutable_record()->mutable_config()->set_name("c1");
    service_.connector.mutable_record()->mutable_config()->set_source_topic("in");
    service_.connector.mutable_record()->mutable_config()->mutable_target()->set_project("p");
    service_.connector.mutable_record()->mutable_config()->mutable_target()->set_table("t");
    service_.connector.mutable_record()
        ->mutable_config()
        ->mutable_target()
        ->mutable_access_key_secret()
        ->set_env("SECRET_VAR");
    service_.connector.mutable_record()->set_target_state(v1::TARGET_STATE_RUNNING);
    service_.connector.mutable_record()->set_updated_at_ms(1000);
    service_.connector.mutable_record()->set_version(3);
    *service_.connector.mutable_status() = StatusOf(v1::CONNECTOR_STATE_RUNNING, 2, 2);
    ASSERT_OK_AND_ASSIGN(
        server_, GrpcServer::Start({.services = {
                                        {&service_, v1::ConnectorService::service_full_name()},
                                    }}));
  }

  // Runs mcsinkctl with `args` against the fake; the exit code, stdout in out_, stderr in err_.
  int Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    out_.str("");
    err_.str("");
    args.push_back(absl::StrCat("--controller=127.0.0.1:", server_->port()));
    auto lookup = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    auto inv = ParseArgs(args, lookup);
    if (!inv.ok()) {
      err_ << inv.status().message();
      return ExitCodeFor(inv.status());
    }
    inv->global.poll_interval = absl::Milliseconds(1);
    Cli cli(v1::ConnectorService::NewStub(server_->InProcessChannel()), lookup, out_, err_);
    return cli.Run(*inv);
  }

  std::string TempFile(const std::string& name, const std::string& content) {
    const auto path =
        std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "-cli-" + name);
    std::ofstream(path) << content;
    files_.push_back(path);
    return path.string();
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  FakeConnectorService service_;
  std::unique_ptr<GrpcServer> server_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::vector<std::filesystem::path> files_;
};

TEST_F(CliTest, CreateSendsTheFileWithFlagOverridesAndDeploy) {
  // given a YAML config and a flag overriding its topic
  const std::string path = TempFile("c1.yaml", "name: c1\nsource_topic: old\nconcurrency: 12\n");
  // when
  const int code = Run({"create", "-f", path, "--topic", "new", "--deploy"});
  // then
  EXPECT_EQ(code, kExitOk) << err_.str();
  ASSERT_EQ(service_.creates.size(), 1u);
  EXPECT_EQ(service_.creates[0].config().source_topic(), "new");
  EXPECT_EQ(service_.creates[0].config().concurrency(), 12u);
  EXPECT_TRUE(service_.creates[0].deploy());
  EXPECT_EQ(out_.str(), "connector c1 created and deployed\n");
}

TEST_F(CliTest, CreateRefusedByTheControllerPrintsEveryBadFieldAndExitsTwo) {
  service_.next_error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "invalid connector config: concurrency: must be 6 or 12; "
                                     "target.project: is required");
  const int code = Run({"create", "--name", "c1"});
  EXPECT_EQ(code, kExitInvalid);
  EXPECT_THAT(
      err_.str(),
      HasSubstr(
          "create connector c1: invalid connector config:\n  concurrency: must be 6 or 12\n"));
  EXPECT_THAT(err_.str(), HasSubstr("\n  target.project: is required\n"));
}

TEST_F(CliTest, CreateOfAnExistingNameExitsSeven) {
  service_.next_error = grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "c1 exists");
  EXPECT_EQ(Run({"create", "--name", "c1"}), kExitConflict);
  EXPECT_THAT(err_.str(), HasSubstr("create connector c1: c1 exists"));
}

TEST_F(CliTest, AYamlErrorIsReportedWithLineAndColumnBeforeAnyCall) {
  const std::string path = TempFile("bad.yaml", "name: c1\ntopics:\n  - a\n");
  EXPECT_EQ(Run({"create", "-f", path}), kExitInvalid);
  EXPECT_THAT(err_.str(), HasSubstr(path + ":3:3: sequences"));
  EXPECT_TRUE(service_.creates.empty());
}

TEST_F(CliTest, GetShowsTheConfigWithSecretsAsReferences) {
  EXPECT_EQ(Run({"get", "c1"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("Name:"));
  EXPECT_THAT(out_.str(), HasSubstr("Partitions running:  2/2"));
  EXPECT_THAT(out_.str(), HasSubstr("target.access_key_secret.env  SECRET_VAR"));
}

TEST_F(CliTest, GetAsJsonIsTheConnectorMessage) {
  EXPECT_EQ(Run({"get", "c1", "-o", "json"}), kExitOk);
  v1::Connector parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.record().config().name(), "c1");
  EXPECT_EQ(parsed.status().partitions_size(), 2);
  // Field names as in the .proto, enums by name.
  EXPECT_THAT(out_.str(), HasSubstr("\"target_state\": \"TARGET_STATE_RUNNING\""));
}

TEST_F(CliTest, UnknownConnectorExitsThree) {
  service_.next_error = grpc::Status(grpc::StatusCode::NOT_FOUND, "no connector nope");
  EXPECT_EQ(Run({"status", "nope"}), kExitNotFound);
  EXPECT_THAT(err_.str(), HasSubstr("no connector nope"));
}

TEST_F(CliTest, TheTokenIsSentAsABearerAndAMissingOneExitsFour) {
  service_.required_token = "s3cret-token";
  EXPECT_EQ(Run({"list"}), kExitUnauthenticated);
  EXPECT_THAT(err_.str(), HasSubstr("--token-file or MCSINK_TOKEN"));
  EXPECT_EQ(Run({"list"}, {{"MCSINK_TOKEN", "s3cret-token"}}), kExitOk) << err_.str();
  EXPECT_EQ(service_.authorizations.back(), "Bearer s3cret-token");
  EXPECT_THAT(out_.str() + err_.str(), Not(HasSubstr("s3cret-token")));
}

TEST_F(CliTest, ListAlignsItsColumns) {
  EXPECT_EQ(Run({"list"}), kExitOk);
  std::istringstream lines(out_.str());
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(header.rfind("NAME", 0), 0u);
  // Every row's TARGET column starts where the header's does.
  const size_t column = header.find("TARGET");
  ASSERT_NE(column, std::string::npos);
  EXPECT_EQ(first.substr(column, 7), "RUNNING");
  EXPECT_EQ(second.substr(column, 7), "STOPPED");
  EXPECT_THAT(first, HasSubstr("2/2"));
  EXPECT_THAT(first, HasSubstr("p.t"));
}

TEST_F(CliTest, DeployWaitShowsProgressUntilRunning) {
  // given a connector that starts, then runs
  service_.statuses = {StatusOf(v1::CONNECTOR_STATE_STARTING, 0, 2),
                       StatusOf(v1::CONNECTOR_STATE_STARTING, 1, 2),
                       StatusOf(v1::CONNECTOR_STATE_RUNNING, 2, 2)};
  // when
  const int code = Run({"deploy", "c1", "--wait"});
  // then
  EXPECT_EQ(code, kExitOk) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("c1: STARTING, 0/2 partitions running\n"
                                    "c1: STARTING, 1/2 partitions running\n"
                                    "c1: RUNNING, 2/2 partitions running\n"));
}

TEST_F(CliTest, WaitIgnoresAFailedStatusOlderThanTheChange) {
  // given a FAILED status from before the resume (updated before the record), then a fresh one
  service_.statuses = {StatusOf(v1::CONNECTOR_STATE_FAILED, 0, 2, /*updated_at_ms=*/500, "old"),
                       StatusOf(v1::CONNECTOR_STATE_RUNNING, 2, 2, /*updated_at_ms=*/1500)};
  EXPECT_EQ(Run({"resume", "c1", "--wait"}), kExitOk) << err_.str();
  EXPECT_EQ(service_.status_calls, 2);
}

TEST_F(CliTest, DeployOfAConnectorAlreadyRunningNeedsNoFreshStatus) {
  // given a RUNNING status written before the (no-op) deploy
  service_.statuses = {StatusOf(v1::CONNECTOR_STATE_RUNNING, 2, 2, /*updated_at_ms=*/500)};
  EXPECT_EQ(Run({"deploy", "c1", "--wait", "--wait-timeout=5s"}), kExitOk) << err_.str();
  EXPECT_EQ(service_.status_calls, 1);
}

TEST_F(CliTest, DeployWaitReportsFailedWithTheReasonAndExitsSix) {
  v1::ConnectorStatus failed = StatusOf(v1::CONNECTOR_STATE_FAILED, 1, 2, 2000, "table is gone");
  failed.mutable_partitions(1)->set_state(v1::PARTITION_STATE_STOPPED);
  failed.mutable_partitions(1)->mutable_last_error()->set_code("WRITER_COMMIT_FAILED");
  failed.mutable_partitions(1)->mutable_last_error()->set_message("NoSuchTable");
  service_.statuses = {failed};
  EXPECT_EQ(Run({"deploy", "c1", "--wait"}), kExitFailedState);
  EXPECT_THAT(err_.str(), HasSubstr("connector c1 FAILED: table is gone"));
  EXPECT_THAT(err_.str(), HasSubstr("in/1 STOPPED: WRITER_COMMIT_FAILED NoSuchTable"));
}

TEST_F(CliTest, WaitGivesUpAfterTheTimeoutAndExitsEight) {
  service_.statuses = {StatusOf(v1::CONNECTOR_STATE_STARTING, 0, 2)};
  EXPECT_EQ(Run({"deploy", "c1", "--wait", "--wait-timeout=50ms"}), kExitWaitTimeout);
  EXPECT_THAT(err_.str(), HasSubstr("is STARTING, not RUNNING, after 50ms"));
}

TEST_F(CliTest, RestartWaitsForTheNewGeneration) {
  // given a restart that moved the generation to 4: a RUNNING status of generation 3 is stale
  service_.connector.mutable_record()->set_restart_generation(4);
  v1::ConnectorStatus stale = StatusOf(v1::CONNECTOR_STATE_RUNNING, 2, 2);
  stale.set_observed_restart_generation(3);
  v1::ConnectorStatus fresh = stale;
  fresh.set_observed_restart_generation(4);
  service_.statuses = {stale, stale, fresh};
  // when
  EXPECT_EQ(Run({"restart", "c1", "--only-failed", "--wait"}), kExitOk) << err_.str();
  // then
  ASSERT_EQ(service_.restarts.size(), 1u);
  EXPECT_TRUE(service_.restarts[0].only_failed_partitions());
  EXPECT_EQ(service_.status_calls, 3);
}

TEST_F(CliTest, ValidateListsEveryViolationAndExitsTwo) {
  auto* v = service_.validation.add_violations();
  v->set_field("name");
  v->set_message("at most 48 characters");
  v = service_.validation.add_violations();
  v->set_field("format");
  v->set_message("CSV needs mode KEY or VALUE");
  EXPECT_EQ(Run({"validate", "--name", "c1"}), kExitInvalid);
  EXPECT_THAT(out_.str(), HasSubstr("FIELD   PROBLEM\nname    at most 48 characters\n"
                                    "format  CSV needs mode KEY or VALUE\n"));
}

TEST_F(CliTest, ValidateOfAGoodConfigExitsZero) {
  EXPECT_EQ(Run({"validate", "--name", "c1"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("the config is valid"));
}

TEST_F(CliTest, StatusShowsOnePartitionPerLine) {
  *service_.connector.mutable_status() = StatusOf(v1::CONNECTOR_STATE_RUNNING, 1, 2);
  service_.statuses = {service_.connector.status()};
  EXPECT_EQ(Run({"status", "c1"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("Connector c1: RUNNING"));
  EXPECT_THAT(out_.str(), HasSubstr("TOPIC  PARTITION  STATE       OWNER  COMMITTED  END  LAG"));
  EXPECT_THAT(out_.str(), HasSubstr("in     0          RUNNING     -      10         15   5"));
  EXPECT_THAT(out_.str(), HasSubstr("in     1          UNASSIGNED  -      -          15   -"));
}

TEST_F(CliTest, OffsetsResetToExplicitPositionsSendsEachPartition) {
  EXPECT_EQ(Run({"offsets", "reset", "c1", "--to", "0=42,3=7", "--topic", "in"}), kExitOk)
      << err_.str();
  ASSERT_EQ(service_.resets.size(), 1u);
  const auto& offsets = service_.resets[0].offsets().partitions();
  ASSERT_EQ(offsets.size(), 2);
  EXPECT_EQ(offsets[0].partition(), 0);
  EXPECT_EQ(offsets[0].committed_offset(), 42);
  EXPECT_EQ(offsets[1].partition(), 3);
  EXPECT_EQ(offsets[1].topic(), "in");
}

TEST_F(CliTest, OffsetsResetRejectsABadListAndAMissingChoice) {
  EXPECT_EQ(Run({"offsets", "reset", "c1", "--to", "0=x,1"}), kExitInvalid);
  EXPECT_THAT(err_.str(), HasSubstr("'0=x' is not PARTITION=OFFSET"));
  EXPECT_THAT(err_.str(), HasSubstr("'1' is not PARTITION=OFFSET"));
  EXPECT_EQ(Run({"offsets", "reset", "c1"}), kExitUsage);
  EXPECT_EQ(Run({"offsets", "reset", "c1", "--to-earliest", "--to-latest"}), kExitUsage);
  EXPECT_TRUE(service_.resets.empty());
}

TEST_F(CliTest, OffsetsResetWhileRunningSaysToPauseAndExitsSeven) {
  service_.next_error =
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "connector c1 is RUNNING");
  EXPECT_EQ(Run({"offsets", "reset", "c1", "--to-latest"}), kExitConflict);
  EXPECT_THAT(err_.str(), HasSubstr("pause it first: mcsinkctl pause c1"));
}

TEST_F(CliTest, WatchPrintsOneLinePerEventAndJsonLines) {
  v1::ConnectorEvent upsert;
  upsert.set_type(v1::ConnectorEvent::TYPE_UPSERT);
  upsert.set_name("c1");
  *upsert.mutable_record() = service_.connector.record();
  v1::ConnectorEvent synced;
  synced.set_type(v1::ConnectorEvent::TYPE_SYNCED);
  v1::ConnectorEvent removed;
  removed.set_type(v1::ConnectorEvent::TYPE_DELETE);
  removed.set_name("c1");
  service_.events = {upsert, synced, removed};
  EXPECT_EQ(Run({"watch"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("UPSERT  c1  target RUNNING  version 3\n"));
  EXPECT_THAT(out_.str(), HasSubstr("SYNCED  (the connectors above are the current state"));
  EXPECT_THAT(out_.str(), HasSubstr("DELETE  c1\n"));
  EXPECT_EQ(Run({"watch", "c1", "-o", "json"}), kExitOk);
  std::istringstream lines(out_.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    v1::ConnectorEvent parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok()) << line;
    ++count;
  }
  EXPECT_EQ(count, 3);
}

TEST_F(CliTest, DeleteWithTopicsSaysSo) {
  EXPECT_EQ(Run({"delete", "c1", "--delete-topics"}), kExitOk);
  EXPECT_EQ(out_.str(), "connector c1 deleted, with its internal topics\n");
}

TEST_F(CliTest, SqlWithoutKeysIsRefusedBeforeAnyRequest) {
  EXPECT_EQ(Run({"sql", "--endpoint", "http://127.0.0.1:1/api", "--project", "p", "-e", "x;"}),
            kExitInvalid);
  EXPECT_THAT(err_.str(), HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_ID"));
}

TEST(CliMain, AnUnreachableControllerExitsFiveNamingTheAddress) {
  const int port = testing::FreePort();
  std::ostringstream out, err;
  const int code = Main(
      {"list", absl::StrCat("--controller=127.0.0.1:", port)},
      [](const std::string&) { return std::nullopt; }, out, err);
  EXPECT_EQ(code, kExitUnavailable);
  EXPECT_THAT(err.str(),
              HasSubstr(absl::StrCat("the controller at 127.0.0.1:", port, " is unavailable")));
}

TEST(CliMain, AMissingTlsFileIsABadArgumentNamingIt) {
  std::ostringstream out, err;
  EXPECT_EQ(Main(
                {"list", "--tls-ca-file=/nonexistent/ca.pem"},
                [](const std::string&) { return std::nullopt; }, out, err),
            kExitInvalid);
  EXPECT_THAT(err.str(), HasSubstr("/nonexistent/ca.pem"));
}

TEST(CliMain, UsageErrorsExitOne) {
  std::ostringstream out, err;
  EXPECT_EQ(Main(
                {"frobnicate"}, [](const std::string&) { return std::nullopt; }, out, err),
            kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("unknown command 'frobnicate'"));
}

}  // namespace
}  // namespace mcsink::ctl
