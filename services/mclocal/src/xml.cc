#include "mclocal/xml.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mclocal {

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    const std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      uint32_t cp = 0;
      const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
      const std::string digits(ent.substr(hex ? 2 : 1));
      if (!(hex ? absl::SimpleHexAtoi(digits, &cp) : absl::SimpleAtoi(digits, &cp))) {
        out += s.substr(i, semi - i + 1);
      } else if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag ...>...</tag> in `xml` (CDATA sections unwrapped, entities decoded),
// or nullopt. Enough for the flat documents SDKs send.
std::optional<std::string> XmlElementText(std::string_view xml, std::string_view tag) {
  const std::string open = absl::StrCat("<", std::string(tag));
  size_t pos = 0;
  while (true) {
    pos = xml.find(open, pos);
    if (pos == std::string_view::npos) return std::nullopt;
    const char after = pos + open.size() < xml.size() ? xml[pos + open.size()] : '\0';
    if (after == '>' || after == ' ' || after == '/') break;
    pos += open.size();
  }
  const size_t gt = xml.find('>', pos);
  if (gt == std::string_view::npos) return std::nullopt;
  if (xml[gt - 1] == '/') return std::string();
  const std::string close = absl::StrCat("</", std::string(tag), ">");
  const size_t end = xml.find(close, gt);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view inner = xml.substr(gt + 1, end - gt - 1);
  std::string out;
  while (!inner.empty()) {
    const size_t cdata = inner.find("<![CDATA[");
    if (cdata == std::string_view::npos) {
      out += XmlUnescape(inner);
      break;
    }
    out += XmlUnescape(inner.substr(0, cdata));
    const size_t cend = inner.find("]]>", cdata);
    if (cend == std::string_view::npos) {
      out += inner.substr(cdata + 9);
      break;
    }
    out += inner.substr(cdata + 9, cend - cdata - 9);
    inner = inner.substr(cend + 3);
  }
  return out;
}

}  // namespace mclocal
