// Shared by the convert fuzz targets: a table schema chosen by the input's first bytes, and the
// invariants every conversion must keep whatever the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mcsink/convert/converter.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/types.h"

namespace mcsink::convert::fuzz {

inline const char* const kTypes[] = {
    "BIGINT", "INT",    "SMALLINT",   "TINYINT", "DOUBLE", "FLOAT", "BOOLEAN",  "DECIMAL(6,2)",
    "STRING", "BINARY", "VARCHAR(4)", "CHAR(2)", "JSON",   "DATE",  "DATETIME", "TIMESTAMP"};
inline constexpr size_t kTypeCount = sizeof(kTypes) / sizeof(kTypes[0]);

// Consumes up to 4 bytes of `*data`: 1..4 payload columns named a..d of fuzzer-chosen types, with
// the Kafka metadata columns around them, partitioned by pt.
inline maxcompute::TableSchema TakeSchema(std::string_view* data) {
  maxcompute::TableSchema schema;
  schema.columns.push_back({"topic", maxcompute::Type{}, true});
  const size_t n = data->empty() ? 1 : 1 + static_cast<unsigned char>((*data)[0]) % 4;
  if (!data->empty()) data->remove_prefix(1);
  for (size_t i = 0; i < n; ++i) {
    size_t type = 0;
    if (!data->empty()) {
      type = static_cast<unsigned char>((*data)[0]);
      data->remove_prefix(1);
    }
    schema.columns.push_back({std::string(1, static_cast<char>('a' + i)),
                              maxcompute::Type::Parse(kTypes[type % kTypeCount]).value(),
                              // high bit: NOT NULL
                              (type & 0x80) == 0});
  }
  schema.columns.push_back({"offset", maxcompute::Type::Parse("BIGINT").value(), true});
  schema.partition_columns.push_back({"pt", maxcompute::Type{}, true});
  return schema;
}

inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// Converts `payload` as the value of one record (and of a batch of three copies, one of them
// with a null value) and checks: each input in exactly one of rows or errors, every error has a
// message, every partition decodes with its CRCs to as many rows as it claims.
inline void ConvertAndCheck(Converter& converter, std::string_view payload) {
  std::vector<KafkaRecordView> records(3);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].topic = "fuzz";
    records[i].offset = static_cast<int64_t>(i);
    records[i].key = payload;
    records[i].value = payload;
  }
  records[1].value = std::nullopt;
  ConvertedBatch out;
  converter.Convert(records, &out);
  std::set<size_t> seen;
  for (const PartitionRows& p : out.partitions) {
    Check(p.crcs.size() == p.input_indices.size() && p.crcs.size() == p.record_ends.size(),
          "per-row vectors have the same length");
    for (size_t idx : p.input_indices) Check(seen.insert(idx).second, "input index seen once");
    std::string stream = p.data;
    maxcompute::StreamTrailer trailer;
    for (uint32_t crc : p.crcs) trailer.Add(crc);
    trailer.AppendTo(&stream);
    auto rows = maxcompute::DecodeRecordStream(converter.schema(), stream);
    if (!rows.ok()) std::fprintf(stderr, "%s\n", std::string(rows.status().message()).c_str());
    Check(rows.ok(), "encoded rows decode");
    Check(rows->size() == p.row_count(), "decoded row count");
  }
  for (const RecordError& e : out.errors) {
    Check(seen.insert(e.input_index).second, "input index seen once");
    Check(!e.message.empty(), "error has a message");
    Check(!ErrorCodeName(e.code).empty(), "error code has a name");
  }
  Check(seen.size() == records.size(), "every input accounted for");
}

}  // namespace mcsink::convert::fuzz
