#include "mcsinkctl/yaml.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mcsink::ctl {
namespace {

// One line with content: its 1-based number, its indentation and the text after it.
struct Line {
  int number;
  size_t indent;
  std::string text;
};

struct Node;
using Mapping = std::vector<std::pair<std::string, std::unique_ptr<Node>>>;

struct Node {
  enum class Kind { kNull, kString, kMapping } kind = Kind::kNull;
  std::string scalar;
  Mapping mapping;
};

class Parser {
 public:
  Parser(std::vector<Line> lines, std::string source)
      : lines_(std::move(lines)), source_(std::move(source)) {}

  absl::StatusOr<Mapping> ParseDocument() {
    if (lines_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": the document is empty; expected a mapping of `key: value`"));
    }
    const size_t root_indent = lines_[0].indent;
    auto root = ParseMapping(root_indent);
    if (!root.ok()) return root.status();
    if (next_ < lines_.size()) {
      // A line less indented than the root: nothing can hold it.
      return Error(lines_[next_], lines_[next_].indent,
                   "this line is indented less than the first key of the document");
    }
    return root;
  }

 private:
  absl::Status Error(const Line& line, size_t column0, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", line.number, ":", column0 + 1, ": ", std::string(what)));
  }

  absl::StatusOr<Mapping> ParseMapping(size_t indent) {
    Mapping mapping;
    while (next_ < lines_.size()) {
      const Line& line = lines_[next_];
      if (line.indent < indent) break;
      if (line.indent > indent && next_ > 0 && lines_[next_ - 1].indent > line.indent) {
        // Back out of a nested mapping, but not to the indentation of any enclosing one.
        return Error(line, line.indent,
                     "this line's indentation matches no enclosing mapping (keys of one mapping "
                     "must be aligned)");
      }
      if (line.indent > indent) {
        return Error(line, line.indent,
                     "unexpected indentation (a value continues on this line, or keys of one "
                     "mapping are not aligned; multi-line values are not supported)");
      }
      ++next_;
      std::string key;
      size_t pos = 0;
      if (auto st = ParseKey(line, &key, &pos); !st.ok()) return st;
      for (const auto& [existing, unused] : mapping) {
        if (existing == key) {
          return Error(line, line.indent, absl::StrCat("duplicate key '", key, "'"));
        }
      }
      auto value = std::make_unique<Node>();
      while (pos < line.text.size() && line.text[pos] == ' ') ++pos;
      if (pos >= line.text.size() || line.text[pos] == '#') {
        // No value on the line: a nested mapping follows, more indented, or the value is null.
        if (next_ < lines_.size() && lines_[next_].indent > indent) {
          auto nested = ParseMapping(lines_[next_].indent);
          if (!nested.ok()) return nested.status();
          value->kind = Node::Kind::kMapping;
          value->mapping = *std::move(nested);
        }
      } else {
        auto scalar = ParseScalar(line, pos);
        if (!scalar.ok()) return scalar.status();
        if (*scalar) {
          value->kind = Node::Kind::kString;
          value->scalar = **std::move(scalar);
        }
      }
      mapping.emplace_back(std::move(key), std::move(value));
    }
    return mapping;
  }

  // The key at the start of `line` and the position after its `:`.
  absl::Status ParseKey(const Line& line, std::string* key, size_t* pos) const {
    const std::string& t = line.text;
    const size_t col = line.indent;
    if (t[0] == '-' && (t.size() == 1 || t[1] == ' ')) {
      return Error(line, col, "sequences (`- item`) are not supported; use a mapping");
    }
    if (t[0] == '{' || t[0] == '[') {
      return Error(line, col, "flow collections (`{...}`, `[...]`) are not supported");
    }
    if (t[0] == '?') return Error(line, col, "complex keys (`? key`) are not supported");
    if (t == "---" || t.rfind("--- ", 0) == 0 || t == "...") {
      return Error(line, col, "only one document is supported (a `---` or `...` marker here)");
    }
    size_t end = 0;
    if (t[0] == '"' || t[0] == '\'') {
      auto quoted = ParseQuoted(line, 0, &end);
      if (!quoted.ok()) return quoted.status();
      *key = *std::move(quoted);
      if (end >= t.size() || t[end] != ':') {
        return Error(line, col + end, "expected `:` after the quoted key");
      }
    } else {
      if (auto st = CheckPlainStart(line, 0); !st.ok()) return st;
      end = 0;
      while (end < t.size() && !(t[end] == ':' && (end + 1 == t.size() || t[end + 1] == ' '))) {
        if (t[end] == '#' && end > 0 && t[end - 1] == ' ') break;
        ++end;
      }
      if (end >= t.size() || t[end] != ':') {
        return Error(line, col, "expected `key: value` (a key, a colon and a space)");
      }
      size_t key_end = end;
      while (key_end > 0 && t[key_end - 1] == ' ') --key_end;
      *key = t.substr(0, key_end);
    }
    if (end + 1 < t.size() && t[end + 1] != ' ') {
      return Error(line, col + end + 1, "expected a space after `:`");
    }
    *pos = end + 1;
    return absl::OkStatus();
  }

  // Characters that start something other than a plain scalar.
  absl::Status CheckPlainStart(const Line& line, size_t pos) const {
    const char c = line.text[pos];
    const size_t col = line.indent + pos;
    switch (c) {
      case '{':
      case '[':
      case ']':
      case '}':
        return Error(line, col, "flow collections (`{...}`, `[...]`) are not supported");
      case '&':
        return Error(line, col, "anchors (`&name`) are not supported");
      case '*':
        return Error(line, col, "aliases (`*name`) are not supported");
      case '!':
        return Error(line, col, "tags (`!tag`) are not supported");
      case '|':
      case '>':
        return Error(line, col, "block scalars (`|`, `>`) are not supported; quote the value");
      case '%':
      case '@':
      case '`':
        return Error(
            line, col,
            absl::StrCat("a plain value cannot start with `", std::string(1, c), "`; quote it"));
      case ',':
        return Error(line, col, "a plain value cannot start with `,`; quote it");
      default:
        break;
    }
    if (c == '-' && (pos + 1 == line.text.size() || line.text[pos + 1] == ' ')) {
      return Error(line, col, "sequences (`- item`) are not supported; use a mapping");
    }
    return absl::OkStatus();
  }

  // The value starting at `pos`: a string, or nullopt for null.
  absl::StatusOr<std::optional<std::string>> ParseScalar(const Line& line, size_t pos) const {
    const std::string& t = line.text;
    if (t[pos] == '"' || t[pos] == '\'') {
      size_t end = 0;
      auto quoted = ParseQuoted(line, pos, &end);
      if (!quoted.ok()) return quoted.status();
      while (end < t.size() && t[end] == ' ') ++end;
      if (end < t.size() && !(t[end] == '#' && t[end - 1] == ' ')) {
        return Error(line, line.indent + end, "unexpected text after the quoted value");
      }
      return std::optional<std::string>(*std::move(quoted));
    }
    if (auto st = CheckPlainStart(line, pos); !st.ok()) return st;
    size_t end = pos;
    while (end < t.size() && !(t[end] == '#' && t[end - 1] == ' ')) {
      if (t[end] == ':' && (end + 1 == t.size() || t[end + 1] == ' ')) {
        return Error(line, line.indent + end,
                     "a value cannot hold `: ` (a mapping on one line); quote the value or put "
                     "the nested keys on their own lines");
      }
      ++end;
    }
    while (end > pos && t[end - 1] == ' ') --end;
    std::string value = t.substr(pos, end - pos);
    if (value == "~" || value == "null" || value == "Null" || value == "NULL") return std::nullopt;
    return std::optional<std::string>(std::move(value));
  }

  // A quoted scalar starting at `pos` (its quote); `end` is set to after the closing quote.
  absl::StatusOr<std::string> ParseQuoted(const Line& line, size_t pos, size_t* end) const {
    const std::string& t = line.text;
    const char quote = t[pos];
    std::string out;
    size_t i = pos + 1;
    while (i < t.size()) {
      const char c = t[i];
      if (quote == '\'') {
        if (c == '\'') {
          if (i + 1 < t.size() && t[i + 1] == '\'') {
            out += '\'';
            i += 2;
            continue;
          }
          *end = i + 1;
          return out;
        }
        out += c;
        ++i;
        continue;
      }
      if (c == '"') {
        *end = i + 1;
        return out;
      }
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= t.size()) break;
      const char e = t[i + 1];
      i += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '0':
          out += '\0';
          break;
        case 'u': {
          uint32_t cp = 0;
          for (int k = 0; k < 4; ++k, ++i) {
            const char h = i < t.size() ? t[i] : '\0';
            int v = -1;
            if (h >= '0' && h <= '9') v = h - '0';
            if (h >= 'a' && h <= 'f') v = h - 'a' + 10;
            if (h >= 'A' && h <= 'F') v = h - 'A' + 10;
            if (v < 0) {
              return Error(line, line.indent + i, "`\\u` needs four hexadecimal digits");
            }
            cp = cp * 16 + static_cast<uint32_t>(v);
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            return Error(line, line.indent + i - 6, "`\\u` surrogates are not supported");
          }
          AppendUtf8(cp, &out);
          break;
        }
        default:
          return Error(line, line.indent + i - 2,
                       absl::StrCat("unknown escape `\\", std::string(1, e),
                                    "` (supported: \\\" \\\\ \\/ \\n \\t \\r \\0 \\uXXXX)"));
      }
    }
    return Error(line, line.indent + pos,
                 "the quoted value does not end on this line (multi-line values are not "
                 "supported)");
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::vector<Line> lines_;
  std::string source_;
  size_t next_ = 0;
};

