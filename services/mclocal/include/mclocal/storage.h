// mclocal's durable catalogue and table data, as files under one data directory:
//
//   <data_dir>/projects/<project>/tables/<table>/table.meta        schema (rename-replaced)
//   <data_dir>/projects/<project>/tables/<table>/parts/<spec>/MANIFEST   committed files
//   <data_dir>/projects/<project>/tables/<table>/parts/<spec>/*.rec      record streams
//   <data_dir>/staging/<upload id>/block-<n>.rec                    uploaded, not committed
//
// Every change becomes visible through one rename of a fully written and fsynced file or
// directory, so a crash (kill -9, power loss) leaves either the old or the new state. Open()
// recovers: it deletes temporary files, staged uploads and data files no MANIFEST lists.
// A non-partitioned table has one partition with an empty spec (directory "_").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute/types.h"

namespace mclocal {

// Partition key = value pairs in the table's partition-key order.
using PartitionSpec = std::vector<std::pair<std::string, std::string>>;

// `pt=11-17-2020 14,region=hz` (values unquoted), the form SHOW PARTITIONS prints.
std::string PartitionSpecToString(const PartitionSpec& spec);

// Parses a partition spec as clients send it in REST and Tunnel parameters: `k=v,k2=v2`, values
// optionally in '...' or "..." quotes; `/` is accepted as a separator too. Keys are matched to the
// table's partition keys case-insensitively, and the result is in the table's key order. With
// `require_complete`, every key must be given (tunnel sessions); otherwise a prefix is allowed.
absl::StatusOr<PartitionSpec> ParsePartitionSpec(std::string_view text,
                                                 const mcsink::maxcompute::TableSchema& schema,
                                                 bool require_complete);
// Checks names and values of a spec that is already split (from SQL): every key must be a
// partition key, each given once, all of them present, values non-empty and without control
// characters. Returns the spec in key order.
absl::StatusOr<PartitionSpec> NormalizePartitionSpec(const PartitionSpec& spec,
                                                     const mcsink::maxcompute::TableSchema& schema);

struct TableInfo {
  std::string project;
  std::string name;
  mcsink::maxcompute::TableSchema schema;
  std::string comment;
  int64_t create_time = 0;  // epoch seconds
  int64_t lifecycle = -1;
};

struct DataFile {
  std::string name;  // file name inside the partition directory
  int64_t records = 0;
  int64_t bytes = 0;
};

struct PartitionInfo {
  PartitionSpec spec;
  int64_t create_time = 0;
  int64_t modified_time = 0;
  std::vector<DataFile> files;
  std::vector<std::string> commits;  // upload ids committed into this partition
  int64_t RecordCount() const;
  int64_t ByteSize() const;
};

// A block that an upload session staged, to be committed.
struct StagedBlock {
  int64_t block_id = 0;
  std::filesystem::path path;
  int64_t records = 0;
  int64_t bytes = 0;
};

// An upload session whose commit is durable: what a client that lost the commit answer can still
// ask about after mclocal restarted (the real service keeps a committed session for its lifetime).
struct CommittedUpload {
  struct Block {
    int64_t block_id = 0;
    DataFile file;  // in `partition_dir`; gone once a later overwrite replaced the partition
  };
  std::string project;
  std::string table;  // lower-case, as its directory is named
  std::filesystem::path partition_dir;
  int64_t commit_time = 0;  // epoch seconds; after a restart, the partition's last modification
  // Known from the manifest's data file names; empty when a later overwrite replaced them before
  // a restart.
  std::vector<Block> blocks;
};

class Storage {
 public:
  static absl::StatusOr<std::unique_ptr<Storage>> Open(const std::filesystem::path& data_dir);

  const std::filesystem::path& data_dir() const { return root_; }

  // Called at named points inside a commit ("commit.blocks_moved": block files are in the
  // partition directory but the manifest is not yet replaced; "commit.manifest_written": the
  // commit point has passed), so fault-injection tests can crash the process exactly there.
  void set_step_hook(std::function<void(std::string_view step)> hook) {
    step_hook_ = std::move(hook);
  }

  // Projects exist once anything is created in them; every project name is accepted.
  static absl::Status ValidateName(std::string_view kind, std::string_view name);

  absl::StatusOr<TableInfo> GetTable(const std::string& project, const std::string& table);
  std::vector<TableInfo> ListTables(const std::string& project);
  // AlreadyExists unless `if_not_exists`; returns whether the table was created.
  absl::StatusOr<bool> CreateTable(const TableInfo& table, bool if_not_exists);
  absl::Status DropTable(const std::string& project, const std::string& table, bool if_exists);

  // AlreadyExists unless `if_not_exists`; returns whether the partition was created.
  absl::StatusOr<bool> AddPartition(const std::string& project, const std::string& table,
                                    const PartitionSpec& spec, bool if_not_exists);
  absl::StatusOr<std::vector<PartitionInfo>> ListPartitions(const std::string& project,
                                                            const std::string& table);
  // NotFound when the partition does not exist.
  absl::StatusOr<PartitionInfo> GetPartition(const std::string& project, const std::string& table,
                                             const PartitionSpec& spec);
  std::filesystem::path PartitionDir(const std::string& project, const std::string& table,
                                     const PartitionSpec& spec) const;

  // Directory where upload `upload_id` stages its blocks (created on demand).
  absl::StatusOr<std::filesystem::path> StagingDir(const std::string& upload_id);
  void DiscardStaging(const std::string& upload_id);

  // Makes `blocks` part of the partition atomically: all become visible or none. With
  // `overwrite` the partition's earlier files are replaced. Committing an upload id that the
  // partition already lists is a no-op that succeeds (clients retry commits).
  absl::Status Commit(const std::string& project, const std::string& table,
                      const PartitionSpec& spec, const std::string& upload_id,
                      const std::vector<StagedBlock>& blocks, bool overwrite);

  // The committed upload `upload_id`, from an index that Open() builds from every MANIFEST and
  // Commit() extends, so a lookup never reads the disk. nullopt if it was never committed (or its
  // table was dropped).
  std::optional<CommittedUpload> FindCommitted(const std::string& upload_id) const;

 private:
  explicit Storage(std::filesystem::path root) : root_(std::move(root)) {}
  absl::Status Recover();
  std::filesystem::path TableDir(const std::string& project, const std::string& table) const;
  absl::StatusOr<PartitionInfo> ReadPartition(const std::filesystem::path& dir,
                                              const mcsink::maxcompute::TableSchema& schema);
  absl::Status WriteManifest(const std::filesystem::path& dir, const PartitionInfo& info);
  // Adds the upload ids a partition's manifest lists to `committed_`.
  void IndexCommits(const std::string& project, const std::string& table,
                    const std::filesystem::path& dir, const PartitionInfo& info);

  void Step(std::string_view step) const {
    if (step_hook_) step_hook_(step);
  }

  const std::filesystem::path root_;
  std::function<void(std::string_view)> step_hook_;
  // Catalogue changes and commits are serialized; reads of immutable data files need no lock.
  std::mutex mu_;
  // Its own lock: session lookups must not wait behind a commit's fsyncs.
  mutable std::mutex index_mu_;
  std::unordered_map<std::string, CommittedUpload> committed_;  // by upload id
};

// Writes `content` to `path` via a temporary file and a rename, so readers see the old or the new
// file, never a part. With `durable`, the file and then its directory are fsynced too.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content,
                                 bool durable = true);
absl::Status FsyncPath(const std::filesystem::path& path);  // a file or a directory
absl::StatusOr<std::string> ReadWholeFile(const std::filesystem::path& path);

}  // namespace mclocal
