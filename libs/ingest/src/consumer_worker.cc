#include "mcsink/ingest/consumer_worker.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/ingest/kafka_record.h"

namespace mcsink::ingest {
namespace {

std::vector<TopicPartition> ToTopicPartitions(
    const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<TopicPartition> out;
  out.reserve(partitions.size());
  for (const RdKafka::TopicPartition* tp : partitions) {
    out.push_back({tp->topic(), tp->partition()});
  }
  return out;
}

struct TopicPartitionListDeleter {
  void operator()(std::vector<RdKafka::TopicPartition*>* list) const {
    RdKafka::TopicPartition::destroy(*list);
    delete list;
  }
};

}  // namespace

// Runs inside consume() on the worker thread.
class ConsumerWorker::Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(ConsumerWorker* worker) : worker_(worker) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    const std::vector<TopicPartition> tps = ToTopicPartitions(partitions);
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      worker_->ClaimPartitions(tps);
      if (cooperative) {
        delete consumer->incremental_assign(partitions);
      } else {
        consumer->assign(partitions);
      }
      for (const TopicPartition& tp : tps) worker_->assignment_.push_back(tp);
      // Under backpressure everything stays paused; a partition stopped by the failure policy
      // stays stopped until restarted. The others are resumed if librdkafka still holds them
      // paused from before the rebalance (it keeps that state for partitions given back).
      std::vector<TopicPartition> hold;
      std::vector<TopicPartition> release;
      for (const TopicPartition& tp : tps) {
        const bool stopped = std::any_of(worker_->stopped_.begin(), worker_->stopped_.end(),
                                         [&](const StoppedPartition& s) { return s.tp == tp; });
        if (worker_->paused_ || stopped) {
          hold.push_back(tp);
        } else if (worker_->paused_in_kafka_.contains(tp)) {
          release.push_back(tp);
        }
      }
      if (!hold.empty()) worker_->SetPaused(hold, true);
      if (!release.empty()) worker_->SetPaused(release, false);
      if (PartitionObserver* o = worker_->observer_; o != nullptr) {
        for (const TopicPartition& tp : tps) o->OnAssigned(worker_->index_, tp);
        for (const StoppedPartition& s : worker_->stopped_) {
          if (std::find(tps.begin(), tps.end(), s.tp) != tps.end()) {
            o->OnStopped(worker_->index_, s);
          }
        }
      }
      MCSINK_LOG(INFO) << "consumer " << worker_->index_ << " assigned " << tps.size()
                       << " partitions of " << worker_->options_.topic;
    } else {
      worker_->OnRevoke(tps);
      for (const TopicPartition& tp : tps) worker_->claims_.erase(tp);
      worker_->CountSpansToSkip();
      for (const TopicPartition& tp : tps) {
        worker_->committed_.erase(tp);
        if (worker_->observer_ != nullptr) worker_->observer_->OnRevoked(worker_->index_, tp);
      }
      if (cooperative) {
        delete consumer->incremental_unassign(partitions);
      } else {
        consumer->unassign();
      }
      auto& a = worker_->assignment_;
      a.erase(std::remove_if(a.begin(), a.end(),
                             [&](const TopicPartition& tp) {
                               return std::find(tps.begin(), tps.end(), tp) != tps.end();
                             }),
              a.end());
    }
    absl::MutexLock lock(&worker_->mu_);
    worker_->stats_.assignment = worker_->assignment_;
  }

 private:
  ConsumerWorker* worker_;
};

void SetConsumerProperties(int64_t fetch_queue_kbytes, bool start_from_earliest,
                           kafka::Properties* props) {
  (*props)["enable.auto.commit"] = "false";
  (*props)["enable.auto.offset.store"] = "false";
  (*props)["auto.offset.reset"] = start_from_earliest ? "earliest" : "latest";
  // Prefetching is bounded by fetch_queue_kbytes: librdkafka fetches while its queue is under
  // queued.max.messages.kbytes and then holds the response (up to fetch.max.bytes, 50 MiB by
  // default) on top of the queue, so each gets half of the budget.
  const int64_t half_kbytes = std::max<int64_t>(fetch_queue_kbytes / 2, 1);
  const int64_t fetch_bytes = half_kbytes * 1024;
  (*props)["queued.max.messages.kbytes"] = absl::StrCat(half_kbytes);
  props->try_emplace("fetch.max.bytes", absl::StrCat(fetch_bytes));
  props->try_emplace("max.partition.fetch.bytes",
                     absl::StrCat(std::min<int64_t>(fetch_bytes, 1 << 20)));
}

