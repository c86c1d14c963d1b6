// The whole pipeline on a real Kafka broker and mclocal: records produced to a 12-partition topic
// arrive as exactly one row each, with the right topic, partition, offset, key, value and pt, in
// all-in-one mode and in split mode (three processes); SIGTERM drains cleanly. Restarting
// transform, then the writer, mid-stream loses nothing. Failure policies with poisoned records.
#include "e2e_harness.h"

namespace mcsink {
namespace {

using testing::ChildProcess;

TEST_F(PipelineE2ETest, AllInOneDeliversEveryRecordExactlyOnceAndDrainsOnSigterm) {
  const int64_t n = RecordsToProduce();
  ASSERT_OK(Produce(n));
  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(
      ChildProcess sink,
      ChildProcess::Start({MCSINK_ALLINONE, "--connector_config=" + dir_ + "/connector.json",
                           "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                           "--commit_interval_seconds=2"},
                          dir_ + "/mcsink.log", Env()));
  EXPECT_EQ(WaitForRows(n, absl::Minutes(5)), n);
  const absl::Duration took = absl::Now() - start;
  std::cout << "all-in-one: " << n << " records in " << absl::FormatDuration(took) << " ("
            << static_cast<int64_t>(n / absl::ToDoubleSeconds(took)) << " records/s)\n";
  EXPECT_EQ(sink.Stop(absl::Seconds(60)), 0) << "a clean drain exits 0";
  ExpectEveryRecord(n, /*exactly_once=*/true);
}

TEST_F(PipelineE2ETest, SplitModeDeliversEveryRecordEvenWhenTransformAndWriterRestart) {
  const int64_t n = RecordsToProduce();
  const std::string config = "--connector_config=" + dir_ + "/connector.json";
  const std::string transform_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string writer_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  auto start_writer = [&] {
    return ChildProcess::Start({MCSINK_WRITER, config, "--grpc_address=" + writer_addr,
                                "--metrics_address=127.0.0.1:0", "--commit_interval_seconds=2"},
                               dir_ + "/writer.log", Env());
  };
  auto start_transform = [&] {
    return ChildProcess::Start({MCSINK_TRANSFORM, config, "--grpc_address=" + transform_addr,
                                "--writer_address=" + writer_addr, "--metrics_address=127.0.0.1:0"},
                               dir_ + "/transform.log", Env());
  };
  ASSERT_OK_AND_ASSIGN(ChildProcess writer, start_writer());
  ASSERT_OK_AND_ASSIGN(ChildProcess transform, start_transform());
  ASSERT_OK_AND_ASSIGN(
      ChildProcess ingest,
      ChildProcess::Start({MCSINK_INGEST, config, "--transform_address=" + transform_addr,
                           "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"},
                          dir_ + "/ingest.log", Env()));

  // Records keep coming while transform, then the writer, are killed and restarted.
  ASSERT_OK(Produce(n / 2));
  EXPECT_GT(WaitForRows(1, absl::Minutes(2)), 0);
  transform.Kill();
  ASSERT_OK_AND_ASSIGN(transform, start_transform());
  ASSERT_OK(Produce(n / 4));
  writer.Kill();
  ASSERT_OK_AND_ASSIGN(writer, start_writer());
  ASSERT_OK(Produce(n - n / 2 - n / 4));

  // Loss is not allowed; this test does not assert exactly-once (the fault suite does), so it
  // waits for the group to commit everything rather than for a row count.
  EXPECT_TRUE(WaitForGroupAtLogEnd(absl::Minutes(5)));
  EXPECT_EQ(ingest.Stop(absl::Seconds(60)), 0);
  EXPECT_EQ(transform.Stop(absl::Seconds(30)), 0);
  EXPECT_EQ(writer.Stop(absl::Seconds(30)), 0);
  ExpectEveryRecord(n, /*exactly_once=*/false);
}

// A poisoned value (not UTF-8) every 1000 records.
std::string PoisonedValue(int64_t i) {
  return i % 1000 == 7 ? std::string("\xff\xfe bad", 6) : absl::StrCat("value-", i);
}

TEST_F(PipelineE2ETest, ContinuePolicySendsPoisonedRecordsToTheErrorTopicAndKeepsGoing) {
  constexpr int64_t kRecords = 20'000;
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, kRecords, [](int64_t i) { return absl::StrCat(i); }, PoisonedValue));
  ASSERT_OK_AND_ASSIGN(ChildProcess sink, StartAllInOne());
  constexpr int64_t kPoisoned = kRecords / 1000;
  EXPECT_EQ(WaitForRows(kRecords - kPoisoned, absl::Minutes(3)), kRecords - kPoisoned);
  const auto errors = ReadErrorTopic(kPoisoned);
  EXPECT_EQ(static_cast<int64_t>(errors.size()), kPoisoned) << "each poisoned record once";
  for (const auto& [where, code] : errors) EXPECT_EQ(code, "INVALID_UTF8");
  EXPECT_EQ(sink.Stop(absl::Seconds(60)), 0);
  EXPECT_EQ(CountRows().value_or(-1), kRecords - kPoisoned);
}

TEST_F(PipelineE2ETest, StopPolicyStopsOnlyThePoisonedPartitionAtThePoison) {
  WriteConfig("FAILURE_POLICY_STOP");
  // 100 good records in partition 3, then a poisoned one, then 100 more; elsewhere all good.
  auto good = [](int64_t i) { return absl::StrCat("value-", i); };
  auto key = [](int64_t i) { return absl::StrCat(i); };
  ASSERT_OK(testing::ProduceTestRecords(bootstrap_, topic_, 100, key, good, 3));
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, 1, key, [](int64_t) { return std::string("\xff", 1); }, 3));
  ASSERT_OK(testing::ProduceTestRecords(bootstrap_, topic_, 100, key, good, 3));
  ASSERT_OK(testing::ProduceTestRecords(bootstrap_, topic_, 5000, key, good));
  const int64_t partition3_others = [&] {
    auto w = admin_->Watermarks(topic_);
    return w.ok() ? (*w)[3].high - 201 : -1;
  }();
  ASSERT_GE(partition3_others, 0);
  ASSERT_OK_AND_ASSIGN(ChildProcess sink, StartAllInOne());

  // Every good record before the poison arrives, and every record of the other partitions.
  const int64_t expected = 100 + 5000 - partition3_others;
  EXPECT_EQ(WaitForRows(expected, absl::Minutes(3)), expected);
  absl::SleepFor(absl::Seconds(3));  // nothing after the poison may follow
  EXPECT_EQ(CountRows().value_or(-1), expected);
  EXPECT_TRUE(ReadErrorTopic(0).empty()) << "under stop the record stays to be read again";
  EXPECT_EQ(sink.Stop(absl::Seconds(60)), 0);

  // The group committed partition 3 exactly up to the poison; the others to their end.
  auto expect_committed_up_to_the_poison = [&] {
    ASSERT_OK_AND_ASSIGN(const auto committed,
                         admin_->CommittedOffsets("connect-" + name_, topic_));
    EXPECT_EQ(committed.at(3), 100);
    ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic_));
    for (const auto& w : watermarks) {
      if (w.partition != 3 && w.high > 0) {
        EXPECT_EQ(committed.at(w.partition), w.high);
      }
    }
  };
  expect_committed_up_to_the_poison();

  // A restarted connector reads partition 3 from the poison again and stops there again: the
  // exactly-once journal must not count the records after the poison as written (they never
  // were), or the new owner would skip them and commit past the poison.
  ASSERT_OK_AND_ASSIGN(ChildProcess again, StartAllInOne("restarted.log"));
  EXPECT_OK(testing::WaitForFileContaining(dir_ + "/restarted.log", "[3] stopped at offset 100",
                                           absl::Minutes(1)));
  EXPECT_EQ(again.Stop(absl::Seconds(60)), 0);
  EXPECT_EQ(CountRows().value_or(-1), expected);
  expect_committed_up_to_the_poison();
}

}  // namespace
}  // namespace mcsink
