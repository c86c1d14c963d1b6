// The controller's API on the real broker (fixture `kafka`): every validation rule with the field
// named, manual-topic refusals naming topic and rule, state kept in Kafka across a restart and
// seen by a second controller, the token, the watch stream, secrets never returned, offsets
// reset only while paused, and delete. The target table check is replaced by a stub here
// (controller_allinone_test checks it against mclocal).
#include <cstdlib>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/controller/connector_service.h"
#include "mcsink/controller/connector_store.h"
#include "mcsink/controller/records.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/controller.grpc.pb.h"

namespace mcsink::controller {
namespace {

constexpr char kSecret[] = "do-not-show-this-9f3c1e";

struct Controller {
  std::unique_ptr<ConnectorStore> store;
  std::unique_ptr<ConnectorServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::ConnectorService::Stub> stub;
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    registry_ = testing::UniqueTopicName("registry");
    source_ = testing::UniqueTopicName("input");
    ASSERT_OK(admin_->CreateTopic({.name = source_, .partitions = 3}));
    setenv("MCSINK_TEST_AK", "ak-id", 1);
    setenv("MCSINK_TEST_SK", kSecret, 1);
    ASSERT_NO_FATAL_FAILURE(Start(&controller_));
  }

  // A controller on this test's registry.
  void Start(Controller* c, const std::string& token = "") {
    ASSERT_OK_AND_ASSIGN(c->store,
                         ConnectorStore::Open({.kafka = {{"bootstrap.servers", bootstrap_}},
                                               .registry_topic = registry_,
                                               .timeout = absl::Seconds(30)}));
    c->service = std::make_unique<ConnectorServiceImpl>(ConnectorServiceOptions{
        .store = c->store.get(),
        .token = token,
        .check_target = [this](const v1::ConnectorConfig&) { return target_problem_; },
        .delete_wait = absl::Seconds(1),
        .status_timeout = absl::Seconds(10)});
    ASSERT_OK_AND_ASSIGN(
        c->server, GrpcServer::Start({.services = {{c->service.get(),
                                                    v1::ConnectorService::service_full_name()}}}));
    c->stub = v1::ConnectorService::NewStub(c->server->InProcessChannel());
  }
  void Stop(Controller* c) {
    c->server->Shutdown(absl::Seconds(1));
    c->stub.reset();
    c->server.reset();
    c->service.reset();
    c->store.reset();
  }
  void TearDown() override {
    if (controller_.server != nullptr) Stop(&controller_);
  }

  // A valid config, with a fresh name.
  v1::ConnectorConfig Config() {
    v1::ConnectorConfig c;
    c.set_name(testing::UniqueTopicName("c"));
    c.set_source_topic(source_);
    (*c.mutable_kafka_properties())["bootstrap.servers"] = bootstrap_;
    v1::MaxComputeTarget* t = c.mutable_target();
    t->set_endpoint("http://127.0.0.1:1/api");
    t->set_project("connector_test");
    t->set_table("test_kafka");
    t->mutable_access_key_id()->set_env("MCSINK_TEST_AK");
    t->mutable_access_key_secret()->set_env("MCSINK_TEST_SK");
    return c;
  }

  grpc::Status Create(const v1::ConnectorConfig& config, bool deploy = false,
                      v1::Connector* out = nullptr) {
    grpc::ClientContext context;
    v1::CreateConnectorRequest request;
    *request.mutable_config() = config;
    request.set_deploy(deploy);
    v1::Connector response;
    return controller_.stub->CreateConnector(&context, request, out != nullptr ? out : &response);
  }
  using NameCall = grpc::Status (v1::ConnectorService::Stub::*)(grpc::ClientContext*,
                                                                const v1::ConnectorName&,
                                                                v1::Connector*);
  grpc::Status Call(NameCall call, const std::string& name, v1::Connector* out = nullptr,
                    Controller* c = nullptr) {
    grpc::ClientContext context;
    v1::ConnectorName request;
    request.set_name(name);
    v1::Connector response;
    return ((c != nullptr ? c : &controller_)->stub.get()->*call)(&context, request,
                                                                  out != nullptr ? out : &response);
  }
  grpc::Status GetOffsets(const std::string& name, v1::ConnectorOffsets* out) {
    grpc::ClientContext context;
    v1::ConnectorName request;
    request.set_name(name);
    return controller_.stub->GetOffsets(&context, request, out);
  }
  grpc::Status Reset(const v1::ResetOffsetsRequest& request, v1::ConnectorOffsets* out) {
    grpc::ClientContext context;
    return controller_.stub->ResetOffsets(&context, request, out);
  }

