// absl::Status helpers shared by every library and service.
// Note: Debian's Abseil is built with its own absl::string_view (not std::string_view);
// absl functions take absl::string_view, which std::string_view does not convert to.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#define MCSINK_STATUS_CONCAT_INNER_(a, b) a##b
#define MCSINK_STATUS_CONCAT_(a, b) MCSINK_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define MCSINK_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status mcsink_status_ = (expr);          \
    if (!mcsink_status_.ok()) return mcsink_status_; \
  } while (false)

// `lhs = value of expr` for an absl::StatusOr expression, or returns its error.
#define MCSINK_ASSIGN_OR_RETURN(lhs, expr) \
  MCSINK_ASSIGN_OR_RETURN_IMPL_(MCSINK_STATUS_CONCAT_(mcsink_statusor_, __LINE__), lhs, expr)
#define MCSINK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

namespace mcsink {

// The same status with `context: ` put before its message, so an error says where it happened.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace mcsink
