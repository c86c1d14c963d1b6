"""Bad input to mclocal gets the right error code and message, and the server keeps serving.
Also the Tunnel's upload rules: re-sent block ids replace, ids >= 20000 are refused, commit is
all-or-nothing and a repeated commit answers the same."""

import zlib

import pytest
import requests
from odps import ODPS, errors

from mcstream import record, rows, stream

PROJECT = "p1"
TUNNEL_HEADERS = {"x-odps-tunnel-version": "6", "Content-Type": "application/octet-stream"}

# ---- fixtures ----

@pytest.fixture
def env(mclocal):
    o = ODPS("ak", "sk", PROJECT, endpoint=mclocal.endpoint,
             tunnel_endpoint=mclocal.tunnel_endpoint)
    o.execute_sql("CREATE TABLE t(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    o.execute_sql("ALTER TABLE t ADD PARTITION (pt='x');")
    base = f"{mclocal.tunnel_endpoint}/projects/{PROJECT}/tables/t"
    return o, base


def create_upload(base, partition="pt=x"):
    r = requests.post(base, params={"uploads": "", "partition": partition}, headers=TUNNEL_HEADERS)
    assert r.status_code == 200, r.text
    return r.json()["UploadID"]


def put_block(base, upload_id, block_id, body, headers=None):
    return requests.put(base, params={"uploadid": upload_id, "blockid": str(block_id),
                                      "partition": "pt=x"},
                        data=body, headers={**TUNNEL_HEADERS, **(headers or {})})


def commit(base, upload_id):
    return requests.post(base, params={"uploadid": upload_id, "partition": "pt=x"},
                         headers=TUNNEL_HEADERS)


def tunnel_error(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers.get("x-odps-request-id")
    body = r.json()
    assert body["Code"] == code, body
    assert body["RequestId"] == r.headers["x-odps-request-id"]
    return body["Message"]


def count_rows(o):
    return sum(1 for _ in o.get_table("t").open_reader(partition="pt=x"))


# ---- tests ----

@pytest.mark.parametrize("case,body,code,words", [
    ("wrong record crc", lambda: stream([rows(1)[0], record([(1, "int", 5)], crc_delta=1)]),
     "MalformedDataStream", ["record 1", "CRC mismatch"]),
    ("wrong count", lambda: stream(rows(3), count_delta=1), "MalformedDataStream",
     ["says 4 records", "holds 3"]),
    ("wrong stream crc", lambda: stream(rows(2), stream_crc_delta=7), "MalformedDataStream",
     ["stream CRC mismatch"]),
    ("unknown column tag", lambda: stream([record([(1, "int", 1), (3, "int", 2)])]),
     "MalformedDataStream", ["3"]),
    ("wrong wire type", lambda: stream([record([(2, "int", 1)])]), "MalformedDataStream",
     ["wire type"]),
    ("truncated", lambda: stream(rows(2))[:-3], "MalformedDataStream", []),
    ("oversized cell", lambda: stream([record([(2, "bytes", b"x" * (8 * 1024 * 1024 + 1))])]),
     "DataExceedsLimit", ["8388608"]),
])
def test_bad_block_is_refused_and_server_keeps_serving(env, case, body, code, words):
    o, base = env
    upload = create_upload(base)
    # When a bad block is sent, then it is refused with the code and a message that says why
    message = tunnel_error(put_block(base, upload, 0, body()), 400, code)
    for w in words:
        assert w.lower() in message.lower(), (case, message)
    # And the session and the server keep working: a good block commits
    assert put_block(base, upload, 1, stream(rows(2))).status_code == 200
    r = commit(base, upload)
    assert r.status_code == 200, r.text
    assert [b["BlockID"] for b in r.json()["UploadedBlockList"]] == [1]
    assert count_rows(o) == 2


def test_block_ids_outside_0_to_19999_are_refused(env):
    _, base = env
    upload = create_upload(base)
    for bad in ("20000", "-1", "abc"):
        message = tunnel_error(put_block(base, upload, bad, stream(rows(1))), 400, "InvalidBlockID")
        assert "19999" in message
    assert put_block(base, upload, 19999, stream(rows(1))).status_code == 200


def test_resent_block_id_replaces_and_commit_is_all_or_nothing_and_idempotent(env):
    o, base = env
    upload = create_upload(base)
    # Given block 0 sent twice (2 rows, then 3 rows) and block 1 with 4 rows
    assert put_block(base, upload, 0, stream(rows(2))).status_code == 200
    deflated = zlib.compress(stream(rows(3, start=100)), 1)
    assert put_block(base, upload, 0, deflated, {"Content-Encoding": "deflate"}).status_code == 200
    assert put_block(base, upload, 1, stream(rows(4, start=200))).status_code == 200
    # Nothing is visible before the commit
    assert count_rows(o) == 0
    # When committed twice, then both answers are the same closed session
    first, second = commit(base, upload), commit(base, upload)
    assert first.status_code == second.status_code == 200
    assert first.json()["Status"] == "closed" and first.json() == second.json()
    # And the data is the replacing block 0 plus block 1
    values = sorted(rec["a"] for rec in o.get_table("t").open_reader(partition="pt=x"))
    assert values == [100, 101, 102, 200, 201, 202, 203]
    # And blocks cannot be added after the commit
    tunnel_error(put_block(base, upload, 2, stream(rows(1))), 400, "StatusConflict")


def test_bad_partition_specs_are_refused(env):
    _, base = env
    for spec, words in [("nokey=1", "not a partition key"), ("", "misses key"),
                        ("pt", "key=value"), ("pt=x,pt=y", "twice")]:
        r = requests.post(base, params={"uploads": "", "partition": spec}, headers=TUNNEL_HEADERS)
        assert words in tunnel_error(r, 400, "InvalidPartitionSpec")
    # A well-formed spec of a partition that does not exist
    r = requests.post(base, params={"uploads": "", "partition": "pt=nope"}, headers=TUNNEL_HEADERS)
    assert "does not exist" in tunnel_error(r, 404, "NoSuchPartition")


def test_unknown_session_and_encoding_are_refused(env):
    _, base = env
    tunnel_error(put_block(base, "no-such-upload", 0, stream(rows(1))), 404, "NoSuchUpload")
    tunnel_error(commit(base, "no-such-upload"), 404, "NoSuchUpload")
    upload = create_upload(base)
    message = tunnel_error(put_block(base, upload, 0, b"\x00" * 10, {"Content-Encoding": "zstd"}),
                           400, "UnsupportedCompression")
    assert "zstd" in message
    tunnel_error(put_block(base, upload, 0, b"not deflate", {"Content-Encoding": "deflate"}), 400,
                 "MalformedDataStream")


def test_unsupported_and_wrong_sql_fail_with_odps_codes(env):
    o, _ = env
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("INSERT INTO t PARTITION (pt='x') VALUES (1, 'a');")
    assert "ODPS-0130161" in str(e.value) and "not supported" in str(e.value)
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("SELECT * FROM no_such_table;")
    assert "ODPS-0130131" in str(e.value)
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("CREATE TABLE t(a BIGINT);")
    assert "already exists" in str(e.value)
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("ALTER TABLE t ADD PARTITION (region='hz');")
    assert "not a partition key" in str(e.value)
    with pytest.raises(errors.ODPSError) as e:
        o.execute_sql("CREATE TABLE u(a MAP<STRING,BIGINT>);")
    assert "ODPS-0130161" in str(e.value)
    # The server still serves
    assert o.exist_table("t")


def test_rest_errors_are_xml_with_request_id(mclocal):
    r = requests.get(f"{mclocal.endpoint}/projects/{PROJECT}/tables/nope")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/xml"
    assert "<Code>NoSuchTable</Code>" in r.text
    assert f"<RequestId>{r.headers['x-odps-request-id']}</RequestId>" in r.text
    # The /api prefix is optional
    r2 = requests.get(f"{mclocal.tunnel_endpoint}/projects/{PROJECT}/tables/nope")
    assert r2.status_code == 404 and "<Code>NoSuchTable</Code>" in r2.text


def test_body_over_the_limit_is_refused_before_reading_and_server_keeps_serving(start_mclocal):
    server = start_mclocal(extra_args=["--max_body_mb=1"])
    o = ODPS("ak", "sk", PROJECT, endpoint=server.endpoint,
             tunnel_endpoint=server.tunnel_endpoint)
    o.execute_sql("CREATE TABLE t(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    o.execute_sql("ALTER TABLE t ADD PARTITION (pt='x');")
    base = f"{server.tunnel_endpoint}/projects/{PROJECT}/tables/t"
    upload = create_upload(base)
    body = stream([record([(2, "bytes", b"y" * (2 * 1024 * 1024))])])
    try:
        r = put_block(base, upload, 0, body)
        message = tunnel_error(r, 413, "DataExceedsLimit")
        assert "1048576" in message
    except requests.ConnectionError:
        pass  # the server may close before the client finished sending; also a refusal
    assert put_block(base, upload, 0, stream(rows(1))).status_code == 200
    assert commit(base, upload).status_code == 200
    assert count_rows(o) == 1
