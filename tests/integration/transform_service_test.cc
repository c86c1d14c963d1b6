// The transform service between a test ingest stream and a test writer, with the error topic on
// the real Kafka broker: rows, error records with their headers, failure policies, and acks that
// wait for the writer.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "librdkafka/rdkafkacpp.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/transform_test_support.h"
#include "mcsink/transform/transform_service.h"

namespace mcsink::transform {
namespace {

using maxcompute::Row;
using maxcompute::TableSchema;

TableSchema Schema(const std::vector<std::pair<std::string, std::string>>& columns) {
  TableSchema schema;
  for (const auto& [name, type] : columns) {
    schema.columns.push_back({name, *maxcompute::Type::Parse(type)});
  }
  schema.partition_columns.push_back({"pt", maxcompute::Type{}});
  return schema;
}

struct ErrorTopicRecord {
  std::string value;
  std::map<std::string, std::string> headers;
};

class TransformServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    name_ = testing::UniqueTopicName("transform");
  }

  void Start(v1::ConnectorConfig config, TableSchema schema) {
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    ASSERT_OK_AND_ASSIGN(config_, config::Normalize(testing::TestConnector(
                                      std::move(config), name_, name_ + "-in", bootstrap_)));
    ASSERT_OK(admin_->CreateTopic({.name = config_.topics().error_topic(), .partitions = 1}));
    // The exactly-once error topic keeps what it produced in the offset topic.
    ASSERT_OK(admin_->CreateTopic({.name = config_.topics().offset_topic(),
                                   .partitions = 2,
                                   .configs = {{"cleanup.policy", "compact"}}}));

    TransformServiceOptions options;
    options.connector = config_;
    options.schema = std::move(schema);
    options.kafka_properties = {{"bootstrap.servers", bootstrap_}};
    options.writer_channel = writer_server_->InProcessChannel();
    ASSERT_OK_AND_ASSIGN(service_, TransformService::Create(options, registry_));
    ASSERT_OK_AND_ASSIGN(server_, GrpcServer::Start({.services = {{service_.get(), "t"}}}));
    auto stub =
        std::shared_ptr<v1::Transform::Stub>(v1::Transform::NewStub(server_->InProcessChannel()));
    client_ = std::make_unique<pipeline::StreamClient<v1::RecordBatch, v1::Ack>>(
        pipeline::StreamClientOptions{.name = "test->transform"},
        [stub](grpc::ClientContext* ctx) { return stub->Convert(ctx); },
        [this](const v1::Ack& ack) { acks_.Add(ack); });
  }

  void TearDown() override {
    if (client_ != nullptr) client_->Close(absl::Seconds(5));
    if (service_ != nullptr) service_->Stop(absl::Seconds(5));
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  // A batch of one partition's records with the given values, stamped now.
  v1::RecordBatch Batch(uint64_t id, int32_t partition, int64_t first_offset,
                        const std::vector<std::string>& values) {
    return testing::MakeRecordBatch({.id = id,
                                     .topic = config_.source_topic(),
                                     .connector = name_,
                                     .partition = partition,
                                     .first_offset = first_offset,
                                     .keys = true},
                                    values);
  }

  std::vector<Row> Rows(const TableSchema& schema) {
    return testing::DecodeRows(writer_.batches(), schema);
  }

  std::vector<ErrorTopicRecord> ReadErrorTopic(size_t expected) {
    std::vector<ErrorTopicRecord> out;
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                 {"group.id", name_ + "-reader"},
                                 {"auto.offset.reset", "earliest"},
                                 {"isolation.level", "read_committed"}});
    EXPECT_OK(conf);
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf->get(), err));
    consumer->subscribe({config_.topics().error_topic()});
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    // Reads until `expected` arrived, then a little longer to catch extras.
    absl::Time stop_at = expected == 0 ? absl::Now() + absl::Seconds(3) : deadline;
    while (absl::Now() < stop_at) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      ErrorTopicRecord r;
      r.value.assign(static_cast<const char*>(m->payload()), m->len());
      for (const auto& h : m->headers()->get_all()) {
        r.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
      out.push_back(std::move(r));
      if (out.size() == expected) stop_at = std::min(deadline, absl::Now() + absl::Seconds(1));
    }
    consumer->close();
    return out;
  }

  std::string bootstrap_, name_;
  std::unique_ptr<kafka::Admin> admin_;
  v1::ConnectorConfig config_;
  prometheus::Registry registry_;
  testing::FakeWriter writer_;
  std::unique_ptr<GrpcServer> writer_server_, server_;
  std::unique_ptr<TransformService> service_;
  std::unique_ptr<pipeline::StreamClient<v1::RecordBatch, v1::Ack>> client_;
  testing::Collected<v1::Ack> acks_;
};

