#include "mcsink/controller/connector_store.h"

#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/controller/records.h"
#include "mcsink/kafka/admin.h"

namespace mcsink::controller {

// ---- Subscription ----

Subscription::~Subscription() {
  bool closed;
  {
    absl::MutexLock lock(&mu_);
    closed = closed_;
  }
  if (!closed) store_->Unsubscribe(this);
}

void Subscription::Push(const v1::ConnectorEvent& event) {
  if (!name_.empty() && event.name() != name_ && event.type() != v1::ConnectorEvent::TYPE_SYNCED) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (overflowed_ || closed_) return;
  if (queue_.size() >= kMaxQueued) {
    // Memory stays bounded: the watcher starts over from a fresh snapshot instead.
    overflowed_ = true;
    queue_.clear();
    return;
  }
  queue_.push_back(event);
}

void Subscription::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::StatusOr<std::optional<v1::ConnectorEvent>> Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || overflowed_ || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (overflowed_) {
    return absl::AbortedError(absl::StrCat("watch fell more than ", kMaxQueued,
                                           " changes behind; watch again for a fresh state"));
  }
  if (closed_) return absl::CancelledError("the controller is shutting down");
  if (queue_.empty()) return std::nullopt;
  v1::ConnectorEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

// ---- ConnectorStore ----

ConnectorStore::ConnectorStore(ConnectorStoreOptions options) : options_(std::move(options)) {
  if (options_.metrics != nullptr) {
    gauges_ = &prometheus::BuildGauge()
                   .Name("mcsink_controller_connectors")
                   .Help("Connectors the controller knows, by the state the user asked for")
                   .Register(*options_.metrics);
  }
}

ConnectorStore::~ConnectorStore() {
  stop_ = true;
  if (follower_.joinable()) follower_.join();
  if (consumer_ != nullptr) consumer_->close();
  absl::MutexLock lock(&mu_);
  for (Subscription* s : subscriptions_) s->Close();
  subscriptions_.clear();
}

absl::StatusOr<std::unique_ptr<ConnectorStore>> ConnectorStore::Open(
    ConnectorStoreOptions options) {
  std::unique_ptr<ConnectorStore> store(new ConnectorStore(std::move(options)));
  MCSINK_RETURN_IF_ERROR(store->Start());
  return store;
}

absl::Status ConnectorStore::Start() {
  const std::string& topic = options_.registry_topic;
  const std::string what = absl::StrCat("connector registry ", topic);
  // The registry follows the config topic's rule: every controller must read one order.
  const TopicRule rule{"registry topic", "--registry_topic", topic, 1, 1, 1, true};
  auto admin = kafka::Admin::Create(options_.kafka);
  if (!admin.ok()) return Annotate(admin.status(), what);
  auto described = (*admin)->DescribeTopic(topic, options_.timeout);
  if (described.status().code() == absl::StatusCode::kNotFound) {
    absl::Status created = (*admin)->CreateTopic(
        {.name = topic, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}},
        options_.timeout);
    // Another controller may have created it meanwhile.
    if (!created.ok() && created.code() != absl::StatusCode::kAlreadyExists) {
      return Annotate(created, what);
    }
    described = (*admin)->DescribeTopic(topic, options_.timeout);
  }
  if (!described.ok()) return Annotate(described.status(), what);
  MCSINK_RETURN_IF_ERROR(CheckTopic(rule, *described));
  auto writer = kafka::KeyedWriter::Create(options_.kafka);
  if (!writer.ok()) return Annotate(writer.status(), what);
  writer_ = std::move(*writer);

