"""The official SDK (pyodps) against mclocal, in both auth modes, and round trips between pyodps
and our own codec/client (mclocal_interop_tool)."""

import base64
import datetime
import decimal
import hashlib
import hmac
import json
import os
import struct
import subprocess
import urllib.parse
import uuid

import pytest
import requests
from odps import ODPS, errors, options, utils
from odps.accounts import AliyunAccount, StsAccount

PROJECT = "connector_test"
AK_ID, AK_SECRET = "test-ak", "test-sk"
SEED_DDL = ("CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition BIGINT,offset BIGINT,"
            "key STRING,value STRING) PARTITIONED by (pt STRING);")

try:
    import pandas  # noqa: F401  (pyodps needs pandas for TIMESTAMP values)
    HAVE_PANDAS = True
except ImportError:
    HAVE_PANDAS = False

ALL_TYPES = [
    ("c_bigint", "BIGINT"), ("c_int", "INT"), ("c_smallint", "SMALLINT"),
    ("c_tinyint", "TINYINT"), ("c_boolean", "BOOLEAN"), ("c_float", "FLOAT"),
    ("c_double", "DOUBLE"), ("c_decimal", "DECIMAL(18,3)"), ("c_string", "STRING"),
    ("c_varchar", "VARCHAR(20)"), ("c_char", "CHAR(5)"), ("c_binary", "BINARY"),
    ("c_date", "DATE"), ("c_datetime", "DATETIME"), ("c_json", "JSON"),
] + ([("c_timestamp", "TIMESTAMP")] if HAVE_PANDAS else [])


def connect(server, secret=AK_SECRET, access_id=AK_ID, **kwargs):
    return ODPS(access_id, secret, PROJECT, endpoint=server.endpoint,
                tunnel_endpoint=server.tunnel_endpoint, **kwargs)


def start(start_mclocal, auth):
    return start_mclocal(auth=auth, keys={AK_ID: AK_SECRET})


def pyodps_rows():
    """Edge values of every type, and a row of NULLs."""
    def dt(*a):
        return datetime.datetime(*a)

    rows = [
        [2**63 - 1, 2**31 - 1, 2**15 - 1, 127, True, 1.5, 2.25, decimal.Decimal("1.500"),
         "héllo \"q\"\n,", "vc", "ch", bytes(range(256)), datetime.date(2020, 11, 17),
         dt(2020, 11, 17, 14, 0, 0, 123000), {"a": [1, 2], "b": "x"}],
        [-2**63, -2**31, -2**15, -128, False, -0.0, -0.0, decimal.Decimal("-99.001"), "", "",
         "", b"", datetime.date(1900, 1, 1), dt(1969, 12, 31, 23, 59, 59, 999000), [1, "two"]],
        [0, 0, 0, 0, True, float("inf"), 1e-308, decimal.Decimal("0.000"), "x" * 1000,
         "v" * 20, "abcde", b"\x00", datetime.date(9999, 12, 31), dt(2038, 1, 19, 3, 14, 8), 7],
        [None] * 15,
    ]
    if HAVE_PANDAS:
        import pandas as pd
        stamps = [pd.Timestamp("2020-11-17 14:00:00.123456789"), pd.Timestamp("1960-01-01"),
                  pd.Timestamp("2100-06-30 00:00:00.000000001"), None]
        for row, ts in zip(rows, stamps):
            row.append(ts)
    return rows


def canonical(type_name, value):
    """The interop tool's canonical text of a pyodps value (see interop_tool.cc)."""
    if value is None:
        return None
    t = type_name.upper()
    if t in ("BIGINT", "INT", "SMALLINT", "TINYINT"):
        return str(value)
    if t == "BOOLEAN":
        return "true" if value else "false"
    if t == "DOUBLE":
        return "%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    if t == "FLOAT":
        return "%08x" % struct.unpack("<I", struct.pack("<f", value))[0]
    if t.startswith("DECIMAL"):
        return str(value)
    if t == "JSON":
        return ("json", value)  # compared as parsed JSON: pyodps chooses the text
    if t in ("STRING",) or t.startswith("VARCHAR") or t.startswith("CHAR") or t == "BINARY":
        return (value if isinstance(value, bytes) else value.encode("utf-8")).hex()
    if t == "DATE":
        return str((value - datetime.date(1970, 1, 1)).days)
    if t == "DATETIME":
        return str(utils.to_milliseconds(value))
    if t == "TIMESTAMP":
        ns = value.value
        return f"{ns // 10**9}:{ns % 10**9}"
    raise AssertionError(f"no canonical form for {type_name}")


