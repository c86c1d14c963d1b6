// The job queue shared by Resender and DeadLetterQueue: on its own thread, one job at a time in
// the order submitted, it reads a job's offset ranges back from Kafka (RangeReader) and hands each
// record to the job, then tells the job how the read ended. The owner keeps only its action (what
// to do with the records, and with the outcome).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "mcsink/ingest/range_reader.h"
#include "mcsink/v1/pipeline.pb.h"

namespace mcsink::ingest {

class RangeJobQueue {
 public:
  struct Job {
    // Names the job in errors, e.g. "batch 7"; the reader's purpose follows it.
    std::string what;
    // Read back in this order; a job naming none fails with InvalidArgument.
    std::vector<v1::OffsetRange> ranges;
    // Called with each record read back (RangeReader::Visit: it may take the record) and the
    // range it belongs to, on the queue's thread.
    std::function<void(const v1::OffsetRange& range, v1::KafkaRecord& record)> visit;
    // Called exactly once, on the queue's thread: OK when every range was read back (the reading
    // stops at the first range that fails), else why not; Cancelled when the queue stopped
    // during the read or before the job started.
    std::function<void(const absl::Status& status)> done;
  };

  // Creates the reader and starts the thread.
  static absl::StatusOr<std::unique_ptr<RangeJobQueue>> Create(RangeReaderOptions options);
  ~RangeJobQueue() { Stop(); }

  // Thread-safe; returns at once. After Stop, `job.done` runs at once (Cancelled) on the caller.
  void Submit(Job job);

  // Cancels the read in progress (its job gets Cancelled, or its own outcome when it was past
  // the read), waits for that job's `done` to return, then drops what is still queued: each
  // `done` gets Cancelled, in order. Idempotent; not to be called from a job.
  void Stop();

 private:
  explicit RangeJobQueue(RangeReaderOptions options) : options_(std::move(options)) {}
  void Run();
  absl::Status Read(const Job& job);

  const RangeReaderOptions options_;
  std::unique_ptr<RangeReader> reader_;
  std::thread thread_;

  absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mcsink::ingest
