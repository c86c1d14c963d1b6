#include "mcsink/journal/kafka_journal.h"

#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/kafka/admin.h"

namespace mcsink::journal {

namespace {

std::string DefaultOwner() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return absl::StrCat(host, "/", getpid(), "/", random());
}

struct PartitionListDeleter {
  void operator()(std::vector<RdKafka::TopicPartition*>* list) const {
    RdKafka::TopicPartition::destroy(*list);
    delete list;
  }
};
using PartitionList = std::unique_ptr<std::vector<RdKafka::TopicPartition*>, PartitionListDeleter>;

absl::Status KafkaError(RdKafka::ErrorCode code, const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", RdKafka::err2str(code)));
}

}  // namespace

KafkaJournalOptions JournalOptionsFor(const v1::ConnectorConfig& connector,
                                      const kafka::Properties& kafka_properties) {
  KafkaJournalOptions options;
  options.connector = connector.name();
  options.offset_topic = connector.topics().offset_topic();
  options.group_id = connector.consumer_group();
  options.source_topic = connector.source_topic();
  options.kafka_properties =
      kafka::Properties(connector.kafka_properties().begin(), connector.kafka_properties().end());
  for (const auto& [name, value] : kafka_properties) options.kafka_properties[name] = value;
  return options;
}

// One append's outcome, shared by the appender and librdkafka's delivery callback (which may
// come after the appender gave up waiting).
struct KafkaJournal::Delivery {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
  int64_t offset ABSL_GUARDED_BY(mu) = -1;
};

namespace {

class DeliveryReporter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override;
};

void DeliveryReporter::dr_cb(RdKafka::Message& message) {
  // The opaque is a heap-allocated shared_ptr handed over by StartAppend.
  auto* holder = static_cast<std::shared_ptr<KafkaJournal::Delivery>*>(message.msg_opaque());
  if (holder == nullptr) return;
  std::unique_ptr<std::shared_ptr<KafkaJournal::Delivery>> owned(holder);
  KafkaJournal::Delivery& d = **owned;
  absl::MutexLock lock(&d.mu);
  d.done = true;
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    d.offset = message.offset();
  } else {
    d.status = absl::UnavailableError(
        absl::StrCat("journal append to ", message.topic_name(), "[", message.partition(),
                     "] failed: ", message.errstr(),
                     message.status() == RdKafka::Message::MSG_STATUS_POSSIBLY_PERSISTED
                         ? " (possibly persisted)"
                         : ""));
  }
}

DeliveryReporter* Reporter() {
  static DeliveryReporter* reporter = new DeliveryReporter();
  return reporter;
}

}  // namespace

KafkaJournal::KafkaJournal(KafkaJournalOptions options, writer::TunnelBackend* resolver)
    : options_(std::move(options)),
      resolver_(resolver),
      metrics_(options_.registry != nullptr
                   ? std::make_unique<JournalMetrics>(*options_.registry, options_.connector)
                   : nullptr) {}

absl::StatusOr<std::unique_ptr<KafkaJournal>> KafkaJournal::Create(
    KafkaJournalOptions options, writer::TunnelBackend* resolver) {
  if (options.connector.empty() || options.offset_topic.empty()) {
    return absl::InvalidArgumentError(
        "exactly-once journal: the connector name and topics.offset_topic must be set");
  }
  if (options.owner.empty()) options.owner = DefaultOwner();
  std::unique_ptr<KafkaJournal> journal(new KafkaJournal(std::move(options), resolver));
  MCSINK_RETURN_IF_ERROR(journal->Init());
  return journal;
}

absl::Status KafkaJournal::ResolvePartition() {
  if (partition_.load() >= 0) return absl::OkStatus();
  absl::StatusOr<kafka::TopicDescription> topic =
      admin_->DescribeTopic(options_.offset_topic, options_.timeout);
  if (!topic.ok()) {
    // Unavailable (retried): the topic may be about to be created by another service.
    return absl::UnavailableError(
        absl::StrCat("exactly-once journal: offset topic ", options_.offset_topic, " of connector ",
                     options_.connector,
                     " is not available (the controller or the first ingest to start "
                     "creates it): ",
                     topic.status().message()));
  }
  partition_.store(JournalPartition(options_.connector, topic->partitions));
  MCSINK_LOG(INFO) << "exactly-once journal of " << options_.connector << " in "
                   << options_.offset_topic << "[" << partition_.load() << "]";
  return absl::OkStatus();
}

