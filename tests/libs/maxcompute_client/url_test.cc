#include "mcsink/maxcompute_client/url.h"

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute_client {
namespace {

TEST(PercentEncode, KeepsUnreservedAndEncodesEverythingElseUpperHex) {
  EXPECT_EQ(PercentEncode("ABCxyz019-_.~"), "ABCxyz019-_.~");
  EXPECT_EQ(PercentEncode("a b*c+d/e=f&g:h"), "a%20b%2Ac%2Bd%2Fe%3Df%26g%3Ah");
  EXPECT_EQ(PercentEncode("\xE4\xB8\xAD"), "%E4%B8%AD");
  EXPECT_EQ(PercentEncodePath("/projects/p 1/tables"), "/projects/p%201/tables");
}

TEST(PercentDecode, DecodesEscapesAndKeepsPlus) {
  ASSERT_OK_AND_ASSIGN(auto decoded, PercentDecode("pt%3D2026+01%2f"));
  EXPECT_EQ(decoded, "pt=2026+01/");
  EXPECT_FALSE(PercentDecode("bad%2").ok());
  EXPECT_FALSE(PercentDecode("bad%zz").ok());
}

TEST(QueryString, PlusIsASpaceAndEncodedPlusIsAPlus) {
  // pyodps (requests) sends a space as `+`; J and this client send `%20`, and `+` as `%2B`.
  ASSERT_OK_AND_ASSIGN(auto params, ParseQueryString("partition=pt%3Da+b%2Bc&x=a%20b"));
  const QueryParams expected = {{"partition", "pt=a b+c"}, {"x", "a b"}};
  EXPECT_EQ(params, expected);
  EXPECT_EQ(BuildQueryString(params), "partition=pt%3Da%20b%2Bc&x=a%20b");
}

TEST(QueryString, ParsesNamesWithoutValuesAndRoundTrips) {
  ASSERT_OK_AND_ASSIGN(auto params, ParseQueryString("uploads&partition=pt%3D1&x=&&y=a%20b"));
  const QueryParams expected = {{"uploads", ""}, {"partition", "pt=1"}, {"x", ""}, {"y", "a b"}};
  EXPECT_EQ(params, expected);
  EXPECT_EQ(BuildQueryString(params), "uploads&partition=pt%3D1&x&y=a%20b");
}

}  // namespace
}  // namespace mcsink::maxcompute_client
