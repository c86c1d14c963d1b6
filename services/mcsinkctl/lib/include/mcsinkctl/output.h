// How mcsinkctl prints: aligned tables for people, proto JSON for scripts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/message.h"
#include "mcsink/v1/controller.pb.h"

namespace mcsink::ctl {

// Columns separated by two spaces, each as wide as its widest cell; the header first.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Proto3 JSON with the field names of the .proto files (as the controller stores records),
// every field present (defaults too, so scripts need no fallbacks), enums by name. `pretty`:
// indented, else one line (for streams: one event per line).
std::string ToJson(const google::protobuf::Message& message, bool pretty = true);

// Every set field of `message` as (dotted path, value) in field order: nested messages as
// `target.project`, map entries as `kafka_properties.bootstrap.servers`, enums by name.
std::vector<std::pair<std::string, std::string>> FlattenFields(
    const google::protobuf::Message& message);

// Names without their enum prefix, for tables: RUNNING, PAUSED.
std::string ShortName(v1::ConnectorState state);
std::string ShortName(v1::TargetState state);
std::string ShortName(v1::PartitionState state);

// Milliseconds since the epoch as `2026-11-24 10:00:00 UTC`, or `-` for 0.
std::string FormatMillis(int64_t ms);

// The views of the commands.
std::string RenderConnectorList(const v1::ListConnectorsResponse& list);
std::string RenderConnector(const v1::Connector& connector);
std::string RenderStatus(const v1::ConnectorStatus& status);
std::string RenderOffsets(const v1::ConnectorOffsets& offsets);
std::string RenderViolations(const std::vector<std::pair<std::string, std::string>>& violations);
std::string RenderEvent(const v1::ConnectorEvent& event);

}  // namespace mcsink::ctl