def same(expected_canon, tool_value):
    if isinstance(expected_canon, tuple) and expected_canon[0] == "json":
        return tool_value is not None and json.loads(bytes.fromhex(tool_value)) == expected_canon[1]
    return expected_canon == tool_value


def tool(server, *args, secret=AK_SECRET):
    path = os.environ["MCLOCAL_INTEROP_TOOL"]
    cmd = [path, *args, f"--endpoint={server.tunnel_endpoint}", f"--project={PROJECT}",
           f"--access_id={AK_ID}", f"--access_key={secret}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def create_all_types_table(o, name):
    cols = ", ".join(f"{n} {t}" for n, t in ALL_TYPES)
    o.execute_sql(f"CREATE TABLE {name}({cols}) PARTITIONED BY (pt STRING);")
    return o.get_table(name)


@pytest.mark.parametrize("auth", ["permissive", "strict"])
def test_seed_partition_with_a_space_round_trips(start_mclocal, auth):
    # pyodps sends the space as '+' and signs it as a space: strict mode must agree
    server = start(start_mclocal, auth)
    o = connect(server)
    o.execute_sql(SEED_DDL)
    t = o.get_table("test_kafka")
    with t.open_writer(partition="pt=11-17-2020 14", create_partition=True) as w:
        w.write([["maxcompute-test-input", 0, 0, "1", "1"]])
    assert t.exist_partition("pt=11-17-2020 14")
    with t.open_reader(partition="pt=11-17-2020 14") as r:
        assert [rec.values for rec in r] == [["maxcompute-test-input", 0, 0, "1", "1",
                                              "11-17-2020 14"]]


@pytest.mark.parametrize("auth", ["permissive", "strict"])
def test_seed_table_is_created_with_execute_sql(start_mclocal, auth):
    # Given mclocal, when pyodps runs the seed's DDL twice (IF NOT EXISTS)
    server = start(start_mclocal, auth)
    o = connect(server)
    o.execute_sql(SEED_DDL)
    o.execute_sql(SEED_DDL)
    # Then the table has the seed's columns and partition key
    t = o.get_table("test_kafka")
    assert [(c.name, str(c.type).lower()) for c in t.table_schema.simple_columns] == [
        ("topic", "string"), ("partition", "bigint"), ("offset", "bigint"),
        ("key", "string"), ("value", "string")]
    assert [(c.name, str(c.type).lower()) for c in t.table_schema.partitions] == [("pt", "string")]
    assert o.exist_table("test_kafka")
    assert not o.exist_table("no_such_table")


@pytest.mark.parametrize("auth", ["permissive", "strict"])
def test_pyodps_upload_is_downloaded_identical_by_our_client(start_mclocal, auth):
    # Given rows of every supported type written by pyodps
    server = start(start_mclocal, auth)
    o = connect(server)
    t = create_all_types_table(o, "all_types")
    rows = pyodps_rows()
    with t.open_writer(partition="pt=p1", create_partition=True) as w:
        w.write(rows)
    # When our client downloads them (plain and deflate)
    for extra in ([], ["--deflate"]):
        result = tool(server, "download", "--table=all_types", "--partition=pt=p1", *extra)
        assert result.returncode == 0, result.stderr
        got = [json.loads(line) for line in result.stdout.splitlines()]
        # Then every value is identical
        assert len(got) == len(rows)
        for row, tool_row in zip(rows, got):
            for (name, typ), value, tool_value in zip(ALL_TYPES, row, tool_row):
                assert same(canonical(typ, value), tool_value), (name, value, tool_value)


@pytest.mark.parametrize("auth", ["permissive", "strict"])
def test_our_upload_is_downloaded_identical_by_pyodps(start_mclocal, auth, tmp_path):
    # Given rows of every supported type uploaded by our client in several blocks
    server = start(start_mclocal, auth)
    o = connect(server)
    t = create_all_types_table(o, "all_types")
    o.execute_sql("ALTER TABLE all_types ADD PARTITION (pt='p2');")
    expected = pyodps_rows()
    lines = []
    for row in expected:
        canon = [canonical(typ, v) for (_, typ), v in zip(ALL_TYPES, row)]
        canon = [json.dumps(c[1]).encode().hex() if isinstance(c, tuple) else c for c in canon]
        lines.append(json.dumps(canon))
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text("\n".join(lines * 3) + "\n")
    result = tool(server, "upload", "--table=all_types", "--partition=pt=p2", f"--rows={rows_file}",
                  "--block_rows=5", "--deflate")
    assert result.returncode == 0, result.stderr
    # When pyodps downloads them
    with t.open_reader(partition="pt=p2") as r:
        got = [rec.values for rec in r]
    # Then every value is identical (partition value appended by pyodps)
    assert len(got) == 3 * len(expected)
    for i, rec in enumerate(got):
        want = expected[i % len(expected)]
        assert rec[-1] == "p2"
        for (name, typ), w, g in zip(ALL_TYPES, want, rec[:-1]):
            if typ == "JSON":
                assert g == w, name
            else:
                assert canonical(typ, g) == canonical(typ, w), (name, w, g)


def test_partitions_are_listed(mclocal):
    # Given partitions made by DDL and by an upload with create_partition
    o = connect(mclocal)
    o.execute_sql(SEED_DDL)
    o.execute_sql("ALTER TABLE test_kafka ADD IF NOT EXISTS PARTITION (pt='11-17-2020 15');")
    o.execute_sql("ALTER TABLE test_kafka ADD IF NOT EXISTS PARTITION (pt='11-17-2020 15');")
    t = o.get_table("test_kafka")
    t.create_partition("pt=11-17-2020 16", if_not_exists=True)
    with t.open_writer(partition="pt=20260101", create_partition=True) as w:
        w.write([["maxcompute-test-input", 0, 0, "1", "1"]])
    # Then pyodps lists exactly them, and checks existence per partition
    names = sorted(str(p.partition_spec) for p in t.partitions)
    assert names == ["pt='11-17-2020 15'", "pt='11-17-2020 16'", "pt='20260101'"]
    assert t.exist_partition("pt=20260101")
    assert not t.exist_partition("pt=19990101")
    # And an existing partition cannot be added again without IF NOT EXISTS
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("ALTER TABLE test_kafka ADD PARTITION (pt='20260101');")
    assert "already exists" in str(e.value)


def test_wrong_secret_is_refused_in_strict_mode(start_mclocal):
    server = start(start_mclocal, "strict")
    # Given a correct client, the server works
    connect(server).execute_sql(SEED_DDL)
    # When pyodps signs with a wrong secret, then the request is refused
    with pytest.raises(errors.ODPSError) as e:
        connect(server, secret="wrong-secret").get_table("test_kafka").reload()
    assert "SignatureNotMatch" in repr(e.value) or "signature" in str(e.value).lower()
    # And an unknown access key id is refused too
    with pytest.raises(errors.ODPSError):
        connect(server, access_id="nobody").execute_sql(SEED_DDL)
    # And our tunnel client with a wrong secret is refused with the Tunnel's JSON error
    result = tool(server, "download", "--table=test_kafka", "--partition=pt=x", secret="bad")
    assert result.returncode != 0 and "SignatureNotMatch" in result.stderr
    # And a request without a signature
    r = requests.get(f"{server.endpoint}/projects/{PROJECT}/tables/test_kafka")
    assert r.status_code == 401 and "x-odps-request-id" in r.headers
    # While the permissive server accepts the same wrong secret
    permissive = start(start_mclocal, "permissive")
    connect(permissive, secret="wrong-secret").execute_sql(SEED_DDL)


def test_v4_signatures_are_verified_in_strict_mode(start_mclocal):
    server = start(start_mclocal, "strict")
    sent = []

    class RecordingAccount(AliyunAccount):
        def sign_request(self, req, endpoint, region_name=None):
            super().sign_request(req, endpoint, region_name=region_name)
            sent.append(req.headers["Authorization"])

    def v4(secret):
        return ODPS(account=RecordingAccount(AK_ID, secret), project=PROJECT,
                    endpoint=server.endpoint, tunnel_endpoint=server.tunnel_endpoint,
                    region_name="cn-hangzhou")

    # Given pyodps signing V4 (it does when it knows the region), requests succeed
    v4(AK_SECRET).execute_sql(SEED_DDL)
    assert v4(AK_SECRET).exist_table("test_kafka")
    assert sent and all("/cn-hangzhou/odps/aliyun_v4_request:" in a for a in sent)
    # And a V4 signature made with a wrong secret is refused
    with pytest.raises(errors.ODPSError) as e:
        v4("wrong").get_table("test_kafka").reload()
    assert "SignatureNotMatch" in repr(e.value)


def _pop_sign(params, secret, method="POST"):
    def enc(s):
        return urllib.parse.quote(str(s), safe="-_.~")
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{enc('/')}&{enc(query)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_sts_assume_role_credentials_work_in_strict_mode(start_mclocal):
    server = start(start_mclocal, "strict")
    # Given STS credentials from mclocal's AssumeRole, signed with the RAM user's key
    params = {
        "Action": "AssumeRole", "Format": "JSON", "Version": "2015-04-01",
        "AccessKeyId": AK_ID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex, "Timestamp": datetime.datetime.utcnow().strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": "acs:ram::1234567890:role/aliyunkafkamaxcomputeuser1",
        "RoleSessionName": "kafka-session", "DurationSeconds": "3600",
    }
    params["Signature"] = _pop_sign(params, AK_SECRET)
    r = requests.post(server.tunnel_endpoint + "/", data=params)
    assert r.status_code == 200, r.text
    creds = r.json()["Credentials"]
    # When pyodps uses them (StsAccount sends authorization-sts-token), then requests succeed
    account = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    o = ODPS(account=account, project=PROJECT, endpoint=server.endpoint,
             tunnel_endpoint=server.tunnel_endpoint)
    o.execute_sql(SEED_DDL)
    assert o.exist_table("test_kafka")
    # And a wrong token is refused
    bad = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], "not-the-token")
    with pytest.raises(errors.ODPSError):
        ODPS(account=bad, project=PROJECT, endpoint=server.endpoint).get_table(
            "test_kafka").reload()
    # And AssumeRole signed with a wrong secret is refused
    params["Signature"] = _pop_sign({k: v for k, v in params.items() if k != "Signature"}, "bad")
    r = requests.post(server.tunnel_endpoint + "/", data=params)
    assert r.status_code == 400 and r.json()["Code"] == "SignatureDoesNotMatch"