  std::string bootstrap_, registry_, source_;
  std::unique_ptr<kafka::Admin> admin_;
  std::optional<TargetProblem> target_problem_;
  Controller controller_;
};

// ---- validation: one case per rule, the field named both by Create and by Validate ----

struct Rule {
  std::string field;
  std::function<void(v1::ConnectorConfig*)> breaks;
};

TEST_F(ControllerTest, EveryValidationRuleNamesItsFieldInCreateAndValidate) {
  const std::vector<Rule> rules = {
      {"name", [](v1::ConnectorConfig* c) { c->set_name("Kafka_Sink"); }},
      {"name", [](v1::ConnectorConfig* c) { c->set_name("-sink"); }},
      {"name", [](v1::ConnectorConfig* c) { c->set_name(std::string(49, 'a')); }},
      {"source_topic", [](v1::ConnectorConfig* c) { c->set_source_topic("bad topic"); }},
      {"consumer_group", [](v1::ConnectorConfig* c) { c->set_consumer_group("my-group"); }},
      {"concurrency", [](v1::ConnectorConfig* c) { c->set_concurrency(8); }},
      {"topics.offset_topic",
       [](v1::ConnectorConfig* c) { c->mutable_topics()->set_offset_topic(c->source_topic()); }},
      {"topics.config_topic",
       [](v1::ConnectorConfig* c) { c->mutable_topics()->set_config_topic("bad/topic"); }},
      {"format",
       [](v1::ConnectorConfig* c) {
         c->set_mode(v1::MODE_DEFAULT);
         c->set_format(v1::FORMAT_CSV);
       }},
      {"time_zone", [](v1::ConnectorConfig* c) { c->set_time_zone("Mars/Olympus_Mons"); }},
      {"csv_delimiter", [](v1::ConnectorConfig* c) { c->set_csv_delimiter(";;"); }},
      {"target.endpoint", [](v1::ConnectorConfig* c) { c->mutable_target()->set_endpoint("x"); }},
      {"target.tunnel_endpoint",
       [](v1::ConnectorConfig* c) { c->mutable_target()->set_tunnel_endpoint("ftp://t"); }},
      {"target.project",
       [](v1::ConnectorConfig* c) { c->mutable_target()->set_project("1project"); }},
      {"target.table", [](v1::ConnectorConfig* c) { c->mutable_target()->set_table("a-b"); }},
      {"target",
       [](v1::ConnectorConfig* c) {
         c->mutable_target()->clear_access_key_id();
         c->mutable_target()->clear_access_key_secret();
       }},
      {"target.account_id",
       [](v1::ConnectorConfig* c) {
         c->mutable_target()->set_account_id("abc");
         c->mutable_target()->set_role_name("Role");
         c->mutable_target()->set_region("cn-hangzhou");
       }},
      {"target.access_key_secret",
       [](v1::ConnectorConfig* c) { c->mutable_target()->mutable_access_key_secret()->Clear(); }},
      {"kafka_properties", [](v1::ConnectorConfig* c) { c->mutable_kafka_properties()->clear(); }},
      {"kafka_properties[sasl.password]",
       [](v1::ConnectorConfig* c) { (*c->mutable_kafka_properties())["sasl.password"] = "pw"; }},
      {"kafka_secrets[sasl.password]",
       [](v1::ConnectorConfig* c) { (*c->mutable_kafka_secrets())["sasl.password"]; }},
  };
  for (const Rule& rule : rules) {
    SCOPED_TRACE(rule.field);
    v1::ConnectorConfig config = Config();
    rule.breaks(&config);
    const grpc::Status created = Create(config);
    EXPECT_EQ(created.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(created.error_message(), rule.field + ": "))
        << created.error_message();

    grpc::ClientContext context;
    v1::ValidateConnectorRequest request;
    *request.mutable_config() = config;
    v1::ValidateConnectorResponse response;
    ASSERT_TRUE(controller_.stub->ValidateConnector(&context, request, &response).ok());
    bool named = false;
    for (const v1::FieldViolation& v : response.violations()) named |= v.field() == rule.field;
    EXPECT_TRUE(named) << response.DebugString();
    // Nothing was stored.
    EXPECT_EQ(Call(&v1::ConnectorService::Stub::GetConnector, config.name()).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(ControllerTest, ValidateReturnsTheConfigWithDefaultsAndNoViolationsWhenValid) {
  grpc::ClientContext context;
  v1::ValidateConnectorRequest request;
  *request.mutable_config() = Config();
  v1::ValidateConnectorResponse response;
  ASSERT_TRUE(controller_.stub->ValidateConnector(&context, request, &response).ok());
  EXPECT_EQ(response.violations_size(), 0) << response.DebugString();
  EXPECT_EQ(response.normalized().consumer_group(), "connect-" + request.config().name());
  EXPECT_EQ(response.normalized().concurrency(), 6u);
}

TEST_F(ControllerTest, ATargetProblemRefusesCreateNamingTheColumn) {
  target_problem_ = TargetProblem{
      "target.table", absl::InvalidArgumentError("table has no column `value` (mode DEFAULT)")};
  const grpc::Status created = Create(Config());
  EXPECT_EQ(created.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(
      absl::StrContains(created.error_message(), "target.table: table has no column `value`"))
      << created.error_message();
}

TEST_F(ControllerTest, ATakenNameIsAlreadyExists) {
  const v1::ConnectorConfig config = Config();
  ASSERT_TRUE(Create(config).ok());
  const grpc::Status again = Create(config);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(again.error_message(), config.name())) << again.error_message();
}

TEST_F(ControllerTest, ManualTopicModeRefusesBadTopicsNamingTopicAndRule) {
  v1::ConnectorConfig config = config::WithDefaults(Config());
  config.set_resource_creation(v1::RESOURCE_CREATION_MANUAL);
  const v1::InternalTopics& t = config.topics();
  ASSERT_OK(admin_->CreateTopic(
      {.name = t.offset_topic(), .partitions = 1, .configs = {{"cleanup.policy", "compact"}}}));
  ASSERT_OK(admin_->CreateTopic(
      {.name = t.config_topic(), .partitions = 2, .configs = {{"cleanup.policy", "compact"}}}));
  ASSERT_OK(admin_->CreateTopic({.name = t.status_topic(), .partitions = 6}));
  const grpc::Status created = Create(config);
  ASSERT_EQ(created.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  const std::string& m = created.error_message();
  EXPECT_TRUE(absl::StrContains(m, "topics.offset_topic: offset topic " + t.offset_topic() +
                                       " must have more than 1 partition(s), has 1"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "topics.config_topic: config topic " + t.config_topic() +
                                       " must have exactly 1 partition, has 2"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "topics.status_topic: status topic " + t.status_topic() +
                                       " must have cleanup.policy=compact"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "topics.dead_letter_topic: dead-letter topic " +
                                       t.dead_letter_topic() + " does not exist"))
      << m;

  // Validate with check_target lists the same, one violation per field.
  grpc::ClientContext context;
  v1::ValidateConnectorRequest request;
  *request.mutable_config() = config;
  request.set_check_target(true);
  v1::ValidateConnectorResponse response;
  ASSERT_TRUE(controller_.stub->ValidateConnector(&context, request, &response).ok());
  std::set<std::string> fields;
  for (const v1::FieldViolation& v : response.violations()) fields.insert(v.field());
  EXPECT_EQ(fields, (std::set<std::string>{"topics.offset_topic", "topics.config_topic",
                                           "topics.status_topic", "topics.dead_letter_topic"}))
      << response.DebugString();
}

TEST_F(ControllerTest, CreateMakesTheInternalTopicsAndStoresTheConnectorNotDeployed) {
  const v1::ConnectorConfig config = Config();
  v1::Connector created;
  ASSERT_TRUE(Create(config, /*deploy=*/false, &created).ok());
  EXPECT_EQ(created.record().target_state(), v1::TARGET_STATE_STOPPED);
  EXPECT_EQ(created.record().version(), 1u);
  EXPECT_EQ(created.status().state(), v1::CONNECTOR_STATE_CREATED);
  EXPECT_EQ(created.record().config().consumer_group(), "connect-" + config.name());
  ASSERT_OK_AND_ASSIGN(auto cfg, admin_->DescribeTopic("connect-config-" + config.name()));
  EXPECT_EQ(cfg.partitions, 1);
  // The record is in the connector's config topic too.
  ASSERT_OK_AND_ASSIGN(auto records, kafka::ReadLatestByKey({{"bootstrap.servers", bootstrap_}},
                                                            "connect-config-" + config.name()));
  ASSERT_TRUE(records.contains("connector-" + config.name()));
  v1::ConnectorRecord stored;
  ASSERT_OK(FromJson(records["connector-" + config.name()], "config topic record", &stored));
  EXPECT_EQ(stored.config().name(), config.name());

  v1::Connector got;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, config.name(), &got).ok());
  EXPECT_EQ(got.record().config().SerializeAsString(),
            created.record().config().SerializeAsString());
  EXPECT_EQ(Call(&v1::ConnectorService::Stub::GetConnector, "no-such-connector").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerTest, TargetStatesFollowDeployPauseResumeRestart) {
  const v1::ConnectorConfig config = Config();
  ASSERT_TRUE(Create(config).ok());
  using Stub = v1::ConnectorService::Stub;
  EXPECT_EQ(Call(&Stub::PauseConnector, config.name()).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::Connector c;
  ASSERT_TRUE(Call(&Stub::DeployConnector, config.name(), &c).ok());
  EXPECT_EQ(c.record().target_state(), v1::TARGET_STATE_RUNNING);
  EXPECT_EQ(c.status().state(), v1::CONNECTOR_STATE_STARTING);  // no data plane here
  ASSERT_TRUE(Call(&Stub::PauseConnector, config.name(), &c).ok());
  EXPECT_EQ(c.record().target_state(), v1::TARGET_STATE_PAUSED);
  ASSERT_TRUE(Call(&Stub::ResumeConnector, config.name(), &c).ok());
  EXPECT_EQ(c.record().target_state(), v1::TARGET_STATE_RUNNING);
  grpc::ClientContext context;
  v1::RestartConnectorRequest restart;
  restart.set_name(config.name());
  restart.set_only_failed_partitions(true);
  ASSERT_TRUE(controller_.stub->RestartConnector(&context, restart, &c).ok());
  EXPECT_EQ(c.record().restart_generation(), 1u);
  EXPECT_TRUE(c.record().restart_only_failed());
  EXPECT_EQ(c.record().version(), 5u);
}

TEST_F(ControllerTest, ARestartedControllerHasTheSameConfigsStatesAndOffsets) {
  const v1::ConnectorConfig paused = Config();
  const v1::ConnectorConfig idle = Config();
  ASSERT_TRUE(Create(paused, /*deploy=*/true).ok());
  ASSERT_TRUE(Create(idle).ok());
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::PauseConnector, paused.name()).ok());
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, source_, 30, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("v", i); }, /*partition=*/1));
  v1::ResetOffsetsRequest reset;
  reset.set_name(paused.name());
  v1::PartitionOffset* p = reset.mutable_offsets()->add_partitions();
  p->set_partition(1);
  p->set_committed_offset(12);
  v1::ConnectorOffsets offsets;
  ASSERT_TRUE(Reset(reset, &offsets).ok());
  v1::Connector before;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, paused.name(), &before).ok());

  Stop(&controller_);
  ASSERT_NO_FATAL_FAILURE(Start(&controller_));

  v1::Connector after;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, paused.name(), &after).ok());
  EXPECT_EQ(after.record().SerializeAsString(), before.record().SerializeAsString());
  EXPECT_EQ(after.record().target_state(), v1::TARGET_STATE_PAUSED);
  v1::Connector other;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, idle.name(), &other).ok());
  EXPECT_EQ(other.record().target_state(), v1::TARGET_STATE_STOPPED);
  v1::ConnectorOffsets reread;
  ASSERT_TRUE(GetOffsets(paused.name(), &reread).ok());
  ASSERT_EQ(reread.partitions_size(), 3);
  EXPECT_EQ(reread.partitions(1).committed_offset(), 12);
  EXPECT_EQ(reread.partitions(1).log_end_offset(), 30);
  EXPECT_EQ(reread.partitions(0).committed_offset(), -1);
}

