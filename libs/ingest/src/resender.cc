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
  MCSINK_ASSIGN_OR_RETURN(resender->reader_,
                          RangeReader::Create({.name = o.connector + "-resend-reader",
                                               .purpose = "to send it again after FENCED",
                                               .kafka_properties = o.kafka_properties,
                                               .read_timeout = o.read_timeout}));
  Resender* self = resender.get();
  resender->thread_ = std::thread([self] { self->Run(); });
  return resender;
}

Resender::~Resender() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reader_ != nullptr) reader_->Cancel();
  if (thread_.joinable()) thread_.join();
}

void Resender::Submit(uint64_t batch_id, std::vector<v1::OffsetRange> ranges) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back({batch_id, std::move(ranges)});
}

void Resender::Run() {
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !jobs_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (absl::Status status = Resend(job); !status.ok()) failed_(job.batch_id, status);
  }
  std::deque<Job> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(jobs_);
  }
  for (const Job& job : left) {
    failed_(job.batch_id, absl::CancelledError("shutting down before the batch was sent again"));
  }
}

absl::Status Resender::Resend(const Job& job) {
  if (job.ranges.empty()) {
    return absl::InvalidArgumentError("the FENCED answer names no ranges to send again");
  }
  v1::RecordBatch batch;
  batch.set_connector(options_.connector);
  batch.set_batch_id(job.batch_id);
  batch.set_topic(job.ranges.front().topic());
  batch.set_redelivery(true);
  for (const v1::OffsetRange& range : job.ranges) {
    *batch.add_ranges() = range;
    MCSINK_RETURN_IF_ERROR(reader_->Read(
        range, [&batch](v1::KafkaRecord& record) { batch.add_records()->Swap(&record); }));
  }
  MCSINK_LOG(INFO) << options_.connector << ": batch " << job.batch_id << " sent again ("
                   << batch.records_size() << " records in " << batch.ranges_size()
                   << " ranges) after a FENCED answer";
  return send_(std::move(batch));
}

}  // namespace mcsink::ingest
