// A connector's status as users see it: what the data plane wrote to the connector's status
// topic (`connector-<name>`: ConnectorStatus; `partition-<topic>-<p>`: PartitionStatus, by the
// ingest instance owning the partition), merged with the live committed offsets and log end
// offsets from Kafka and with the state the user asked for.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/v1/controller.pb.h"

namespace mcsink::controller {

// The source topic's partitions: the group's committed offset and the log's bounds.
absl::StatusOr<v1::ConnectorOffsets> ReadOffsets(kafka::Admin& admin,
                                                 const v1::ConnectorConfig& config);

// The merge, without I/O. `status_records` is the status topic's latest value per key (JSON);
// `offsets` the live offsets (nullopt when Kafka could not be asked). Rules:
// - no report from the data plane: CREATED when not deployed, else STARTING;
// - deployed, but the report predates the last change of the record (and is not RUNNING), or
//   a restart is not yet observed: STARTING;
// - a partition stopped by the failure policy makes a running connector FAILED, naming it;
// - every partition of the source topic is listed; one nobody reported is UNASSIGNED.
v1::ConnectorStatus MergeStatus(const v1::ConnectorRecord& record,
                                const std::map<std::string, std::string>& status_records,
                                const std::optional<v1::ConnectorOffsets>& offsets);

// Reads the status topic and the offsets, then merges. Never fails: what could not be read is
// said in the message.
v1::ConnectorStatus ReadStatus(const v1::ConnectorRecord& record,
                               absl::Duration timeout = absl::Seconds(10));

}  // namespace mcsink::controller
