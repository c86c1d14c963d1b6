#include "mcsink/kafka/admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/status.h"

namespace mcsink::kafka {
namespace {

struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

absl::Status FromKafkaError(rd_kafka_resp_err_t err, const std::string& what,
                            const char* detail = nullptr) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string message = absl::StrCat(
      what, ": ", detail != nullptr && *detail != '\0' ? detail : rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::AlreadyExistsError(message);
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
      return absl::NotFoundError(message);
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return absl::InvalidArgumentError(message);
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
      // What the broker answers to an offset change while the group has active members.
      return absl::FailedPreconditionError(
          absl::StrCat(message, " (the group has active members: stop its consumers first)"));
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Runs one admin request: `start` issues it on `queue` with `options`; returns the result
// event once its error is checked.
absl::StatusOr<EventPtr> RunAdmin(
    rd_kafka_t* rk, rd_kafka_admin_op_t op, absl::Duration timeout, const std::string& what,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start) {
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk, op));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), Millis(timeout), err, sizeof(err));
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), Millis(timeout), err, sizeof(err));
  }
  start(options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), Millis(timeout + absl::Seconds(5))));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": no answer within ", absl::FormatDuration(timeout)));
  }
  MCSINK_RETURN_IF_ERROR(FromKafkaError(rd_kafka_event_error(event.get()), what,
                                        rd_kafka_event_error_string(event.get())));
  return event;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(const Properties& properties) {
  if (!properties.contains("bootstrap.servers")) {
    return absl::InvalidArgumentError("Kafka admin client: bootstrap.servers is not set");
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka admin client: ", IsSecretProperty(name) ? name + " refused" : err));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("Kafka admin client: ", err));
  }
  return std::unique_ptr<Admin>(new Admin(rk));
}

Admin::~Admin() { rd_kafka_destroy(handle_); }

absl::Status Admin::CreateTopic(const TopicSpec& spec, absl::Duration timeout) {
  const std::string what = absl::StrCat("create topic ", spec.name);
  char err[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                                     spec.replication_factor, err, sizeof(err));
  if (topic == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", err));
  for (const auto& [name, value] : spec.configs) {
    rd_kafka_NewTopic_set_config(topic, name.c_str(), value.c_str());
  }
  auto event = RunAdmin(handle_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, what,
                        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                          rd_kafka_CreateTopics(handle_, &topic, 1, options, queue);
                        });
  rd_kafka_NewTopic_destroy(topic);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
  absl::Status created = absl::OkStatus();
  for (size_t i = 0; i < count && created.ok(); ++i) {
    created = FromKafkaError(rd_kafka_topic_result_error(results[i]), what,
                             rd_kafka_topic_result_error_string(results[i]));
  }
  // AlreadyExists may mean another process created it a moment ago: its metadata can still be
  // on the way, so that case waits too before it is reported.
  if (!created.ok() && created.code() != absl::StatusCode::kAlreadyExists) return created;
  // The controller has created it; wait until the broker's metadata shows it too, so callers
  // can describe or use the topic at once.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::StatusOr<int> partitions = PartitionCount(spec.name, timeout);
    if (partitions.ok()) return created;
    if (partitions.status().code() != absl::StatusCode::kNotFound) return partitions.status();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": created, but not in the broker's metadata after ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::Status Admin::DeleteTopic(const std::string& topic, absl::Duration timeout) {
  const std::string what = absl::StrCat("delete topic ", topic);
  rd_kafka_DeleteTopic_t* del = rd_kafka_DeleteTopic_new(topic.c_str());
  auto event = RunAdmin(handle_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, what,
                        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                          rd_kafka_DeleteTopics(handle_, &del, 1, options, queue);
                        });
  rd_kafka_DeleteTopic_destroy(del);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    MCSINK_RETURN_IF_ERROR(FromKafkaError(rd_kafka_topic_result_error(results[i]), what,
                                          rd_kafka_topic_result_error_string(results[i])));
  }
  // As for CreateTopic: return once the broker's metadata no longer shows the topic, so callers
  // see it gone at once.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::StatusOr<int> partitions = PartitionCount(topic, timeout);
    if (partitions.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
    if (!partitions.ok()) return partitions.status();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": deleted, but still in the broker's metadata after ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<int> Admin::PartitionCount(const std::string& topic, absl::Duration timeout) {
  const std::string what = absl::StrCat("metadata of topic ", topic);
  rd_kafka_topic_t* handle = rd_kafka_topic_new(handle_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_, 0, handle, &metadata, Millis(timeout));
  rd_kafka_topic_destroy(handle);
  MCSINK_RETURN_IF_ERROR(FromKafkaError(err, what));
  absl::StatusOr<int> out = absl::NotFoundError(absl::StrCat(what, ": no such topic"));
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    const absl::Status status = FromKafkaError(t.err, what);
    out = status.ok() ? absl::StatusOr<int>(t.partition_cnt) : absl::StatusOr<int>(status);
  }
  rd_kafka_metadata_destroy(metadata);
  return out;
}

