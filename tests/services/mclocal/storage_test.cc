#include "mclocal/storage.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/testing/status_matchers.h"

namespace mclocal {
namespace {

namespace fs = std::filesystem;
namespace mc = mcsink::maxcompute;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MclocalStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mclocal-storage-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static TableInfo Table() {
    TableInfo t;
    t.project = "p";
    t.name = "T";
    t.schema.columns = {{"a", {mc::TypeKind::kBigint}, true}};
    t.schema.partition_columns = {{"pt", {mc::TypeKind::kString}, true}};
    t.create_time = 1;
    return t;
  }

  // Stages one block of `rows` BIGINT values, as an upload session does.
  StagedBlock Stage(Storage& s, const std::string& upload, int64_t block, int rows) {
    std::vector<mc::Row> data;
    for (int i = 0; i < rows; ++i) data.push_back({mc::Value{int64_t{i}}});
    auto body = mc::EncodeRecordStream(Table().schema, data);
    EXPECT_OK(body);
    auto dir = s.StagingDir(upload);
    EXPECT_OK(dir);
    const fs::path path = *dir / ("block-" + std::to_string(block));
    EXPECT_OK(WriteFileAtomically(path, *body));
    return StagedBlock{block, path, rows, static_cast<int64_t>(body->size())};
  }

  fs::path dir_;
};

TEST_F(MclocalStorageTest, TablesAndPartitionsSurviveReopen) {
  {
    ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
    ASSERT_OK_AND_ASSIGN(bool created, s->CreateTable(Table(), false));
    EXPECT_TRUE(created);
    ASSERT_OK(s->AddPartition("p", "t", {{"pt", "11-17-2020 15"}}, false).status());
  }
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  ASSERT_OK_AND_ASSIGN(TableInfo t, s->GetTable("p", "t"));
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.schema, Table().schema);
  ASSERT_OK_AND_ASSIGN(auto parts, s->ListPartitions("p", "t"));
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(PartitionSpecToString(parts[0].spec), "pt=11-17-2020 15");
}

