#include "mcsink/ingest/range_job_queue.h"

#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"

namespace mcsink::ingest {

absl::StatusOr<std::unique_ptr<RangeJobQueue>> RangeJobQueue::Create(RangeReaderOptions options) {
  std::unique_ptr<RangeJobQueue> queue(new RangeJobQueue(options));
  MCSINK_ASSIGN_OR_RETURN(queue->reader_, RangeReader::Create(std::move(options)));
  RangeJobQueue* self = queue.get();
  queue->thread_ = std::thread([self] { self->Run(); });
  return queue;
}

void RangeJobQueue::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reader_ != nullptr) reader_->Cancel();
  if (thread_.joinable()) thread_.join();
}

void RangeJobQueue::Submit(Job job) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      return;
    }
  }
  job.done(absl::CancelledError(
      absl::StrCat("shutting down before ", job.what, " was read back ", options_.purpose)));
}

void RangeJobQueue::Run() {
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
    job.done(Read(job));
  }
  std::deque<Job> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(jobs_);
  }
  for (Job& job : left) {
    job.done(absl::CancelledError(
        absl::StrCat("shutting down before ", job.what, " was read back ", options_.purpose)));
  }
}

absl::Status RangeJobQueue::Read(const Job& job) {
  // A job naming no records cannot be done; taking it as done would lose them.
  if (job.ranges.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(job.what, " names no offset ranges to read back ", options_.purpose));
  }
  for (const v1::OffsetRange& range : job.ranges) {
    MCSINK_RETURN_IF_ERROR(
        reader_->Read(range, [&](v1::KafkaRecord& record) { job.visit(range, record); }));
  }
  return absl::OkStatus();
}

}  // namespace mcsink::ingest
