// Helpers for the convert tests: schemas from text and decoding a converter's output back to rows.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "mcsink/convert/converter.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"

namespace mcsink::convert::testing {

// "name TYPE, name TYPE NOT NULL, ..." partitioned by pt STRING.
inline maxcompute::TableSchema SchemaOf(
    const std::vector<std::pair<std::string, std::string>>& cols, bool with_pt = true) {
  maxcompute::TableSchema schema;
  for (const auto& [name, type_text] : cols) {
    std::string text = type_text;
    bool nullable = true;
    const std::string kNotNull = " NOT NULL";
    if (text.size() > kNotNull.size() &&
        text.compare(text.size() - kNotNull.size(), kNotNull.size(), kNotNull) == 0) {
      nullable = false;
      text.resize(text.size() - kNotNull.size());
    }
    auto type = maxcompute::Type::Parse(text);
    EXPECT_TRUE(type.ok()) << type.status();
    schema.columns.push_back({name, type.value_or(maxcompute::Type{}), nullable});
  }
  if (with_pt) schema.partition_columns.push_back({"pt", maxcompute::Type{}, true});
  return schema;
}

// The seed's table: topic STRING, partition BIGINT, offset BIGINT, key STRING, value STRING.
inline maxcompute::TableSchema SeedSchema() {
  return SchemaOf({{"topic", "STRING"},
                   {"partition", "BIGINT"},
                   {"offset", "BIGINT"},
                   {"key", "STRING"},
                   {"value", "STRING"}});
}

// Decodes one partition's rows, checking every record CRC and the stream checksum.
inline std::vector<maxcompute::Row> DecodeRows(const maxcompute::TableSchema& schema,
                                               const PartitionRows& rows) {
  std::string stream = rows.data;
  maxcompute::StreamTrailer trailer;
  for (uint32_t crc : rows.crcs) trailer.Add(crc);
  trailer.AppendTo(&stream);
  auto decoded = maxcompute::DecodeRecordStream(schema, stream);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  return decoded.ok() ? *std::move(decoded) : std::vector<maxcompute::Row>{};
}

// All rows of a batch, in partition order.
inline std::vector<maxcompute::Row> AllRows(const maxcompute::TableSchema& schema,
                                            const ConvertedBatch& batch) {
  std::vector<maxcompute::Row> out;
  for (const PartitionRows& p : batch.partitions) {
    for (auto& row : DecodeRows(schema, p)) out.push_back(std::move(row));
  }
  return out;
}

}  // namespace mcsink::convert::testing