TEST_F(TransformServiceTest, GoodRecordsBecomeRowsAndABadOneGoesToTheErrorTopicWithItsReason) {
  Start(v1::ConnectorConfig(), testing::SeedTableSchema());
  ASSERT_OK(client_->Send(Batch(7, 2, 100, {"a", "b", std::string("\xff\xfe", 2), "d"})));

  ASSERT_TRUE(acks_.Wait(1));
  const v1::Ack ack = acks_.all()[0];
  EXPECT_EQ(ack.batch_id(), 7u);
  ASSERT_EQ(ack.ranges_size(), 1);
  EXPECT_EQ(ack.ranges(0).first_offset(), 100);
  EXPECT_EQ(ack.ranges(0).last_offset(), 103);
  EXPECT_EQ(ack.stopped_size(), 0);

  const std::vector<Row> rows = Rows(testing::SeedTableSchema());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(std::get<std::string>(rows[0][0]), config_.source_topic());
  EXPECT_EQ(std::get<int64_t>(rows[0][1]), 2);
  EXPECT_EQ(std::get<int64_t>(rows[0][2]), 100);
  EXPECT_EQ(std::get<std::string>(rows[2][4]), "d");
  EXPECT_EQ(std::get<int64_t>(rows[2][2]), 103);
  ASSERT_EQ(writer_.batches().size(), 1u);
  EXPECT_EQ(writer_.batches()[0].groups(0).row_count(), 3u);

  const auto errors = ReadErrorTopic(1);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].value, std::string("\xff\xfe", 2)) << "the original value, unchanged";
  EXPECT_EQ(errors[0].headers.at(kHeaderCode), "INVALID_UTF8");
  EXPECT_EQ(errors[0].headers.at(kHeaderTopic), config_.source_topic());
  EXPECT_EQ(errors[0].headers.at(kHeaderPartition), "2");
  EXPECT_EQ(errors[0].headers.at(kHeaderOffset), "102");
  EXPECT_EQ(errors[0].headers.at(kHeaderConnector), name_);
  EXPECT_FALSE(errors[0].headers.at(kHeaderMessage).empty());
}

TEST_F(TransformServiceTest, StopPolicyStopsOnlyTheFailingPartitionAtTheFailedRecord) {
  v1::ConnectorConfig config;
  config.set_mode(v1::MODE_VALUE);
  config.set_format(v1::FORMAT_CSV);
  config.set_failure_policy(v1::FAILURE_POLICY_STOP);
  const TableSchema schema = Schema({{"id", "BIGINT"}, {"name", "STRING"}});
  Start(config, schema);

  ASSERT_OK(client_->Send(Batch(1, 0, 0, {"1,a", "2,b", "x,c", "4,d"})));
  ASSERT_OK(client_->Send(Batch(2, 1, 0, {"10,p", "11,q"})));
  ASSERT_OK(client_->Send(Batch(3, 0, 4, {"5,e"})));  // after the stop: not written
  ASSERT_TRUE(acks_.Wait(3));

  std::map<uint64_t, v1::Ack> acks;
  for (const v1::Ack& a : acks_.all()) acks[a.batch_id()] = a;
  ASSERT_EQ(acks[1].stopped_size(), 1);
  EXPECT_EQ(acks[1].stopped(0).partition(), 0);
  EXPECT_EQ(acks[1].stopped(0).offset(), 2);
  EXPECT_EQ(acks[1].stopped(0).code(), "CSV_PARSE");
  EXPECT_EQ(acks[2].stopped_size(), 0) << "partition 1 keeps moving";

  std::vector<int64_t> ids;
  for (const Row& row : Rows(schema)) ids.push_back(std::get<int64_t>(row[0]));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 10, 11}));
  EXPECT_TRUE(ReadErrorTopic(0).empty()) << "under stop the record is read again after restart";
}

TEST_F(TransformServiceTest, AcknowledgesUpstreamOnlyAfterTheWriterDid) {
  Start(v1::ConnectorConfig(), testing::SeedTableSchema());
  writer_.Hold(true);
  ASSERT_OK(client_->Send(Batch(1, 0, 0, {"a"})));
  ASSERT_TRUE(writer_.WaitBatches(1));
  EXPECT_FALSE(acks_.Wait(1, absl::Milliseconds(300)));
  writer_.Hold(false);
  EXPECT_TRUE(acks_.Wait(1));
}

}  // namespace
}  // namespace mcsink::transform