absl::StatusOr<std::unique_ptr<ConsumerWorker>> ConsumerWorker::Create(ConsumerOptions options,
                                                                       BatchSink* sink, int index,
                                                                       IngestMetrics* metrics) {
  std::unique_ptr<ConsumerWorker> worker(
      new ConsumerWorker(std::move(options), sink, index, metrics));
  kafka::Properties props = worker->options_.kafka_properties;
  if (auto strategy = props.find("partition.assignment.strategy");
      worker->options_.gate != nullptr && strategy != props.end() &&
      absl::StrContains(strategy->second, "cooperative")) {
    // Exactly-once relies on every rebalance revoking and re-claiming all of a consumer's
    // partitions: a session mixing a moved partition with a kept one is refused as a whole,
    // and only a full re-claim makes the kept one be read again.
    return absl::InvalidArgumentError(absl::StrCat(
        "partition.assignment.strategy=", strategy->second,
        ": exactly-once delivery needs an eager strategy (range, roundrobin); remove the "
        "property or run with --exactly_once=false"));
  }
  props["group.id"] = worker->options_.group_id;
  SetConsumerProperties(worker->options_.fetch_queue_kbytes, worker->options_.start_from_earliest,
                        &props);
  props.try_emplace("client.id", absl::StrCat(worker->options_.connector, "-ingest-", index));
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  if (conf->set("rebalance_cb", worker->rebalancer_.get(), err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(err);
  }
  worker->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (worker->consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka consumer: ", err));
  }
  const RdKafka::ErrorCode code = worker->consumer_->subscribe({worker->options_.topic});
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscribe to ", worker->options_.topic, ": ", RdKafka::err2str(code)));
  }
  return worker;
}

ConsumerWorker::ConsumerWorker(ConsumerOptions options, BatchSink* sink, int index,
                               IngestMetrics* metrics)
    : options_(std::move(options)),
      sink_(sink),
      index_(index),
      metrics_(metrics),
      rebalancer_(std::make_unique<Rebalancer>(this)) {}

ConsumerWorker::~ConsumerWorker() {
  if (thread_.joinable()) {
    Stop(absl::ZeroDuration());
  } else if (consumer_ != nullptr) {
    consumer_->close();  // never started: leave the group cleanly
  }
}

void ConsumerWorker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ConsumerWorker::OnAck(uint64_t batch_id) {
  absl::MutexLock lock(&mu_);
  acks_.push_back(batch_id);
}

void ConsumerWorker::OnFenced(uint64_t batch_id, std::vector<v1::OffsetRange> ranges,
                              bool with_others, std::string message) {
  absl::MutexLock lock(&mu_);
  fenced_answers_.push_back({batch_id, std::move(ranges), with_others, std::move(message)});
}

void ConsumerWorker::StopPartition(uint64_t batch_id, StoppedPartition stopped) {
  absl::MutexLock lock(&mu_);
  stop_requests_.emplace_back(batch_id, std::move(stopped));
}

std::vector<TopicPartition> ConsumerWorker::RestartStopped() {
  absl::MutexLock lock(&mu_);
  std::vector<TopicPartition> tps;
  for (const StoppedPartition& s : stats_.stopped) tps.push_back(s.tp);
  restart_requests_.insert(restart_requests_.end(), tps.begin(), tps.end());
  // Reported as running from now on; a restart that fails stops the partition again.
  stats_.stopped.clear();
  return tps;
}

void ConsumerWorker::PausePartitions(const std::vector<TopicPartition>& tps) {
  SetPaused(tps, true);
}

