#include "mclocal/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute_client/url.h"

namespace mclocal {
namespace fs = std::filesystem;
using mcsink::maxcompute::Column;
using mcsink::maxcompute::TableSchema;
using mcsink::maxcompute::Type;

namespace {

constexpr char kManifest[] = "MANIFEST";
constexpr char kTableMeta[] = "table.meta";
constexpr char kTmpPrefix[] = ".tmp-";

std::string Lower(std::string_view s) {
  return absl::AsciiStrToLower(absl::string_view(s.data(), s.size()));
}

std::string UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrCat(getpid(), "-", counter.fetch_add(1), "-", rng() % 1000000);
}

absl::Status ErrnoStatus(std::string_view what, const fs::path& path) {
  return absl::InternalError(
      absl::StrCat(std::string(what), " ", path.string(), " failed: ", std::strerror(errno)));
}

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

std::string EncodeSpecDir(const PartitionSpec& spec) {
  if (spec.empty()) return "_";
  std::vector<std::string> parts;
  for (const auto& [k, v] : spec) {
    parts.push_back(absl::StrCat(mcsink::maxcompute_client::PercentEncode(Lower(k)), "=",
                                 mcsink::maxcompute_client::PercentEncode(v)));
  }
  return absl::StrJoin(parts, ",");
}

std::string Enc(std::string_view s) { return mcsink::maxcompute_client::PercentEncode(s); }
std::string Dec(std::string_view s) {
  auto r = mcsink::maxcompute_client::PercentDecode(s);
  return r.ok() ? *r : std::string(s);
}

std::string SerializeTable(const TableInfo& t) {
  std::string out = "mclocal-table 1\n";
  absl::StrAppend(&out, "name ", t.name, "\n", "create_time ", t.create_time, "\n", "lifecycle ",
                  t.lifecycle, "\n", "comment ", Enc(t.comment), "\n");
  for (const Column& c : t.schema.columns) {
    absl::StrAppend(&out, "column ", c.name, " ", c.type.ToString(), "\n");
  }
  for (const Column& c : t.schema.partition_columns) {
    absl::StrAppend(&out, "partition_key ", c.name, " ", c.type.ToString(), "\n");
  }
  return out;
}

absl::StatusOr<TableInfo> ParseTable(std::string_view text, const std::string& project,
                                     const fs::path& where) {
  TableInfo t;
  t.project = project;
  auto bad = [&](absl::string_view line) {
    return absl::DataLossError(
        absl::StrCat("corrupt table metadata ", where.string(), " at line '", line, "'"));
  };
  bool first = true;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    if (first) {
      if (line != "mclocal-table 1") return bad(line);
      first = false;
      continue;
    }
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f[0] == "name" && f.size() == 2) {
      t.name = f[1];
    } else if (f[0] == "create_time" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &t.create_time)) return bad(line);
    } else if (f[0] == "lifecycle" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &t.lifecycle)) return bad(line);
    } else if (f[0] == "comment") {
      t.comment = f.size() == 2 ? Dec(f[1]) : "";
    } else if ((f[0] == "column" || f[0] == "partition_key") && f.size() == 3) {
      auto type = Type::Parse(f[2]);
      if (!type.ok()) return bad(line);
      (f[0] == "column" ? t.schema.columns : t.schema.partition_columns)
          .push_back(Column{f[1], *type, true});
    } else {
      return bad(line);
    }
  }
  if (first || t.name.empty()) return bad("<missing header or name>");
  return t;
}

std::string SerializeManifest(const PartitionInfo& p) {
  std::string out = "mclocal-manifest 1\n";
  for (const auto& [k, v] : p.spec) absl::StrAppend(&out, "key ", Enc(k), " ", Enc(v), "\n");
  absl::StrAppend(&out, "create_time ", p.create_time, "\nmodified_time ", p.modified_time, "\n");
  for (const auto& c : p.commits) absl::StrAppend(&out, "commit ", c, "\n");
  for (const auto& f : p.files) {
    absl::StrAppend(&out, "file ", f.name, " ", f.records, " ", f.bytes, "\n");
  }
  // The last line proves the file is complete (rename makes it atomic; this catches other damage).
  absl::StrAppend(&out, "end\n");
  return out;
}

