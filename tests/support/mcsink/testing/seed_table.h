// The table of the Alibaba guide's example, as tests build it.
#pragma once

#include "mcsink/maxcompute/types.h"

namespace mcsink::testing {

// The guide's table: topic, partition, offset, key, value; partitioned by pt.
inline maxcompute::TableSchema SeedTableSchema() {
  maxcompute::TableSchema schema;
  schema.columns = {{"topic", {maxcompute::TypeKind::kString}},
                    {"partition", {maxcompute::TypeKind::kBigint}},
                    {"offset", {maxcompute::TypeKind::kBigint}},
                    {"key", {maxcompute::TypeKind::kString}},
                    {"value", {maxcompute::TypeKind::kString}}};
  schema.partition_columns = {{"pt", {maxcompute::TypeKind::kString}}};
  return schema;
}

}  // namespace mcsink::testing