TEST_F(ControllerTest, ASecondControllerSeesTheSameConnectors) {
  Controller second;
  ASSERT_NO_FATAL_FAILURE(Start(&second));
  auto watch = second.store->Watch("");
  const v1::ConnectorConfig config = Config();
  ASSERT_TRUE(Create(config, /*deploy=*/true).ok());
  // The second controller follows the registry: the change reaches it without a restart.
  std::optional<v1::ConnectorEvent> event;
  for (int i = 0; i < 60 && !(event.has_value() && event->name() == config.name()); ++i) {
    ASSERT_OK_AND_ASSIGN(event, watch->Next(absl::Milliseconds(500)));
  }
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->name(), config.name());
  v1::Connector seen;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, config.name(), &seen, &second).ok());
  EXPECT_EQ(seen.record().target_state(), v1::TARGET_STATE_RUNNING);
  watch.reset();
  Stop(&second);
}

TEST_F(ControllerTest, ATokenIsRequiredWhenConfigured) {
  Stop(&controller_);
  ASSERT_NO_FATAL_FAILURE(Start(&controller_, "t0ken-abc"));
  v1::ListConnectorsRequest request;
  v1::ListConnectorsResponse response;
  {
    grpc::ClientContext context;
    const grpc::Status s = controller_.stub->ListConnectors(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_FALSE(absl::StrContains(s.error_message(), "t0ken-abc"));
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer wrong");
    EXPECT_EQ(controller_.stub->ListConnectors(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer t0ken-abc");
    EXPECT_TRUE(controller_.stub->ListConnectors(&context, request, &response).ok());
  }
}

TEST_F(ControllerTest, WatchDeliversTheCurrentStateThenSyncedThenEveryChange) {
  const v1::ConnectorConfig existing = Config();
  ASSERT_TRUE(Create(existing).ok());
  grpc::ClientContext context;
  auto reader = controller_.stub->WatchConnectors(&context, v1::WatchConnectorsRequest());
  v1::ConnectorEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::ConnectorEvent::TYPE_UPSERT);
  EXPECT_EQ(event.name(), existing.name());
  EXPECT_EQ(event.record().target_state(), v1::TARGET_STATE_STOPPED);
  // The snapshot is complete: one connector exists.
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::ConnectorEvent::TYPE_SYNCED);
  EXPECT_EQ(event.name(), "");

  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::DeployConnector, existing.name()).ok());
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::ConnectorEvent::TYPE_UPSERT);
  EXPECT_EQ(event.record().target_state(), v1::TARGET_STATE_RUNNING);
  EXPECT_EQ(event.record().version(), 2u);

  grpc::ClientContext del_context;
  v1::DeleteConnectorRequest del;
  del.set_name(existing.name());
  v1::DeleteConnectorResponse deleted;
  ASSERT_TRUE(controller_.stub->DeleteConnector(&del_context, del, &deleted).ok());
  ASSERT_TRUE(reader->Read(&event));  // the stop before the delete
  EXPECT_EQ(event.record().target_state(), v1::TARGET_STATE_STOPPED);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::ConnectorEvent::TYPE_DELETE);
  EXPECT_EQ(event.name(), existing.name());
  context.TryCancel();
}