absl::StatusOr<PartitionInfo> ParseManifest(std::string_view text, const fs::path& where) {
  PartitionInfo p;
  auto bad = [&](absl::string_view line) {
    return absl::DataLossError(
        absl::StrCat("corrupt manifest ", where.string(), " at line '", line, "'"));
  };
  bool first = true, ended = false;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    if (first) {
      if (line != "mclocal-manifest 1") return bad(line);
      first = false;
      continue;
    }
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] == "key" && f.size() == 3) {
      p.spec.emplace_back(Dec(f[1]), Dec(f[2]));
    } else if (f[0] == "create_time" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &p.create_time)) return bad(line);
    } else if (f[0] == "modified_time" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &p.modified_time)) return bad(line);
    } else if (f[0] == "commit" && f.size() == 2) {
      p.commits.push_back(f[1]);
    } else if (f[0] == "file" && f.size() == 4) {
      DataFile d{f[1], 0, 0};
      if (!absl::SimpleAtoi(f[2], &d.records) || !absl::SimpleAtoi(f[3], &d.bytes)) {
        return bad(line);
      }
      p.files.push_back(std::move(d));
    } else if (f[0] == "end" && f.size() == 1) {
      ended = true;
    } else {
      return bad(line);
    }
  }
  if (!ended) return bad("<missing end line>");
  return p;
}

void RemoveAllQuietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    MCSINK_LOG(WARNING) << "cannot remove " << path.string() << ": " << ec.message();
  }
}

}  // namespace

std::string PartitionSpecToString(const PartitionSpec& spec) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : spec) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<PartitionSpec> NormalizePartitionSpec(const PartitionSpec& spec,
                                                     const TableSchema& schema) {
  if (schema.partition_columns.empty()) {
    if (spec.empty()) return spec;
    return absl::InvalidArgumentError(
        absl::StrCat("partition spec '", PartitionSpecToString(spec),
                     "' given for a table that has no partition keys"));
  }
  std::vector<std::optional<std::string>> values(schema.partition_columns.size());
  for (const auto& [k, v] : spec) {
    size_t i = 0;
    while (i < schema.partition_columns.size() &&
           !absl::EqualsIgnoreCase(schema.partition_columns[i].name, k)) {
      ++i;
    }
    if (i == schema.partition_columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("'", k, "' in partition spec '",
                                                     PartitionSpecToString(spec),
                                                     "' is not a partition key of the table"));
    }
    if (values[i]) {
      return absl::InvalidArgumentError(absl::StrCat("partition key '", k, "' given twice in '",
                                                     PartitionSpecToString(spec), "'"));
    }
    if (v.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("partition key '", k, "' has an empty value"));
    }
    for (unsigned char ch : v) {
      if (ch < 0x20 || ch == 0x7f) {
        return absl::InvalidArgumentError(absl::StrCat(
            "partition value of '", k, "' contains a control character; use printable text"));
      }
    }
    values[i] = v;
  }
  PartitionSpec out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition spec '", PartitionSpecToString(spec), "' misses key '",
                       schema.partition_columns[i].name, "'; give every partition key"));
    }
    out.emplace_back(schema.partition_columns[i].name, *values[i]);
  }
  return out;
}

absl::StatusOr<PartitionSpec> ParsePartitionSpec(std::string_view text, const TableSchema& schema,
                                                 bool require_complete) {
  PartitionSpec raw;
  const absl::string_view all(text.data(), text.size());
  if (!absl::StripAsciiWhitespace(all).empty()) {
    for (absl::string_view part : absl::StrSplit(all, absl::ByAnyChar(",/"))) {
      part = absl::StripAsciiWhitespace(part);
      const auto eq = part.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad partition spec '", all, "': expected key=value[,key=value], e.g. pt=20260101"));
      }
      std::string key(absl::StripAsciiWhitespace(part.substr(0, eq)));
      absl::string_view value = absl::StripAsciiWhitespace(part.substr(eq + 1));
      if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      raw.emplace_back(std::move(key), std::string(value));
    }
  }
  if (require_complete) return NormalizePartitionSpec(raw, schema);
  // A prefix: the given keys must be the first partition keys, in order.
  if (raw.size() > schema.partition_columns.size()) return NormalizePartitionSpec(raw, schema);
  PartitionSpec out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (!absl::EqualsIgnoreCase(raw[i].first, schema.partition_columns[i].name) ||
        raw[i].second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("bad partition spec '", all,
                                                     "': keys must be a prefix of the table's "
                                                     "partition keys, with non-empty values"));
    }
    out.emplace_back(schema.partition_columns[i].name, raw[i].second);
  }
  return out;
}