  kafka::Properties props = options_.kafka;
  // assign() never joins this group; the consumer API only requires an id.
  props["group.id"] = "mcsink-controller-registry";
  props["enable.auto.commit"] = "false";
  auto conf = kafka::MakeConf(props);
  if (!conf.ok()) return Annotate(conf.status(), what);
  std::string err;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (consumer_ == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", err));
  int64_t low = 0;
  int64_t high = 0;
  RdKafka::ErrorCode code = consumer_->query_watermark_offsets(
      topic, 0, &low, &high, static_cast<int>(absl::ToInt64Milliseconds(options_.timeout)));
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(what, ": end offset: ", RdKafka::err2str(code)));
  }
  std::vector<RdKafka::TopicPartition*> assignment = {
      RdKafka::TopicPartition::create(topic, 0, RdKafka::Topic::OFFSET_BEGINNING)};
  code = consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(what, ": assign: ", RdKafka::err2str(code)));
  }
  follower_ = std::thread([this] { Follow(); });
  // Serve nothing before the registry is read to its end: a restarted controller must answer
  // with the same connectors as before.
  MCSINK_RETURN_IF_ERROR(WaitApplied(high - 1));
  absl::MutexLock lock(&mu_);
  UpdateMetricsLocked();  // zeros too, so dashboards see the series from the start
  MCSINK_LOG(INFO) << what << ": " << records_.size() << " connector(s), read to offset " << high;
  return absl::OkStatus();
}

void ConnectorStore::Follow() {
  while (!stop_.load()) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(200));
    if (message->err() == RdKafka::ERR__TIMED_OUT ||
        message->err() == RdKafka::ERR__PARTITION_EOF) {
      // Compaction leaves gaps in the offsets: the position says how far the log was read.
      std::vector<RdKafka::TopicPartition*> position = {
          RdKafka::TopicPartition::create(options_.registry_topic, 0)};
      if (consumer_->position(position) == RdKafka::ERR_NO_ERROR && position[0]->offset() >= 0) {
        absl::MutexLock lock(&mu_);
        applied_ = std::max(applied_, position[0]->offset());
      }
      RdKafka::TopicPartition::destroy(position);
      continue;
    }
    if (message->err() != RdKafka::ERR_NO_ERROR) {
      MCSINK_LOG(WARNING) << "connector registry " << options_.registry_topic << ": "
                          << message->errstr();
      absl::MutexLock lock(&mu_);
      follow_error_ = message->errstr();
      continue;
    }
    std::optional<std::string> value;
    if (message->payload() != nullptr) {
      value.emplace(static_cast<const char*>(message->payload()), message->len());
    }
    Apply(message->key() != nullptr ? *message->key() : "", value, message->offset());
  }
}

void ConnectorStore::Apply(const std::string& key, const std::optional<std::string>& value,
                           int64_t offset) {
  absl::MutexLock lock(&mu_);
  applied_ = std::max(applied_, offset + 1);
  follow_error_.clear();
  if (key.empty()) return;
  v1::ConnectorEvent event;
  event.set_name(key);
  if (value.has_value()) {
    v1::ConnectorRecord record;
    if (absl::Status s =
            FromJson(*value, absl::StrCat("registry record ", key, " at offset ", offset), &record);
        !s.ok()) {
      // One bad record must not stop the controller; the connector keeps its previous state.
      MCSINK_LOG(ERROR) << s << "; skipped";
      return;
    }
    event.set_type(v1::ConnectorEvent::TYPE_UPSERT);
    *event.mutable_record() = record;
    records_[key] = std::move(record);
  } else {
    if (records_.erase(key) == 0) return;
    event.set_type(v1::ConnectorEvent::TYPE_DELETE);
  }
  for (Subscription* s : subscriptions_) s->Push(event);
  UpdateMetricsLocked();
}

void ConnectorStore::UpdateMetricsLocked() {
  if (gauges_ == nullptr) return;
  std::map<v1::TargetState, int> counts = {
      {v1::TARGET_STATE_STOPPED, 0}, {v1::TARGET_STATE_RUNNING, 0}, {v1::TARGET_STATE_PAUSED, 0}};
  for (const auto& [name, record] : records_) ++counts[record.target_state()];
  for (const auto& [state, count] : counts) {
    gauges_->Add({{"target_state", TargetStateName(state)}}).Set(count);
  }
}

absl::Status ConnectorStore::WaitApplied(int64_t offset) {
  absl::MutexLock lock(&mu_);
  auto applied = [this, offset]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return applied_ > offset; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&applied), options_.timeout)) {
    return absl::UnavailableError(
        absl::StrCat("connector registry ", options_.registry_topic, ": not read up to offset ",
                     offset, " within ", absl::FormatDuration(options_.timeout),
                     follow_error_.empty() ? "" : absl::StrCat(" (", follow_error_, ")")));
  }
  return absl::OkStatus();
}

