#include "mcsink/transform/error_topic.h"

#include <google/protobuf/util/json_util.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/stable_partition.h"
#include "mcsink/common/status.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/transform/produced_spans.pb.h"

namespace mcsink::transform {

namespace {

constexpr char kSpansKeyPrefix[] = "produced-";
// Bounds each transactional call; a broker that does not answer within it fails the transaction
// (the records are reported undelivered) rather than hold the pipeline forever.
constexpr int kTransactionCallTimeoutMs = 30000;
// At most one committed-offsets query per source topic per this interval.
constexpr absl::Duration kPruneInterval = absl::Seconds(60);
// How many times a transaction is tried again after the producer was fenced or lost track of
// a transaction's outcome (each try recreates the producer and reloads the spans).
constexpr int kTransactionAttempts = 3;

// Owns an RdKafka::Error (librdkafka hands it over; null is success).
struct ErrorDeleter {
  void operator()(RdKafka::Error* e) const { delete e; }
};
using KafkaError = std::unique_ptr<RdKafka::Error, ErrorDeleter>;

std::string SpansPrefix(const std::string& role) {
  return absl::StrCat(kSpansKeyPrefix, role, "-");
}

}  // namespace

bool ProducedSpans::Contains(int64_t offset) const {
  auto it = spans_.upper_bound(offset);
  if (it == spans_.begin()) return false;
  --it;
  return offset <= it->second;
}

void ProducedSpans::Add(int64_t first, int64_t last) {
  if (last < first) return;
  // The first span that could touch [first, last]: the one starting at or before first, if it
  // reaches first - 1.
  auto it = spans_.upper_bound(first);
  if (it != spans_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= first - 1) {
      first = prev->first;
      last = std::max(last, prev->second);
      it = spans_.erase(prev);
    }
  }
  while (it != spans_.end() && it->first <= last + 1) {
    last = std::max(last, it->second);
    it = spans_.erase(it);
  }
  spans_.emplace(first, last);
}

std::string ProducedSpansKey(const std::string& role, const std::string& destination,
                             const std::string& source_topic, int32_t partition) {
  return absl::StrCat(kSpansKeyPrefix, role, "-", destination, "-", source_topic, "-", partition);
}

int32_t ProducedSpansPartition(const std::string& connector, int partition_count) {
  // The partition after journal::JournalPartition's (libs/journal depends on this library, so
  // both call StablePartition; tests/libs/transform checks that they agree).
  const int n = std::max(1, partition_count);
  return (StablePartition(connector, n) + 1) % n;
}

// A record waiting for its transaction, copied out of the caller's batch.
struct ErrorTopicWriter::Queued {
  std::string destination;
  std::string source_topic;
  v1::KafkaRecord record;
  std::string code, column, message;
  Done done;
  size_t bytes = 0;
};

// Delivery reports. At-least-once: each message's Done. Exactly-once (no Done): remembers the
// first failure so a failed commit can say which record and why.
class ErrorTopicWriter::Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Done> done(static_cast<Done*>(message.msg_opaque()));
    absl::Status delivery = absl::OkStatus();
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      delivery = absl::UnavailableError(absl::StrCat("producing to ", message.topic_name(),
                                                     " failed after retries: ", message.errstr()));
      if (done != nullptr) MCSINK_LOG(ERROR) << delivery.message();
      absl::MutexLock lock(&mu_);
      if (first_failure_.ok()) first_failure_ = delivery;
    }
    if (done != nullptr && *done) (*done)(delivery);
  }
  absl::Status TakeFirstFailure() {
    absl::MutexLock lock(&mu_);
    absl::Status s = first_failure_;
    first_failure_ = absl::OkStatus();
    return s;
  }

 private:
  absl::Mutex mu_;
  absl::Status first_failure_ ABSL_GUARDED_BY(mu_);
};

ErrorTopicWriter::ErrorTopicWriter(ErrorTopicOptions options)
    : options_(std::move(options)), reports_(std::make_unique<Reports>()) {}

absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> ErrorTopicWriter::Create(
    const kafka::Properties& properties, std::string connector, const std::string& client_suffix) {
  ErrorTopicOptions options;
  options.properties = properties;
  options.connector = std::move(connector);
  options.role = client_suffix;
  return Create(std::move(options));
}

absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> ErrorTopicWriter::Create(
    ErrorTopicOptions options) {
  if (options.role.empty() || options.connector.empty()) {
    return absl::InvalidArgumentError("error topic writer: connector and role must be set");
  }
  std::unique_ptr<ErrorTopicWriter> writer(new ErrorTopicWriter(std::move(options)));
  MCSINK_RETURN_IF_ERROR(writer->Start());
  return writer;
}

absl::StatusOr<std::unique_ptr<RdKafka::Producer>> ErrorTopicWriter::NewProducer(
    bool transactional) {
  kafka::Properties props = options_.properties;
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "5";
  props.try_emplace("client.id", options_.connector + "-" + options_.role);
  if (transactional) {
    // One id per connector and role: a restarted process fences its crashed predecessor (whose
    // open transaction is aborted at once instead of after the timeout). Live replicas of the
    // same role fence each other in turn; see Transact.
    props["transactional.id"] = options_.connector + "-" + options_.role;
    props["transaction.timeout.ms"] =
        std::to_string(absl::ToInt64Milliseconds(options_.transaction_timeout));
    // A record must be given up on within the transaction, so a failed one aborts it.
    auto timeout = props.find("message.timeout.ms");
    if (timeout == props.end() ||
        std::stoll(timeout->second) > absl::ToInt64Milliseconds(options_.transaction_timeout)) {
      props["message.timeout.ms"] = props["transaction.timeout.ms"];
    }
  }
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  if (conf->set("dr_cb", reports_.get(), err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(err);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (producer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(options_.role, " topic producer of connector ",
                                                   options_.connector, ": ", err));
  }
  return producer;
}

absl::Status ErrorTopicWriter::Start() {
  if (!exactly_once()) {
    MCSINK_ASSIGN_OR_RETURN(producer_, NewProducer(/*transactional=*/false));
    poller_ = std::thread([this] {
      while (!stop_.load()) producer_->poll(100);
    });
    return absl::OkStatus();
  }
  // Nothing talks to the broker before the first record: a connector without failed records
  // pays nothing, and creating the writer never waits for Kafka.
  transactor_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

ErrorTopicWriter::~ErrorTopicWriter() {
  Flush(absl::Seconds(10));
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;  // under mu_ so the transaction thread's condition sees it
  }
  if (poller_.joinable()) poller_.join();
  if (transactor_.joinable()) transactor_.join();
  std::deque<Queued> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (Queued& q : left) {
    q.done(absl::CancelledError(
        absl::StrCat("the ", options_.role, " topic writer stopped before producing ",
                     q.source_topic, "[", q.record.partition(), "]@", q.record.offset())));
  }
}

void ErrorTopicWriter::Send(const std::string& topic, const ErrorRecord& error, Done done) {
  const v1::KafkaRecord& r = *error.record;
  if (exactly_once()) {
    Queued q{topic, error.topic, r, error.code, error.column, error.message, std::move(done), 0};
    q.bytes = r.key().size() + r.value().size() + q.message.size() + 256;
    {
      absl::MutexLock lock(&mu_);
      // Bounded memory: wait for the transaction thread to take what is queued.
      auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_.load() || queue_.empty() || queued_bytes_ < options_.max_queued_bytes;
      };
      mu_.Await(absl::Condition(&room));
      if (!stop_.load()) {
        queued_bytes_ += q.bytes;
        queue_.push_back(std::move(q));
        return;
      }
    }
    q.done(absl::CancelledError(absl::StrCat("the ", options_.role, " topic writer is stopping")));
    return;
  }
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add(kHeaderConnector, options_.connector);
  headers->add(kHeaderTopic, error.topic);
  headers->add(kHeaderPartition, std::to_string(r.partition()));
  headers->add(kHeaderOffset, std::to_string(r.offset()));
  headers->add(kHeaderCode, error.code);
  if (!error.column.empty()) headers->add(kHeaderColumn, error.column);
  headers->add(kHeaderMessage, error.message);
  for (const v1::KafkaHeader& h : r.headers()) headers->add(h.key(), h.value());
  auto* opaque = new Done(std::move(done));
  RdKafka::ErrorCode code;
  while (true) {
    code =
        producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           r.has_value() ? const_cast<char*>(r.value().data()) : nullptr,
                           r.has_value() ? r.value().size() : 0,
                           r.has_key() ? r.key().data() : nullptr, r.has_key() ? r.key().size() : 0,
                           r.timestamp_ms() > 0 ? r.timestamp_ms() : 0, headers, opaque);
    if (code != RdKafka::ERR__QUEUE_FULL) break;
    absl::SleepFor(absl::Milliseconds(10));  // the poll thread drains the queue
  }
  if (code != RdKafka::ERR_NO_ERROR) {
    // produce() owns the headers only on success.
    delete headers;
    const absl::Status status = absl::UnavailableError(
        absl::StrCat("producing to ", topic, " failed: ", RdKafka::err2str(code)));
    MCSINK_LOG(ERROR) << status.message();
    std::unique_ptr<Done> failed(opaque);
    if (*failed) (*failed)(status);
  }
}

