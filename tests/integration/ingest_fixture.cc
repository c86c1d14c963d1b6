#include "ingest_fixture.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/ingest/status_publisher.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/test_connector.h"

namespace mcsink::ingest {

void IngestServiceFixture::SetUp() {
  ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
  ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
  topic_ = testing::UniqueTopicName(topic_prefix_);
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = partitions_}));
}

void IngestServiceFixture::TearDown() {
  // The service (and what it was given, such as a test's gate) goes first, then its downstream.
  if (service_ != nullptr) service_->Stop(absl::Seconds(10));
  service_.reset();
  if (transform_server_ != nullptr) transform_server_->Shutdown(absl::Seconds(1));
  transform_server_.reset();
}

void IngestServiceFixture::StartTransform(grpc::Service* transform) {
  ASSERT_OK_AND_ASSIGN(transform_server_, GrpcServer::Start({.services = {{transform, "t"}}}));
}

void IngestServiceFixture::Configure(v1::FailurePolicy policy, int32_t dead_letter_partitions) {
  v1::ConnectorConfig config;
  config.set_failure_policy(policy);
  config = testing::TestConnector(std::move(config), topic_, topic_, bootstrap_);
  ASSERT_OK_AND_ASSIGN(config_, config::Normalize(config));
  ASSERT_OK(admin_->CreateTopic(
      {.name = config_.topics().dead_letter_topic(), .partitions = dead_letter_partitions}));
  ASSERT_OK(admin_->CreateTopic({.name = config_.topics().status_topic(), .partitions = 1}));
}

IngestServiceOptions IngestServiceFixture::ServiceOptions() {
  IngestServiceOptions options;
  options.connector = config_;
  options.extra_kafka_properties = {{"session.timeout.ms", "6000"},
                                    {"heartbeat.interval.ms", "500"}};
  if (transform_server_ != nullptr) {
    options.transform_channel = transform_server_->InProcessChannel();
  }
  options.tuning.max_batch_records = 5;  // several batches per partition
  options.tuning.linger = absl::Milliseconds(20);
  options.tuning.commit_interval = absl::Milliseconds(200);
  return options;
}

void IngestServiceFixture::StartService(const IngestServiceOptions& options) {
  ASSERT_OK_AND_ASSIGN(service_, IngestService::Create(options, registry_));
  service_->Start();
}

void IngestServiceFixture::Produce(int32_t partition, int64_t count) {
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, count,
      [partition](int64_t i) { return absl::StrCat("k", partition, "-", i); },
      [partition](int64_t i) { return absl::StrCat("value-", partition, "-", i); }, partition));
}

std::map<int32_t, int64_t> IngestServiceFixture::WaitForCommitted(
    const std::map<int32_t, int64_t>& expected) {
  std::map<int32_t, int64_t> committed;
  for (const absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(200))) {
    auto offsets = admin_->CommittedOffsets(config_.consumer_group(), topic_);
    if (offsets.ok()) committed = *offsets;
    bool done = true;
    for (const auto& [p, o] : expected) done = done && committed[p] == o;
    if (done) break;
  }
  return committed;
}

std::map<int32_t, int64_t> IngestServiceFixture::WaitForStopped(size_t count) {
  std::map<int32_t, int64_t> stopped;
  for (const absl::Time until = absl::Now() + absl::Seconds(30); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(100))) {
    stopped.clear();
    for (const ConsumerStats& s : service_->stats()) {
      for (const StoppedPartition& p : s.stopped) stopped[p.tp.partition] = p.offset;
    }
    if (stopped.size() == count) break;
  }
  return stopped;
}

v1::PartitionStatus IngestServiceFixture::Status(int32_t partition, v1::PartitionState state) {
  const std::string key = PartitionStatusKey(topic_, partition);
  v1::PartitionStatus s;
  for (const absl::Time until = absl::Now() + absl::Seconds(30); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(200))) {
    auto records = kafka::ReadLatestByKey({{"bootstrap.servers", bootstrap_}},
                                          config_.topics().status_topic());
    if (!records.ok()) continue;
    auto it = records->find(key);
    if (it == records->end()) continue;
    s.Clear();
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(it->second, &s).ok()) << it->second;
    if (s.state() == state) break;
  }
  return s;
}

double IngestServiceFixture::Counter(const std::string& name) {
  double sum = 0;
  for (const prometheus::MetricFamily& family : registry_.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) sum += m.counter.value;
  }
  return sum;
}

}  // namespace mcsink::ingest
