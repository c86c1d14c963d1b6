// The records the control plane keeps in Kafka (proto/mcsink/v1/controller.proto), as proto3
// JSON with the proto's field names so any Kafka tool can read them, and the keys they live
// under.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "mcsink/v1/controller.pb.h"

namespace mcsink::controller {

// `connector-<name>`: the key of a connector's record in its config topic and of its
// ConnectorStatus in its status topic.
std::string ConnectorKey(const std::string& name);
// The topic and partition a PartitionStatus key names (ingest::PartitionStatusKey, which ingest
// writes); nullopt for any other key.
std::optional<std::pair<std::string, int32_t>> ParsePartitionKey(const std::string& key);

std::string ToJson(const google::protobuf::Message& message);
// InvalidArgument naming `what` (e.g. "registry record kafka-sink") when `json` does not parse.
absl::Status FromJson(const std::string& json, const std::string& what,
                      google::protobuf::Message* message);

// "RUNNING" for TARGET_STATE_RUNNING, and so on: how people and metrics see the states.
std::string TargetStateName(v1::TargetState state);
std::string ConnectorStateName(v1::ConnectorState state);

int64_t NowMillis();

}  // namespace mcsink::controller
