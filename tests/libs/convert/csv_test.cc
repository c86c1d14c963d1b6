#include "mcsink/convert/csv.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mcsink::convert {
namespace {

std::vector<std::string> Texts(const std::vector<CsvField>& fields) {
  std::vector<std::string> out;
  for (const CsvField& f : fields) out.emplace_back(f.text);
  return out;
}

using Strings = std::vector<std::string>;

TEST(CsvSplitter, SplitsAtTheDelimiter) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split("a,b,,c", &fields, &error)) << error;
  EXPECT_EQ(Texts(fields), (Strings{"a", "b", "", "c"}));
}

TEST(CsvSplitter, EmptyInputIsOneEmptyFieldAndTrailingDelimiterAddsOne) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split("", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{""}));
  ASSERT_TRUE(splitter.Split("a,", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{"a", ""}));
}

TEST(CsvSplitter, QuotedCommaStaysInOneField) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split(R"(1,"x, y",2)", &fields, &error)) << error;
  EXPECT_EQ(Texts(fields), (Strings{"1", "x, y", "2"}));
  EXPECT_FALSE(fields[0].quoted);
  EXPECT_TRUE(fields[1].quoted);
}

TEST(CsvSplitter, DoubledQuoteIsOneQuoteAndLineBreaksInQuotesAreText) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split("\"say \"\"hi\"\"\",\"two\nlines\",\"\"", &fields, &error)) << error;
  EXPECT_EQ(Texts(fields), (Strings{"say \"hi\"", "two\nlines", ""}));
}

TEST(CsvSplitter, OneTrailingLineBreakIsDropped) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split("a,b\r\n", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{"a", "b"}));
  ASSERT_TRUE(splitter.Split("a,\"b\"\n", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{"a", "b"}));
}

TEST(CsvSplitter, BackslashNUnquotedIsNullButQuotedIsText) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split(R"(\N,"\N",\NA)", &fields, &error));
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_TRUE(fields[0].is_null());
  EXPECT_FALSE(fields[1].is_null());
  EXPECT_EQ(fields[1].text, "\\N");
  EXPECT_FALSE(fields[2].is_null());
}

TEST(CsvSplitter, ConfigurableDelimiter) {
  CsvSplitter splitter('|');
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split("a,b|\"c|d\"|e", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{"a,b", "c|d", "e"}));
}

TEST(CsvSplitter, QuoteInsideUnquotedFieldIsText) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split(R"(5" pipe,b)", &fields, &error));
  EXPECT_EQ(Texts(fields), (Strings{"5\" pipe", "b"}));
}

TEST(CsvSplitter, UnclosedQuoteIsAnErrorSayingWhere) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  EXPECT_FALSE(splitter.Split(R"(a,"bc)", &fields, &error));
  EXPECT_NE(error.find("field 2"), std::string::npos) << error;
  EXPECT_NE(error.find("never closed"), std::string::npos) << error;
}

TEST(CsvSplitter, TextAfterClosingQuoteIsAnError) {
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  EXPECT_FALSE(splitter.Split(R"("ab"c,d)", &fields, &error));
  EXPECT_NE(error.find("after its closing quote"), std::string::npos) << error;
}

TEST(CsvSplitter, ViewsOfEarlierFieldsSurviveLaterQuotedFields) {
  // Many quoted fields: the scratch buffer must not move under earlier views.
  std::string line;
  Strings expected;
  for (int i = 0; i < 200; ++i) {
    line += "\"v" + std::to_string(i) + "\"\"\",";
    expected.push_back("v" + std::to_string(i) + "\"");
  }
  line += "end";
  expected.push_back("end");
  CsvSplitter splitter;
  std::vector<CsvField> fields;
  std::string error;
  ASSERT_TRUE(splitter.Split(line, &fields, &error)) << error;
  EXPECT_EQ(Texts(fields), expected);
}

}  // namespace
}  // namespace mcsink::convert