void ErrorTopicWriter::Flush(absl::Duration timeout) {
  if (!exactly_once()) {
    if (producer_ != nullptr) {
      producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    }
    return;
  }
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return queue_.empty() && in_transaction_ == 0;
  };
  mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

void ErrorTopicWriter::Run() {
  while (true) {
    std::vector<Queued> batch;
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_.load() || !queue_.empty(); };
      mu_.Await(absl::Condition(&work));
      if (stop_.load()) break;
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < options_.max_batch_records &&
             bytes < options_.max_queued_bytes) {
        bytes += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_bytes_ -= bytes;
      in_transaction_ = batch.size();
    }
    const std::vector<absl::Status> results = Transact(batch);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(results[i]);
    absl::MutexLock lock(&mu_);
    in_transaction_ = 0;
  }
  ResetProducer();
}

void ErrorTopicWriter::ResetProducer() {
  producer_.reset();
  spans_loaded_ = false;
  spans_.clear();
}

absl::Status ErrorTopicWriter::EnsureReady() {
  if (admin_ == nullptr) {
    MCSINK_ASSIGN_OR_RETURN(admin_, kafka::Admin::Create(options_.properties));
  }
  if (producer_ == nullptr) {
    spans_loaded_ = false;
    MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Producer> producer,
                            NewProducer(/*transactional=*/true));
    // Fences any earlier producer with this transactional.id and aborts its open transaction,
    // so the spans read below are final for everything it did.
    KafkaError e(producer->init_transactions(kTransactionCallTimeoutMs));
    if (e != nullptr) {
      std::string hint = "; is the broker reachable?";
      if (e->code() == RdKafka::ERR__UNSUPPORTED_FEATURE) {
        hint =
            "; the broker does not support transactions: run the connector with "
            "--exactly_once=false (the error and dead-letter topics are then at-least-once)";
      } else if (e->code() == RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
                 e->code() == RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED) {
        hint = absl::StrCat("; grant the connector's principal Write and Describe on the ",
                            "transactional id ", options_.connector, "-", options_.role);
      }
      return absl::UnavailableError(
          absl::StrCat("initializing the transactions of the ", options_.role, " topic producer (",
                       options_.connector, "-", options_.role, "): ", e->str(), hint));
    }
    producer_ = std::move(producer);
  }
  if (!spans_loaded_) MCSINK_RETURN_IF_ERROR(LoadSpans());
  return absl::OkStatus();
}

