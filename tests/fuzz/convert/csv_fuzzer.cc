// libFuzzer target: the CSV path of the converter (splitting, typed cells, encoding).
// Input: [flags][column count][types...] then the CSV value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "mcsink/convert/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace mcsink::convert;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  if (data.empty()) return 0;
  const unsigned flags = static_cast<unsigned char>(data[0]);
  data.remove_prefix(1);
  static const char kDelimiters[] = {',', ';', '|', '\t'};
  const char delimiter = kDelimiters[flags % 4];
  mcsink::maxcompute::TableSchema schema = fuzz::TakeSchema(&data);

  // The splitter alone: fields never point outside the input or the splitter's buffer, and
  // together are never longer than the input.
  CsvSplitter splitter(delimiter);
  std::vector<CsvField> fields;
  std::string error;
  if (splitter.Split(data, &fields, &error)) {
    size_t total = 0;
    for (const CsvField& f : fields) total += f.text.size();
    fuzz::Check(total <= data.size(), "fields not longer than the input");
  } else {
    fuzz::Check(!error.empty(), "split error has a message");
  }

  ConverterOptions options;
  options.table_name = "fuzz";
  options.mode = (flags & 4) ? Mode::kKey : Mode::kValue;
  options.format = Format::kCsv;
  options.csv_delimiter = delimiter;
  options.time_zone = (flags & 8) ? "Asia/Shanghai" : "GMT-03:30";
  auto converter = Converter::Create(std::move(schema), std::move(options));
  if (!converter.ok()) return 0;  // e.g. a NOT NULL column the mode never writes
  fuzz::ConvertAndCheck(**converter, data);
  return 0;
}