std::optional<v1::ConnectorRecord> ConnectorStore::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(name);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::ConnectorRecord> ConnectorStore::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ConnectorRecord> out;
  out.reserve(records_.size());
  for (const auto& [name, record] : records_) out.push_back(record);
  return out;
}

absl::StatusOr<v1::ConnectorRecord> ConnectorStore::Update(const std::string& name,
                                                           const Change& change) {
  absl::MutexLock write_lock(&write_mu_);
  const std::optional<v1::ConnectorRecord> current = Get(name);
  MCSINK_ASSIGN_OR_RETURN(v1::ConnectorRecord record, change(current));
  const int64_t now = NowMillis();
  record.set_version(current.has_value() ? current->version() + 1 : 1);
  record.set_created_at_ms(current.has_value() ? current->created_at_ms() : now);
  record.set_updated_at_ms(now);
  const std::string json = ToJson(record);
  if (options_.write_config_topics) {
    const std::string& topic = record.config().topics().config_topic();
    MCSINK_ASSIGN_OR_RETURN(const kafka::Properties props,
                            config::KafkaPropertiesFor(record.config()));
    MCSINK_ASSIGN_OR_RETURN(auto writer, kafka::KeyedWriter::Create(props));
    MCSINK_RETURN_IF_ERROR(
        Annotate(writer->Write(topic, ConnectorKey(name), json, options_.timeout).status(),
                 absl::StrCat("connector ", name, ": config topic")));
  }
  MCSINK_ASSIGN_OR_RETURN(const kafka::WrittenOffset written,
                          writer_->Write(options_.registry_topic, name, json, options_.timeout));
  MCSINK_RETURN_IF_ERROR(WaitApplied(written.offset));
  std::optional<v1::ConnectorRecord> stored = Get(name);
  return stored.has_value() ? *stored : record;
}

absl::Status ConnectorStore::Delete(const std::string& name) {
  absl::MutexLock write_lock(&write_mu_);
  const std::optional<v1::ConnectorRecord> current = Get(name);
  if (!current.has_value()) return absl::NotFoundError(absl::StrCat("no connector ", name));
  if (options_.write_config_topics) {
    // The connector's cluster or topic may be gone already; the registry decides, so a failure
    // here is logged and the delete goes on.
    absl::Status s = [&]() -> absl::Status {
      MCSINK_ASSIGN_OR_RETURN(const kafka::Properties props,
                              config::KafkaPropertiesFor(current->config()));
      MCSINK_ASSIGN_OR_RETURN(auto writer, kafka::KeyedWriter::Create(props));
      return writer
          ->Write(current->config().topics().config_topic(), ConnectorKey(name), std::nullopt,
                  absl::Seconds(10))
          .status();
    }();
    if (!s.ok()) MCSINK_LOG(WARNING) << "connector " << name << ": config topic tombstone: " << s;
  }
  MCSINK_ASSIGN_OR_RETURN(
      const kafka::WrittenOffset written,
      writer_->Write(options_.registry_topic, name, std::nullopt, options_.timeout));
  return WaitApplied(written.offset);
}

std::unique_ptr<Subscription> ConnectorStore::Watch(const std::string& name) {
  std::unique_ptr<Subscription> subscription(new Subscription(this, name));
  absl::MutexLock lock(&mu_);
  for (const auto& [key, record] : records_) {
    v1::ConnectorEvent event;
    event.set_type(v1::ConnectorEvent::TYPE_UPSERT);
    event.set_name(key);
    *event.mutable_record() = record;
    subscription->Push(event);
  }
  v1::ConnectorEvent synced;
  synced.set_type(v1::ConnectorEvent::TYPE_SYNCED);
  subscription->Push(synced);
  subscriptions_.insert(subscription.get());
  return subscription;
}

void ConnectorStore::Unsubscribe(Subscription* subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(subscription);
}

}  // namespace mcsink::controller
