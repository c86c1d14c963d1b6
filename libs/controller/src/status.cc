#include "mcsink/controller/status.h"

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"
#include "mcsink/controller/records.h"
#include "mcsink/kafka/topic_io.h"

namespace mcsink::controller {

absl::StatusOr<v1::ConnectorOffsets> ReadOffsets(kafka::Admin& admin,
                                                 const v1::ConnectorConfig& config) {
  const std::string& topic = config.source_topic();
  MCSINK_ASSIGN_OR_RETURN(const auto watermarks, admin.Watermarks(topic));
  MCSINK_ASSIGN_OR_RETURN(const auto committed,
                          admin.CommittedOffsets(config.consumer_group(), topic));
  v1::ConnectorOffsets out;
  out.set_name(config.name());
  out.set_consumer_group(config.consumer_group());
  for (const kafka::PartitionWatermarks& w : watermarks) {
    v1::PartitionOffset* p = out.add_partitions();
    p->set_topic(topic);
    p->set_partition(w.partition);
    auto it = committed.find(w.partition);
    p->set_committed_offset(it == committed.end() ? -1 : it->second);
    p->set_log_start_offset(w.low);
    p->set_log_end_offset(w.high);
  }
  return out;
}

v1::ConnectorStatus MergeStatus(const v1::ConnectorRecord& record,
                                const std::map<std::string, std::string>& status_records,
                                const std::optional<v1::ConnectorOffsets>& offsets) {
  const v1::ConnectorConfig& config = record.config();
  v1::ConnectorStatus out;
  std::map<std::pair<std::string, int32_t>, v1::PartitionStatus> partitions;
  bool reported = false;
  for (const auto& [key, json] : status_records) {
    if (key == ConnectorKey(config.name())) {
      if (absl::Status s = FromJson(json, absl::StrCat("status record ", key), &out); !s.ok()) {
        MCSINK_LOG(WARNING) << s;
        out.Clear();
        continue;
      }
      reported = true;
    } else if (auto tp = ParsePartitionKey(key); tp.has_value()) {
      v1::PartitionStatus p;
      if (absl::Status s = FromJson(json, absl::StrCat("status record ", key), &p); !s.ok()) {
        MCSINK_LOG(WARNING) << s;
        continue;
      }
      p.set_topic(tp->first);
      p.set_partition(tp->second);
      partitions[*tp] = std::move(p);
    }
  }
  // Partitions are those of the source topic now; older reports of other topics are history.
  const std::vector<v1::PartitionStatus> reported_partitions = [&] {
    std::vector<v1::PartitionStatus> v;
    for (const v1::PartitionStatus& p : out.partitions()) v.push_back(p);
    return v;
  }();
  for (const v1::PartitionStatus& p : reported_partitions) {
    partitions.try_emplace({p.topic(), p.partition()}, p);
  }
  out.clear_partitions();
  out.set_name(config.name());

  const v1::TargetState target = record.target_state();
  if (!reported) {
    out.set_state(target == v1::TARGET_STATE_STOPPED ? v1::CONNECTOR_STATE_CREATED
                                                     : v1::CONNECTOR_STATE_STARTING);
  } else if (target == v1::TARGET_STATE_RUNNING &&
             (out.observed_restart_generation() < record.restart_generation() ||
              (out.state() != v1::CONNECTOR_STATE_RUNNING &&
               out.updated_at_ms() < record.updated_at_ms()))) {
    // The report predates the last change: the data plane has not acted on it yet.
    out.set_state(v1::CONNECTOR_STATE_STARTING);
    out.clear_message();
  }

  std::vector<std::string> stopped;
  auto add = [&](v1::PartitionStatus p) {
    // Nothing consumes a paused or stopped connector, whatever its last partition reports said.
    if (p.state() == v1::PARTITION_STATE_RUNNING) {
      if (out.state() == v1::CONNECTOR_STATE_PAUSED) {
        p.set_state(v1::PARTITION_STATE_PAUSED);
        p.clear_owner();
      } else if (out.state() == v1::CONNECTOR_STATE_STOPPED ||
                 out.state() == v1::CONNECTOR_STATE_CREATED) {
        p.set_state(v1::PARTITION_STATE_UNASSIGNED);
        p.clear_owner();
      }
    }
    if (p.state() == v1::PARTITION_STATE_STOPPED) {
      stopped.push_back(absl::StrCat(p.topic(), "[", p.partition(), "] at offset ",
                                     p.last_error().offset(), ": ", p.last_error().message()));
    }
    *out.add_partitions() = std::move(p);
  };
  if (offsets.has_value()) {
    for (const v1::PartitionOffset& o : offsets->partitions()) {
      v1::PartitionStatus p;
      auto it = partitions.find({o.topic(), o.partition()});
      if (it != partitions.end()) {
        p = it->second;
      } else {
        p.set_topic(o.topic());
        p.set_partition(o.partition());
        p.set_state(out.state() == v1::CONNECTOR_STATE_PAUSED ? v1::PARTITION_STATE_PAUSED
                                                              : v1::PARTITION_STATE_UNASSIGNED);
      }
      // Live offsets beat what was reported a while ago.
      p.set_committed_offset(o.committed_offset());
      p.set_log_end_offset(o.log_end_offset());
      const int64_t from = o.committed_offset() >= 0 ? o.committed_offset() : o.log_start_offset();
      p.set_lag(std::max<int64_t>(0, o.log_end_offset() - from));
      add(std::move(p));
    }
  } else {
    for (auto& [tp, p] : partitions) {
      if (tp.first == config.source_topic()) add(p);
    }
  }
  if (!stopped.empty() &&
      (out.state() == v1::CONNECTOR_STATE_RUNNING || out.state() == v1::CONNECTOR_STATE_STARTING)) {
    out.set_state(v1::CONNECTOR_STATE_FAILED);
    out.set_message(absl::StrCat("stopped by the failure policy: ", absl::StrJoin(stopped, "; "),
                                 "; fix the cause, then restart the failed partitions"));
  }
  return out;
}

v1::ConnectorStatus ReadStatus(const v1::ConnectorRecord& record, absl::Duration timeout) {
  const v1::ConnectorConfig& config = record.config();
  std::vector<std::string> problems;
  std::map<std::string, std::string> records;
  std::optional<v1::ConnectorOffsets> offsets;
  auto props = config::KafkaPropertiesFor(config);
  if (!props.ok()) {
    problems.push_back(std::string(props.status().message()));
  } else {
    // The status topic is read while the offsets are asked for: each may take a round trip or
    // more to the brokers.
    absl::StatusOr<std::map<std::string, std::string>> read = absl::UnknownError("not read");
    std::thread reader(
        [&] { read = kafka::ReadLatestByKey(*props, config.topics().status_topic(), timeout); });
    auto admin = kafka::Admin::Create(*props);
    if (admin.ok()) {
      auto read_offsets = ReadOffsets(**admin, config);
      if (read_offsets.ok()) {
        offsets = std::move(*read_offsets);
      } else {
        problems.push_back(absl::StrCat("offsets: ", read_offsets.status().message()));
      }
    } else {
      problems.push_back(std::string(admin.status().message()));
    }
    reader.join();
    if (read.ok()) {
      records = std::move(*read);
    } else if (read.status().code() != absl::StatusCode::kNotFound) {
      problems.push_back(absl::StrCat("status topic: ", read.status().message()));
    }
  }
  v1::ConnectorStatus status = MergeStatus(record, records, offsets);
  if (!problems.empty()) {
    status.set_message(
        absl::StrCat(status.message(), status.message().empty() ? "" : "; ",
                     "not everything could be read: ", absl::StrJoin(problems, "; ")));
  }
  return status;
}

}  // namespace mcsink::controller