void AppendJsonString(const std::string& s, std::string* out) {
  *out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          *out += "\\u00";
          *out += kHex[c >> 4];
          *out += kHex[c & 0xF];
        } else {
          *out += ch;
        }
    }
  }
  *out += '"';
}

void AppendJson(const Mapping& mapping, std::string* out) {
  *out += '{';
  bool first = true;
  for (const auto& [key, value] : mapping) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(key, out);
    *out += ':';
    switch (value->kind) {
      case Node::Kind::kNull:
        *out += "null";
        break;
      case Node::Kind::kString:
        AppendJsonString(value->scalar, out);
        break;
      case Node::Kind::kMapping:
        AppendJson(value->mapping, out);
        break;
    }
  }
  *out += '}';
}

}  // namespace

absl::StatusOr<std::string> YamlToJson(const std::string& text, const std::string& source_name) {
  std::vector<Line> lines;
  bool seen_content = false;
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string raw = text.substr(start, nl - start);
    start = nl + 1;
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    size_t indent = 0;
    while (indent < raw.size() && raw[indent] == ' ') ++indent;
    if (indent < raw.size() && raw[indent] == '\t') {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ":", number, ":", indent + 1,
                                                     ": a tab in the indentation; use spaces"));
    }
    size_t last = raw.size();
    while (last > indent && (raw[last - 1] == ' ' || raw[last - 1] == '\t')) --last;
    if (last == indent || raw[indent] == '#') continue;
    std::string content = raw.substr(indent, last - indent);
    // One document start marker, before any content, as many generators write it.
    if (!seen_content && indent == 0 && (content == "---" || content.rfind("--- #", 0) == 0)) {
      seen_content = true;
      continue;
    }
    seen_content = true;
    lines.push_back({number, indent, std::move(content)});
  }
  Parser parser(std::move(lines), source_name);
  auto root = parser.ParseDocument();
  if (!root.ok()) return root.status();
  std::string json;
  AppendJson(*root, &json);
  return json;
}

}  // namespace mcsink::ctl