int64_t PartitionInfo::RecordCount() const {
  int64_t n = 0;
  for (const auto& f : files) n += f.records;
  return n;
}
int64_t PartitionInfo::ByteSize() const {
  int64_t n = 0;
  for (const auto& f : files) n += f.bytes;
  return n;
}

absl::Status FsyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open for fsync", path);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    return ErrnoStatus("fsync", path);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const fs::path& path, std::string_view content, bool durable) {
  const fs::path tmp = path.parent_path() / absl::StrCat(kTmpPrefix, UniqueSuffix());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp);
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto st = ErrnoStatus("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) {
    auto st = ErrnoStatus("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto st = ErrnoStatus("rename to " + path.string(), tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  return durable ? FsyncPath(path.parent_path()) : absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  return data;
}

absl::Status Storage::ValidateName(std::string_view kind, std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(kind), " name must be 1-128 characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                    (c == '-' && kind == "project");
    if (!ok ||
        (i == 0 && absl::ascii_isdigit(static_cast<unsigned char>(c)) && kind != "project")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid ", std::string(kind), " name '", std::string(name),
          "': use letters, digits and underscores, starting with a letter or underscore"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(const fs::path& data_dir) {
  std::error_code ec;
  fs::create_directories(data_dir / "projects", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data directory ", data_dir.string(), ": ", ec.message()));
  }
  auto storage = std::unique_ptr<Storage>(new Storage(fs::absolute(data_dir)));
  MCSINK_RETURN_IF_ERROR(storage->Recover());
  return storage;
}

absl::Status Storage::Recover() {
  // Uncommitted uploads and half-finished drops are discarded as a whole.
  RemoveAllQuietly(root_ / "staging");
  RemoveAllQuietly(root_ / "trash");
  std::error_code ec;
  int removed = 0;
  for (const auto& project : fs::directory_iterator(root_ / "projects", ec)) {
    const fs::path tables = project.path() / "tables";
    if (!fs::is_directory(tables)) continue;
    for (const auto& table : fs::directory_iterator(tables)) {
      const std::string tname = table.path().filename().string();
      if (absl::StartsWith(tname, kTmpPrefix)) {
        RemoveAllQuietly(table.path());
        ++removed;
        continue;
      }
      const fs::path parts = table.path() / "parts";
      if (!fs::is_directory(parts)) continue;
      for (const auto& part : fs::directory_iterator(parts)) {
        if (absl::StartsWith(part.path().filename().string(), kTmpPrefix)) {
          RemoveAllQuietly(part.path());
          ++removed;
          continue;
        }
        auto text = ReadWholeFile(part.path() / kManifest);
        if (!text.ok()) {
          // A partition directory is only ever renamed into place with its manifest inside.
          return absl::DataLossError(absl::StrCat("partition directory ", part.path().string(),
                                                  " has no readable MANIFEST; inspect it"));
        }
        MCSINK_ASSIGN_OR_RETURN(PartitionInfo info, ParseManifest(*text, part.path()));
        IndexCommits(project.path().filename().string(), tname, part.path(), info);
        std::set<std::string> keep{kManifest};
        for (const auto& f : info.files) keep.insert(f.name);
        for (const auto& file : fs::directory_iterator(part.path())) {
          if (!keep.count(file.path().filename().string())) {
            RemoveAllQuietly(file.path());
            ++removed;
          }
        }
      }
    }
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list ", (root_ / "projects").string(), ": ", ec.message()));
  }
  if (removed > 0) {
    MCSINK_LOG(INFO) << "recovery removed " << removed << " uncommitted files under "
                     << root_.string();
  }
  return absl::OkStatus();
}

fs::path Storage::TableDir(const std::string& project, const std::string& table) const {
  return root_ / "projects" / project / "tables" / Lower(table);
}

fs::path Storage::PartitionDir(const std::string& project, const std::string& table,
                               const PartitionSpec& spec) const {
  return TableDir(project, table) / "parts" / EncodeSpecDir(spec);
}

absl::StatusOr<TableInfo> Storage::GetTable(const std::string& project, const std::string& table) {
  MCSINK_RETURN_IF_ERROR(ValidateName("table", table));
  const fs::path dir = TableDir(project, table);
  auto text = ReadWholeFile(dir / kTableMeta);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("table ", project, ".", Lower(table), " does not exist"));
  }
  return ParseTable(*text, project, dir / kTableMeta);
}

std::vector<TableInfo> Storage::ListTables(const std::string& project) {
  std::vector<TableInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "projects" / project / "tables", ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kTmpPrefix)) continue;
    auto t = GetTable(project, name);
    if (t.ok()) out.push_back(*std::move(t));
  }
  std::sort(out.begin(), out.end(),
            [](const TableInfo& a, const TableInfo& b) { return a.name < b.name; });
  return out;
}

