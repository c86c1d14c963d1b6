#include "mcsink/common/status.h"

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink {
namespace {

absl::StatusOr<int> Half(int v) {
  if (v % 2 != 0) return absl::InvalidArgumentError("odd");
  return v / 2;
}

absl::StatusOr<int> Quarter(int v) {
  MCSINK_ASSIGN_OR_RETURN(int half, Half(v));
  MCSINK_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int v) {
  MCSINK_RETURN_IF_ERROR(Half(v).status());
  return absl::OkStatus();
}

TEST(StatusMacros, AssignOrReturnPassesValuesAndErrors) {
  ASSERT_OK_AND_ASSIGN(int q, Quarter(8));
  EXPECT_EQ(q, 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstError) {
  EXPECT_OK(CheckEven(4));
  EXPECT_EQ(CheckEven(3).message(), "odd");
}

TEST(Annotate, PrefixesTheMessageAndKeepsCodeAndPayload) {
  absl::Status s = absl::UnavailableError("connection refused");
  s.SetPayload("mcsink/request-id", absl::Cord("abc"));
  const absl::Status annotated = Annotate(s, "tunnel upload");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(annotated.message(), "tunnel upload: connection refused");
  EXPECT_EQ(annotated.GetPayload("mcsink/request-id"), absl::Cord("abc"));
  EXPECT_OK(Annotate(absl::OkStatus(), "ignored"));
}

}  // namespace
}  // namespace mcsink
