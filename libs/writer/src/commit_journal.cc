#include "mcsink/writer/commit_journal.h"

#include "absl/strings/cord.h"

namespace mcsink::writer {
namespace {

constexpr char kFencedPayload[] = "type.googleapis.com/mcsink.writer.Fenced";

}  // namespace

absl::Status FencedError(const std::string& message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kFencedPayload, absl::Cord("fenced"));
  return status;
}

bool IsFenced(const absl::Status& status) { return status.GetPayload(kFencedPayload).has_value(); }

}  // namespace mcsink::writer