absl::StatusOr<bool> Storage::CreateTable(const TableInfo& table, bool if_not_exists) {
  MCSINK_RETURN_IF_ERROR(ValidateName("project", table.project));
  MCSINK_RETURN_IF_ERROR(ValidateName("table", table.name));
  std::lock_guard lock(mu_);
  const fs::path dir = TableDir(table.project, table.name);
  std::error_code ec;
  if (fs::exists(dir / kTableMeta, ec)) {
    if (if_not_exists) return false;
    return absl::AlreadyExistsError(
        absl::StrCat("table ", table.project, ".", Lower(table.name), " already exists"));
  }
  const fs::path tables = dir.parent_path();
  fs::create_directories(tables, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", tables.string(), ": ", ec.message()));
  // Build the whole table directory aside, then rename it into place.
  const fs::path tmp = tables / absl::StrCat(kTmpPrefix, UniqueSuffix());
  fs::create_directories(tmp / "parts", ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", tmp.string(), ": ", ec.message()));
  TableInfo stored = table;
  stored.name = Lower(table.name);
  MCSINK_RETURN_IF_ERROR(WriteFileAtomically(tmp / kTableMeta, SerializeTable(stored)));
  if (table.schema.partition_columns.empty()) {
    // The one partition of a non-partitioned table exists from the start.
    PartitionInfo p;
    p.create_time = p.modified_time = stored.create_time;
    const fs::path pdir = tmp / "parts" / EncodeSpecDir({});
    fs::create_directories(pdir, ec);
    MCSINK_RETURN_IF_ERROR(WriteFileAtomically(pdir / kManifest, SerializeManifest(p)));
    MCSINK_RETURN_IF_ERROR(FsyncPath(tmp / "parts"));
  }
  MCSINK_RETURN_IF_ERROR(FsyncPath(tmp));
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    auto st = ErrnoStatus("rename to " + dir.string(), tmp);
    RemoveAllQuietly(tmp);
    return st;
  }
  MCSINK_RETURN_IF_ERROR(FsyncPath(tables));
  return true;
}

absl::Status Storage::DropTable(const std::string& project, const std::string& table,
                                bool if_exists) {
  MCSINK_RETURN_IF_ERROR(ValidateName("table", table));
  std::lock_guard lock(mu_);
  const fs::path dir = TableDir(project, table);
  std::error_code ec;
  if (!fs::exists(dir / kTableMeta, ec)) {
    if (if_exists) return absl::OkStatus();
    return absl::NotFoundError(
        absl::StrCat("table ", project, ".", Lower(table), " does not exist"));
  }
  // One rename makes the table disappear; the files are deleted afterwards (or by recovery).
  fs::create_directories(root_ / "trash", ec);
  const fs::path trash = root_ / "trash" / UniqueSuffix();
  if (::rename(dir.c_str(), trash.c_str()) != 0) return ErrnoStatus("rename to trash", dir);
  MCSINK_RETURN_IF_ERROR(FsyncPath(dir.parent_path()));
  RemoveAllQuietly(trash);
  {
    // Its sessions go with the table (a re-created table of that name has other sessions).
    const std::string lower = Lower(table);
    std::lock_guard index_lock(index_mu_);
    std::erase_if(committed_, [&](const auto& kv) {
      return kv.second.project == project && kv.second.table == lower;
    });
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Storage::AddPartition(const std::string& project, const std::string& table,
                                           const PartitionSpec& spec, bool if_not_exists) {
  MCSINK_ASSIGN_OR_RETURN(TableInfo info, GetTable(project, table));
  MCSINK_ASSIGN_OR_RETURN(PartitionSpec norm, NormalizePartitionSpec(spec, info.schema));
  if (norm.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table ", project, ".", info.name, " is not partitioned; it has no partitions to add"));
  }
  std::lock_guard lock(mu_);
  const fs::path dir = PartitionDir(project, table, norm);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (if_not_exists) return false;
    return absl::AlreadyExistsError(absl::StrCat("partition ", PartitionSpecToString(norm),
                                                 " of table ", project, ".", info.name,
                                                 " already exists"));
  }
  const fs::path tmp = dir.parent_path() / absl::StrCat(kTmpPrefix, UniqueSuffix());
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", tmp.string(), ": ", ec.message()));
  PartitionInfo p;
  p.spec = norm;
  p.create_time = p.modified_time = NowSeconds();
  MCSINK_RETURN_IF_ERROR(WriteFileAtomically(tmp / kManifest, SerializeManifest(p)));
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    auto st = ErrnoStatus("rename to " + dir.string(), tmp);
    RemoveAllQuietly(tmp);
    return st;
  }
  MCSINK_RETURN_IF_ERROR(FsyncPath(dir.parent_path()));
  return true;
}

absl::StatusOr<PartitionInfo> Storage::ReadPartition(const fs::path& dir,
                                                     const TableSchema& schema) {
  MCSINK_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(dir / kManifest));
  MCSINK_ASSIGN_OR_RETURN(PartitionInfo p, ParseManifest(text, dir / kManifest));
  // Manifest keys are the stored names; report them in the schema's spelling.
  for (size_t i = 0; i < p.spec.size() && i < schema.partition_columns.size(); ++i) {
    p.spec[i].first = schema.partition_columns[i].name;
  }
  return p;
}

