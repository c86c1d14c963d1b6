#include "mcsink/writer/writer_service.h"

#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::writer {

absl::StatusOr<std::unique_ptr<WriterService>> WriterService::Create(TableWriterOptions options,
                                                                     TunnelBackend* backend,
                                                                     TableWriterDeps deps) {
  std::unique_ptr<WriterService> service(new WriterService());
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
      origins_[id] = {upstream, batch.batch_id()};
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

void WriterService::OnAck(v1::Ack ack) {
  Origin origin;
  {
    absl::MutexLock lock(&mu_);
    auto it = origins_.find(ack.batch_id());
    if (it == origins_.end()) return;
    origin = std::move(it->second);
    origins_.erase(it);
  }
  ack.set_batch_id(origin.batch_id);
  absl::MutexLock lock(&origin.upstream->mu);
  // A stream that ended meanwhile is gone; transform resends the batch after reconnecting.
  if (origin.upstream->stream != nullptr) origin.upstream->stream->Write(ack);
}

void WriterService::OnFailure(const WriteFailure& failure) {
  // Not acknowledged: transform and ingest keep the batches, and they are read again after a
  // restart; the status says why.
  MCSINK_LOG(ERROR) << "writing partition " << failure.partition << " failed for "
                    << failure.batch_ids.size() << " batches: " << failure.status;
  absl::MutexLock lock(&mu_);
  for (uint64_t id : failure.batch_ids) origins_.erase(id);
}

void WriterService::Flush() { writer_->Flush(); }

absl::Status WriterService::Drain(absl::Time deadline) { return writer_->Drain(deadline); }

}  // namespace mcsink::writer
