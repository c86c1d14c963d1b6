// The sending side of a pipeline stream (ingest -> transform, transform -> writer): a gRPC
// bidirectional stream of batches with acknowledgements flowing back. It keeps every batch
// until it is acknowledged, and when the stream breaks (the peer restarted, the network
// dropped) it reconnects with exponential backoff and sends the unacknowledged batches again, in
// order. Send blocks while the unacknowledged bytes exceed the bound, which is how backpressure
// reaches the sender.
//
// Req and Resp are protobuf messages with a uint64 batch_id (RecordBatch/RowBatch and Ack); Req
// also has a bool `redelivery`, which is set on a batch sent again after a reconnect (the peer,
// or the one it replaced, may have received and acted on the first copy).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/sync_stream.h"
#include "mcsink/common/log.h"

namespace mcsink::pipeline {

struct StreamClientOptions {
  std::string name;                      // for logs: "ingest->transform"
  int64_t max_unacked_bytes = 64 << 20;  // Send blocks above this
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
};

template <typename Req, typename Resp>
class StreamClient {
 public:
  using Stream = grpc::ClientReaderWriterInterface<Req, Resp>;
  // Opens a new stream on `context` (e.g. stub->Convert(context)).
  using Opener = std::function<std::unique_ptr<Stream>(grpc::ClientContext*)>;
  using OnResponse = std::function<void(const Resp&)>;

  StreamClient(StreamClientOptions options, Opener opener, OnResponse on_response)
      : options_(std::move(options)),
        opener_(std::move(opener)),
        on_response_(std::move(on_response)) {
    reader_ = std::thread([this] { ReadLoop(); });
    writer_ = std::thread([this] { WriteLoop(); });
  }

  ~StreamClient() { Close(absl::ZeroDuration()); }
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Queues `req` for sending. Blocks while more than max_unacked_bytes are unacknowledged;
  // fails only once Close was called.
  absl::Status Send(Req req) {
    const int64_t size = static_cast<int64_t>(req.ByteSizeLong());
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return closed_ || unacked_bytes_ < options_.max_unacked_bytes;
    };
    mu_.Await(absl::Condition(&room));
    if (closed_) return absl::CancelledError(options_.name + ": stream closed");
    unacked_.push_back(std::make_shared<const Pending>(Pending{std::move(req), size, ++last_seq_}));
    unacked_bytes_ += size;
    return absl::OkStatus();
  }

  // Waits up to `drain` for every queued batch to be acknowledged, then closes the stream.
  void Close(absl::Duration drain) {
    {
      absl::MutexLock lock(&mu_);
      auto drained = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return unacked_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&drained), drain);
      closed_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
  }

  int64_t unacked_bytes() const {
    absl::MutexLock lock(&mu_);
    return unacked_bytes_;
  }
  // Flow control: more than half the bound waits for acknowledgements, so the sender is about to
  // be held back. Senders then set flush_hint on their batches, asking downstream to make what it
  // holds durable now instead of waiting for its size or interval triggers.
  bool congested() const {
    absl::MutexLock lock(&mu_);
    return unacked_bytes_ >= options_.max_unacked_bytes / 2;
  }
  int64_t reconnects() const {
    absl::MutexLock lock(&mu_);
    return reconnects_;
  }

 private:
  struct Pending {
    Req req;
    int64_t bytes;
    uint64_t seq;  // order of Send calls
  };

  // Owns the stream: opens it, reads acknowledgements, and on its end waits out the writer,
  // backs off and opens the next one.
  void ReadLoop() {
    absl::Duration backoff = options_.initial_backoff;
    std::mt19937_64 rng(std::random_device{}());
    for (bool first = true;; first = false) {
      auto context = std::make_unique<grpc::ClientContext>();
      {
        absl::MutexLock lock(&mu_);
        if (closed_) return;
        context_ = context.get();
      }
      std::unique_ptr<Stream> stream = opener_(context.get());
      {
        // Every unacknowledged batch goes out again on the new stream, in order.
        absl::MutexLock lock(&mu_);
        if (!first) reconnects_++;
        stream_ = stream.get();
        written_seq_ = 0;
      }
      Resp resp;
      bool got_any = false;
      while (stream->Read(&resp)) {
        got_any = true;
        Acknowledge(resp);
      }
      {
        // Unblock and wait out a write in progress before the stream goes away.
        absl::MutexLock lock(&mu_);
        context->TryCancel();
        stream_ = nullptr;
        auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !writing_; };
        mu_.Await(absl::Condition(&idle));
        context_ = nullptr;
      }
      const grpc::Status status = stream->Finish();
      if (got_any) backoff = options_.initial_backoff;
      absl::MutexLock lock(&mu_);
      if (closed_) return;
      MCSINK_LOG(WARNING) << options_.name << ": stream ended (" << status.error_code() << " "
                          << status.error_message() << "); reconnecting within "
                          << absl::FormatDuration(backoff);
      // Full jitter keeps many clients from reconnecting in step.
      std::uniform_int_distribution<int64_t> jitter(0, absl::ToInt64Milliseconds(backoff));
      auto closed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_; };
      mu_.AwaitWithTimeout(absl::Condition(&closed), absl::Milliseconds(jitter(rng)));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }

  // Writes queued batches in order on the current stream, never holding the lock while a
  // Write blocks (the reader must stay free to take acknowledgements).
  void WriteLoop() {
    while (true) {
      std::shared_ptr<const Pending> next;
      Stream* stream = nullptr;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return closed_ || (stream_ != nullptr && NextUnwritten() != nullptr);
        };
        mu_.Await(absl::Condition(&ready));
        if (closed_) return;
        next = NextUnwritten();
        stream = stream_;
        writing_ = true;
      }
      bool ok = false;
      if (next->seq <= ever_written_seq_ && !next->req.redelivery()) {
        // Written on an earlier stream: downstream may hold that copy (rare; a copy is fine).
        Req again = next->req;
        again.set_redelivery(true);
        ok = stream->Write(again);
      } else {
        ok = stream->Write(next->req);
      }
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (stream_ != stream) continue;  // replaced meanwhile: the new stream resends
      if (ok) {
        written_seq_ = next->seq;
        ever_written_seq_ = std::max(ever_written_seq_, next->seq);
      } else {
        context_->TryCancel();  // the reader sees the end and reconnects
        stream_ = nullptr;
      }
    }
  }

  std::shared_ptr<const Pending> NextUnwritten() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (const auto& p : unacked_) {
      if (p->seq > written_seq_) return p;
    }
    return nullptr;
  }

  void Acknowledge(const Resp& resp) {
    on_response_(resp);
    // Freeing a batch (thousands of records) takes as long as building it: that happens here,
    // after the lock, so Send and the writer thread do not wait for it (seen in profiles).
    std::shared_ptr<const Pending> done;
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(unacked_.begin(), unacked_.end(),
                           [&](const auto& p) { return p->req.batch_id() == resp.batch_id(); });
    if (it == unacked_.end()) return;  // a second acknowledgement after a resend
    unacked_bytes_ -= (*it)->bytes;
    done = std::move(*it);
    unacked_.erase(it);
  }

  const StreamClientOptions options_;
  const Opener opener_;
  const OnResponse on_response_;
  std::thread reader_;
  std::thread writer_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const Pending>> unacked_ ABSL_GUARDED_BY(mu_);
  int64_t unacked_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_seq_ ABSL_GUARDED_BY(mu_) = 0;  // on the current stream
  // On any stream so far. Read by the writer thread outside the lock: only that thread writes it.
  uint64_t ever_written_seq_ = 0;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mcsink::pipeline