void ConsumerWorker::SetPaused(const std::vector<TopicPartition>& tps, bool pause) {
  std::unique_ptr<std::vector<RdKafka::TopicPartition*>, TopicPartitionListDeleter> list(
      new std::vector<RdKafka::TopicPartition*>());
  for (const TopicPartition& tp : tps) {
    list->push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
    if (pause) {
      paused_in_kafka_.insert(tp);
    } else {
      paused_in_kafka_.erase(tp);
    }
  }
  if (pause) {
    consumer_->pause(*list);
  } else {
    consumer_->resume(*list);
  }
}

void ConsumerWorker::Stop(absl::Duration drain) {
  if (!thread_.joinable()) return;
  drain_ = drain;
  stopping_.store(true);
  thread_.join();
}

ConsumerStats ConsumerWorker::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void ConsumerWorker::ApplyAcks() {
  std::vector<uint64_t> acks;
  std::vector<std::pair<uint64_t, StoppedPartition>> stops;
  std::vector<FencedAnswer> fenced;
  {
    absl::MutexLock lock(&mu_);
    acks.swap(acks_);
    stops.swap(stop_requests_);
    fenced.swap(fenced_answers_);
  }
  // Caps first, so an ack in the same round cannot commit past a failed record.
  for (auto& [batch_id, stop] : stops) {
    // A batch sent before a restart (or a revocation) must not stop the partition again: its
    // records are read again, and fail again if they still fail.
    if (!tracker_.Tracks(batch_id, stop.tp)) continue;
    tracker_.Cap(stop.tp, stop.offset);
    // Every ack touching a stopped partition repeats its stop: report each partition once, at
    // its earliest failed record.
    auto known = std::find_if(stopped_.begin(), stopped_.end(),
                              [&](const StoppedPartition& s) { return s.tp == stop.tp; });
    if (known != stopped_.end()) {
      if (known->offset <= stop.offset) continue;
      stopped_.erase(known);
    }
    PausePartitions({stop.tp});
    MCSINK_LOG(ERROR) << "consumer " << index_ << ": " << stop.tp.topic << "[" << stop.tp.partition
                      << "] stopped at offset " << stop.offset << ": " << stop.reason;
    if (metrics_ != nullptr) metrics_->OnPartitionStopped();
    if (observer_ != nullptr) observer_->OnStopped(index_, stop);
    stopped_.push_back(std::move(stop));
  }
  if (!stops.empty()) {
    absl::MutexLock lock(&mu_);
    stats_.stopped = stopped_;
  }
  // Before the acks: a FENCED answer is queued before the acknowledgement of the batch's other
  // failures, which must not count until the fenced part is settled.
  for (FencedAnswer& f : fenced) {
    HandleFenced(f.batch_id, std::move(f.ranges), f.with_others, f.message);
  }
  for (uint64_t id : acks) {
    if (fenced_.OnAck(id)) tracker_.Acked(id);
  }
  if (!acks.empty()) PublishInFlight();
}

void ConsumerWorker::PublishInFlight() {
  if (metrics_ != nullptr) {
    metrics_->SetInFlight(index_, tracker_.in_flight_batches(), tracker_.in_flight_bytes());
  }
}

void ConsumerWorker::HandleFenced(uint64_t batch_id, std::vector<v1::OffsetRange> ranges,
                                  bool with_others, const std::string& message) {
  std::string where;
  for (const v1::OffsetRange& r : ranges) {
    absl::StrAppend(&where, where.empty() ? "" : ", ", r.topic(), "[", r.partition(), "] ",
                    r.first_offset(), "..", r.last_offset(), " epoch ", r.epoch());
  }
  std::vector<v1::OffsetRange> owned =
      OwnedRanges(tracker_, batch_id, std::move(ranges),
                  [this](const TopicPartition& tp) { return EpochOf(tp); });
  switch (fenced_.OnFenced(batch_id, !owned.empty(), with_others)) {
    case FencedBatches::Action::kResend:
      MCSINK_LOG(WARNING) << "consumer " << index_ << ": batch " << batch_id << " (" << where
                          << ") was refused as FENCED while this consumer owns it; sending "
                          << owned.size() << " ranges again: " << message;
      if (metrics_ != nullptr) metrics_->OnFencedResend();
      sink_->Resend(batch_id, std::move(owned));
      break;
    case FencedBatches::Action::kIgnore:
      MCSINK_LOG(WARNING) << "consumer " << index_ << ": batch " << batch_id << " (" << where
                          << ") was fenced; its partitions are no longer consumed here under "
                             "that epoch, and whoever consumes them reads it again: "
                          << message;
      break;
    case FencedBatches::Action::kGiveUp:
      MCSINK_LOG(ERROR) << "consumer " << index_ << ": batch " << batch_id << " (" << where
                        << ") was refused as FENCED after " << FencedBatches::kDefaultMaxResends
                        << " re-sends in a row; left unacknowledged, so its partitions commit "
                           "nothing past it until a restart or rebalance reads it again: "
                        << message;
      if (metrics_ != nullptr) metrics_->OnFencedGiveUp();
      break;
  }
}

