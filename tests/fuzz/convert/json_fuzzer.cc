// libFuzzer target: the JSON path of the converter (parsing, key matching, typed cells).
// Input: [flags][column count][types...] then the JSON value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace mcsink::convert;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  if (data.empty()) return 0;
  const unsigned flags = static_cast<unsigned char>(data[0]);
  data.remove_prefix(1);
  mcsink::maxcompute::TableSchema schema = fuzz::TakeSchema(&data);

  ConverterOptions options;
  options.table_name = "fuzz";
  options.mode = (flags & 1) ? Mode::kKey : Mode::kValue;
  options.format = Format::kJson;
  options.json_unknown_keys = (flags & 2) ? UnknownKeyPolicy::kIgnore : UnknownKeyPolicy::kReject;
  options.time_zone = (flags & 4) ? "America/New_York" : "GMT+05:30";
  auto converter = Converter::Create(std::move(schema), std::move(options));
  if (!converter.ok()) return 0;
  fuzz::ConvertAndCheck(**converter, data);
  return 0;
}
