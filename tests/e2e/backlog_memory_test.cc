// Bounded memory under backlog: 5,000,000 records wait in Kafka while mclocal commits slowly
// (delay injection); each split service's peak resident memory stays under its bound.
#include <fstream>

#include "e2e_harness.h"

namespace mcsink {
namespace {

using testing::ChildProcess;

// Peak resident set (VmHWM) of a process, in MiB.
int64_t PeakRssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  }
  return -1;
}

class BacklogMemoryTest : public PipelineE2ETest {
 protected:
  // Every block upload and commit takes a second: the writer is the bottleneck.
  std::vector<std::string> MclocalFlags() const override {
    return {"--fault=put_block:delay:1000", "--fault=commit:delay:1000"};
  }
};

TEST_F(BacklogMemoryTest, EveryServiceStaysUnderItsBoundWithALargeBacklogAndASlowWriter) {
  const int64_t n = std::max<int64_t>(RecordsToProduce() * 5, 5'000);
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, n, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) {
        std::string v = absl::StrCat("value-", i, "-");
        v.resize(100, 'x');
        return v;
      }));
  // The bounds under test, and what each process may hold beyond them (code, libraries,
  // allocator slack, gRPC and librdkafka buffers).
  constexpr int kIngestInFlightMb = 32, kFetchMb = 12, kTransformUnackedMb = 32, kWriterMb = 64;
  constexpr int kOverheadMb = 112;
  const std::string config = "--connector_config=" + dir_ + "/connector.json";
  const std::string transform_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string writer_addr = absl::StrCat("127.0.0.1:", testing::FreePort());
  ASSERT_OK_AND_ASSIGN(
      ChildProcess writer,
      ChildProcess::Start(
          {MCSINK_WRITER, config, "--grpc_address=" + writer_addr, "--metrics_address=127.0.0.1:0",
           "--commit_interval_seconds=2", "--block_mb=8", "--commit_mb=16",
           absl::StrCat("--writer_buffer_mb=", kWriterMb)},
          dir_ + "/writer.log", Env()));
  ASSERT_OK_AND_ASSIGN(
      ChildProcess transform,
      ChildProcess::Start({MCSINK_TRANSFORM, config, "--grpc_address=" + transform_addr,
                           "--writer_address=" + writer_addr, "--metrics_address=127.0.0.1:0",
                           absl::StrCat("--transform_unacked_mb=", kTransformUnackedMb)},
                          dir_ + "/transform.log", Env()));
  ASSERT_OK_AND_ASSIGN(
      ChildProcess ingest,
      ChildProcess::Start({MCSINK_INGEST, config, "--transform_address=" + transform_addr,
                           "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                           absl::StrCat("--ingest_in_flight_mb=", kIngestInFlightMb),
                           absl::StrCat("--ingest_fetch_queue_mb=", kFetchMb)},
                          dir_ + "/ingest.log", Env()));

  // Run under backlog for a while: rows trickle in while most of the records wait in Kafka.
  const int64_t early = WaitForRows(1, absl::Minutes(2));
  EXPECT_GT(early, 0);
  absl::SleepFor(absl::Seconds(20));
  const int64_t later = CountRows().value_or(-1);
  const int64_t ingest_mb = PeakRssMb(ingest.pid());
  const int64_t transform_mb = PeakRssMb(transform.pid());
  const int64_t writer_mb = PeakRssMb(writer.pid());
  std::cout << "backlog of " << n << " records, " << later << " written after 20 s\n"
            << "peak RSS: ingest " << ingest_mb << " MiB (bound " << kIngestInFlightMb + kFetchMb
            << " + " << kOverheadMb << "), transform " << transform_mb << " MiB (bound "
            << kTransformUnackedMb << " + " << kOverheadMb << "), writer " << writer_mb
            << " MiB (bound " << kWriterMb << " + " << kOverheadMb << ")\n";
  EXPECT_LT(later, n) << "the writer was meant to be the bottleneck";
  EXPECT_GT(later, early) << "rows keep arriving";
  EXPECT_LE(ingest_mb, kIngestInFlightMb + kFetchMb + kOverheadMb);
  EXPECT_LE(transform_mb, kTransformUnackedMb + kOverheadMb);
  EXPECT_LE(writer_mb, kWriterMb + kOverheadMb);
  ingest.Kill();
  transform.Kill();
  writer.Kill();
}

}  // namespace
}  // namespace mcsink
