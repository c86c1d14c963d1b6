// MergeStatus: what users see from the data plane's reports, the live offsets and the state
// they asked for.
#include "mcsink/controller/status.h"

#include "gtest/gtest.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/controller/records.h"
#include "mcsink/ingest/status_publisher.h"

namespace mcsink::controller {
namespace {

v1::ConnectorRecord Record(v1::TargetState target, int64_t updated_at_ms = 1000,
                           uint64_t generation = 0) {
  v1::ConnectorRecord r;
  r.mutable_config()->set_name("sink");
  r.mutable_config()->set_source_topic("input");
  *r.mutable_config() = config::WithDefaults(r.config());
  r.set_target_state(target);
  r.set_updated_at_ms(updated_at_ms);
  r.set_restart_generation(generation);
  return r;
}

std::string Report(v1::ConnectorState state, int64_t at_ms, uint64_t generation = 0,
                   const std::string& message = "") {
  v1::ConnectorStatus s;
  s.set_name("sink");
  s.set_state(state);
  s.set_updated_at_ms(at_ms);
  s.set_observed_restart_generation(generation);
  s.set_message(message);
  return ToJson(s);
}

v1::ConnectorOffsets Offsets(int partitions) {
  v1::ConnectorOffsets o;
  for (int p = 0; p < partitions; ++p) {
    v1::PartitionOffset* po = o.add_partitions();
    po->set_topic("input");
    po->set_partition(p);
    po->set_committed_offset(p == 0 ? -1 : 10);
    po->set_log_start_offset(2);
    po->set_log_end_offset(25);
  }
  return o;
}

TEST(MergeStatus, NotDeployedAndNoReportIsCreated) {
  EXPECT_EQ(MergeStatus(Record(v1::TARGET_STATE_STOPPED), {}, std::nullopt).state(),
            v1::CONNECTOR_STATE_CREATED);
}

TEST(MergeStatus, DeployedAndNoReportIsStarting) {
  EXPECT_EQ(MergeStatus(Record(v1::TARGET_STATE_RUNNING), {}, std::nullopt).state(),
            v1::CONNECTOR_STATE_STARTING);
}

TEST(MergeStatus, AReportOlderThanTheDeployIsStarting) {
  const auto status =
      MergeStatus(Record(v1::TARGET_STATE_RUNNING, /*updated_at_ms=*/2000),
                  {{"connector-sink", Report(v1::CONNECTOR_STATE_STOPPED, 1500)}}, std::nullopt);
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_STARTING);
}

TEST(MergeStatus, AFailureReportedAfterTheDeployKeepsItsMessage) {
  const auto status = MergeStatus(
      Record(v1::TARGET_STATE_RUNNING, 2000),
      {{"connector-sink", Report(v1::CONNECTOR_STATE_FAILED, 2500, 0, "table not found")}},
      std::nullopt);
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_FAILED);
  EXPECT_EQ(status.message(), "table not found");
}

TEST(MergeStatus, ARestartNotYetObservedIsStarting) {
  const auto status =
      MergeStatus(Record(v1::TARGET_STATE_RUNNING, 2000, /*generation=*/3),
                  {{"connector-sink", Report(v1::CONNECTOR_STATE_RUNNING, 2500, 2)}}, std::nullopt);
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_STARTING);
}

TEST(MergeStatus, EveryPartitionIsListedWithLiveOffsetsAndLag) {
  v1::PartitionStatus owned;
  owned.set_state(v1::PARTITION_STATE_RUNNING);
  owned.set_owner("host-1/consumer-0");
  owned.set_committed_offset(3);  // stale: the live offset wins
  const auto status = MergeStatus(Record(v1::TARGET_STATE_RUNNING, 2000),
                                  {{"connector-sink", Report(v1::CONNECTOR_STATE_RUNNING, 2500)},
                                   {"partition-input-1", ToJson(owned)}},
                                  Offsets(2));
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_RUNNING);
  ASSERT_EQ(status.partitions_size(), 2);
  EXPECT_EQ(status.partitions(0).state(), v1::PARTITION_STATE_UNASSIGNED);
  EXPECT_EQ(status.partitions(0).committed_offset(), -1);
  EXPECT_EQ(status.partitions(0).lag(), 23);  // nothing committed: from the log start
  EXPECT_EQ(status.partitions(1).owner(), "host-1/consumer-0");
  EXPECT_EQ(status.partitions(1).committed_offset(), 10);
  EXPECT_EQ(status.partitions(1).log_end_offset(), 25);
  EXPECT_EQ(status.partitions(1).lag(), 15);
}

TEST(MergeStatus, AStoppedPartitionFailsTheConnectorAndIsNamed) {
  v1::PartitionStatus stopped;
  stopped.set_state(v1::PARTITION_STATE_STOPPED);
  stopped.mutable_last_error()->set_code("CSV_FIELD_COUNT");
  stopped.mutable_last_error()->set_message("3 fields, table has 4");
  stopped.mutable_last_error()->set_offset(17);
  const auto status = MergeStatus(Record(v1::TARGET_STATE_RUNNING, 2000),
                                  {{"connector-sink", Report(v1::CONNECTOR_STATE_RUNNING, 2500)},
                                   {"partition-input-1", ToJson(stopped)}},
                                  Offsets(2));
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_FAILED);
  EXPECT_NE(status.message().find("input[1] at offset 17: 3 fields, table has 4"),
            std::string::npos)
      << status.message();
}

TEST(MergeStatus, PartitionsOfAPausedConnectorArePausedWhateverTheirLastReport) {
  v1::PartitionStatus owned;
  owned.set_state(v1::PARTITION_STATE_RUNNING);
  owned.set_owner("host-1/consumer-0");
  const auto status = MergeStatus(Record(v1::TARGET_STATE_PAUSED, 2000),
                                  {{"connector-sink", Report(v1::CONNECTOR_STATE_PAUSED, 2500)},
                                   {"partition-input-1", ToJson(owned)}},
                                  Offsets(2));
  EXPECT_EQ(status.state(), v1::CONNECTOR_STATE_PAUSED);
  ASSERT_EQ(status.partitions_size(), 2);
  for (const auto& p : status.partitions()) {
    EXPECT_EQ(p.state(), v1::PARTITION_STATE_PAUSED) << p.partition();
    EXPECT_EQ(p.owner(), "") << p.partition();
  }
}

TEST(PartitionKey, ReadsTheKeyIngestWritesForTopicsWithDashes) {
  const auto parsed = ParsePartitionKey(ingest::PartitionStatusKey("maxcompute-test-input", 11));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, "maxcompute-test-input");
  EXPECT_EQ(parsed->second, 11);
  EXPECT_FALSE(ParsePartitionKey("connector-sink").has_value());
  EXPECT_FALSE(ParsePartitionKey("partition-topic-x").has_value());
}

}  // namespace
}  // namespace mcsink::controller