absl::StatusOr<std::vector<PartitionInfo>> Storage::ListPartitions(const std::string& project,
                                                                   const std::string& table) {
  MCSINK_ASSIGN_OR_RETURN(TableInfo info, GetTable(project, table));
  std::vector<PartitionInfo> out;
  if (info.schema.partition_columns.empty()) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TableDir(project, table) / "parts", ec)) {
    if (absl::StartsWith(entry.path().filename().string(), kTmpPrefix)) continue;
    auto p = ReadPartition(entry.path(), info.schema);
    if (p.ok()) out.push_back(*std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const PartitionInfo& a, const PartitionInfo& b) { return a.spec < b.spec; });
  return out;
}

absl::StatusOr<PartitionInfo> Storage::GetPartition(const std::string& project,
                                                    const std::string& table,
                                                    const PartitionSpec& spec) {
  MCSINK_ASSIGN_OR_RETURN(TableInfo info, GetTable(project, table));
  const fs::path dir = PartitionDir(project, table, spec);
  std::error_code ec;
  if (!fs::exists(dir / kManifest, ec)) {
    return absl::NotFoundError(absl::StrCat("partition ", PartitionSpecToString(spec), " of table ",
                                            project, ".", info.name, " does not exist"));
  }
  return ReadPartition(dir, info.schema);
}

absl::StatusOr<fs::path> Storage::StagingDir(const std::string& upload_id) {
  const fs::path dir = root_ / "staging" / upload_id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir.string(), ": ", ec.message()));
  return dir;
}