absl::Status KafkaJournal::Init() {
  MCSINK_ASSIGN_OR_RETURN(admin_, kafka::Admin::Create(options_.kafka_properties));
  // Resolved now if the topic exists, else at first use: services may start in any order.
  if (absl::Status resolved = ResolvePartition(); !resolved.ok()) {
    MCSINK_LOG(INFO) << resolved << "; resolved at first use";
  }

  kafka::Properties props = options_.kafka_properties;
  // Idempotent and fully acknowledged: a record the journal reports written survives a broker
  // failure, and a retried send is not written twice.
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "1";
  props["message.timeout.ms"] = absl::StrCat(absl::ToInt64Milliseconds(options_.timeout));
  props.try_emplace("client.id", absl::StrCat(options_.connector, "-journal"));
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  if (conf->set("dr_cb", Reporter(), err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(err);
  }
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (producer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("exactly-once journal producer: ", err));
  }
  poller_ = std::thread([this] {
    while (!stopping_.load()) producer_->poll(100);
  });
  MCSINK_LOG(INFO) << "exactly-once journal of " << options_.connector << ": owner "
                   << options_.owner;
  return absl::OkStatus();
}

KafkaJournal::~KafkaJournal() {
  if (producer_ != nullptr) {
    producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(options_.timeout)));
  }
  stopping_.store(true);
  if (poller_.joinable()) poller_.join();
  std::thread tail;
  {
    absl::MutexLock lock(&mu_);
    tail.swap(tail_);
  }
  if (tail.joinable()) tail.join();
  // Delivery callbacks of records still queued run here and free their holders.
  if (producer_ != nullptr) producer_->poll(0);
}

std::shared_ptr<KafkaJournal::Delivery> KafkaJournal::StartAppend(const std::string& key,
                                                                  const std::string* value) {
  auto delivery = std::make_shared<Delivery>();
  auto* holder = new std::shared_ptr<Delivery>(delivery);
  const RdKafka::ErrorCode code =
      producer_->produce(options_.offset_topic, partition_.load(), RdKafka::Producer::RK_MSG_COPY,
                         value == nullptr ? nullptr : const_cast<char*>(value->data()),
                         value == nullptr ? 0 : value->size(), key.data(), key.size(), 0, holder);
  if (code != RdKafka::ERR_NO_ERROR) {
    delete holder;
    absl::MutexLock lock(&delivery->mu);
    delivery->done = true;
    delivery->status = KafkaError(code, absl::StrCat("journal append of ", key));
  }
  return delivery;
}

absl::StatusOr<int64_t> KafkaJournal::AwaitAppend(const std::shared_ptr<Delivery>& delivery,
                                                  const std::string& what) {
  absl::MutexLock lock(&delivery->mu);
  // librdkafka reports every message within message.timeout.ms (= options_.timeout).
  const bool done = delivery->mu.AwaitWithTimeout(absl::Condition(&delivery->done),
                                                  options_.timeout + absl::Seconds(5));
  if (!done) {
    return absl::DeadlineExceededError(
        absl::StrCat("journal append of ", what, " to ", options_.offset_topic, " not confirmed"));
  }
  if (!delivery->status.ok()) return Annotate(delivery->status, what);
  return delivery->offset;
}

absl::StatusOr<int64_t> KafkaJournal::Append(const std::string& key, const std::string* value) {
  return AwaitAppend(StartAppend(key, value), key);
}

absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> KafkaJournal::NewReader(
    int64_t start_offset, absl::Duration fetch_wait) {
  kafka::Properties props = options_.kafka_properties;
  // Never subscribes or commits: the group id only satisfies the client.
  props["group.id"] = absl::StrCat(options_.connector, "-journal-reader");
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  // How long the broker holds a fetch for new records: what a read-back of the journal waits.
  props["fetch.wait.max.ms"] = absl::StrCat(absl::ToInt64Milliseconds(fetch_wait));
  props.try_emplace("client.id", absl::StrCat(options_.connector, "-journal-reader"));
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> reader(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (reader == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("exactly-once journal reader: ", err));
  }
  PartitionList list(new std::vector<RdKafka::TopicPartition*>());
  list->push_back(
      RdKafka::TopicPartition::create(options_.offset_topic, partition_.load(), start_offset));
  if (RdKafka::ErrorCode code = reader->assign(*list); code != RdKafka::ERR_NO_ERROR) {
    return KafkaError(code, absl::StrCat("assigning ", options_.offset_topic, "[",
                                         partition_.load(), "] to the journal reader"));
  }
  return reader;
}

// ---- Writer side ----

absl::Status KafkaJournal::Watermarks(int64_t* low, int64_t* high) {
  // Through the admin client, not the idempotent producer's handle (not needed there, and
  // untested against librdkafka 2.0 while the producer acquires its id).
  MCSINK_ASSIGN_OR_RETURN(const std::vector<kafka::PartitionWatermarks> marks,
                          admin_->Watermarks(options_.offset_topic, options_.timeout));
  for (const kafka::PartitionWatermarks& m : marks) {
    if (m.partition != partition_.load()) continue;
    *low = m.low;
    *high = m.high;
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("exactly-once journal: ", options_.offset_topic,
                                             " has no partition ", partition_.load()));
}

absl::Status KafkaJournal::StartTail() {
  if (tail_started_) return absl::OkStatus();
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::KafkaConsumer> reader,
                          NewReader(RdKafka::Topic::OFFSET_BEGINNING, absl::Milliseconds(50)));
  tail_started_ = true;
  tail_ = std::thread([this, r = std::shared_ptr<RdKafka::KafkaConsumer>(std::move(reader))] {
    while (!stopping_.load()) {
      std::unique_ptr<RdKafka::Message> msg(r->consume(100));
      if (msg->err() == RdKafka::ERR__TIMED_OUT) continue;
      if (msg->err() == RdKafka::ERR__PARTITION_EOF) {
        // Everything up to the end is applied (the last offsets may have been compacted away).
        absl::MutexLock lock(&mu_);
        tail_position_ = std::max(tail_position_, msg->offset());
        continue;
      }
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        MCSINK_LOG(WARNING) << "exactly-once journal tail: " << msg->errstr();
        continue;
      }
      const std::string key = msg->key() != nullptr ? *msg->key() : std::string();
      std::optional<std::string> value;
      if (msg->payload() != nullptr) {
        value.emplace(static_cast<const char*>(msg->payload()), msg->len());
      }
      absl::MutexLock lock(&mu_);
      absl::StatusOr<JournalIndex::Applied> applied =
          index_.Apply(msg->offset(), key, value.has_value() ? &*value : nullptr);
      if (!applied.ok()) {
        MCSINK_LOG(WARNING) << "exactly-once journal: skipping " << applied.status();
      } else if (applied->session.has_value() &&
                 applied->session->state() == SessionEntry::PENDING &&
                 applied->session->writer() == options_.owner) {
        verdicts_[msg->offset()] = Verdict{applied->verdict, applied->duplicate};
        // A BeforeCommit that gave up (timed out) leaves its verdict behind; keep a bound.
        constexpr size_t kMaxVerdicts = 1024;
        if (verdicts_.size() > kMaxVerdicts) verdicts_.erase(verdicts_.begin());
      }
      tail_position_ = std::max(tail_position_, msg->offset() + 1);
    }
    r->close();
  });
  return absl::OkStatus();
}

