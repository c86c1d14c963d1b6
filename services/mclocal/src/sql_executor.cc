#include "mclocal/sql_executor.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mclocal/render.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/wire_format.h"

namespace mclocal {
namespace fs = std::filesystem;
namespace mc = mcsink::maxcompute;

absl::StatusOr<SqlResult> SqlExecutor::Run(const std::string& project, std::string_view query) {
  MCSINK_ASSIGN_OR_RETURN(sql::Statement st, sql::Parse(query));
  auto proj = [&](const sql::TableRef& ref) { return ref.project.empty() ? project : ref.project; };
  auto not_found = [&](const sql::TableRef& ref) {
    return absl::NotFoundError(absl::StrCat("ODPS-0130131:Table not found - table ", proj(ref), ".",
                                            ref.table, " cannot be resolved"));
  };
  if (auto* c = std::get_if<sql::CreateTable>(&st)) {
    TableInfo t;
    t.project = proj(c->table);
    t.name = c->table.table;
    t.schema = c->schema;
    t.comment = c->comment;
    t.lifecycle = c->lifecycle;
    t.create_time = absl::ToUnixSeconds(absl::Now());
    auto created = storage_->CreateTable(t, c->if_not_exists);
    if (!created.ok()) {
      if (absl::IsAlreadyExists(created.status())) {
        return absl::AlreadyExistsError(
            absl::StrCat("ODPS-0110061:Failed to run ddltask - AlreadyExistsException(message:"
                         "Table ",
                         t.project, ".", t.name, " already exists)"));
      }
      return created.status();
    }
    return SqlResult{};
  }
  if (auto* d = std::get_if<sql::DropTable>(&st)) {
    auto s = storage_->DropTable(proj(d->table), d->table.table, d->if_exists);
    if (absl::IsNotFound(s)) return not_found(d->table);
    MCSINK_RETURN_IF_ERROR(s);
    return SqlResult{};
  }
  if (auto* a = std::get_if<sql::AddPartition>(&st)) {
    auto info = storage_->GetTable(proj(a->table), a->table.table);
    if (!info.ok()) return not_found(a->table);
    for (const auto& spec : a->partitions) {
      auto norm = NormalizePartitionSpec(spec, info->schema);
      if (!norm.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ODPS-0130071:Semantic analysis exception - invalid partition spec: ",
                         norm.status().message()));
      }
      auto added = storage_->AddPartition(proj(a->table), a->table.table, *norm, a->if_not_exists);
      if (absl::IsAlreadyExists(added.status())) {
        return absl::AlreadyExistsError(absl::StrCat(
            "ODPS-0110061:Failed to run ddltask - AlreadyExistsException(message:Partition ",
            PartitionSpecToString(*norm), " already exists)"));
      }
      MCSINK_RETURN_IF_ERROR(added.status());
    }
    return SqlResult{};
  }
  if (auto* s = std::get_if<sql::ShowPartitions>(&st)) {
    auto parts = storage_->ListPartitions(proj(s->table), s->table.table);
    if (absl::IsNotFound(parts.status())) return not_found(s->table);
    MCSINK_RETURN_IF_ERROR(parts.status());
    SqlResult out;
    for (const auto& p : *parts) absl::StrAppend(&out.text, PartitionSpecToString(p.spec), "\n");
    return out;
  }
  return RunSelect(proj(std::get<sql::Select>(st).table), std::get<sql::Select>(st));
}

