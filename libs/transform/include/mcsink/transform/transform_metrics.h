// The transform service's Prometheus metrics (mcsink_transform_*), reported through
// intention-named methods.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mcsink::transform {

class TransformMetrics {
 public:
  TransformMetrics(prometheus::Registry& registry, const std::string& connector);

  void OnBatchConverted(int64_t records, int64_t rows, double seconds);
  void OnConversionError(std::string_view code);
  void OnErrorRecordDelivered(bool ok);
  void OnPartitionStopped();
  void SetInFlight(int64_t batches);

 private:
  const std::string connector_;
  prometheus::Counter& records_;
  prometheus::Counter& rows_;
  prometheus::Counter& batches_;
  prometheus::Histogram& convert_seconds_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& error_records_;
  prometheus::Counter& error_record_failures_;
  prometheus::Counter& stopped_;
  prometheus::Gauge& in_flight_;
};

}  // namespace mcsink::transform