absl::Status KafkaJournal::BeforeCommit(const writer::CommitRecord& record) {
  MCSINK_RETURN_IF_ERROR(ResolvePartition());
  JournalEntry entry;
  entry.set_connector(options_.connector);
  *entry.mutable_session() = PendingEntry(record, options_.owner);
  {
    absl::MutexLock lock(&mu_);
    MCSINK_RETURN_IF_ERROR(StartTail());
  }
  const std::string value = EncodeEntry(entry);
  MCSINK_ASSIGN_OR_RETURN(const int64_t offset, Append(SessionKey(entry.session()), &value));
  Verdict verdict;
  {
    absl::MutexLock lock(&mu_);
    auto reached = [this, offset]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return tail_position_ > offset; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&reached), options_.timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "exactly-once journal: the PENDING record of upload session ", record.session.upload_id,
          " at ", options_.offset_topic, "[", partition_.load(), "]@", offset,
          " was not read back within ", absl::FormatDuration(options_.timeout)));
    }
    auto it = verdicts_.find(offset);
    if (it == verdicts_.end()) {
      return absl::InternalError(
          absl::StrCat("exactly-once journal: no verdict for the PENDING of ",
                       record.session.upload_id, " at offset ", offset));
    }
    verdict = std::move(it->second);
    // Only its own: other sessions' BeforeCommits may be waiting for older verdicts right now.
    verdicts_.erase(it);
  }
  if (verdict.status.ok()) return absl::OkStatus();
  MCSINK_LOG(WARNING) << verdict.status;
  if (metrics_ != nullptr) {
    verdict.duplicate ? metrics_->OnDuplicateRefused() : metrics_->OnFenced();
  }
  // Says so in the journal, for people and for any reader: the session is never committed.
  // Every reader computes the same verdict anyway, so a failed append changes nothing.
  entry.mutable_session()->set_state(SessionEntry::ABORTED);
  const std::string aborted = EncodeEntry(entry);
  if (absl::StatusOr<int64_t> r = Append(SessionKey(entry.session()), &aborted); !r.ok()) {
    MCSINK_LOG(WARNING) << "exactly-once journal: recording ABORTED for refused upload session "
                        << record.session.upload_id << ": " << r.status();
  }
  return verdict.status;
}

absl::Status KafkaJournal::CatchUp() {
  MCSINK_RETURN_IF_ERROR(ResolvePartition());
  {
    absl::MutexLock lock(&mu_);
    MCSINK_RETURN_IF_ERROR(StartTail());
  }
  int64_t low = 0;
  int64_t high = 0;
  MCSINK_RETURN_IF_ERROR(Watermarks(&low, &high));
  absl::MutexLock lock(&mu_);
  auto reached = [this, high]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return tail_position_ >= high; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&reached), options_.timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("exactly-once journal: the writer's tail of ", options_.offset_topic, "[",
                     partition_.load(), "] reached offset ", tail_position_, " of ", high,
                     " within ", absl::FormatDuration(options_.timeout)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::OffsetRange>> KafkaJournal::Unwritten(
    const std::vector<v1::OffsetRange>& ranges) {
  // A pending session holding some of the offsets is finished first (its writer may be dead, or
  // about to commit; a repeated commit is harmless), so "written" means committed. A few rounds,
  // since a live writer may journal another one meanwhile; what is still pending after them
  // counts as unwritten, and first-PENDING-wins refuses whichever copy comes second.
  constexpr int kRounds = 3;
  for (int round = 0;; ++round) {
    MCSINK_RETURN_IF_ERROR(CatchUp());
    std::vector<SessionEntry> pending;
    {
      absl::MutexLock lock(&mu_);
      pending = index_.PendingOverlapping(ranges);
    }
    if (pending.empty() || round == kRounds) break;
    for (const SessionEntry& s : pending) {
      MCSINK_RETURN_IF_ERROR(Resolve(s).status());
    }
  }
  std::vector<v1::OffsetRange> unwritten;
  {
    absl::MutexLock lock(&mu_);
    unwritten = index_.Unwritten(ranges);
  }
  auto size = [](const std::vector<v1::OffsetRange>& rs) {
    int64_t n = 0;
    for (const v1::OffsetRange& r : rs) n += r.last_offset() - r.first_offset() + 1;
    return n;
  };
  const JournalMetrics::Redelivery outcome =
      unwritten.empty()                 ? JournalMetrics::Redelivery::kAlreadyWritten
      : size(unwritten) == size(ranges) ? JournalMetrics::Redelivery::kWritten
                                        : JournalMetrics::Redelivery::kPartial;
  if (metrics_ != nullptr) metrics_->OnRedelivered(outcome);
  return unwritten;
}

absl::Status KafkaJournal::AfterCommit(const writer::CommitRecord& record) {
  MCSINK_RETURN_IF_ERROR(ResolvePartition());
  JournalEntry entry;
  entry.set_connector(options_.connector);
  *entry.mutable_session() = PendingEntry(record, options_.owner);
  entry.mutable_session()->set_state(SessionEntry::DONE);
  const std::string value = EncodeEntry(entry);
  return Append(SessionKey(entry.session()), &value).status();
}

// ---- Ingest side ----

absl::StatusOr<JournalReplay> KafkaJournal::ReplayThrough(int64_t last_offset) {
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::KafkaConsumer> reader,
                          NewReader(RdKafka::Topic::OFFSET_BEGINNING, absl::Milliseconds(10)));
  JournalReplay replay;
  const absl::Time deadline = absl::Now() + options_.timeout;
  int64_t position = -1;
  while (position < last_offset) {
    if (absl::Now() > deadline) {
      reader->close();
      return absl::DeadlineExceededError(
          absl::StrCat("exactly-once journal: reading ", options_.offset_topic, "[",
                       partition_.load(), "] reached offset ", position, " of ", last_offset,
                       " within ", absl::FormatDuration(options_.timeout)));
    }
    std::unique_ptr<RdKafka::Message> msg(reader->consume(100));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      MCSINK_LOG(WARNING) << "exactly-once journal replay: " << msg->errstr();
      continue;
    }
    position = msg->offset();
    const std::string key = msg->key() != nullptr ? *msg->key() : std::string();
    std::optional<std::string> value;
    if (msg->payload() != nullptr) {
      value.emplace(static_cast<const char*>(msg->payload()), msg->len());
    }
    if (absl::Status s = replay.Apply(position, key, value.has_value() ? &*value : nullptr);
        !s.ok()) {
      MCSINK_LOG(WARNING) << "exactly-once journal: skipping " << s;
    }
  }
  reader->close();
  return replay;
}

