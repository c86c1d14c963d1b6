// Splits one CSV record (one Kafka key or value) into fields: RFC 4180 quoting with a
// configurable delimiter. Exposed for tests and the fuzzer; the Converter uses it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mcsink::convert {

struct CsvField {
  std::string_view text;  // unquoted and unescaped
  bool quoted = false;    // a quoted "\N" is the two characters, not NULL
  // `\N` unquoted: the NULL marker (as MySQL, Hive and the Alibaba connector write it).
  bool is_null() const { return !quoted && text == "\\N"; }
};

class CsvSplitter {
 public:
  explicit CsvSplitter(char delimiter = ',') : delimiter_(delimiter) {}

  // Splits `line` into *fields (cleared first). One trailing line break ("\n" or "\r\n") outside
  // quotes is dropped. A field that starts with '"' is quoted: it runs to the next lone '"', "" in
  // it is one '"', and delimiters and line breaks in it are text. A '"' inside an unquoted field
  // is text (lenient, as most producers that do not quote write it). Returns false with
  // *error set when a quoted field is not closed or is followed by something other than the
  // delimiter. Field views point into `line` or into this splitter's scratch buffer, and stay
  // valid until the next call.
  bool Split(std::string_view line, std::vector<CsvField>* fields, std::string* error);

 private:
  char delimiter_;
  std::string scratch_;  // unescaped quoted fields; reserved up front so views stay valid
};

}  // namespace mcsink::convert