void ConsumerWorker::Restart(const std::vector<TopicPartition>& tps) {
  // What is cut goes first, and what was acknowledged is committed before the partitions' batches
  // are forgotten: the restart reads from the committed offsets.
  Flush();
  Commit(/*sync=*/true);
  std::vector<StoppedPartition> restarted;
  for (const TopicPartition& tp : tps) {
    auto it = std::find_if(stopped_.begin(), stopped_.end(),
                           [&](const StoppedPartition& s) { return s.tp == tp; });
    if (it == stopped_.end()) continue;  // asked twice
    restarted.push_back(std::move(*it));
    stopped_.erase(it);
    tracker_.Forget(tp);
    // A new epoch, so that later stages tell the new batches from the old (and transform clears
    // its own stop). Milliseconds since the Unix epoch keep it growing across process restarts,
    // where the local generations start again from 0.
    if (options_.gate == nullptr) {
      int64_t& generation = generations_[tp];
      generation = std::max(generation + 1, absl::ToUnixMillis(absl::Now()));
    }
  }
  fenced_.Retain([this](uint64_t id) { return tracker_.Tracks(id); });
  std::vector<TopicPartition> assigned;
  for (const StoppedPartition& s : restarted) {
    if (std::find(assignment_.begin(), assignment_.end(), s.tp) != assignment_.end()) {
      assigned.push_back(s.tp);
    }
  }
  // With the gate, a new claim: it fences the batches sent before, and says what of the
  // partition the table already holds, which is then skipped.
  ClaimPartitions(assigned);
  for (StoppedPartition& s : restarted) {
    if (std::find(assigned.begin(), assigned.end(), s.tp) == assigned.end()) {
      // Not ours now: whoever is assigned it reads it from the committed offset.
      MCSINK_LOG(INFO) << "consumer " << index_ << ": " << s.tp.topic << "[" << s.tp.partition
                       << "] no longer stopped";
      continue;
    }
    if (absl::Status seek = SeekToCommitted(s.tp); !seek.ok()) {
      // Resuming from where consumption stopped would skip the records after the failed one.
      s.reason =
          absl::StrCat("restart failed (", seek.ToString(), "); stopped before by ", s.reason);
      MCSINK_LOG(ERROR) << "consumer " << index_ << ": " << s.tp.topic << "[" << s.tp.partition
                        << "] stays stopped: " << s.reason << "; restart it again";
      tracker_.Cap(s.tp, s.offset);
      if (observer_ != nullptr) observer_->OnStopped(index_, s);
      stopped_.push_back(std::move(s));
      continue;
    }
    // Under backpressure every partition stays paused; ApplyBackpressure resumes it with the rest.
    if (!paused_) SetPaused({s.tp}, false);
    if (observer_ != nullptr) observer_->OnAssigned(index_, s.tp);
    MCSINK_LOG(INFO) << "consumer " << index_ << ": " << s.tp.topic << "[" << s.tp.partition
                     << "] restarted from its committed offset, epoch " << EpochOf(s.tp)
                     << " (stopped at offset " << s.offset << ": " << s.reason << ")";
  }
  absl::MutexLock lock(&mu_);
  stats_.stopped = stopped_;
}

