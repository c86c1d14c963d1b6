// Throughput of TableWriter on the seed table (topic STRING, partition BIGINT, offset BIGINT,
// key STRING, value STRING; 100-byte values) into a backend that accepts everything at once:
// the writer's own cost (block building, bookkeeping, acknowledgements), without the network.
#include <atomic>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/writer/table_writer.h"

namespace mcsink::writer {
namespace {

constexpr int kRowsPerBatch = 500;
constexpr int kBatches = 200;

class NullBackend : public TunnelBackend {
 public:
  absl::StatusOr<bool> EnsurePartition(const std::string&, const std::string&) override {
    return false;
  }
  absl::StatusOr<std::string> CreateUploadSession(const std::string&, const std::string&) override {
    return std::string("upload");
  }
  absl::Status UploadBlock(const SessionRef&, int64_t,
                           std::shared_ptr<const std::string> body) override {
    bytes += static_cast<int64_t>(body->size());
    return absl::OkStatus();
  }
  absl::Status Commit(const SessionRef&, const std::vector<int64_t>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<SessionState> GetSessionState(const SessionRef&) override {
    return SessionState{"CLOSED", {}};
  }
  std::atomic<int64_t> bytes{0};
};

// kBatches batches of kRowsPerBatch seed rows, spread over `partitions` pt values.
std::vector<v1::RowBatch> SeedBatches(int partitions) {
  std::vector<v1::RowBatch> batches(kBatches);
  int64_t offset = 0;
  for (int b = 0; b < kBatches; ++b) {
    v1::RowBatch& batch = batches[b];
    batch.set_batch_id(static_cast<uint64_t>(b));
    v1::OffsetRange* range = batch.add_ranges();
    range->set_topic("orders-topic");
    range->set_partition(3);
    range->set_first_offset(offset);
    for (int p = 0; p < partitions; ++p) {
      v1::RowGroup* group = batch.add_groups();
      group->set_pt("11-17-2020 1" + std::to_string(p));
      maxcompute::RecordEncoder encoder(group->mutable_encoded_rows());
      const int rows = kRowsPerBatch / partitions;
      for (int i = 0; i < rows; ++i, ++offset) {
        encoder.WriteBytes(0, "orders-topic");
        encoder.WriteInteger(1, 3);
        encoder.WriteInteger(2, 1'000'000'000 + offset);
        encoder.WriteBytes(3, "key-" + std::to_string(offset));
        encoder.WriteBytes(4, std::string(100, static_cast<char>('a' + offset % 26)));
        group->add_row_crcs(encoder.EndRecord());
      }
      group->set_row_count(static_cast<uint64_t>(rows));
    }
    range->set_last_offset(offset - 1);
  }
  return batches;
}

// Adds every batch, then drains: each iteration writes, commits and acknowledges ~100k rows.
void BM_WriteSeedRows(benchmark::State& state) {
  const int partitions = static_cast<int>(state.range(0));
  const std::vector<v1::RowBatch> batches = SeedBatches(partitions);
  int64_t encoded_bytes = 0;
  int64_t rows = 0;
  for (const v1::RowBatch& b : batches) {
    for (const v1::RowGroup& g : b.groups()) {
      encoded_bytes += static_cast<int64_t>(g.encoded_rows().size());
      rows += static_cast<int64_t>(g.row_count());
    }
  }
  NullBackend backend;
  std::atomic<int64_t> acks{0};
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::RowBatch> copies = batches;  // Add consumes its batch
    TableWriterOptions options;
    options.table = "orders";
    options.block_bytes = 4 << 20;
    TableWriter writer(options, &backend,
                       {.on_ack = [&acks](v1::Ack) { acks.fetch_add(1); }, .on_failure = {}});
    state.ResumeTiming();
    for (v1::RowBatch& batch : copies) {
      absl::Status status = writer.Add(std::move(batch));
      if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    }
    absl::Status drained = writer.Drain(absl::Now() + absl::Seconds(60));
    if (!drained.ok()) state.SkipWithError(std::string(drained.message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * encoded_bytes);
  state.counters["acks"] = static_cast<double>(acks.load());
}
BENCHMARK(BM_WriteSeedRows)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace mcsink::writer