absl::Status ErrorTopicWriter::LoadSpans() {
  const std::string& topic = options_.offset_topic;
  const absl::Time start = absl::Now();
  auto description = admin_->DescribeTopic(topic);
  if (!description.ok()) {
    return Annotate(description.status(),
                    absl::StrCat("the ", options_.role,
                                 " topic writer keeps what it produced in "
                                 "the offset topic ",
                                 topic, " (topics.offset_topic), which must exist"));
  }
  if (description->partitions < 2) {
    MCSINK_LOG(WARNING) << "offset topic " << topic << " has one partition: the " << options_.role
                        << " topic's transactions share it with the exactly-once journal and can "
                           "delay its readers by up to the transaction timeout";
  }
  spans_partition_ = ProducedSpansPartition(options_.connector, description->partitions);

  kafka::Properties props = options_.properties;
  props["group.id"] = absl::StrCat(options_.connector, "-", options_.role, "-spans-reader");
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  props["fetch.wait.max.ms"] = "50";  // a short read that waits on the broker for nothing
  props["client.id"] = props["group.id"];
  auto consumer =
      [&props](
          const std::string& isolation) -> absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> {
    props["isolation.level"] = isolation;
    MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (c == nullptr) return absl::InvalidArgumentError(absl::StrCat("spans reader: ", err));
    return c;
  };
  // The reader skips aborted spans. The end is asked of a read_uncommitted client: a
  // read_committed one answers the last stable offset, short of a predecessor's transaction
  // whose commit markers are not written yet (or that is still open), whose spans must count.
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::KafkaConsumer> reader,
                          consumer("read_committed"));
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::KafkaConsumer> end_query,
                          consumer("read_uncommitted"));
  const std::string where = absl::StrCat(topic, "[", spans_partition_, "]");
  int64_t low = 0, high = 0;
  // A partition without a known leader (a topic just created, a leader moving) answers after a
  // moment: asked again until the deadline.
  const absl::Time watermark_deadline = absl::Now() + absl::Milliseconds(kTransactionCallTimeoutMs);
  RdKafka::ErrorCode code;
  while (true) {
    code = end_query->query_watermark_offsets(topic, spans_partition_, &low, &high,
                                              kTransactionCallTimeoutMs);
    if (code == RdKafka::ERR_NO_ERROR || absl::Now() > watermark_deadline) break;
    MCSINK_LOG(DEBUG) << "reading the end of " << where << ": " << RdKafka::err2str(code)
                      << "; asking again";
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("reading the end of ", where, ": ", RdKafka::err2str(code)));
  }
  std::map<std::string, ProducedSpansRecord> latest;
  const std::string prefix = SpansPrefix(options_.role);
  if (high > low) {
    std::vector<RdKafka::TopicPartition*> list = {
        RdKafka::TopicPartition::create(topic, spans_partition_, low)};
    code = reader->assign(list);
    RdKafka::TopicPartition::destroy(list);
    if (code != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("reading ", where, ": ", RdKafka::err2str(code)));
    }
    // read_committed stops at the last stable offset: an open transaction of another producer
    // (aborted within its timeout) or a commit whose markers are not yet written holds the read
    // back, so the deadline covers the transaction timeout.
    const absl::Time deadline = absl::Now() + options_.transaction_timeout + absl::Seconds(30);
    int64_t position = low;
    while (position < high) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "reading ", where, " up to offset ", high, " (the spans of what the ", options_.role,
            " topic holds) reached only ", position, "; is the broker reachable?"));
      }
      std::unique_ptr<RdKafka::Message> msg(reader->consume(200));
      if (msg->err() == RdKafka::ERR_NO_ERROR) {
        position = msg->offset() + 1;
        const std::string* key = msg->key();
        if (key == nullptr || !absl::StartsWith(*key, prefix)) continue;
        if (msg->payload() == nullptr) {
          latest.erase(*key);
          continue;
        }
        ProducedSpansRecord record;
        const std::string value(static_cast<const char*>(msg->payload()), msg->len());
        if (!google::protobuf::util::JsonStringToMessage(value, &record).ok()) {
          MCSINK_LOG(WARNING) << where << " offset " << msg->offset() << ": key " << *key
                              << " does not hold produced spans; ignored";
          continue;
        }
        latest[*key] = std::move(record);
      } else if (msg->err() == RdKafka::ERR__PARTITION_EOF ||
                 msg->err() == RdKafka::ERR__TIMED_OUT) {
        // Control records and aborted records are skipped without a message: ask where the
        // reader stands.
        std::vector<RdKafka::TopicPartition*> at = {
            RdKafka::TopicPartition::create(topic, spans_partition_)};
        if (reader->position(at) == RdKafka::ERR_NO_ERROR && at[0]->offset() >= 0) {
          position = std::max(position, at[0]->offset());
        }
        RdKafka::TopicPartition::destroy(at);
      } else {
        MCSINK_LOG(WARNING) << "reading " << where << ": " << msg->errstr();
      }
    }
  }
  reader->close();
  end_query->close();
  spans_.clear();
  std::vector<std::string> topics;
  for (auto& [key, record] : latest) {
    Spans& s = spans_[key];
    s.destination = record.destination_topic();
    s.source_topic = record.source_topic();
    s.partition = record.source_partition();
    for (const OffsetSpan& span : record.spans()) s.committed.Add(span.first(), span.last());
    topics.push_back(s.source_topic);
  }
  spans_loaded_ = true;
  last_prune_.clear();
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  for (const std::string& t : topics) Prune(t);
  MCSINK_LOG(INFO) << options_.connector << ": " << options_.role << " topic writer loaded "
                   << spans_.size() << " produced-offset records from " << where << " in "
                   << absl::FormatDuration(absl::Now() - start);
  return absl::OkStatus();
}

