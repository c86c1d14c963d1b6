// absl::Status assertions for GoogleTest.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace mcsink::testing {
inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace mcsink::testing

// Each evaluates `expr` once.
#define EXPECT_OK(expr)                                                      \
  do {                                                                       \
    const ::absl::Status mcsink_status_ = ::mcsink::testing::ToStatus(expr); \
    EXPECT_TRUE(mcsink_status_.ok()) << mcsink_status_;                      \
  } while (false)
#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    const ::absl::Status mcsink_status_ = ::mcsink::testing::ToStatus(expr); \
    ASSERT_TRUE(mcsink_status_.ok()) << mcsink_status_;                      \
  } while (false)

#define MCSINK_TESTING_CONCAT_INNER_(a, b) a##b
#define MCSINK_TESTING_CONCAT_(a, b) MCSINK_TESTING_CONCAT_INNER_(a, b)
// ASSERT_OK_AND_ASSIGN(auto x, FunctionReturningStatusOr());
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(MCSINK_TESTING_CONCAT_(statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status();           \
  lhs = std::move(tmp).value()
