#include "mcsink/controller/records.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace mcsink::controller {

std::string ConnectorKey(const std::string& name) { return absl::StrCat("connector-", name); }

std::optional<std::pair<std::string, int32_t>> ParsePartitionKey(const std::string& key) {
  absl::string_view rest(key);
  if (!absl::ConsumePrefix(&rest, "partition-")) return std::nullopt;
  // Topic names may contain '-', partition numbers may not: split at the last one.
  const size_t dash = rest.rfind('-');
  int32_t partition = 0;
  if (dash == absl::string_view::npos || dash == 0 ||
      !absl::SimpleAtoi(rest.substr(dash + 1), &partition) || partition < 0) {
    return std::nullopt;
  }
  return std::make_pair(std::string(rest.substr(0, dash)), partition);
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::Status FromJson(const std::string& json, const std::string& what,
                      google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  // A newer controller may have added fields: an older one keeps working with what it knows.
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON for ",
                                                 message->GetTypeName(), ": ",
                                                 std::string(status.message())));
}

namespace {
std::string WithoutPrefix(const std::string& name, absl::string_view prefix) {
  absl::string_view rest(name);
  return absl::ConsumePrefix(&rest, prefix) ? std::string(rest) : "UNKNOWN";
}
}  // namespace

std::string TargetStateName(v1::TargetState state) {
  return WithoutPrefix(v1::TargetState_Name(state), "TARGET_STATE_");
}

std::string ConnectorStateName(v1::ConnectorState state) {
  return WithoutPrefix(v1::ConnectorState_Name(state), "CONNECTOR_STATE_");
}

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace mcsink::controller