void ErrorTopicWriter::Prune(const std::string& source_topic) {
  if (options_.consumer_group.empty()) return;
  last_prune_[source_topic] = absl::Now();
  auto committed = admin_->CommittedOffsets(options_.consumer_group, source_topic);
  if (!committed.ok()) {
    // Settling only keeps the spans small; it waits for the next turn.
    MCSINK_LOG(WARNING) << "pruning the produced spans of " << source_topic << ": "
                        << committed.status();
    return;
  }
  for (auto& [key, s] : spans_) {
    if (s.source_topic != source_topic) continue;
    auto it = committed->find(s.partition);
    if (it != committed->end()) s.committed.SettleBelow(it->second);
  }
}

std::vector<absl::Status> ErrorTopicWriter::Transact(std::vector<Queued>& batch) {
  std::vector<absl::Status> results(batch.size());
  absl::Status status;
  for (int attempt = 1; attempt <= kTransactionAttempts; ++attempt) {
    status = TransactOnce(batch, results);
    if (status.ok()) return results;
    // Aborted: fenced by another producer with our transactional.id, or the outcome of a commit
    // is unknown; a new producer (fencing the other) and the spans read again tell what is in
    // the topic, so trying again cannot duplicate.
    if (!absl::IsAborted(status)) break;
    MCSINK_LOG(WARNING) << options_.connector << ": " << status.message() << "; trying again ("
                        << attempt << " of " << kTransactionAttempts << ")";
    ResetProducer();
  }
  MCSINK_LOG(ERROR) << options_.connector << ": " << batch.size()
                    << " records not produced: " << status.message();
  for (absl::Status& r : results) r = status;
  return results;
}