void Storage::DiscardStaging(const std::string& upload_id) {
  RemoveAllQuietly(root_ / "staging" / upload_id);
}

absl::Status Storage::Commit(const std::string& project, const std::string& table,
                             const PartitionSpec& spec, const std::string& upload_id,
                             const std::vector<StagedBlock>& blocks, bool overwrite) {
  MCSINK_ASSIGN_OR_RETURN(TableInfo info, GetTable(project, table));
  std::lock_guard lock(mu_);
  const fs::path dir = PartitionDir(project, table, spec);
  MCSINK_ASSIGN_OR_RETURN(PartitionInfo p, ReadPartition(dir, info.schema));
  if (std::find(p.commits.begin(), p.commits.end(), upload_id) != p.commits.end()) {
    return absl::OkStatus();
  }
  // 1. Make every block durable, then move it into the partition directory under a name no
  //    manifest lists yet: invisible, and deleted by recovery if we crash before step 2.
  std::vector<DataFile> added;
  for (const StagedBlock& b : blocks) {
    MCSINK_RETURN_IF_ERROR(FsyncPath(b.path));
    DataFile f{absl::StrCat(upload_id, "-", b.block_id, ".rec"), b.records, b.bytes};
    const fs::path target = dir / f.name;
    if (::rename(b.path.c_str(), target.c_str()) != 0) {
      return ErrnoStatus("rename to " + target.string(), b.path);
    }
    added.push_back(std::move(f));
  }
  MCSINK_RETURN_IF_ERROR(FsyncPath(dir));
  Step("commit.blocks_moved");
  // 2. The manifest rename is the commit point.
  std::vector<DataFile> replaced;
  if (overwrite) replaced.swap(p.files);
  CommittedUpload committed{project, Lower(table), dir, NowSeconds(), {}};
  for (size_t i = 0; i < added.size(); ++i) {
    committed.blocks.push_back({blocks[i].block_id, added[i]});
    p.files.push_back(std::move(added[i]));
  }
  p.commits.push_back(upload_id);
  p.modified_time = committed.commit_time;
  MCSINK_RETURN_IF_ERROR(WriteManifest(dir, p));
  {
    std::lock_guard index_lock(index_mu_);
    committed_.insert_or_assign(upload_id, std::move(committed));
  }
  Step("commit.manifest_written");
  for (const auto& f : replaced) RemoveAllQuietly(dir / f.name);
  return absl::OkStatus();
}

absl::Status Storage::WriteManifest(const fs::path& dir, const PartitionInfo& info) {
  return WriteFileAtomically(dir / kManifest, SerializeManifest(info));
}

void Storage::IndexCommits(const std::string& project, const std::string& table,
                           const fs::path& dir, const PartitionInfo& info) {
  // Commit() names data files `<upload id>-<block id>.rec`: one pass over the files recovers
  // every session's block list (a per-commit scan would be quadratic in busy partitions).
  std::unordered_map<std::string, std::vector<CommittedUpload::Block>> blocks;
  for (const DataFile& f : info.files) {
    absl::string_view stem(f.name);
    if (!absl::ConsumeSuffix(&stem, ".rec")) continue;
    const size_t dash = stem.rfind('-');
    int64_t block_id = 0;
    if (dash == absl::string_view::npos || !absl::SimpleAtoi(stem.substr(dash + 1), &block_id)) {
      continue;
    }
    blocks[std::string(stem.substr(0, dash))].push_back({block_id, f});
  }
  std::lock_guard index_lock(index_mu_);
  for (const std::string& id : info.commits) {
    CommittedUpload c{project, table, dir, info.modified_time, {}};
    if (auto it = blocks.find(id); it != blocks.end()) {
      c.blocks = std::move(it->second);
      std::sort(c.blocks.begin(), c.blocks.end(),
                [](const auto& a, const auto& b) { return a.block_id < b.block_id; });
    }
    committed_.insert_or_assign(id, std::move(c));
  }
}

std::optional<CommittedUpload> Storage::FindCommitted(const std::string& upload_id) const {
  std::lock_guard index_lock(index_mu_);
  auto it = committed_.find(upload_id);
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mclocal