TEST_F(MclocalStorageTest, CreateExistingTableFailsUnlessIfNotExists) {
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  ASSERT_OK(s->CreateTable(Table(), false).status());
  EXPECT_EQ(s->CreateTable(Table(), false).status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(bool created, s->CreateTable(Table(), true));
  EXPECT_FALSE(created);
  ASSERT_OK(s->DropTable("p", "t", false));
  EXPECT_EQ(s->GetTable("p", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_OK(s->DropTable("p", "t", true));
}

TEST_F(MclocalStorageTest, CommittedBlocksAreVisibleAndRecommitIsANoOp) {
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  ASSERT_OK(s->CreateTable(Table(), false).status());
  const PartitionSpec spec{{"pt", "x"}};
  ASSERT_OK(s->AddPartition("p", "t", spec, false).status());
  std::vector<StagedBlock> blocks{Stage(*s, "u1", 0, 3), Stage(*s, "u1", 1, 2)};
  ASSERT_OK(s->Commit("p", "t", spec, "u1", blocks, false));
  ASSERT_OK(s->Commit("p", "t", spec, "u1", blocks, false));  // a retried commit
  ASSERT_OK_AND_ASSIGN(PartitionInfo p, s->GetPartition("p", "t", spec));
  EXPECT_EQ(p.RecordCount(), 5);
  EXPECT_THAT(p.commits, ElementsAre("u1"));
}

// The index of committed upload ids is rebuilt from the manifests, block lists included, so a
// restarted server still recognizes a session whose commit answer a client lost.
TEST_F(MclocalStorageTest, CommittedUploadsAreFoundWithTheirBlocksAfterReopen) {
  const PartitionSpec spec{{"pt", "x"}};
  fs::path part_dir;
  {
    ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
    ASSERT_OK(s->CreateTable(Table(), false).status());
    ASSERT_OK(s->AddPartition("p", "t", spec, false).status());
    ASSERT_OK(
        s->Commit("p", "t", spec, "u1", {Stage(*s, "u1", 4, 3), Stage(*s, "u1", 0, 2)}, false));
    ASSERT_OK(s->Commit("p", "t", spec, "u2", {Stage(*s, "u2", 0, 1)}, false));
    Stage(*s, "u3", 0, 1);  // staged, never committed
    part_dir = s->PartitionDir("p", "t", spec);
  }
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  std::optional<CommittedUpload> u1 = s->FindCommitted("u1");
  ASSERT_TRUE(u1.has_value());
  EXPECT_EQ(u1->project, "p");
  EXPECT_EQ(u1->table, "t");
  EXPECT_EQ(u1->partition_dir, part_dir);
  ASSERT_EQ(u1->blocks.size(), 2u);
  EXPECT_EQ(u1->blocks[0].block_id, 0);
  EXPECT_EQ(u1->blocks[0].file.records, 2);
  EXPECT_EQ(u1->blocks[1].block_id, 4);
  EXPECT_EQ(u1->blocks[1].file.records, 3);
  EXPECT_TRUE(fs::exists(part_dir / u1->blocks[1].file.name));
  ASSERT_TRUE(s->FindCommitted("u2").has_value());
  EXPECT_EQ(s->FindCommitted("u2")->blocks.size(), 1u);
  EXPECT_FALSE(s->FindCommitted("u3").has_value());

  // A commit after the reopen is indexed at once; a dropped table takes its sessions along
  ASSERT_OK(s->Commit("p", "t", spec, "u4", {Stage(*s, "u4", 7, 1)}, false));
  ASSERT_TRUE(s->FindCommitted("u4").has_value());
  EXPECT_EQ(s->FindCommitted("u4")->blocks.at(0).block_id, 7);
  ASSERT_OK(s->DropTable("p", "T", false));
  EXPECT_FALSE(s->FindCommitted("u1").has_value());
  EXPECT_FALSE(s->FindCommitted("u4").has_value());
}

TEST_F(MclocalStorageTest, RecoveryDiscardsStagedAndUnlistedFilesButKeepsCommittedOnes) {
  const PartitionSpec spec{{"pt", "x"}};
  fs::path part_dir;
  {
    ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
    ASSERT_OK(s->CreateTable(Table(), false).status());
    ASSERT_OK(s->AddPartition("p", "t", spec, false).status());
    ASSERT_OK(s->Commit("p", "t", spec, "u1", {Stage(*s, "u1", 0, 4)}, false));
    // A crash mid-commit: a block already moved into the partition, manifest not replaced;
    // and an upload that never committed.
    part_dir = s->PartitionDir("p", "t", spec);
    Stage(*s, "u2", 0, 1);
    std::ofstream(part_dir / "u3-0.rec") << "half";
    std::ofstream(part_dir / ".tmp-manifest") << "partial";
    fs::create_directories(dir_ / "projects" / "p" / "tables" / ".tmp-half-created");
  }
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  EXPECT_FALSE(fs::exists(part_dir / "u3-0.rec"));
  EXPECT_FALSE(fs::exists(part_dir / ".tmp-manifest"));
  EXPECT_FALSE(fs::exists(dir_ / "staging" / "u2"));
  EXPECT_FALSE(fs::exists(dir_ / "projects" / "p" / "tables" / ".tmp-half-created"));
  ASSERT_OK_AND_ASSIGN(PartitionInfo p, s->GetPartition("p", "t", spec));
  EXPECT_EQ(p.RecordCount(), 4);
  ASSERT_EQ(p.files.size(), 1u);
  EXPECT_TRUE(fs::exists(part_dir / p.files[0].name));
}

TEST_F(MclocalStorageTest, RecoveryRefusesACorruptManifestInsteadOfGuessing) {
  const PartitionSpec spec{{"pt", "x"}};
  fs::path part_dir;
  {
    ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
    ASSERT_OK(s->CreateTable(Table(), false).status());
    ASSERT_OK(s->AddPartition("p", "t", spec, false).status());
    part_dir = s->PartitionDir("p", "t", spec);
  }
  std::ofstream(part_dir / "MANIFEST", std::ios::trunc) << "mclocal-manifest 1\nfile x 1 1\n";
  auto reopened = Storage::Open(dir_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reopened.status().message()), HasSubstr("missing end line"));
}

TEST_F(MclocalStorageTest, OverwriteReplacesThePartitionsFiles) {
  ASSERT_OK_AND_ASSIGN(auto s, Storage::Open(dir_));
  ASSERT_OK(s->CreateTable(Table(), false).status());
  const PartitionSpec spec{{"pt", "x"}};
  ASSERT_OK(s->AddPartition("p", "t", spec, false).status());
  ASSERT_OK(s->Commit("p", "t", spec, "u1", {Stage(*s, "u1", 0, 4)}, false));
  ASSERT_OK(s->Commit("p", "t", spec, "u2", {Stage(*s, "u2", 0, 2)}, true));
  ASSERT_OK_AND_ASSIGN(PartitionInfo p, s->GetPartition("p", "t", spec));
  EXPECT_EQ(p.RecordCount(), 2);
  EXPECT_FALSE(fs::exists(s->PartitionDir("p", "t", spec) / "u1-0.rec"));
}

TEST(MclocalPartitionSpec, ParsesQuotedUnquotedAndSlashSeparatedSpecs) {
  mc::TableSchema schema;
  schema.partition_columns = {{"pt", {mc::TypeKind::kString}, true},
                              {"region", {mc::TypeKind::kString}, true}};
  for (const char* text :
       {"pt=1,region=hz", "pt='1',region=\"hz\"", "PT=1/region=hz", "region=hz,pt=1"}) {
    ASSERT_OK_AND_ASSIGN(PartitionSpec spec, ParsePartitionSpec(text, schema, true));
    EXPECT_EQ(PartitionSpecToString(spec), "pt=1,region=hz") << text;
  }
  ASSERT_OK_AND_ASSIGN(PartitionSpec prefix, ParsePartitionSpec("pt=1", schema, false));
  EXPECT_EQ(prefix.size(), 1u);
  EXPECT_THAT(std::string(ParsePartitionSpec("pt=1", schema, true).status().message()),
              HasSubstr("misses key 'region'"));
  EXPECT_THAT(std::string(ParsePartitionSpec("x=1,pt=1", schema, true).status().message()),
              HasSubstr("not a partition key"));
  EXPECT_THAT(std::string(ParsePartitionSpec("pt", schema, true).status().message()),
              HasSubstr("expected key=value"));
  EXPECT_THAT(std::string(ParsePartitionSpec("pt=,region=a", schema, true).status().message()),
              HasSubstr("empty value"));
}

}  // namespace
}  // namespace mclocal
