#include "mcsink/transform/transform_metrics.h"

#include "mcsink/common/metric_families.h"

namespace mcsink::transform {

TransformMetrics::TransformMetrics(prometheus::Registry& r, const std::string& connector)
    : connector_(connector),
      records_(AddCounter(r, "mcsink_transform_records_total", "Records received from ingest.",
                          {{"connector", connector}})),
      rows_(AddCounter(r, "mcsink_transform_rows_total", "Rows converted for the writer.",
                       {{"connector", connector}})),
      batches_(AddCounter(r, "mcsink_transform_batches_total", "Batches converted.",
                          {{"connector", connector}})),
      convert_seconds_(
          prometheus::BuildHistogram()
              .Name("mcsink_transform_batch_convert_seconds")
              .Help("Time to convert one batch.")
              .Register(r)
              .Add({{"connector", connector}},
                   prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025, 0.05, 0.1, 0.25, 0.5, 1})),
      errors_(prometheus::BuildCounter()
                  .Name("mcsink_transform_conversion_errors_total")
                  .Help("Records that could not be converted, by reason.")
                  .Register(r)),
      error_records_(AddCounter(r, "mcsink_transform_error_topic_records_total",
                                "Failed records written to the error topic.",
                                {{"connector", connector}})),
      error_record_failures_(AddCounter(r, "mcsink_transform_error_topic_failures_total",
                                        "Failed records the error topic did not take.",
                                        {{"connector", connector}})),
      stopped_(AddCounter(r, "mcsink_transform_stopped_partitions_total",
                          "Partitions stopped by the failure policy 'stop'.",
                          {{"connector", connector}})),
      in_flight_(prometheus::BuildGauge()
                     .Name("mcsink_transform_in_flight_batches")
                     .Help("Batches converted and not yet acknowledged downstream.")
                     .Register(r)
                     .Add({{"connector", connector}})) {}

void TransformMetrics::OnBatchConverted(int64_t records, int64_t rows, double seconds) {
  batches_.Increment();
  records_.Increment(static_cast<double>(records));
  rows_.Increment(static_cast<double>(rows));
  convert_seconds_.Observe(seconds);
}

void TransformMetrics::OnConversionError(std::string_view code) {
  errors_.Add({{"connector", connector_}, {"reason", std::string(code)}}).Increment();
}

void TransformMetrics::OnErrorRecordDelivered(bool ok) {
  (ok ? error_records_ : error_record_failures_).Increment();
}

void TransformMetrics::OnPartitionStopped() { stopped_.Increment(); }
void TransformMetrics::SetInFlight(int64_t batches) {
  in_flight_.Set(static_cast<double>(batches));
}

}  // namespace mcsink::transform