absl::Status ErrorTopicWriter::TransactOnce(std::vector<Queued>& batch,
                                            std::vector<absl::Status>& results) {
  MCSINK_RETURN_IF_ERROR(EnsureReady());
  producer_->poll(0);  // serves what the producer reported since the last transaction
  // The spans as they will be once this transaction commits, for the keys it touches.
  std::map<std::string, Spans> updated;
  for (const Queued& q : batch) {
    const std::string key =
        ProducedSpansKey(options_.role, q.destination, q.source_topic, q.record.partition());
    if (updated.count(key) > 0) continue;
    auto it = spans_.find(key);
    if (it != spans_.end()) {
      auto pruned = last_prune_.find(q.source_topic);
      if (it->second.committed.size() > 64 &&
          (pruned == last_prune_.end() || absl::Now() - pruned->second > kPruneInterval)) {
        Prune(q.source_topic);
      }
      updated[key] = it->second;
    } else {
      updated[key] = Spans{q.destination, q.source_topic, q.record.partition(), {}};
    }
  }

  KafkaError e(producer_->begin_transaction());
  if (e != nullptr) {
    return absl::AbortedError(absl::StrCat("beginning a transaction: ", e->str()));
  }
  (void)reports_->TakeFirstFailure();
  size_t produced = 0;
  absl::Status failed;
  auto produce = [&](const std::string& topic, int32_t partition, const std::string* value,
                     const std::string* key, int64_t timestamp, RdKafka::Headers* headers) {
    RdKafka::ErrorCode code;
    while (true) {
      code = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                value != nullptr ? const_cast<char*>(value->data()) : nullptr,
                                value != nullptr ? value->size() : 0,
                                key != nullptr ? key->data() : nullptr,
                                key != nullptr ? key->size() : 0, timestamp, headers, nullptr);
      if (code != RdKafka::ERR__QUEUE_FULL) break;
      producer_->poll(10);
    }
    if (code != RdKafka::ERR_NO_ERROR) {
      delete headers;  // produce() owns the headers only on success
      failed = absl::UnavailableError(
          absl::StrCat("producing to ", topic, " failed: ", RdKafka::err2str(code)));
    }
  };
  for (const Queued& q : batch) {
    if (!failed.ok()) break;
    const v1::KafkaRecord& r = q.record;
    Spans& s =
        updated[ProducedSpansKey(options_.role, q.destination, q.source_topic, r.partition())];
    if (s.committed.Contains(r.offset())) continue;  // in the topic already (or in this batch)
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add(kHeaderConnector, options_.connector);
    headers->add(kHeaderTopic, q.source_topic);
    headers->add(kHeaderPartition, std::to_string(r.partition()));
    headers->add(kHeaderOffset, std::to_string(r.offset()));
    headers->add(kHeaderCode, q.code);
    if (!q.column.empty()) headers->add(kHeaderColumn, q.column);
    headers->add(kHeaderMessage, q.message);
    for (const v1::KafkaHeader& h : r.headers()) headers->add(h.key(), h.value());
    produce(q.destination, RdKafka::Topic::PARTITION_UA, r.has_value() ? &r.value() : nullptr,
            r.has_key() ? &r.key() : nullptr, r.timestamp_ms() > 0 ? r.timestamp_ms() : 0, headers);
    s.committed.Add(r.offset());
    ++produced;
  }
  if (failed.ok() && produced > 0) {
    for (const auto& [key, s] : updated) {
      ProducedSpansRecord record;
      record.set_role(options_.role);
      record.set_destination_topic(s.destination);
      record.set_source_topic(s.source_topic);
      record.set_source_partition(s.partition);
      for (const auto& [first, last] : s.committed.spans()) {
        OffsetSpan* span = record.add_spans();
        span->set_first(first);
        span->set_last(last);
      }
      std::string value;
      google::protobuf::util::JsonPrintOptions json;
      json.preserve_proto_field_names = true;  // as the journal's records
      (void)google::protobuf::util::MessageToJsonString(record, &value, json);
      produce(options_.offset_topic, spans_partition_, &value, &key, 0, nullptr);
      if (!failed.ok()) break;
    }
  }
  if (!failed.ok()) {
    KafkaError abort(producer_->abort_transaction(kTransactionCallTimeoutMs));
    // Not aborted for sure: its outcome is learned again (from a new producer's spans).
    if (abort != nullptr) return absl::AbortedError(abort->str());
    return failed;
  }
  if (produced < batch.size()) {
    // A replay (after a crash, a restart or a rebalance), or a zombie's batch: expected then.
    MCSINK_LOG(INFO) << options_.connector << ": " << batch.size() - produced << " of "
                     << batch.size() << " records for the " << options_.role
                     << " topic are there already; not produced again";
  }
  if (produced == 0) {
    // Everything was there already: nothing to commit.
    KafkaError abort(producer_->abort_transaction(kTransactionCallTimeoutMs));
    if (abort != nullptr) return absl::AbortedError(abort->str());
    for (absl::Status& r : results) r = absl::OkStatus();
    return absl::OkStatus();
  }
  KafkaError commit(producer_->commit_transaction(kTransactionCallTimeoutMs));
  if (commit != nullptr) {
    const absl::Status cause = reports_->TakeFirstFailure();
    const std::string what =
        absl::StrCat("committing the transaction of ", produced, " records: ", commit->str(),
                     cause.ok() ? "" : "; ", cause.ok() ? "" : cause.message());
    if (commit->txn_requires_abort()) {
      KafkaError abort(producer_->abort_transaction(kTransactionCallTimeoutMs));
      if (abort == nullptr) return absl::UnavailableError(what);  // cleanly not produced
    }
    return absl::AbortedError(what);  // fenced, fatal or unknown outcome
  }
  for (auto& [key, s] : updated) spans_[key] = std::move(s);
  for (absl::Status& r : results) r = absl::OkStatus();
  return absl::OkStatus();
}

}  // namespace mcsink::transform
