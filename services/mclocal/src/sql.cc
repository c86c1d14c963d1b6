#include "mclocal/sql.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"

namespace mclocal::sql {
namespace {

enum class Tok { kIdent, kQuotedIdent, kString, kNumber, kSymbol, kEnd };

struct Token {
  Tok kind;
  std::string text;  // identifiers as written; strings unescaped
  int line;
  int col;
};

absl::Status ParseError(int line, int col, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("ODPS-0130161:[", line, ",", col, "] Parse exception - ", std::string(what)));
}

absl::StatusOr<std::vector<Token>> Lex(std::string_view s) {
  std::vector<Token> out;
  int line = 1, col = 1;
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      advance(1);
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {  // comment to end of line
      while (i < s.size() && s[i] != '\n') advance(1);
      continue;
    }
    const int tl = line, tc = col;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Tok::kIdent, std::string(s.substr(i, j - i)), tl, tc});
      advance(j - i);
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      out.push_back({Tok::kNumber, std::string(s.substr(i, j - i)), tl, tc});
      advance(j - i);
    } else if (c == '`') {
      const size_t end = s.find('`', i + 1);
      if (end == std::string_view::npos) return ParseError(tl, tc, "unterminated `name`");
      out.push_back({Tok::kQuotedIdent, std::string(s.substr(i + 1, end - i - 1)), tl, tc});
      advance(end + 1 - i);
    } else if (c == '\'' || c == '"') {
      std::string value;
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[j + 1];
          value.push_back(e == 'n'   ? '\n'
                          : e == 't' ? '\t'
                          : e == 'r' ? '\r'
                          : e == '0' ? '\0'
                                     : e);
          j += 2;
        } else if (s[j] == c) {
          closed = true;
          ++j;
          break;
        } else {
          value.push_back(s[j++]);
        }
      }
      if (!closed) return ParseError(tl, tc, "unterminated string literal");
      out.push_back({Tok::kString, std::move(value), tl, tc});
      advance(j - i);
    } else if (std::string_view("(),;=*.<>:").find(c) != std::string_view::npos) {
      out.push_back({Tok::kSymbol, std::string(1, c), tl, tc});
      advance(1);
    } else {
      return ParseError(tl, tc, absl::StrCat("unexpected character '", std::string(1, c), "'"));
    }
  }
  out.push_back({Tok::kEnd, "", line, col});
  return out;
}