absl::StatusOr<bool> KafkaJournal::Resolve(const SessionEntry& session) {
  if (resolver_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "exactly-once journal: upload session ", session.upload_id(),
        " is pending and must be resolved with MaxCompute, but this process has no MaxCompute "
        "connection"));
  }
  const writer::SessionRef ref{session.table(), session.partition(), session.upload_id()};
  const std::vector<int64_t> blocks(session.block_ids().begin(), session.block_ids().end());
  JournalEntry outcome;
  outcome.set_connector(options_.connector);
  *outcome.mutable_session() = session;
  outcome.mutable_session()->set_writer(options_.owner);
  auto failed = [&](const absl::Status& status, const std::string& call) {
    return Annotate(status, absl::StrCat("exactly-once recovery: ", call,
                                         " of pending upload "
                                         "session ",
                                         session.upload_id(), " (", session.partition(), ")"));
  };
  // Errors that say the session can never be committed (unknown, expired, refused), as opposed
  // to ones that leave it unknown (unavailable, denied): then nothing may be read yet.
  auto final_refusal = [](const absl::Status& status) {
    return !writer::IsRetryable(status) &&
           (absl::IsNotFound(status) || absl::IsInvalidArgument(status) ||
            absl::IsFailedPrecondition(status));
  };
  bool written = false;
  absl::StatusOr<writer::SessionState> state = resolver_->GetSessionState(ref);
  if (!state.ok() && !final_refusal(state.status())) return failed(state.status(), "state");
  if (state.ok() && state->status == "COMMITTING") {
    return absl::UnavailableError(absl::StrCat("exactly-once recovery: upload session ",
                                               session.upload_id(), " is still committing"));
  }
  if (state.ok() && state->committed()) {
    written = true;
  } else if (state.ok() && state->status == "NORMAL") {
    // Still open: its writer died between PENDING and commit, or is about to commit. Both
    // commits name the same blocks and a repeated commit is a no-op, so committing here is safe.
    const absl::Status commit = resolver_->Commit(ref, blocks);
    if (!commit.ok() && !final_refusal(commit)) return failed(commit, "commit");
    written = commit.ok();
    if (!written) {
      // Refused: unless the racing writer's commit is what happened in between.
      state = resolver_->GetSessionState(ref);
      if (!state.ok() && !final_refusal(state.status())) return failed(state.status(), "state");
      written = state.ok() && state->committed();
    }
  }
  if (!written) {
    MCSINK_LOG(WARNING) << "exactly-once recovery: pending upload session " << session.upload_id()
                        << " (" << session.partition() << ") was not committed and cannot be, "
                        << "its records are read again; server says: "
                        << (state.ok() ? state->status : state.status().ToString());
  }
  outcome.mutable_session()->set_state(written ? SessionEntry::DONE : SessionEntry::ABORTED);
  const std::string value = EncodeEntry(outcome);
  MCSINK_RETURN_IF_ERROR(Append(SessionKey(outcome.session()), &value).status());
  if (metrics_ != nullptr) metrics_->OnRecovered(written);
  MCSINK_LOG(INFO) << "exactly-once recovery: pending upload session " << session.upload_id()
                   << " (" << session.partition() << ") is "
                   << (written ? "committed" : "aborted, its records are read again");
  return written;
}

