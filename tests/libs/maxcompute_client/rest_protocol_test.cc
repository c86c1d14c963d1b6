// Parsers and builders of the metadata REST API, on bodies shaped as protocol §2 describes.
#include "mcsink/maxcompute_client/rest_protocol.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute_client {
namespace {

using ::testing::HasSubstr;

// §2.1 minimal response (the shape the emulator returns), schema JSON in CDATA.
constexpr char kTableXml[] = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<Table format="json">
  <Name>t1</Name>
  <TableId>0a1b2c</TableId>
  <Project>test_project</Project>
  <SchemaName>default</SchemaName>
  <Owner>ALIYUN$owner@example.com</Owner>
  <Type>MANAGED_TABLE</Type>
  <Schema><![CDATA[{"tableName":"t1","comment":"orders & <refunds>","lifecycle":30,
    "columns":[{"name":"id","type":"BIGINT","comment":"","isNullable":false},
               {"name":"amount","type":"DECIMAL(10,2)",
               "comment" : "in CNY", "isNullable" : true
},
               {"name":"tags","type":"MAP<STRING,BIGINT>","isNullable":true}],
    "partitionKeys":[{"name":"pt","type":"STRING","comment":"day"}],
    "Reserved":"{\"Transactional\":\"true\",\"PrimaryKey\":[\"id\"],\"schema_version\":\"0\"}"
}]]></Schema>
</Table>)xml";

TEST(ParseTableXml, ReadsColumnsPartitionKeysAndReservedFlags) {
  ASSERT_OK_AND_ASSIGN(const TableInfo table, ParseTableXml(kTableXml));
  EXPECT_EQ(table.name, "t1");
  EXPECT_EQ(table.project, "test_project");
  EXPECT_EQ(table.schema_name, "default");
  EXPECT_EQ(table.type, "MANAGED_TABLE");
  EXPECT_EQ(table.table_id, "0a1b2c");
  EXPECT_EQ(table.comment, "orders & <refunds>");
  EXPECT_EQ(table.lifecycle_days, 30);
  const std::vector<ColumnInfo> columns = {{"id", "BIGINT", false, ""},
                                           {"amount", "DECIMAL(10,2)", true, "in CNY"},
                                           {"tags", "MAP<STRING,BIGINT>", true, ""}};
  EXPECT_EQ(table.columns, columns);
  const std::vector<ColumnInfo> keys = {{"pt", "STRING", true, "day"}};
  EXPECT_EQ(table.partition_keys, keys);
  EXPECT_TRUE(table.transactional);
  EXPECT_EQ(table.primary_key, std::vector<std::string>{"id"});
}

TEST(ParseTableXml, AcceptsXmlEscapedSchemaAndEmptyArrays) {
  // The emulator XML-escapes the JSON instead of using CDATA; it parses the same.
  ASSERT_OK_AND_ASSIGN(
      const TableInfo table,
      ParseTableXml("<Table><Name>t</Name><Project>p</Project><Type>MANAGED_TABLE</Type>"
                    "<Schema>{&quot;columns&quot;:[{&quot;name&quot;:&quot;a&quot;,"
                    "&quot;type&quot;:&quot;STRING&quot;}],&quot;partitionKeys&quot;:[]}"
                    "</Schema></Table>"));
  ASSERT_EQ(table.columns.size(), 1u);
  EXPECT_EQ(table.columns[0].name, "a");
  EXPECT_TRUE(table.partition_keys.empty());
  EXPECT_FALSE(table.transactional);
}

TEST(ParseTableXml, RejectsBodiesItCannotUse) {
  EXPECT_FALSE(ParseTableXml("not xml <").ok());
  EXPECT_FALSE(ParseTableXml("<Project><Name>p</Name></Project>").ok());
  EXPECT_FALSE(ParseTableXml("<Table><Name>t</Name></Table>").ok());
  EXPECT_FALSE(ParseTableXml("<Table><Name>t</Name><Schema>{oops</Schema></Table>").ok());
  EXPECT_FALSE(
      ParseTableXml("<Table><Schema>{\"columns\":[{\"name\":\"a\"}]}</Schema></Table>").ok());
}

