#include "mcsink/convert/csv.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace mcsink::convert {

bool CsvSplitter::Split(std::string_view line, std::vector<CsvField>* fields, std::string* error) {
  fields->clear();
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  // An unescaped field is never longer than its source, so this never reallocates below and the
  // views into it stay valid.
  scratch_.clear();
  scratch_.reserve(line.size());

  size_t pos = 0;
  const size_t n = line.size();
  while (true) {
    if (pos < n && line[pos] == '"') {
      const size_t field_start = pos;
      ++pos;
      const size_t out_start = scratch_.size();
      bool closed = false;
      while (pos < n) {
        const void* q = std::memchr(line.data() + pos, '"', n - pos);
        const size_t quote =
            q == nullptr ? n : static_cast<size_t>(static_cast<const char*>(q) - line.data());
        scratch_.append(line.data() + pos, quote - pos);
        if (quote == n) {
          pos = n;
          break;
        }
        if (quote + 1 < n && line[quote + 1] == '"') {
          scratch_.push_back('"');
          pos = quote + 2;
          continue;
        }
        pos = quote + 1;
        closed = true;
        break;
      }
      if (!closed) {
        *error = absl::StrCat("field ", fields->size() + 1, " opens a quote at character ",
                              field_start + 1, " that is never closed");
        return false;
      }
      fields->push_back(
          {std::string_view(scratch_.data() + out_start, scratch_.size() - out_start), true});
      if (pos == n) return true;
      if (line[pos] != delimiter_) {
        *error = absl::StrCat("field ", fields->size(),
                              " has text after its closing quote at character ", pos + 1,
                              "; a quote inside a quoted field is written \"\"");
        return false;
      }
      ++pos;
      continue;
    }
    const void* d = pos < n ? std::memchr(line.data() + pos, delimiter_, n - pos) : nullptr;
    const size_t end =
        d == nullptr ? n : static_cast<size_t>(static_cast<const char*>(d) - line.data());
    fields->push_back({line.substr(pos, end - pos), false});
    if (end == n) return true;
    pos = end + 1;
  }
}

}  // namespace mcsink::convert