absl::StatusOr<TopicDescription> Admin::DescribeTopic(const std::string& topic,
                                                      absl::Duration timeout) {
  TopicDescription out;
  out.name = topic;
  MCSINK_ASSIGN_OR_RETURN(out.partitions, PartitionCount(topic, timeout));

  const std::string what = absl::StrCat("describe configs of topic ", topic);
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  auto event = RunAdmin(handle_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, what,
                        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                          rd_kafka_DescribeConfigs(handle_, &resource, 1, options, queue);
                        });
  rd_kafka_ConfigResource_destroy(resource);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    MCSINK_RETURN_IF_ERROR(FromKafkaError(rd_kafka_ConfigResource_error(resources[i]), what,
                                          rd_kafka_ConfigResource_error_string(resources[i])));
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs =
        rd_kafka_ConfigResource_configs(resources[i], &entries);
    for (size_t j = 0; j < entries; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(configs[j]);
      out.configs[rd_kafka_ConfigEntry_name(configs[j])] = value != nullptr ? value : "";
    }
  }
  return out;
}

absl::StatusOr<std::vector<PartitionWatermarks>> Admin::Watermarks(const std::string& topic,
                                                                   absl::Duration timeout) {
  MCSINK_ASSIGN_OR_RETURN(const int partitions, PartitionCount(topic, timeout));
  std::vector<PartitionWatermarks> out;
  out.reserve(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    PartitionWatermarks w;
    w.partition = p;
    MCSINK_RETURN_IF_ERROR(
        FromKafkaError(rd_kafka_query_watermark_offsets(handle_, topic.c_str(), p, &w.low, &w.high,
                                                        Millis(timeout)),
                       absl::StrCat("watermarks of ", topic, "[", p, "]")));
    out.push_back(w);
  }
  return out;
}

absl::StatusOr<std::map<int32_t, int64_t>> Admin::CommittedOffsets(const std::string& group,
                                                                   const std::string& topic,
                                                                   absl::Duration timeout) {
  MCSINK_ASSIGN_OR_RETURN(const int partitions, PartitionCount(topic, timeout));
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  const std::string what = absl::StrCat("committed offsets of group ", group, " on ", topic);
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list.get());
  auto event = RunAdmin(handle_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout, what,
                        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                          rd_kafka_ListConsumerGroupOffsets(handle_, &request, 1, options, queue);
                        });
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event->get()), &count);
  std::map<int32_t, int64_t> out;
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[i]); error != nullptr) {
      return FromKafkaError(rd_kafka_error_code(error), what, rd_kafka_error_string(error));
    }
    const rd_kafka_topic_partition_list_t* offsets = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; offsets != nullptr && j < offsets->cnt; ++j) {
      const rd_kafka_topic_partition_t& tp = offsets->elems[j];
      MCSINK_RETURN_IF_ERROR(FromKafkaError(tp.err, absl::StrCat(what, "[", tp.partition, "]")));
      if (tp.offset >= 0) out[tp.partition] = tp.offset;
    }
  }
  return out;
}

absl::Status Admin::AlterCommittedOffsets(const std::string& group, const std::string& topic,
                                          const std::map<int32_t, int64_t>& offsets,
                                          absl::Duration timeout) {
  if (offsets.empty()) return absl::OkStatus();
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [partition, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
  }
  const std::string what = absl::StrCat("alter committed offsets of group ", group, " on ", topic);
  rd_kafka_AlterConsumerGroupOffsets_t* request =
      rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get());
  auto event = RunAdmin(handle_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout, what,
                        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                          rd_kafka_AlterConsumerGroupOffsets(handle_, &request, 1, options, queue);
                        });
  rd_kafka_AlterConsumerGroupOffsets_destroy(request);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[i]); error != nullptr) {
      return FromKafkaError(rd_kafka_error_code(error), what, rd_kafka_error_string(error));
    }
    const rd_kafka_topic_partition_list_t* result = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; result != nullptr && j < result->cnt; ++j) {
      const rd_kafka_topic_partition_t& tp = result->elems[j];
      MCSINK_RETURN_IF_ERROR(FromKafkaError(tp.err, absl::StrCat(what, "[", tp.partition, "]")));
    }
  }
  return absl::OkStatus();
}

}  // namespace mcsink::kafka