TEST(ParsePartitionsXml, ReadsColumnsMetadataAndMarker) {
  ASSERT_OK_AND_ASSIGN(const PartitionPage page, ParsePartitionsXml(R"(<?xml version="1.0"?>
<Partitions>
  <Marker>next-page-token</Marker>
  <MaxItems>2</MaxItems>
  <Partition>
    <Column Name="pt" Value="20260101"/>
    <Column Name="region" Value="hz"/>
    <CreationTime>1767225600</CreationTime>
    <LastDDLTime>1767225600</LastDDLTime>
    <LastModifiedTime>1767229200</LastModifiedTime>
    <PartitionSize>4096</PartitionSize>
    <PartitionRecordCount>12</PartitionRecordCount>
  </Partition>
  <Partition><Column Name="pt" Value="20260102"/><Column Name="region" Value="sh"/>
    <CreationTime>1767312000</CreationTime><LastDDLTime/><LastModifiedTime/>
    <PartitionSize/><PartitionRecordCount/></Partition>
</Partitions>)"));
  EXPECT_EQ(page.marker, "next-page-token");
  ASSERT_EQ(page.partitions.size(), 2u);
  EXPECT_EQ(page.partitions[0].Spec(), "pt=20260101,region=hz");
  EXPECT_EQ(page.partitions[0].creation_time, 1767225600);
  EXPECT_EQ(page.partitions[0].last_modified_time, 1767229200);
  EXPECT_EQ(page.partitions[0].size_bytes, 4096);
  EXPECT_EQ(page.partitions[0].record_count, 12);
  EXPECT_EQ(page.partitions[1].Spec(), "pt=20260102,region=sh");
  EXPECT_FALSE(page.partitions[1].size_bytes.has_value());
}

TEST(ParsePartitionsXml, ReadsTheNameOnlyFormAndAnEmptyLastPage) {
  ASSERT_OK_AND_ASSIGN(const PartitionPage names,
                       ParsePartitionsXml("<Partitions><Marker/><MaxItems/><Partition><Name>"
                                          "pt='20260101',region='hz'</Name></Partition>"
                                          "</Partitions>"));
  EXPECT_EQ(names.marker, "");
  ASSERT_EQ(names.partitions.size(), 1u);
  EXPECT_EQ(names.partitions[0].Spec(), "pt=20260101,region=hz");
  ASSERT_OK_AND_ASSIGN(const PartitionPage empty,
                       ParsePartitionsXml("<Partitions><Marker></Marker></Partitions>"));
  EXPECT_TRUE(empty.partitions.empty());
}

TEST(BuildSqlInstanceXml, HasTheJobShapeOfSection23) {
  SqlTask task;
  task.query = "ALTER TABLE p.t ADD IF NOT EXISTS PARTITION (pt='x]]>y')";
  task.task_name = "SQLAddPartitionTask";
  task.settings = {{"odps.sql.timezone", "UTC"}};
  task.guid = "5f0b9a8e-0000-4000-8000-000000000001";
  const std::string xml = BuildSqlInstanceXml(task);
  EXPECT_THAT(xml, HasSubstr("<Instance><Job><Priority>9</Priority><Tasks><SQL>"
                             "<Name>SQLAddPartitionTask</Name><Config>"
                             "<Property><Name>uuid</Name><Value>"
                             "5f0b9a8e-0000-4000-8000-000000000001</Value></Property>"
                             "<Property><Name>settings</Name><Value>"
                             "{&quot;odps.sql.timezone&quot;:&quot;UTC&quot;}</Value></Property>"
                             "</Config><Query><![CDATA["));
  EXPECT_THAT(xml, HasSubstr("</Query></SQL></Tasks><DAG><RunMode>Sequence</RunMode></DAG>"
                             "</Job></Instance>"));
  // The query survives an XML parser byte for byte, `;` appended, even with `]]>` inside.
  std::string parsed_query;
  {
    ASSERT_OK_AND_ASSIGN(
        auto results,
        ParseInstanceResultXml(absl::StrCat(
            "<Instance><Tasks><Task><Name>q</Name><Result>",
            xml.substr(xml.find("<![CDATA["), xml.find("</Query>") - xml.find("<![CDATA[")),
            "</Result></Task></Tasks></Instance>")));
    ASSERT_EQ(results.size(), 1u);
    parsed_query = results[0].text;
  }
  EXPECT_EQ(parsed_query, "ALTER TABLE p.t ADD IF NOT EXISTS PARTITION (pt='x]]>y');");
}

TEST(BuildSqlInstanceXml, GeneratesADistinctGuidWhenNoneIsGiven) {
  SqlTask task;
  task.query = "SELECT 1;";
  const std::string a = BuildSqlInstanceXml(task);
  const std::string b = BuildSqlInstanceXml(task);
  EXPECT_NE(a, b);
  EXPECT_THAT(a, HasSubstr("<Query><![CDATA[SELECT 1;]]></Query>"));
  EXPECT_THAT(a, ::testing::Not(HasSubstr("settings")));
}

TEST(InstanceIdFromLocation, TakesTheTextAfterTheLastSlash) {
  ASSERT_OK_AND_ASSIGN(
      const std::string id,
      InstanceIdFromLocation("http://127.0.0.1:8080/api/projects/p/instances/20260101abc"));
  EXPECT_EQ(id, "20260101abc");
  EXPECT_FALSE(InstanceIdFromLocation("").ok());
  EXPECT_FALSE(InstanceIdFromLocation("http://host/projects/p/tables/t").ok());
}

TEST(ParseInstanceStatusXml, ReadsInstanceAndTaskStatusesUpperCased) {
  ASSERT_OK_AND_ASSIGN(const InstanceStatusInfo running,
                       ParseInstanceStatusXml("<Instance><Status>Running</Status></Instance>"));
  EXPECT_EQ(running.status, "RUNNING");
  EXPECT_FALSE(running.terminated());
  ASSERT_OK_AND_ASSIGN(const InstanceStatusInfo done, ParseInstanceStatusXml(R"(
<Instance><Status>Terminated</Status><Tasks>
  <Task Type="SQL"><Name>AnonymousSQLTask</Name><StartTime>Thu, 01 Jan 2026 00:00:00 GMT</StartTime>
    <EndTime>Thu, 01 Jan 2026 00:00:01 GMT</EndTime><Status>Success</Status><Histories/></Task>
</Tasks></Instance>)"));
  EXPECT_TRUE(done.succeeded());
  ASSERT_EQ(done.tasks.size(), 1u);
  EXPECT_EQ(done.tasks[0].name, "AnonymousSQLTask");
  EXPECT_EQ(done.tasks[0].type, "SQL");
  EXPECT_EQ(done.tasks[0].status, "SUCCESS");
  ASSERT_OK_AND_ASSIGN(const InstanceStatusInfo failed,
                       ParseInstanceStatusXml("<Instance><Status>Terminated</Status><Tasks><Task "
                                              "Type=\"SQL\"><Name>q</Name><Status>Failed</Status>"
                                              "</Task></Tasks></Instance>"));
  EXPECT_TRUE(failed.terminated());
  EXPECT_FALSE(failed.succeeded());
  EXPECT_FALSE(ParseInstanceStatusXml("<Instance></Instance>").ok());
}

TEST(ParseInstanceResultXml, DecodesBase64ResultsAndKeepsPlainOnes) {
  ASSERT_OK_AND_ASSIGN(const auto results, ParseInstanceResultXml(R"(
<Instance><Tasks>
  <Task Type="SQL"><Name>a</Name><Result Transform="Base64" Format="text">T0RQUy0wMTMwMDcxOiBTZW1hbnRpYyBhbmFseXNpcyBleGNlcHRpb24=</Result><Status>Failed</Status></Task>
  <Task Type="SQL"><Name>b</Name><Result Format="csv"><![CDATA[c1,c2
1,"x"
]]></Result><Status>Success</Status></Task>
</Tasks></Instance>)"));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].name, "a");
  EXPECT_EQ(results[0].status, "FAILED");
  EXPECT_EQ(results[0].text, "ODPS-0130071: Semantic analysis exception");
  EXPECT_EQ(results[1].format, "csv");
  EXPECT_EQ(results[1].text, "c1,c2\n1,\"x\"\n");
}

TEST(MaxComputeErrorToStatus, ReadsXmlErrorWithCodeMessageAndRequestId) {
  HttpResponse response;
  response.status = 404;
  response.body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchTable</Code>"
      "<Message>ODPS-0130131:Table not found - t9</Message><RequestId>20260101abc</RequestId>"
      "<HostId>localhost</HostId></Error>";
  const absl::Status status = MaxComputeErrorToStatus(response, "GET table p.t9");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "GET table p.t9 failed: HTTP 404 NoSuchTable: ODPS-0130131:Table not found - t9 "
            "(request id 20260101abc)");
  EXPECT_EQ(MaxComputeErrorCode(status), "NoSuchTable");
}

TEST(MaxComputeErrorToStatus, ReadsTunnelJsonErrorAndHeaderRequestId) {
  HttpResponse response;
  response.status = 400;
  response.headers = {{"x-odps-request-id", "req-42"}};
  response.body = R"({"Code":"InvalidPartitionSpec","Message":"partition spec is incomplete"})";
  const absl::Status status = MaxComputeErrorToStatus(response, "create upload session");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("InvalidPartitionSpec"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("partition spec is incomplete"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("req-42"));
  EXPECT_EQ(MaxComputeErrorCode(status), "InvalidPartitionSpec");
}

TEST(MaxComputeErrorToStatus, MapsHttpStatusesAndKeepsUnknownBodiesShort) {
  HttpResponse response;
  response.body = std::string(1000, 'x');
  for (const auto& [http, code] : std::vector<std::pair<int, absl::StatusCode>>{
           {401, absl::StatusCode::kPermissionDenied},
           {403, absl::StatusCode::kPermissionDenied},
           {409, absl::StatusCode::kAlreadyExists},
           {429, absl::StatusCode::kResourceExhausted},
           {501, absl::StatusCode::kUnimplemented},
           {503, absl::StatusCode::kUnavailable},
           {412, absl::StatusCode::kFailedPrecondition}}) {
    response.status = http;
    const absl::Status status = MaxComputeErrorToStatus(response, "op");
    EXPECT_EQ(status.code(), code) << http;
    EXPECT_LT(status.message().size(), 300u);
    EXPECT_FALSE(MaxComputeErrorCode(status).has_value());
  }
  response.status = 409;
  response.headers = {{"Retry-After", "3"}};
  EXPECT_EQ(MaxComputeErrorToStatus(response, "op").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mcsink::maxcompute_client