absl::Status ConsumerWorker::SeekToCommitted(const TopicPartition& tp) {
  constexpr int kTimeoutMs = 10'000;
  const std::string where = absl::StrCat(tp.topic, "[", tp.partition, "]");
  std::unique_ptr<std::vector<RdKafka::TopicPartition*>, TopicPartitionListDeleter> list(
      new std::vector<RdKafka::TopicPartition*>());
  list->push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  RdKafka::ErrorCode code = consumer_->committed(*list, kTimeoutMs);
  if (code == RdKafka::ERR_NO_ERROR) code = list->front()->err();
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("reading the committed offset of ", where,
                                               " in group ", options_.group_id, ": ",
                                               RdKafka::err2str(code)));
  }
  int64_t offset = list->front()->offset();
  if (offset < 0) {
    offset = options_.start_from_earliest ? RdKafka::Topic::OFFSET_BEGINNING
                                          : RdKafka::Topic::OFFSET_END;
  }
  std::unique_ptr<RdKafka::TopicPartition> target(
      RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  code = consumer_->seek(*target, kTimeoutMs);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("seeking ", where, " to offset ", offset, ": ", RdKafka::err2str(code)));
  }
  return absl::OkStatus();
}

int64_t ConsumerWorker::EpochOf(const TopicPartition& tp) const {
  if (auto claim = claims_.find(tp); claim != claims_.end()) return claim->second.epoch;
  if (auto generation = generations_.find(tp); generation != generations_.end()) {
    return generation->second;
  }
  return 0;
}