TEST_F(ControllerTest, GetListAndWatchNeverReturnSecretValues) {
  v1::ConnectorConfig config = Config();
  (*config.mutable_kafka_secrets())["sasl.password"].set_env("MCSINK_TEST_SK");
  ASSERT_TRUE(Create(config).ok()) << Create(config).error_message();
  v1::Connector got;
  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::GetConnector, config.name(), &got).ok());
  v1::ListConnectorsResponse list;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(controller_.stub->ListConnectors(&context, {}, &list).ok());
  }
  grpc::ClientContext context;
  auto reader = controller_.stub->WatchConnectors(&context, v1::WatchConnectorsRequest());
  v1::ConnectorEvent event;
  ASSERT_TRUE(reader->Read(&event));
  context.TryCancel();
  for (const std::string& text :
       {got.DebugString(), list.DebugString(), event.DebugString(), ToJson(got)}) {
    EXPECT_FALSE(absl::StrContains(text, kSecret)) << text;
    EXPECT_TRUE(absl::StrContains(text, "MCSINK_TEST_SK")) << "the reference is shown";
  }
  // Nor does the registry in Kafka.
  ASSERT_OK_AND_ASSIGN(auto registry,
                       kafka::ReadLatestByKey({{"bootstrap.servers", bootstrap_}}, registry_));
  for (const auto& [key, value] : registry) EXPECT_FALSE(absl::StrContains(value, kSecret));
}

