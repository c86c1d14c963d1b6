// Conversion throughput, single-threaded, printed as records per second per core
// (records_per_second_per_core). Targets (issue 4): TEXT with 100-byte values >= 2,000,000;
// CSV of 10 typed columns >= 500,000; JSON of 10 fields >= 300,000.
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "mcsink/convert/converter.h"
#include "mcsink/maxcompute/types.h"

namespace mcsink::convert {
namespace {

constexpr int kBatch = 1000;

maxcompute::TableSchema Schema(const std::vector<std::pair<std::string, std::string>>& cols) {
  maxcompute::TableSchema schema;
  for (const auto& [name, type] : cols) {
    schema.columns.push_back({name, maxcompute::Type::Parse(type).value(), true});
  }
  schema.partition_columns.push_back({"pt", maxcompute::Type{}, true});
  return schema;
}

const std::vector<std::pair<std::string, std::string>> kTypedColumns = {
    {"topic", "STRING"},     {"partition", "BIGINT"},
    {"offset", "BIGINT"},    {"id", "BIGINT"},
    {"qty", "INT"},          {"price", "DOUBLE"},
    {"active", "BOOLEAN"},   {"amount", "DECIMAL(12,2)"},
    {"name", "STRING"},      {"city", "VARCHAR(32)"},
    {"day", "DATE"},         {"created", "DATETIME"},
    {"updated", "TIMESTAMP"}};

void Run(benchmark::State& state, maxcompute::TableSchema schema, ConverterOptions options,
         const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  options.table_name = "bench";
  options.time_source = TimeSource::kRecordTime;
  auto converter = Converter::Create(std::move(schema), std::move(options));
  if (!converter.ok()) {
    state.SkipWithError(std::string(converter.status().message()).c_str());
    return;
  }
  std::vector<KafkaRecordView> records(values.size());
  const int64_t base_ms = absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(2020, 11, 17, 7, 0, 0), absl::UTCTimeZone()));
  for (size_t i = 0; i < values.size(); ++i) {
    records[i].topic = "maxcompute-test-input";
    records[i].partition = 0;
    records[i].offset = static_cast<int64_t>(i);
    records[i].timestamp_ms = base_ms + static_cast<int64_t>(i) * 10;
    records[i].timestamp_type = TimestampType::kCreateTime;
    records[i].key = keys[i];
    records[i].value = values[i];
  }
  ConvertedBatch out;
  size_t bytes = 0;
  for (const auto& v : values) bytes += v.size();
  for (auto _ : state) {
    (*converter)->Convert(records, &out);
    if (!out.errors.empty()) {
      state.SkipWithError(out.errors[0].message.c_str());
      return;
    }
    benchmark::DoNotOptimize(out.partitions.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(records.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["records_per_second_per_core"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(records.size()),
      benchmark::Counter::kIsRate);
}

void BM_Text100ByteValues(benchmark::State& state) {
  std::vector<std::string> keys, values;
  for (int i = 0; i < kBatch; ++i) {
    keys.push_back("key-" + std::to_string(i));
    std::string v = "value " + std::to_string(i) + " ";
    while (v.size() < 100) v.push_back(static_cast<char>('a' + v.size() % 26));
    values.push_back(v);
  }
  ConverterOptions o;
  o.mode = Mode::kDefault;
  o.format = Format::kText;
  Run(state,
      Schema({{"topic", "STRING"},
              {"partition", "BIGINT"},
              {"offset", "BIGINT"},
              {"key", "STRING"},
              {"value", "STRING"}}),
      o, keys, values);
}
BENCHMARK(BM_Text100ByteValues);

void BM_Csv10TypedColumns(benchmark::State& state) {
  std::vector<std::string> keys, values;
  for (int i = 0; i < kBatch; ++i) {
    keys.push_back("");
    values.push_back(std::to_string(1000000 + i) + "," + std::to_string(i % 100) + "," +
                     std::to_string(i) + ".25,true," + std::to_string(i) + ".50,\"name, " +
                     std::to_string(i) + "\",Hangzhou,2020-11-17,2020-11-17 15:04:05," +
                     "2020-11-17 15:04:05.123456");
  }
  ConverterOptions o;
  o.mode = Mode::kValue;
  o.format = Format::kCsv;
  Run(state, Schema(kTypedColumns), o, keys, values);
}
BENCHMARK(BM_Csv10TypedColumns);

void BM_Json10Fields(benchmark::State& state) {
  std::vector<std::string> keys, values;
  for (int i = 0; i < kBatch; ++i) {
    keys.push_back("");
    values.push_back("{\"id\":" + std::to_string(1000000 + i) +
                     ",\"qty\":" + std::to_string(i % 100) + ",\"price\":" + std::to_string(i) +
                     ".25,\"active\":true,\"amount\":\"" + std::to_string(i) +
                     ".50\",\"name\":\"name " + std::to_string(i) +
                     "\",\"city\":\"Hangzhou\",\"day\":\"2020-11-17\",\"created\":\"2020-11-17 "
                     "15:04:05\",\"updated\":\"2020-11-17 15:04:05.123456\"}");
  }
  ConverterOptions o;
  o.mode = Mode::kValue;
  o.format = Format::kJson;
  Run(state, Schema(kTypedColumns), o, keys, values);
}
BENCHMARK(BM_Json10Fields);

}  // namespace
}  // namespace mcsink::convert