void ConsumerWorker::ClaimPartitions(const std::vector<TopicPartition>& tps) {
  if (options_.gate == nullptr || tps.empty()) return;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    absl::StatusOr<std::map<TopicPartition, PartitionClaim>> claims = options_.gate->Claim(tps);
    if (claims.ok()) {
      for (auto& [tp, claim] : *claims) claims_[tp] = std::move(claim);
      CountSpansToSkip();
      return;
    }
    if (stopping_.load()) {
      PausePartitions(tps);
      return;
    }
    // Consuming without a claim could write records twice: wait for the journal instead.
    MCSINK_LOG(WARNING) << "consumer " << index_ << ": claiming " << tps.size() << " partitions of "
                        << options_.topic << " failed, retrying in "
                        << absl::FormatDuration(backoff) << ": " << claims.status();
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

void ConsumerWorker::CountSpansToSkip() {
  spans_to_skip_ = 0;
  for (const auto& [tp, claim] : claims_) spans_to_skip_ += claim.written.size();
}

bool ConsumerWorker::SkipIfWritten(const RdKafka::Message& msg) {
  if (spans_to_skip_ == 0) return false;
  auto it = claims_.find({msg.topic_name(), msg.partition()});
  if (it == claims_.end()) return false;
  std::vector<OffsetSpan>& written = it->second.written;
  const int64_t offset = msg.offset();
  // Consumption moves forward: spans behind it are done with.
  auto behind = std::find_if(written.begin(), written.end(),
                             [offset](const OffsetSpan& s) { return s.last >= offset; });
  if (behind != written.begin()) {
    written.erase(written.begin(), behind);
    CountSpansToSkip();
  }
  if (written.empty() || offset < written.front().first) return false;
  // Batches of a partition are tracked in offset order: what is cut goes first.
  for (const v1::OffsetRange& r : batch_.ranges()) {
    if (r.partition() == msg.partition()) {
      Flush();
      break;
    }
  }
  const uint64_t id = NextBatchId();
  tracker_.Sent(id, {{{msg.topic_name(), msg.partition()}, offset, offset}}, 0);
  tracker_.Acked(id);
  absl::MutexLock lock(&mu_);
  stats_.skipped++;
  return true;
}

void ConsumerWorker::DeadLetterOversized(const RdKafka::Message& msg) {
  // Batches of a partition are tracked in offset order: what is cut goes first.
  Flush();
  const uint64_t id = NextBatchId();
  const int64_t size = static_cast<int64_t>(msg.len() + msg.key_len());
  v1::KafkaRecord record;
  ToKafkaRecord(msg, &record);
  tracker_.Sent(id, {{{msg.topic_name(), msg.partition()}, msg.offset(), msg.offset()}}, size);
  if (metrics_ != nullptr) metrics_->OnConsumed(1, size);
  {
    absl::MutexLock lock(&mu_);
    stats_.records++;
    stats_.bytes += size;
  }
  sink_->DeadLetter(id, msg.topic_name(), record,
                    absl::StrCat("the record's key and value hold ", size, " bytes, over the ",
                                 options_.max_record_bytes,
                                 " bytes a batch may carry downstream (the gRPC message bound); "
                                 "produce smaller records or raise the bound"));
}

void ConsumerWorker::Flush() {
  if (batch_.records_size() == 0) return;
  const uint64_t id = NextBatchId();
  batch_.set_batch_id(id);
  batch_.set_connector(options_.connector);
  batch_.set_topic(options_.topic);
  std::vector<SentRange> ranges;
  ranges.reserve(static_cast<size_t>(batch_.ranges_size()));
  for (const v1::OffsetRange& r : batch_.ranges()) {
    ranges.push_back({{r.topic(), r.partition()}, r.first_offset(), r.last_offset()});
  }
  // What the batch holds in memory (about twice its payload for small records), so the
  // in-flight bound is a bound on memory.
  tracker_.Sent(id, ranges, batch_memory_);
  PublishInFlight();
  // Flow control: past half the bound (where a paused consumer resumes) acknowledgements are
  // what this consumer waits for, so downstream should commit now rather than on its interval.
  if (tracker_.in_flight_bytes() >= options_.max_in_flight_bytes / 2) batch_.set_flush_hint(true);
  if (metrics_ != nullptr) {
    metrics_->OnConsumed(batch_.records_size(), batch_bytes_);
    metrics_->OnBatchSent(batch_.records_size(), batch_bytes_);
  }
  {
    // Per batch rather than per record: the lock is shared with stats() and OnAck.
    absl::MutexLock lock(&mu_);
    stats_.batches++;
    stats_.records += batch_.records_size();
    stats_.bytes += batch_bytes_;
  }
  if (absl::Status status = sink_->Send(std::move(batch_)); !status.ok()) {
    // The records stay uncommitted, so they are read again after a restart.
    MCSINK_LOG(ERROR) << "consumer " << index_ << ": batch " << id << " not sent: " << status;
  }
  batch_ = v1::RecordBatch();
  batch_bytes_ = 0;
  batch_memory_ = static_cast<int64_t>(sizeof(v1::RecordBatch));
}

void ConsumerWorker::HintFlush() {
  if (tracker_.in_flight_batches() == 0) return;
  v1::RecordBatch hint;
  hint.set_batch_id(NextBatchId());
  hint.set_connector(options_.connector);
  hint.set_topic(options_.topic);
  hint.set_flush_hint(true);
  if (absl::Status status = sink_->Send(std::move(hint)); !status.ok()) {
    // Only latency is lost: the writer still commits on its interval.
    MCSINK_LOG(WARNING) << "consumer " << index_ << ": flush hint not sent: " << status;
  }
}

void ConsumerWorker::Commit(bool sync) {
  last_commit_ = absl::Now();
  const std::map<TopicPartition, int64_t> offsets = tracker_.TakeCommittable();
  if (offsets.empty()) return;
  std::unique_ptr<std::vector<RdKafka::TopicPartition*>, TopicPartitionListDeleter> list(
      new std::vector<RdKafka::TopicPartition*>());
  for (const auto& [tp, offset] : offsets) {
    list->push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  }
  const RdKafka::ErrorCode code =
      sync ? consumer_->commitSync(*list) : consumer_->commitAsync(*list);
  if (code != RdKafka::ERR_NO_ERROR) {
    // Not fatal: a later commit covers these offsets too.
    MCSINK_LOG(WARNING) << "consumer " << index_ << ": commit failed: " << RdKafka::err2str(code);
    if (metrics_ != nullptr) metrics_->OnCommitFailed();
    return;
  }
  for (const auto& [tp, offset] : offsets) committed_[tp] = offset;
  if (metrics_ != nullptr) metrics_->OnCommitted(static_cast<int64_t>(offsets.size()));
  absl::MutexLock lock(&mu_);
  stats_.commits++;
}

void ConsumerWorker::ReportProgress() {
  if (metrics_ == nullptr && observer_ == nullptr) return;
  PublishInFlight();
  if (assignment_.empty()) return;
  std::unique_ptr<std::vector<RdKafka::TopicPartition*>, TopicPartitionListDeleter> list(
      new std::vector<RdKafka::TopicPartition*>());
  for (const TopicPartition& tp : assignment_) {
    list->push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  }
  if (consumer_->position(*list) != RdKafka::ERR_NO_ERROR) return;
  for (const RdKafka::TopicPartition* tp : *list) {
    int64_t low = 0;
    int64_t high = 0;
    // Cached from fetch responses: no request to the broker.
    if (tp->offset() < 0 ||
        consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    if (metrics_ != nullptr) {
      metrics_->OnLag(tp->topic(), tp->partition(), std::max<int64_t>(0, high - tp->offset()));
    }
    if (observer_ != nullptr) {
      PartitionProgress progress;
      auto committed = committed_.find({tp->topic(), tp->partition()});
      if (committed != committed_.end()) progress.committed_offset = committed->second;
      progress.log_end_offset = high;
      progress.lag = std::max<int64_t>(
          0, high - (committed != committed_.end() ? committed->second : tp->offset()));
      observer_->OnProgress(index_, {tp->topic(), tp->partition()}, progress);
    }
  }
}

void ConsumerWorker::ApplyBackpressure() {
  if (!paused_ && tracker_.in_flight_bytes() >= options_.max_in_flight_bytes) {
    // Hold first (ConsumerOptions::backpressure_hold): most stalls end with the writer's next
    // commit, and a pause would throw away librdkafka's prefetched records.
    const absl::Time start = absl::Now();
    WaitForAcks(
        [this] {
          return stopping_.load() || tracker_.in_flight_bytes() < options_.max_in_flight_bytes;
        },
        start + options_.backpressure_hold);
    if (metrics_ != nullptr) metrics_->OnHeld(absl::Now() - start);
    absl::MutexLock lock(&mu_);
    stats_.holds++;
  }
  const int64_t in_flight = tracker_.in_flight_bytes();
  const bool over = in_flight >= options_.max_in_flight_bytes;
  const bool under = in_flight < options_.max_in_flight_bytes / 2;
  if (paused_ == over || (paused_ && !under)) return;
  paused_ = over;
  if (paused_) {
    if (!assignment_.empty()) SetPaused(assignment_, true);
    if (metrics_ != nullptr) metrics_->OnPaused();
    absl::MutexLock lock(&mu_);
    stats_.pauses++;
  } else {
    // Stopped partitions stay paused; what is not assigned now is resumed when it is assigned
    // again (Rebalancer), since librdkafka only takes calls for assigned partitions.
    std::vector<TopicPartition> resume;
    for (const TopicPartition& tp : assignment_) {
      if (std::none_of(stopped_.begin(), stopped_.end(),
                       [&](const StoppedPartition& st) { return st.tp == tp; })) {
        resume.push_back(tp);
      }
    }
    if (!resume.empty()) SetPaused(resume, false);
  }
}

void ConsumerWorker::WaitForAcks(const std::function<bool()>& done, absl::Time deadline) {
  for (ApplyAcks(); !done() && absl::Now() < deadline; ApplyAcks()) {
    absl::MutexLock lock(&mu_);
    auto has_acks = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !acks_.empty(); };
    mu_.AwaitWithDeadline(absl::Condition(&has_acks),
                          std::min(deadline, absl::Now() + absl::Milliseconds(100)));
  }
}

void ConsumerWorker::OnRevoke(const std::vector<TopicPartition>& revoked) {
  Flush();
  HintFlush();
  WaitForAcks(
      [&] {
        return std::all_of(revoked.begin(), revoked.end(),
                           [&](const TopicPartition& tp) { return tracker_.Drained(tp); });
      },
      // At shutdown the drain has already waited.
      stopping_.load() ? absl::Now() : absl::Now() + options_.revoke_timeout);
  Commit(/*sync=*/true);
  for (const TopicPartition& tp : revoked) {
    if (!tracker_.Drained(tp)) {
      MCSINK_LOG(WARNING) << "consumer " << index_ << ": " << tp.topic << "[" << tp.partition
                          << "] revoked with unacknowledged batches; the next owner reads them "
                             "again";
    }
    tracker_.Forget(tp);
  }
  fenced_.Retain([this](uint64_t id) { return tracker_.Tracks(id); });
}

void ConsumerWorker::Run() {
  last_commit_ = absl::Now();
  batch_memory_ = static_cast<int64_t>(sizeof(v1::RecordBatch));
  while (!stopping_.load()) {
    ApplyAcks();
    std::vector<TopicPartition> restarts;
    {
      absl::MutexLock lock(&mu_);
      restarts.swap(restart_requests_);
    }
    if (!restarts.empty()) Restart(restarts);
    // One clock read per message for the commit, linger and batch-start checks (three were 5%
    // of ingest's CPU). Time spent in consume() below only makes the linger check late by at
    // most one poll, which is what the wait is bounded by anyway.
    const absl::Time now = absl::Now();
    if (now - last_commit_ >= options_.commit_interval) {
      Commit(/*sync=*/false);
      ReportProgress();
    }
    ApplyBackpressure();

    const absl::Duration wait =
        batch_.records_size() == 0
            ? absl::Milliseconds(100)
            : std::max(absl::ZeroDuration(), batch_started_ + options_.linger - now);
    std::unique_ptr<RdKafka::Message> msg(
        consumer_->consume(static_cast<int>(absl::ToInt64Milliseconds(wait))));
    if (msg->err() == RdKafka::ERR_NO_ERROR && SkipIfWritten(*msg)) {
      // Already in the table (exactly-once recovery): acknowledged without being sent.
    } else if (msg->err() == RdKafka::ERR_NO_ERROR &&
               static_cast<int64_t>(msg->len() + msg->key_len()) > options_.max_record_bytes) {
      DeadLetterOversized(*msg);
    } else if (msg->err() == RdKafka::ERR_NO_ERROR) {
      // Read again: `now` may be a whole idle poll old.
      if (batch_.records_size() == 0) batch_started_ = absl::Now();
      batch_memory_ += ToKafkaRecord(*msg, batch_.add_records());
      // Extend this partition's range, or open one.
      v1::OffsetRange* range = nullptr;
      for (v1::OffsetRange& r : *batch_.mutable_ranges()) {
        if (r.partition() == msg->partition()) range = &r;
      }
      if (range == nullptr) {
        range = batch_.add_ranges();
        batch_memory_ += static_cast<int64_t>(sizeof(v1::OffsetRange) + sizeof(void*) +
                                              sizeof(std::string) + msg->topic_name().size());
        range->set_topic(msg->topic_name());
        range->set_partition(msg->partition());
        range->set_first_offset(msg->offset());
        if (!claims_.empty() || !generations_.empty()) {
          range->set_epoch(EpochOf({msg->topic_name(), msg->partition()}));
        }
      }
      range->set_last_offset(msg->offset());
      const int64_t size = static_cast<int64_t>(msg->len() + msg->key_len());
      batch_bytes_ += size;
    } else if (msg->err() != RdKafka::ERR__TIMED_OUT && msg->err() != RdKafka::ERR__PARTITION_EOF) {
      MCSINK_LOG(WARNING) << "consumer " << index_ << ": " << msg->errstr();
    }
    if (batch_.records_size() >= options_.max_batch_records ||
        batch_bytes_ >= options_.max_batch_bytes ||
        (batch_.records_size() > 0 && now - batch_started_ >= options_.linger)) {
      Flush();
    }
  }
  // Drain: send what is cut, wait for its acknowledgement, commit it, leave the group.
  Flush();
  HintFlush();
  WaitForAcks([this] { return tracker_.in_flight_batches() == 0; }, absl::Now() + drain_);
  Commit(/*sync=*/true);
  consumer_->close();
}

}  // namespace mcsink::ingest
