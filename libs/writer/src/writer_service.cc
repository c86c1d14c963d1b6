#include "mcsink/writer/writer_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::writer {

absl::StatusOr<std::unique_ptr<WriterService>> WriterService::Create(TableWriterOptions options,
                                                                     TunnelBackend* backend,
                                                                     TableWriterDeps deps) {
  std::unique_ptr<WriterService> service(new WriterService(deps.metrics));
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
    {
      // Several transform streams may use the same ids: the writer numbers batches itself.
      absl::MutexLock lock(&mu_);
      const uint64_t id = ++next_id_;
      origins_[id] = {upstream, batch.batch_id(), batch.min_timestamp_ms()};
      batch.set_batch_id(id);
    }
    const uint64_t id = batch.batch_id();
    if (absl::Status s = writer_->Add(std::move(batch)); !s.ok()) {
      absl::MutexLock lock(&mu_);
      origins_.erase(id);
      MCSINK_LOG(ERROR) << "writer refused a batch: " << s;
      result = grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
      break;
    }
  }
  absl::MutexLock lock(&upstream->mu);
  upstream->stream = nullptr;
  return result;
}

std::optional<WriterService::Origin> WriterService::TakeOrigin(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = origins_.find(id);
  if (it == origins_.end()) return std::nullopt;
  Origin origin = std::move(it->second);
  origins_.erase(it);
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
    // Expected after a rebalance: the partition's new owner reads these records again.
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
                            "' was not committed because its source partition has a "
                            "new owner, which reads the records again: ",
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