std::string Lower(std::string_view s) {
  return absl::AsciiStrToLower(absl::string_view(s.data(), s.size()));
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<Statement> ParseStatement() {
    Statement st;
    if (Keyword("create")) {
      MCSINK_ASSIGN_OR_RETURN(st, ParseCreate());
    } else if (Keyword("drop")) {
      MCSINK_ASSIGN_OR_RETURN(st, ParseDrop());
    } else if (Keyword("alter")) {
      MCSINK_ASSIGN_OR_RETURN(st, ParseAlter());
    } else if (Keyword("show")) {
      MCSINK_ASSIGN_OR_RETURN(st, ParseShow());
    } else if (Keyword("select")) {
      MCSINK_ASSIGN_OR_RETURN(st, ParseSelect());
    } else {
      return Unsupported(
          "statement not supported by mclocal; it runs CREATE TABLE, DROP TABLE, ALTER TABLE ... "
          "ADD PARTITION, SHOW PARTITIONS and simple SELECT");
    }
    while (Symbol(";")) {
    }
    if (Peek().kind != Tok::kEnd) {
      return Unexpected("end of statement (mclocal runs one statement at a time)");
    }
    return st;
  }

 private:
  const Token& Peek() const { return t_[pos_]; }
  bool IsKeyword(const Token& tok, std::string_view kw) const {
    return tok.kind == Tok::kIdent &&
           absl::EqualsIgnoreCase(tok.text, absl::string_view(kw.data(), kw.size()));
  }
  bool Keyword(std::string_view kw) {
    if (IsKeyword(Peek(), kw)) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Symbol(std::string_view sym) {
    if (Peek().kind == Tok::kSymbol && Peek().text == sym) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Unexpected(std::string_view expected) const {
    const Token& tok = Peek();
    const std::string got =
        tok.kind == Tok::kEnd ? "end of input" : absl::StrCat("'", tok.text, "'");
    return ParseError(tok.line, tok.col,
                      absl::StrCat("expected ", std::string(expected), " but found ", got));
  }
  absl::Status Unsupported(std::string_view what) const {
    return ParseError(Peek().line, Peek().col, what);
  }
  absl::Status ExpectKeyword(std::string_view kw) {
    if (!Keyword(kw))
      return Unexpected(absl::AsciiStrToUpper(absl::string_view(kw.data(), kw.size())));
    return absl::OkStatus();
  }
  absl::Status ExpectSymbol(std::string_view sym) {
    if (!Symbol(sym)) return Unexpected(absl::StrCat("'", std::string(sym), "'"));
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Name(std::string_view what) {
    const Token& tok = Peek();
    if (tok.kind != Tok::kIdent && tok.kind != Tok::kQuotedIdent) return Unexpected(what);
    ++pos_;
    return Lower(tok.text);
  }
  absl::StatusOr<TableRef> Table() {
    TableRef ref;
    MCSINK_ASSIGN_OR_RETURN(ref.table, Name("a table name"));
    if (Symbol(".")) {
      ref.project = ref.table;
      MCSINK_ASSIGN_OR_RETURN(ref.table, Name("a table name after 'project.'"));
    }
    return ref;
  }
  absl::StatusOr<std::string> Literal(std::string_view what) {
    const Token& tok = Peek();
    if (tok.kind == Tok::kString || tok.kind == Tok::kNumber) {
      ++pos_;
      return tok.text;
    }
    if (tok.kind == Tok::kSymbol && tok.text == "-") return Unexpected(what);
    return Unexpected(what);
  }
  absl::StatusOr<mcsink::maxcompute::Type> TypeName() {
    const Token& start = Peek();
    std::string text;
    int depth = 0;
    while (true) {
      const Token& tok = Peek();
      if (tok.kind == Tok::kEnd) break;
      if (tok.kind == Tok::kSymbol && depth == 0 && (tok.text == "," || tok.text == ")")) break;
      if (depth == 0 && IsKeyword(tok, "comment")) break;
      if (tok.kind == Tok::kSymbol && (tok.text == "(" || tok.text == "<")) ++depth;
      if (tok.kind == Tok::kSymbol && (tok.text == ")" || tok.text == ">")) --depth;
      text += tok.text;
      ++pos_;
    }
    if (text.empty()) return Unexpected("a column type");
    auto type = mcsink::maxcompute::Type::Parse(text);
    if (!type.ok()) {
      return ParseError(
          start.line, start.col,
          absl::StrCat("unsupported column type '", text, "': ", type.status().message()));
    }
    return *type;
  }
  absl::StatusOr<std::vector<mcsink::maxcompute::Column>> ColumnList() {
    std::vector<mcsink::maxcompute::Column> cols;
    MCSINK_RETURN_IF_ERROR(ExpectSymbol("("));
    do {
      mcsink::maxcompute::Column col;
      const Token& at = Peek();
      MCSINK_ASSIGN_OR_RETURN(col.name, Name("a column name"));
      for (const auto& c : cols) {
        if (c.name == col.name) {
          return ParseError(at.line, at.col, absl::StrCat("column '", col.name, "' given twice"));
        }
      }
      MCSINK_ASSIGN_OR_RETURN(col.type, TypeName());
      if (Keyword("not")) {
        MCSINK_RETURN_IF_ERROR(ExpectKeyword("null"));
        col.nullable = false;
      }
      if (Keyword("comment")) MCSINK_RETURN_IF_ERROR(Literal("a comment string").status());
      cols.push_back(std::move(col));
    } while (Symbol(","));
    MCSINK_RETURN_IF_ERROR(ExpectSymbol(")"));
    return cols;
  }

  absl::StatusOr<Statement> ParseCreate() {
    MCSINK_RETURN_IF_ERROR(ExpectKeyword("table"));
    CreateTable st;
    if (Keyword("if")) {
      MCSINK_RETURN_IF_ERROR(ExpectKeyword("not"));
      MCSINK_RETURN_IF_ERROR(ExpectKeyword("exists"));
      st.if_not_exists = true;
    }
    MCSINK_ASSIGN_OR_RETURN(st.table, Table());
    MCSINK_ASSIGN_OR_RETURN(st.schema.columns, ColumnList());
    while (Peek().kind != Tok::kEnd && !(Peek().kind == Tok::kSymbol && Peek().text == ";")) {
      if (Keyword("comment")) {
        MCSINK_ASSIGN_OR_RETURN(st.comment, Literal("a comment string"));
      } else if (Keyword("partitioned")) {
        MCSINK_RETURN_IF_ERROR(ExpectKeyword("by"));
        const Token& at = Peek();
        MCSINK_ASSIGN_OR_RETURN(st.schema.partition_columns, ColumnList());
        for (const auto& p : st.schema.partition_columns) {
          for (const auto& c : st.schema.columns) {
            if (c.name == p.name) {
              return ParseError(at.line, at.col,
                                absl::StrCat("partition key '", p.name,
                                             "' is also a data column; names must differ"));
            }
          }
        }
      } else if (Keyword("lifecycle")) {
        const Token& tok = Peek();
        if (tok.kind != Tok::kNumber || !absl::SimpleAtoi(tok.text, &st.lifecycle)) {
          return Unexpected("a whole number of days after LIFECYCLE");
        }
        ++pos_;
      } else {
        return Unsupported(absl::StrCat("CREATE TABLE clause '", Peek().text,
                                        "' is not supported by mclocal (COMMENT, PARTITIONED BY "
                                        "and LIFECYCLE are)"));
      }
    }
    return st;
  }

  absl::StatusOr<Statement> ParseDrop() {
    MCSINK_RETURN_IF_ERROR(ExpectKeyword("table"));
    DropTable st;
    if (Keyword("if")) {
      MCSINK_RETURN_IF_ERROR(ExpectKeyword("exists"));
      st.if_exists = true;
    }
    MCSINK_ASSIGN_OR_RETURN(st.table, Table());
    return st;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> PartitionSpec() {
    std::vector<std::pair<std::string, std::string>> spec;
    MCSINK_RETURN_IF_ERROR(ExpectSymbol("("));
    do {
      std::string key;
      MCSINK_ASSIGN_OR_RETURN(key, Name("a partition key"));
      MCSINK_RETURN_IF_ERROR(ExpectSymbol("="));
      std::string value;
      MCSINK_ASSIGN_OR_RETURN(value, Literal("a partition value in quotes"));
      spec.emplace_back(std::move(key), std::move(value));
    } while (Symbol(","));
    MCSINK_RETURN_IF_ERROR(ExpectSymbol(")"));
    return spec;
  }

  absl::StatusOr<Statement> ParseAlter() {
    MCSINK_RETURN_IF_ERROR(ExpectKeyword("table"));
    AddPartition st;
    MCSINK_ASSIGN_OR_RETURN(st.table, Table());
    if (!Keyword("add")) {
      return Unsupported("only ALTER TABLE ... ADD [IF NOT EXISTS] PARTITION (...) is supported");
    }
    if (Keyword("if")) {
      MCSINK_RETURN_IF_ERROR(ExpectKeyword("not"));
      MCSINK_RETURN_IF_ERROR(ExpectKeyword("exists"));
      st.if_not_exists = true;
    }
    MCSINK_RETURN_IF_ERROR(ExpectKeyword("partition"));
    do {
      std::vector<std::pair<std::string, std::string>> spec;
      MCSINK_ASSIGN_OR_RETURN(spec, PartitionSpec());
      st.partitions.push_back(std::move(spec));
    } while (Keyword("partition"));
    return st;
  }

  absl::StatusOr<Statement> ParseShow() {
    if (!Keyword("partitions")) {
      return Unsupported("only SHOW PARTITIONS <table> is supported");
    }
    ShowPartitions st;
    MCSINK_ASSIGN_OR_RETURN(st.table, Table());
    return st;
  }

  absl::StatusOr<Statement> ParseSelect() {
    Select st;
    if (Symbol("*")) {
    } else if (IsKeyword(Peek(), "count") && t_[pos_ + 1].kind == Tok::kSymbol &&
               t_[pos_ + 1].text == "(") {
      pos_ += 2;
      MCSINK_RETURN_IF_ERROR(ExpectSymbol("*"));
      MCSINK_RETURN_IF_ERROR(ExpectSymbol(")"));
      st.count_star = true;
    } else {
      do {
        std::string col;
        MCSINK_ASSIGN_OR_RETURN(col, Name("a column name, * or COUNT(*)"));
        st.columns.push_back(std::move(col));
      } while (Symbol(","));
    }
    MCSINK_RETURN_IF_ERROR(ExpectKeyword("from"));
    MCSINK_ASSIGN_OR_RETURN(st.table, Table());
    if (Keyword("where")) {
      do {
        std::string col;
        MCSINK_ASSIGN_OR_RETURN(col, Name("a column name in WHERE"));
        if (!Symbol("=")) {
          return Unsupported("only col = 'value' conditions joined by AND are supported in WHERE");
        }
        std::string value;
        MCSINK_ASSIGN_OR_RETURN(value, Literal("a literal value"));
        st.where.emplace_back(std::move(col), std::move(value));
      } while (Keyword("and"));
    }
    if (Keyword("limit")) {
      const Token& tok = Peek();
      int64_t n = 0;
      if (tok.kind != Tok::kNumber || !absl::SimpleAtoi(tok.text, &n) || n < 0) {
        return Unexpected("a non-negative whole number after LIMIT");
      }
      ++pos_;
      st.limit = n;
    }
    return st;
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Statement> Parse(std::string_view text) {
  MCSINK_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(text));
  return Parser(std::move(tokens)).ParseStatement();
}

}  // namespace mclocal::sql
