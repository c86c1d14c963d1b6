// Throughput of the Tunnel record codec on the seed table
// (topic STRING, partition BIGINT, offset BIGINT, key STRING, value STRING; 100-byte values).
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/crc32c.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/types.h"

namespace mcsink::maxcompute {
namespace {

constexpr int kRowsPerBlock = 10000;

TableSchema SeedSchema() {
  TableSchema schema;
  schema.columns = {{"topic", {TypeKind::kString}},
                    {"partition", {TypeKind::kBigint}},
                    {"offset", {TypeKind::kBigint}},
                    {"key", {TypeKind::kString}},
                    {"value", {TypeKind::kString}}};
  return schema;
}

struct SeedMessage {
  std::string topic = "orders-topic";
  int64_t partition = 3;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

std::vector<SeedMessage> SeedMessages() {
  std::vector<SeedMessage> messages(kRowsPerBlock);
  for (int i = 0; i < kRowsPerBlock; ++i) {
    messages[i].offset = 1'000'000'000 + i;
    messages[i].key = "key-" + std::to_string(i);
    messages[i].value = std::string(100, static_cast<char>('a' + i % 26));
  }
  return messages;
}

// The writer's path: typed fields straight into the block buffer.
void BM_EncodeSeedRows(benchmark::State& state) {
  const std::vector<SeedMessage> messages = SeedMessages();
  std::string block;
  size_t bytes = 0;
  for (auto _ : state) {
    block.clear();
    RecordEncoder encoder(&block);
    StreamTrailer trailer;
    for (const SeedMessage& m : messages) {
      encoder.WriteBytes(0, m.topic);
      encoder.WriteInteger(1, m.partition);
      encoder.WriteInteger(2, m.offset);
      encoder.WriteBytes(3, m.key);
      encoder.WriteBytes(4, m.value);
      trailer.Add(encoder.EndRecord());
    }
    trailer.AppendTo(&block);
    benchmark::DoNotOptimize(block.data());
    bytes += block.size();
  }
  state.SetItemsProcessed(state.iterations() * kRowsPerBlock);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeSeedRows);

std::vector<Row> SeedRows() {
  std::vector<Row> rows;
  for (const SeedMessage& m : SeedMessages()) {
    rows.push_back({m.topic, m.partition, m.offset, m.key, m.value});
  }
  return rows;
}

// The local server's download path: Value rows, type-checked.
void BM_EncodeSeedValueRows(benchmark::State& state) {
  const TableSchema schema = SeedSchema();
  const std::vector<Row> rows = SeedRows();
  size_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> block = EncodeRecordStream(schema, rows);
    if (!block.ok()) state.SkipWithError(block.status().ToString().c_str());
    bytes += block->size();
    benchmark::DoNotOptimize(block->data());
  }
  state.SetItemsProcessed(state.iterations() * kRowsPerBlock);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeSeedValueRows);

// The local server's upload validation: stream records through one reused row.
void BM_DecodeSeedRows(benchmark::State& state) {
  const TableSchema schema = SeedSchema();
  const std::string block = *EncodeRecordStream(schema, SeedRows());
  for (auto _ : state) {
    RecordStreamReader reader(schema, block, {.max_cell_bytes = wire::kMaxCellBytes});
    Row row;
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&row);
      if (!got.ok()) state.SkipWithError(got.status().ToString().c_str());
      if (!got.ok() || !*got) break;
      benchmark::DoNotOptimize(row.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * kRowsPerBlock);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(block.size()));
}
BENCHMARK(BM_DecodeSeedRows);

// Decoding into a fresh vector of rows (DecodeRecordStream).
void BM_DecodeSeedRowsToVector(benchmark::State& state) {
  const TableSchema schema = SeedSchema();
  const std::string block = *EncodeRecordStream(schema, SeedRows());
  for (auto _ : state) {
    absl::StatusOr<std::vector<Row>> rows = DecodeRecordStream(schema, block);
    if (!rows.ok()) state.SkipWithError(rows.status().ToString().c_str());
    benchmark::DoNotOptimize(rows->data());
  }
  state.SetItemsProcessed(state.iterations() * kRowsPerBlock);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(block.size()));
}
BENCHMARK(BM_DecodeSeedRowsToVector);

void BM_DeflateSeedBlock(benchmark::State& state) {
  const std::string block = *EncodeRecordStream(SeedSchema(), SeedRows());
  for (auto _ : state) {
    absl::StatusOr<std::string> compressed = DeflateCompress(block);
    benchmark::DoNotOptimize(compressed->data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(block.size()));
}
BENCHMARK(BM_DeflateSeedBlock);

void BM_InflateSeedBlock(benchmark::State& state) {
  const std::string block = *EncodeRecordStream(SeedSchema(), SeedRows());
  const std::string compressed = *DeflateCompress(block);
  for (auto _ : state) {
    absl::StatusOr<std::string> restored = DeflateDecompress(compressed, block.size());
    benchmark::DoNotOptimize(restored->data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(block.size()));
}
BENCHMARK(BM_InflateSeedBlock);

void BM_Crc32c(benchmark::State& state, bool hardware) {
  if (hardware && !internal::Crc32cHardwareAvailable()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    uint32_t crc = hardware ? internal::Crc32cExtendHardware(0, data.data(), data.size())
                            : internal::Crc32cExtendPortable(0, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_Crc32c, portable, false)->Arg(16)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_Crc32c, sse42, true)->Arg(16)->Arg(1 << 20);

}  // namespace
}  // namespace mcsink::maxcompute