absl::StatusOr<SqlResult> SqlExecutor::RunSelect(const std::string& project,
                                                 const sql::Select& sel) {
  auto info = storage_->GetTable(project, sel.table.table);
  if (!info.ok()) {
    return absl::NotFoundError(absl::StrCat("ODPS-0130131:Table not found - table ", project, ".",
                                            sel.table.table, " cannot be resolved"));
  }
  const mc::TableSchema& schema = info->schema;
  // Output columns: data columns, then partition keys (as SELECT * shows them).
  struct OutCol {
    std::string name;
    std::string type;
    int data_index = -1;  // or partition index
    int part_index = -1;
  };
  std::vector<OutCol> all;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    all.push_back(
        {schema.columns[i].name, schema.columns[i].type.ToString(), static_cast<int>(i), -1});
  }
  for (size_t i = 0; i < schema.partition_columns.size(); ++i) {
    all.push_back({schema.partition_columns[i].name, schema.partition_columns[i].type.ToString(),
                   -1, static_cast<int>(i)});
  }
  auto find = [&](const std::string& name) -> std::optional<OutCol> {
    for (const auto& c : all) {
      if (absl::EqualsIgnoreCase(c.name, name)) return c;
    }
    return std::nullopt;
  };
  std::vector<OutCol> out_cols;
  if (!sel.count_star) {
    if (sel.columns.empty()) {
      out_cols = all;
    } else {
      for (const auto& name : sel.columns) {
        auto c = find(name);
        if (!c) {
          return absl::InvalidArgumentError(absl::StrCat(
              "ODPS-0130071:Semantic analysis exception - column ", name, " cannot be resolved"));
        }
        out_cols.push_back(*c);
      }
    }
  }
  std::vector<std::pair<OutCol, std::string>> conds;
  for (const auto& [name, value] : sel.where) {
    auto c = find(name);
    if (!c) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ODPS-0130071:Semantic analysis exception - column ", name, " cannot be resolved"));
    }
    conds.emplace_back(*c, value);
  }
  std::vector<PartitionInfo> parts;
  if (schema.partition_columns.empty()) {
    MCSINK_ASSIGN_OR_RETURN(PartitionInfo p, storage_->GetPartition(project, info->name, {}));
    parts.push_back(std::move(p));
  } else {
    MCSINK_ASSIGN_OR_RETURN(parts, storage_->ListPartitions(project, info->name));
  }
  int64_t count = 0;
  const int64_t limit = std::min(sel.limit.value_or(max_result_rows_), max_result_rows_);
  std::vector<std::vector<std::optional<std::string>>> rows;
  bool done = false;
  for (const auto& p : parts) {
    bool match = true;
    for (const auto& [c, v] : conds) {
      if (c.part_index >= 0 && p.spec[static_cast<size_t>(c.part_index)].second != v) match = false;
    }
    if (!match) continue;
    const bool data_conditions = std::any_of(conds.begin(), conds.end(),
                                             [](const auto& c) { return c.first.data_index >= 0; });
    if (sel.count_star && !data_conditions) {
      count += p.RecordCount();  // the manifest knows; no need to decode
      continue;
    }
    const fs::path dir = storage_->PartitionDir(project, info->name, p.spec);
    for (const auto& f : p.files) {
      if (done) break;
      MCSINK_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(dir / f.name));
      mc::RecordStreamReader reader(schema, data);
      mc::Row row;
      while (true) {
        MCSINK_ASSIGN_OR_RETURN(bool got, reader.Next(&row));
        if (!got) break;
        bool ok = true;
        for (const auto& [c, v] : conds) {
          if (c.data_index >= 0) {
            const auto& cell = row[static_cast<size_t>(c.data_index)];
            if (mc::IsNull(cell) || RenderValue(cell) != v) ok = false;
          }
        }
        if (!ok) continue;
        ++count;
        if (sel.count_star) continue;
        if (static_cast<int64_t>(rows.size()) >= limit) {
          done = true;
          break;
        }
        std::vector<std::optional<std::string>> out;
        for (const auto& c : out_cols) {
          if (c.part_index >= 0) {
            out.push_back(p.spec[static_cast<size_t>(c.part_index)].second);
          } else {
            const auto& cell = row[static_cast<size_t>(c.data_index)];
            out.push_back(mc::IsNull(cell) ? std::nullopt
                                           : std::optional<std::string>(RenderValue(cell)));
          }
        }
        rows.push_back(std::move(out));
      }
    }
  }
  SqlResult result;
  result.format = "csv";
  if (sel.count_star) {
    result.column_types = {"BIGINT"};
    result.text = ToCsv({"_c0"}, {{absl::StrCat(count)}}, {false});
    return result;
  }
  std::vector<std::string> names;
  std::vector<bool> quoted;
  for (const auto& c : out_cols) {
    names.push_back(c.name);
    result.column_types.push_back(c.type);
    auto t = mc::Type::Parse(c.type);
    const bool numeric = t.ok() &&
                         (mc::wire::WireTypeOf(t->kind) != mc::wire::kLengthDelimited ||
                          t->kind == mc::TypeKind::kDecimal) &&
                         t->kind != mc::TypeKind::kDate && t->kind != mc::TypeKind::kDatetime;
    quoted.push_back(!numeric);
  }
  result.text = ToCsv(names, rows, quoted);
  return result;
}

}  // namespace mclocal