def run_sql_cli(server, statement):
    result = subprocess.run(
        [os.environ["MCLOCAL_SQL_BIN"], f"--endpoint={server.endpoint}", f"--project={PROJECT}",
         statement], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_console_output_matches_the_seed_walkthrough(mclocal):
    # Given the seed's table, with the partition the seed lists
    o = connect(mclocal)
    assert run_sql_cli(mclocal, SEED_DDL) == "OK\n"
    o.execute_sql("ALTER TABLE test_kafka ADD PARTITION (pt='11-17-2020 15');")
    # When the console runs `show partitions`, then it prints what the seed shows
    assert run_sql_cli(mclocal, "show partitions test_kafka;") == "pt=11-17-2020 15\n\nOK\n"
    # Given the seed's message in partition "11-17-2020 14"
    t = o.get_table("test_kafka")
    with t.open_writer(partition="pt=11-17-2020 14", create_partition=True) as w:
        w.write([["maxcompute-test-input", 0, 0, "1", "1"]])
    # When the console runs the seed's select, then it prints the seed's table
    out = run_sql_cli(mclocal, 'select * from test_kafka where pt ="11-17-2020 14";')
    assert out == (
        "+----------------------+------------+------------+-----+-------+---------------+\n"
        "| topic                | partition  | offset     | key | value | pt            |\n"
        "+----------------------+------------+------------+-----+-------+---------------+\n"
        "| maxcompute-test-input| 0          | 0          | 1   | 1     | 11-17-2020 14 |\n"
        "+----------------------+------------+------------+-----+-------+---------------+\n")
    # And count, column lists and limits work
    assert "| 1          |" in run_sql_cli(mclocal, "SELECT COUNT(*) FROM test_kafka;")
    out = run_sql_cli(mclocal, "select topic, key from test_kafka where pt='11-17-2020 14' limit 1;")
    assert "| maxcompute-test-input| 1   |" in out
    assert run_sql_cli(mclocal, "select count(*) from test_kafka where pt='nope';").count("| 0 ") == 1


def test_pyodps_stream_upload_is_visible_per_flush_and_partial_reads_work(mclocal):
    from odps.tunnel import TableTunnel
    o = connect(mclocal)
    o.execute_sql("CREATE TABLE s(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    t = o.get_table("s")
    # Given a stream session that creates its partition
    tunnel = TableTunnel(o, endpoint=mclocal.tunnel_endpoint)
    session = tunnel.create_stream_upload_session(t, partition_spec="pt=s1",
                                                  create_partition=True)
    writer = session.open_record_writer()
    for i in range(10):
        writer.write(session.new_record([i, f"x{i}"]))
    # When a writer closes (which sends its pack), then its rows are visible without a commit
    writer.close()
    with t.open_reader(partition="pt=s1") as r:
        assert sorted(rec["a"] for rec in r) == list(range(10))
    writer = session.open_record_writer()
    for i in range(10, 15):
        writer.write(session.new_record([i, f"x{i}"]))
    writer.close()
    # And reads of a row range and of chosen columns return exactly those
    # (reopen: pyodps otherwise reuses its earlier download session, a snapshot of 10 rows)
    with t.open_reader(partition="pt=s1", reopen=True) as r:
        assert r.count == 15
    with t.open_reader(partition="pt=s1", columns=["b"]) as r:
        assert [rec.values for rec in r.read(2, 3)] == [["x2"], ["x3"], ["x4"]]


def test_faults_from_flags_and_admin_endpoint(start_mclocal):
    from mcstream import rows, stream
    server = start_mclocal(extra_args=["--fault=put_block:fail:503@1,read:delay:300"])
    o = connect(server)
    o.execute_sql("CREATE TABLE f(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    o.execute_sql("ALTER TABLE f ADD PARTITION (pt='x');")
    base = f"{server.tunnel_endpoint}/projects/{PROJECT}/tables/f"
    hdr = {"x-odps-tunnel-version": "6"}
    upload = requests.post(base, params={"uploads": "", "partition": "pt=x"},
                           headers=hdr).json()["UploadID"]
    params = {"uploadid": upload, "blockid": "0", "partition": "pt=x"}
    # The first block PUT fails with the injected 503, the next one succeeds
    r = requests.put(base, params=params, data=stream(rows(2)), headers=hdr)
    assert r.status_code == 503 and r.json()["Code"] == "ServiceUnavailable"
    assert requests.put(base, params=params, data=stream(rows(2)), headers=hdr).status_code == 200
    # An expired session refuses further work
    assert requests.post(f"{server.tunnel_endpoint}/admin/faults",
                         data=f"expire:{upload}").status_code == 200
    r = requests.post(base, params={"uploadid": upload, "partition": "pt=x"}, headers=hdr)
    assert r.status_code == 400 and "expired" in r.json()["Message"]
    # A dropped connection surfaces as a connection error
    requests.post(f"{server.tunnel_endpoint}/admin/faults", data="rest:drop@1")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.endpoint}/projects/{PROJECT}")
    assert requests.get(f"{server.endpoint}/projects/{PROJECT}").status_code == 200
    requests.delete(f"{server.tunnel_endpoint}/admin/faults")
    # Prometheus metrics count the requests, the injected failure included
    metrics = requests.get(f"{server.tunnel_endpoint}/metrics").text
    assert 'mclocal_requests_total{kind="put_block",status="503"} 1' in metrics
    assert 'mclocal_requests_total{kind="put_block",status="200"} 1' in metrics


def test_metrics_address_serves_prometheus_text(start_mclocal, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_mclocal(extra_args=[f"--metrics_address=127.0.0.1:{port}"])
    connect(server).execute_sql(SEED_DDL)
    text = requests.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'mclocal_requests_total{kind="sql",status="201"} 1' in text
    assert "process_cpu_seconds_total" in text


def test_pyodps_reads_sql_results(mclocal):
    o = connect(mclocal)
    o.execute_sql("CREATE TABLE r(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    with o.get_table("r").open_writer(partition="pt=1", create_partition=True) as w:
        w.write([[1, 'a,"b"\nc'], [2, None]])
    # pyodps tries the instance tunnel, is refused, and reads the result text instead
    with o.execute_sql("select count(*) from r where pt='1';").open_reader() as r:
        assert [rec.values for rec in r] == [["2"]]
    with o.execute_sql("select a, b from r;").open_reader() as r:
        assert sorted(rec.values for rec in r) == [["1", 'a,"b"\nc'], ["2", None]]
    with o.execute_sql("show partitions r;").open_reader() as r:
        assert r.raw == "pt=1\n"