TEST_F(ControllerTest, OffsetsAreResetOnlyWhilePaused) {
  const v1::ConnectorConfig config = Config();
  ASSERT_TRUE(Create(config, /*deploy=*/true).ok());
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, source_, 20, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("v", i); }, /*partition=*/0));
  v1::ResetOffsetsRequest request;
  request.set_name(config.name());
  request.set_latest(true);
  v1::ConnectorOffsets offsets;
  const grpc::Status running = Reset(request, &offsets);
  EXPECT_EQ(running.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(running.error_message(), "PAUSED")) << running.error_message();

  ASSERT_TRUE(Call(&v1::ConnectorService::Stub::PauseConnector, config.name()).ok());
  ASSERT_TRUE(Reset(request, &offsets).ok());
  EXPECT_EQ(offsets.consumer_group(), "connect-" + config.name());
  ASSERT_EQ(offsets.partitions_size(), 3);
  EXPECT_EQ(offsets.partitions(0).committed_offset(), 20);
  EXPECT_EQ(offsets.partitions(1).committed_offset(), 0);

  request.set_earliest(true);
  ASSERT_TRUE(Reset(request, &offsets).ok());
  EXPECT_EQ(offsets.partitions(0).committed_offset(), 0);

  v1::ResetOffsetsRequest outside;
  outside.set_name(config.name());
  v1::PartitionOffset* p = outside.mutable_offsets()->add_partitions();
  p->set_partition(0);
  p->set_committed_offset(21);
  const grpc::Status refused = Reset(outside, &offsets);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "offset 21 is outside the log [0, 20]"))
      << refused.error_message();
}

TEST_F(ControllerTest, DeleteTombstonesTheConnectorAndCanDeleteItsTopics) {
  const v1::ConnectorConfig config = Config();
  ASSERT_TRUE(Create(config, /*deploy=*/true).ok());
  grpc::ClientContext context;
  v1::DeleteConnectorRequest request;
  request.set_name(config.name());
  request.set_delete_internal_topics(true);
  v1::DeleteConnectorResponse response;
  ASSERT_TRUE(controller_.stub->DeleteConnector(&context, request, &response).ok());
  EXPECT_EQ(Call(&v1::ConnectorService::Stub::GetConnector, config.name()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(admin_->DescribeTopic("connect-config-" + config.name()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(admin_->DescribeTopic("connect-offset-" + config.name()).status().code(),
            absl::StatusCode::kNotFound);
  // A restarted controller does not bring it back.
  Stop(&controller_);
  ASSERT_NO_FATAL_FAILURE(Start(&controller_));
  EXPECT_EQ(Call(&v1::ConnectorService::Stub::GetConnector, config.name()).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace mcsink::controller
