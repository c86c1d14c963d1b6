// RangeJobQueue, the queue behind Resender and DeadLetterQueue: jobs run one at a time in the
// order submitted, each visiting the records of its ranges in order, then told how the read
// ended; Stop cancels the read in progress, drops what is queued (each told Cancelled) and
// returns promptly.
#include "mcsink/ingest/range_job_queue.h"

#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/testing/mock_kafka.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::ingest {
namespace {

v1::OffsetRange Range(int64_t first, int64_t last) {
  v1::OffsetRange r;
  r.set_topic("src");
  r.set_partition(0);
  r.set_first_offset(first);
  r.set_last_offset(last);
  return r;
}

// What the jobs saw, in the order they saw it: "<what>:<value>" per record, "<what>:<code>" when
// done. Written on the queue's thread only, and read once a job's `done` said so or Stop returned.
using Log = std::vector<std::string>;

// A job that logs what it sees; `done` also gets its status.
RangeJobQueue::Job LoggedJob(Log& log, const std::string& what, std::vector<v1::OffsetRange> ranges,
                             std::function<void(const absl::Status&)> done = nullptr) {
  return {.what = what,
          .ranges = std::move(ranges),
          .visit = [&log, what](
                       const v1::OffsetRange&,
                       v1::KafkaRecord& record) { log.push_back(what + ":" + record.value()); },
          .done =
              [&log, what, done](const absl::Status& status) {
                log.push_back(what + ":" + absl::StatusCodeToString(status.code()));
                if (done) done(status);
              }};
}

RangeReaderOptions Options(const std::string& bootstrap, absl::Duration read_timeout) {
  return {.name = "test-reader",
          .purpose = "for the test",
          .kafka_properties = {{"bootstrap.servers", bootstrap}},
          .read_timeout = read_timeout};
}

TEST(RangeJobQueueTest, JobsRunInOrderEachReadingItsRangesInOrder) {
  // Given records v0..v5 at offsets 0..5 of src[0]
  testing::MockKafkaCluster cluster;
  ASSERT_OK(cluster.CreateTopic("src", 1));
  ASSERT_OK_AND_ASSIGN(auto writer, kafka::KeyedWriter::Create(
                                        {{"bootstrap.servers", cluster.bootstrap_servers()}}));
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(kafka::WrittenOffset at,
                         writer->Write("src", absl::StrCat("k", i), absl::StrCat("v", i)));
    ASSERT_EQ(at.offset, i);
  }
  ASSERT_OK_AND_ASSIGN(
      auto queue, RangeJobQueue::Create(Options(cluster.bootstrap_servers(), absl::Seconds(10))));
  // When three jobs are submitted: two ranges out of offset order, none, one range
  Log log;
  std::promise<void> last;
  queue->Submit(LoggedJob(log, "a", {Range(3, 4), Range(0, 0)}));
  queue->Submit(LoggedJob(log, "b", {}));
  queue->Submit(LoggedJob(log, "c", {Range(5, 5)}, [&](const absl::Status&) { last.set_value(); }));
  ASSERT_EQ(last.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Then each ran after the one before, read its ranges in the order given, and the job naming
  // no ranges failed without stopping the queue
  EXPECT_EQ(log, (std::vector<std::string>{"a:v3", "a:v4", "a:v0", "a:OK", "b:INVALID_ARGUMENT",
                                           "c:v5", "c:OK"}));
}

TEST(RangeJobQueueTest, JobNamingNoRangesSaysWhichJobAndWhatFor) {
  ASSERT_OK_AND_ASSIGN(auto queue,
                       RangeJobQueue::Create(Options("127.0.0.1:1", absl::Seconds(10))));
  std::promise<absl::Status> done;
  queue->Submit({.what = "batch 7",
                 .ranges = {},
                 .visit = [](const v1::OffsetRange&, v1::KafkaRecord&) {},
                 .done = [&](const absl::Status& s) { done.set_value(s); }});
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const absl::Status status = result.get();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "batch 7 names no offset ranges to read back for the test");
}

TEST(RangeJobQueueTest, StopCancelsTheReadInProgressAndDropsQueuedJobsPromptly) {
  // Given a queue whose broker does not answer, so a read would wait for its whole 60 s timeout,
  // a job reading, and two more queued behind it
  ASSERT_OK_AND_ASSIGN(auto queue,
                       RangeJobQueue::Create(Options("127.0.0.1:1", absl::Seconds(60))));
  Log log;
  std::promise<void> started;
  queue->Submit(LoggedJob(log, "first", {}, [&](const absl::Status&) { started.set_value(); }));
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::vector<absl::Status> statuses;
  auto keep = [&](const absl::Status& s) { statuses.push_back(s); };  // all on the queue's thread
  queue->Submit(LoggedJob(log, "reading", {Range(0, 0)}, keep));
  queue->Submit(LoggedJob(log, "queued1", {Range(1, 1)}, keep));
  queue->Submit(LoggedJob(log, "queued2", {Range(2, 2)}, keep));
  absl::SleepFor(absl::Milliseconds(300));  // "reading" is in RangeReader::Read by now
  // When the queue stops
  const absl::Time start = absl::Now();
  queue->Stop();
  // Then it returns long before the read's timeout, the read in progress is cancelled and the
  // queued jobs are dropped, each told Cancelled once, in order; nothing was visited
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(log, (std::vector<std::string>{"first:INVALID_ARGUMENT", "reading:CANCELLED",
                                           "queued1:CANCELLED", "queued2:CANCELLED"}));
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_NE(statuses[0].message().find("reading back src[0] offsets 0..0 for the test"),
            std::string::npos)
      << statuses[0];
  EXPECT_EQ(statuses[1].message(), "shutting down before queued1 was read back for the test");
  // And a job submitted after Stop is told Cancelled at once, and Stop again is harmless
  std::optional<absl::Status> late;
  queue->Submit(LoggedJob(log, "late", {Range(0, 0)}, [&](const absl::Status& s) { late = s; }));
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->code(), absl::StatusCode::kCancelled);
  queue->Stop();
}

}  // namespace
}  // namespace mcsink::ingest