absl::StatusOr<std::map<ingest::TopicPartition, ingest::PartitionClaim>> KafkaJournal::Claim(
    const std::vector<ingest::TopicPartition>& partitions) {
  std::map<ingest::TopicPartition, ingest::PartitionClaim> claims;
  if (partitions.empty()) return claims;
  MCSINK_RETURN_IF_ERROR(ResolvePartition());
  absl::MutexLock claim_lock(&claim_mu_);

  // 1. Fence: from here on, a PENDING with an older epoch for these partitions is invalid.
  std::vector<std::shared_ptr<Delivery>> deliveries;
  for (const ingest::TopicPartition& tp : partitions) {
    JournalEntry entry;
    entry.set_connector(options_.connector);
    entry.mutable_fence()->set_topic(tp.topic);
    entry.mutable_fence()->set_partition(tp.partition);
    entry.mutable_fence()->set_owner(options_.owner);
    const std::string value = EncodeEntry(entry);
    deliveries.push_back(StartAppend(FenceKey(tp.topic, tp.partition), &value));
  }
  int64_t last = -1;
  for (size_t i = 0; i < partitions.size(); ++i) {
    MCSINK_ASSIGN_OR_RETURN(
        const int64_t offset,
        AwaitAppend(deliveries[i], FenceKey(partitions[i].topic, partitions[i].partition)));
    claims[partitions[i]].epoch = offset + 1;
    last = std::max(last, offset);
  }

  // 2. Everything journaled before the fences.
  MCSINK_ASSIGN_OR_RETURN(JournalReplay replay, ReplayThrough(last));
  auto touches_claimed = [&](const SessionEntry& s) {
    return std::any_of(partitions.begin(), partitions.end(),
                       [&](const ingest::TopicPartition& tp) { return Touches(s, tp); });
  };

  // 3. The group's committed offsets. A session wholly below them is settled whatever its state:
  // its records were acknowledged (written, or dead-lettered after a failed commit), so it is
  // neither resolved (committing it now could add rows that went to the dead-letter topic) nor
  // needed to skip anything; it is pruned, so the journal stays small.
  absl::StatusOr<std::map<int32_t, int64_t>> committed =
      admin_->CommittedOffsets(options_.group_id, options_.source_topic, options_.timeout);
  std::map<ingest::TopicPartition, int64_t> committed_by_tp;
  if (committed.ok()) {
    for (const auto& [p, offset] : *committed) committed_by_tp[{options_.source_topic, p}] = offset;
  } else {
    MCSINK_LOG(WARNING) << "exactly-once journal: group offsets unknown, nothing pruned: "
                        << committed.status();
  }

  // 4. Finish what a previous owner left pending, and collect what is written.
  std::vector<SessionEntry> done;
  std::vector<const SessionEntry*> settled;
  int resolved = 0;
  for (const auto& [id, s] : replay.sessions()) {
    if (committed.ok() && BelowCommitted(s.entry, committed_by_tp)) {
      settled.push_back(&s.entry);
      continue;
    }
    if (!touches_claimed(s.entry)) continue;
    if (s.entry.state() == SessionEntry::DONE) {
      done.push_back(s.entry);
    } else if (s.valid) {
      ++resolved;
      MCSINK_ASSIGN_OR_RETURN(const bool written, Resolve(s.entry));
      if (written) done.push_back(s.entry);
    }
  }
  std::vector<const SessionEntry*> done_ptrs;
  for (const SessionEntry& s : done) done_ptrs.push_back(&s);
  for (auto& [tp, claim] : claims) {
    int64_t partial = 0;
    claim.written = WrittenSpans(done_ptrs, tp, &partial);
    if (metrics_ != nullptr) {
      metrics_->OnClaimed(1, static_cast<int64_t>(claim.written.size()));
      metrics_->OnPartialBatches(partial);
    }
    if (partial > 0) {
      MCSINK_LOG(WARNING) << "exactly-once recovery: " << partial << " batches of " << tp.topic
                          << "[" << tp.partition << "] were written only in part (their rows "
                          << "span several pt values and not every session committed); they "
                          << "are read again and their committed rows are duplicated";
    }
  }

  // 5. Prune the settled sessions.
  for (const SessionEntry* s : settled) {
    SessionEntry key_of = *s;
    for (SessionEntry::State state : {SessionEntry::PENDING, SessionEntry::DONE}) {
      key_of.set_state(state);
      deliveries.push_back(StartAppend(SessionKey(key_of), nullptr));
    }
  }
  for (size_t i = partitions.size(); i < deliveries.size(); ++i) {
    if (absl::StatusOr<int64_t> r = AwaitAppend(deliveries[i], "tombstone"); !r.ok()) {
      MCSINK_LOG(WARNING) << "exactly-once journal: pruning: " << r.status();
    }
  }
  const size_t pruned = settled.size();

  for (const auto& [tp, claim] : claims) {
    MCSINK_LOG(INFO) << "exactly-once: claimed " << tp.topic << "[" << tp.partition
                     << "] with epoch " << claim.epoch << "; " << claim.written.size()
                     << " written offset spans to skip";
  }
  MCSINK_LOG(INFO) << "exactly-once recovery read " << replay.sessions().size()
                   << " journal sessions, resolved " << resolved << " pending, pruned " << pruned;
  return claims;
}

