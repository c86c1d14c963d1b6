#include "mcsink/ingest/resender.h"

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::ingest {

absl::StatusOr<std::unique_ptr<Resender>> Resender::Create(ResenderOptions options, Send send,
                                                           Failed failed) {
  std::unique_ptr<Resender> resender(
      new Resender(std::move(options), std::move(send), std::move(failed)));
  const ResenderOptions& o = resender->options_;
  MCSINK_ASSIGN_OR_RETURN(resender->queue_,
                          RangeJobQueue::Create({.name = o.connector + "-resend-reader",
                                                 .purpose = "to send it again after FENCED",
                                                 .kafka_properties = o.kafka_properties,
                                                 .read_timeout = o.read_timeout}));
  return resender;
}

// The queue's jobs run this object's callbacks: stop it while they are still valid.
Resender::~Resender() {
  if (queue_ != nullptr) queue_->Stop();
}

void Resender::Submit(uint64_t batch_id, std::vector<v1::OffsetRange> ranges) {
  auto batch = std::make_shared<v1::RecordBatch>();
  batch->set_connector(options_.connector);
  batch->set_batch_id(batch_id);
  if (!ranges.empty()) batch->set_topic(ranges.front().topic());
  batch->set_redelivery(true);
  for (const v1::OffsetRange& range : ranges) *batch->add_ranges() = range;
  queue_->Submit(
      {.what = absl::StrCat("batch ", batch_id),
       .ranges = std::move(ranges),
       .visit = [batch](const v1::OffsetRange&,
                        v1::KafkaRecord& record) { batch->add_records()->Swap(&record); },
       .done =
           [this, batch_id, batch](const absl::Status& read) {
             absl::Status status = read.ok() ? SendAgain(std::move(*batch)) : read;
             if (!status.ok()) failed_(batch_id, status);
           }});
}

absl::Status Resender::SendAgain(v1::RecordBatch batch) {
  MCSINK_LOG(INFO) << options_.connector << ": batch " << batch.batch_id() << " sent again ("
                   << batch.records_size() << " records in " << batch.ranges_size()
                   << " ranges) after a FENCED answer";
  return send_(std::move(batch));
}

}  // namespace mcsink::ingest
