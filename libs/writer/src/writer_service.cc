#include "mcsink/writer/writer_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::writer {

absl::StatusOr<std::unique_ptr<WriterService>> WriterService::Create(TableWriterOptions options,
                                                                     TunnelBackend* backend,
                                                                     TableWriterDeps deps) {
  std::unique_ptr<WriterService> service(new WriterService(deps.metrics, deps.journal));
  WriterService* self = service.get();
  TableWriterCallbacks callbacks;
  callbacks.on_ack = [self](v1::Ack ack) { self->OnAck(std::move(ack)); };
  callbacks.on_failure = [self](const WriteFailure& f) { self->OnFailure(f); };
  MCSINK_ASSIGN_OR_RETURN(service->writer_,
                          TableWriter::Create(std::move(options), backend, callbacks, deps));
  return service;
}

grpc::Status WriterService::Write(grpc::ServerContext*,
                                  grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) {
  auto upstream = std::make_shared<Upstream>();
  {
    absl::MutexLock lock(&upstream->mu);
    upstream->stream = stream;
  }
  v1::RowBatch batch;
  grpc::Status result = grpc::Status::OK;
  while (stream->Read(&batch)) {
    std::string copy_key;
    if (journal_ != nullptr) {
      copy_key = CopyKey(batch);
      if (batch.redelivery() &&
          (TakeOver(copy_key, upstream, batch) || AnswerRedelivery(upstream, batch))) {
        continue;
      }
    }
    {
      // Several transform streams may use the same ids: the writer numbers batches itself.
      absl::MutexLock lock(&mu_);
      const uint64_t id = ++next_id_;
      origins_[id] = {upstream, batch.batch_id(), batch.min_timestamp_ms(), copy_key};
      if (!copy_key.empty()) in_flight_[copy_key] = id;
      batch.set_batch_id(id);
    }
    const uint64_t id = batch.batch_id();
    if (absl::Status s = writer_->Add(std::move(batch)); !s.ok()) {
      (void)TakeOrigin(id);
      MCSINK_LOG(ERROR) << "writer refused a batch: " << s;
      result = grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
      break;
    }
  }
  absl::MutexLock lock(&upstream->mu);
  upstream->stream = nullptr;
  return result;
}

std::string WriterService::CopyKey(const v1::RowBatch& batch) {
  std::string key;
  for (const v1::OffsetRange& r : batch.ranges()) {
    absl::StrAppend(&key, r.topic(), "/", r.partition(), "/", r.first_offset(), "/",
                    r.last_offset(), "/", r.epoch(), ";");
  }
  return key;
}

bool WriterService::TakeOver(const std::string& copy_key, const std::shared_ptr<Upstream>& upstream,
                             const v1::RowBatch& batch) {
  if (copy_key.empty()) return false;
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(copy_key);
  if (it == in_flight_.end()) return false;
  auto origin = origins_.find(it->second);
  if (origin == origins_.end()) return false;
  // The first copy is still being written here (its sender reconnected): its outcome answers
  // the new copy, which is not written a second time.
  origin->second.upstream = upstream;
  origin->second.batch_id = batch.batch_id();
  MCSINK_LOG(INFO) << "redelivered batch " << batch.batch_id()
                   << " is still being written by this writer: it is answered when that copy is";
  return true;
}