absl::StatusOr<int> KafkaJournal::ForgetSessions(
    const std::vector<ingest::TopicPartition>& partitions) {
  MCSINK_RETURN_IF_ERROR(ResolvePartition());
  absl::MutexLock claim_lock(&claim_mu_);
  MCSINK_ASSIGN_OR_RETURN(const std::vector<kafka::PartitionWatermarks> marks,
                          admin_->Watermarks(options_.offset_topic, options_.timeout));
  int64_t last = -1;
  for (const kafka::PartitionWatermarks& m : marks) {
    if (m.partition == partition_.load() && m.high > m.low) last = m.high - 1;
  }
  if (last < 0) return 0;
  MCSINK_ASSIGN_OR_RETURN(JournalReplay replay, ReplayThrough(last));
  std::vector<std::shared_ptr<Delivery>> deliveries;
  int forgotten = 0;
  for (const auto& [id, s] : replay.sessions()) {
    if (std::none_of(partitions.begin(), partitions.end(),
                     [&](const ingest::TopicPartition& tp) { return Touches(s.entry, tp); })) {
      continue;
    }
    SessionEntry key_of = s.entry;
    for (SessionEntry::State state : {SessionEntry::PENDING, SessionEntry::DONE}) {
      key_of.set_state(state);
      deliveries.push_back(StartAppend(SessionKey(key_of), nullptr));
    }
    ++forgotten;
  }
  for (const std::shared_ptr<Delivery>& d : deliveries) {
    MCSINK_RETURN_IF_ERROR(AwaitAppend(d, "tombstone").status());
  }
  MCSINK_LOG(INFO) << "exactly-once journal of " << options_.connector << ": forgot " << forgotten
                   << " sessions for an offset reset";
  return forgotten;
}

}  // namespace mcsink::journal
