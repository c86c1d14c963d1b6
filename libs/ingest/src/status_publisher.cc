#include "mcsink/ingest/status_publisher.h"

#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <climits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::ingest {
namespace {

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

}  // namespace

std::string PartitionStatusKey(const std::string& topic, int32_t partition) {
  return absl::StrCat("partition-", topic, "-", partition);
}

absl::StatusOr<std::unique_ptr<StatusPublisher>> StatusPublisher::Create(
    StatusPublisherOptions options) {
  if (options.topic.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connector ", options.connector,
                     ": no status topic (topics.status_topic); normalize the config"));
  }
  if (options.host.empty()) options.host = HostName();
  std::unique_ptr<StatusPublisher> publisher(new StatusPublisher(std::move(options)));
  kafka::Properties props = publisher->options_.kafka_properties;
  // Idempotence keeps one key's records in order across retries: the latest status wins.
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "20";
  props.try_emplace("client.id", publisher->options_.connector + "-status");
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  publisher->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (publisher->producer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("status topic producer: ", err));
  }
  return publisher;
}

StatusPublisher::~StatusPublisher() {
  if (producer_ != nullptr) Flush(absl::Seconds(5));
}

std::string StatusPublisher::Owner(int worker) const {
  return absl::StrCat(options_.host, "/ingest-", worker);
}

StatusPublisher::Entry& StatusPublisher::EntryFor(const TopicPartition& tp) {
  auto [it, fresh] = entries_.try_emplace(tp);
  if (fresh) {
    v1::PartitionStatus& s = it->second.status;
    s.set_topic(tp.topic);
    s.set_partition(tp.partition);
    s.set_committed_offset(-1);
    s.set_log_end_offset(-1);
    s.set_lag(-1);
  }
  return it->second;
}

void StatusPublisher::Publish(Entry& entry) {
  const absl::Time now = absl::Now();
  entry.published = now;
  entry.status.set_updated_at_ms(absl::ToUnixMillis(now));
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (auto s = google::protobuf::util::MessageToJsonString(entry.status, &json, print); !s.ok()) {
    MCSINK_LOG(ERROR) << "partition status not encoded: " << s.ToString();
    return;
  }
  const std::string key = PartitionStatusKey(entry.status.topic(), entry.status.partition());
  const RdKafka::ErrorCode code = producer_->produce(
      options_.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, json.data(),
      json.size(), key.data(), key.size(), 0, nullptr, nullptr);
  // Status is advisory and the next report supersedes this one: a full queue is logged, not
  // waited out on a consumer thread.
  if (code != RdKafka::ERR_NO_ERROR) {
    MCSINK_LOG(WARNING) << "status of " << key << " not published to " << options_.topic << ": "
                        << RdKafka::err2str(code);
  }
  producer_->poll(0);
}

void StatusPublisher::OnAssigned(int worker, const TopicPartition& tp) {
  absl::MutexLock lock(&mu_);
  Entry& e = EntryFor(tp);
  e.status.set_state(v1::PARTITION_STATE_RUNNING);
  e.status.set_owner(Owner(worker));
  // last_error stays: it is the partition's last error, whoever owns it now.
  Publish(e);
}

void StatusPublisher::OnRevoked(int /*worker*/, const TopicPartition& tp) {
  absl::MutexLock lock(&mu_);
  Entry& e = EntryFor(tp);
  e.status.set_state(v1::PARTITION_STATE_UNASSIGNED);
  e.status.clear_owner();
  Publish(e);
}

void StatusPublisher::OnStopped(int worker, const StoppedPartition& stopped) {
  absl::MutexLock lock(&mu_);
  Entry& e = EntryFor(stopped.tp);
  e.status.set_state(v1::PARTITION_STATE_STOPPED);
  e.status.set_owner(Owner(worker));
  v1::ErrorInfo* error = e.status.mutable_last_error();
  error->set_code(stopped.code);
  error->set_message(stopped.reason);
  error->set_offset(stopped.offset);
  error->set_at_ms(absl::ToUnixMillis(absl::Now()));
  Publish(e);
}

void StatusPublisher::OnDeadLettered(const TopicPartition& tp, int64_t offset,
                                     const std::string& code, const std::string& message) {
  absl::MutexLock lock(&mu_);
  Entry& e = EntryFor(tp);
  v1::ErrorInfo* error = e.status.mutable_last_error();
  error->set_code(code);
  error->set_message(message);
  error->set_offset(offset);
  error->set_at_ms(absl::ToUnixMillis(absl::Now()));
  Publish(e);
}

void StatusPublisher::OnProgress(int worker, const TopicPartition& tp,
                                 const PartitionProgress& progress) {
  absl::MutexLock lock(&mu_);
  Entry& e = EntryFor(tp);
  if (progress.committed_offset >= 0) e.status.set_committed_offset(progress.committed_offset);
  if (progress.log_end_offset >= 0) e.status.set_log_end_offset(progress.log_end_offset);
  if (progress.lag >= 0) e.status.set_lag(progress.lag);
  if (e.status.state() == v1::PARTITION_STATE_UNSPECIFIED ||
      e.status.state() == v1::PARTITION_STATE_UNASSIGNED) {
    e.status.set_state(v1::PARTITION_STATE_RUNNING);
    e.status.set_owner(Owner(worker));
  }
  if (absl::Now() - e.published >= options_.interval) Publish(e);
}

void StatusPublisher::Flush(absl::Duration timeout) {
  producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout)));
}

}  // namespace mcsink::ingest