bool WriterService::AnswerRedelivery(const std::shared_ptr<Upstream>& upstream,
                                     const v1::RowBatch& batch) {
  const std::vector<v1::OffsetRange> ranges(batch.ranges().begin(), batch.ranges().end());
  if (ranges.empty()) return false;
  absl::StatusOr<std::vector<v1::OffsetRange>> unwritten = journal_->Unwritten(ranges);
  if (!unwritten.ok()) {
    // Writing it is still safe: its commit is refused if an earlier session holds its records.
    MCSINK_LOG(WARNING) << "checking redelivered batch " << batch.batch_id()
                        << " against the exactly-once journal failed; writing it: "
                        << unwritten.status();
    return false;
  }
  auto count = [](const std::vector<v1::OffsetRange>& rs) {
    int64_t n = 0;
    for (const v1::OffsetRange& r : rs) n += r.last_offset() - r.first_offset() + 1;
    return n;
  };
  if (count(*unwritten) == count(ranges)) return false;
  v1::Ack ack;
  for (const v1::OffsetRange& r : ranges) *ack.add_ranges() = r;
  if (!unwritten->empty()) {
    // Rare (batches are re-sent whole): ingest reads the unwritten offsets back and sends them
    // again under this batch id.
    v1::BatchFailure* f = ack.add_failures();
    f->set_code(pipeline::kFenced);
    f->set_message(absl::StrCat("redelivered batch is written in part already (journal); the ",
                                unwritten->size(), " ranges not written must be sent again"));
    for (const v1::OffsetRange& r : *unwritten) *f->add_ranges() = r;
  }
  MCSINK_LOG(INFO) << "redelivered batch " << batch.batch_id() << " of " << ranges.size()
                   << " ranges is "
                   << (unwritten->empty() ? "written already: acknowledged without writing it"
                                          : "written in part: asking for the rest again");
  Reply(Origin{upstream, batch.batch_id(), batch.min_timestamp_ms()}, ack);
  return true;
}

std::optional<WriterService::Origin> WriterService::TakeOrigin(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = origins_.find(id);
  if (it == origins_.end()) return std::nullopt;
  Origin origin = std::move(it->second);
  origins_.erase(it);
  if (!origin.copy_key.empty()) {
    auto copy = in_flight_.find(origin.copy_key);
    if (copy != in_flight_.end() && copy->second == id) in_flight_.erase(copy);
  }
  return origin;
}

void WriterService::Reply(const Origin& origin, v1::Ack& ack) {
  ack.set_batch_id(origin.batch_id);
  absl::MutexLock lock(&origin.upstream->mu);
  // A stream that ended meanwhile is gone; transform resends the batch after reconnecting.
  if (origin.upstream->stream != nullptr) origin.upstream->stream->Write(ack);
}

void WriterService::OnAck(v1::Ack ack) {
  std::optional<Origin> origin = TakeOrigin(ack.batch_id());
  if (!origin) return;
  // Acknowledgements are delivered right after the commit that made the batch durable.
  if (metrics_ != nullptr && origin->min_timestamp_ms > 0) {
    metrics_->OnProduceToCommit(
        static_cast<double>(absl::ToUnixMillis(absl::Now()) - origin->min_timestamp_ms) / 1000.0);
  }
  Reply(*origin, ack);
}

void WriterService::OnFailure(const WriteFailure& failure) {
  const bool fenced = IsFenced(failure.status);
  if (fenced) {
    // Expected after a rebalance (the partition's new owner reads these records again) or a
    // restart (a second copy of re-sent batches; the owner sends them again and they are found
    // written).
    MCSINK_LOG(WARNING) << "not committing partition " << failure.partition << " for "
                        << failure.batch_ids.size() << " batches: " << failure.status;
  } else {
    MCSINK_LOG(ERROR) << "writing partition " << failure.partition << " failed for "
                      << failure.batch_ids.size() << " batches: " << failure.status;
  }
  // The rows are gone from the writer; upstream knows which records each batch carried and
  // dead-letters them (or stops the partitions, by policy), or, when fenced, leaves them to the
  // new owner. The failure names no ranges here: empty means every record of the RowBatch.
  v1::Ack ack;
  v1::BatchFailure* f = ack.add_failures();
  f->set_code(fenced ? pipeline::kFenced : pipeline::kWriterFailed);
  f->set_message(
      fenced ? absl::StrCat("partition '", failure.partition,
                            "' was not committed: the exactly-once journal refused the session "
                            "(a new owner of a source partition reads the records again, or an "
                            "earlier session holds some of them): ",
                            failure.status.ToString())
             : absl::StrCat("writing partition '", failure.partition,
                            "' into MaxCompute failed permanently: ", failure.status.ToString()));
  for (uint64_t id : failure.batch_ids) {
    std::optional<Origin> origin = TakeOrigin(id);
    if (origin) Reply(*origin, ack);
  }
}

void WriterService::Flush() { writer_->Flush(); }

absl::Status WriterService::Drain(absl::Time deadline) { return writer_->Drain(deadline); }

}  // namespace mcsink::writer
