"""kill -9 mclocal during block uploads and during commits, restart it on the same data directory,
and check that nothing committed is lost and nothing uncommitted (or half committed) is visible."""

import collections
import os
import random
import threading
import time

import requests
from odps import ODPS

from mcstream import record, stream

PROJECT = "p1"
TUNNEL_HEADERS = {"x-odps-tunnel-version": "6", "Content-Type": "application/octet-stream"}
BLOCKS, ROWS_PER_BLOCK = 3, 40


def session_rows(session, block):
    return [record([(1, "int", session * 100000 + block * 1000 + i),
                    (2, "bytes", b"session-%d" % session)]) for i in range(ROWS_PER_BLOCK)]


class Writer:
    def __init__(self, server):
        self.server = server
        self.base = None

    def url(self):
        return f"{self.server.tunnel_endpoint}/projects/{PROJECT}/tables/t"

    def run_session(self, session, timeout=5):
        """Uploads one session; returns True once the commit was acknowledged."""
        params = {"partition": "pt=x"}
        r = requests.post(self.url(), params={**params, "uploads": ""}, headers=TUNNEL_HEADERS,
                          timeout=timeout)
        r.raise_for_status()
        upload = r.json()["UploadID"]
        for block in range(BLOCKS):
            r = requests.put(self.url(), params={**params, "uploadid": upload,
                                                 "blockid": str(block)},
                             data=stream(session_rows(session, block)), headers=TUNNEL_HEADERS,
                             timeout=timeout)
            r.raise_for_status()
        r = requests.post(self.url(), params={**params, "uploadid": upload},
                          headers=TUNNEL_HEADERS, timeout=timeout)
        r.raise_for_status()
        assert r.json()["Status"] == "closed"
        return True


def rows_by_session(server):
    o = ODPS("ak", "sk", PROJECT, endpoint=server.endpoint, tunnel_endpoint=server.tunnel_endpoint)
    counts = collections.Counter()
    with o.get_table("t").open_reader(partition="pt=x") as reader:
        for rec in reader:
            assert rec["b"] == "session-%d" % (rec["a"] // 100000)
            counts[rec["a"] // 100000] += 1
    return counts


def setup_table(server):
    o = ODPS("ak", "sk", PROJECT, endpoint=server.endpoint, tunnel_endpoint=server.tunnel_endpoint)
    o.execute_sql("CREATE TABLE t(a BIGINT, b STRING) PARTITIONED BY (pt STRING);")
    o.execute_sql("ALTER TABLE t ADD PARTITION (pt='x');")


def partition_files(server):
    parts = server.data_dir / "projects" / PROJECT / "tables" / "t" / "parts"
    return sorted(p.name for d in parts.iterdir() for p in d.iterdir())


def set_fault(server, rule):
    r = requests.post(f"{server.tunnel_endpoint}/admin/faults", data=rule)
    assert r.status_code == 200, r.text


def test_crash_at_each_point_of_upload_and_commit(mclocal):
    server = mclocal
    setup_table(server)
    writer = Writer(server)
    # Given one committed session
    assert writer.run_session(1)
    cases = [
        # (fault rule, session committed after restart?)
        ("put_block:crash@2", False),             # during block uploads
        ("commit:crash:before", False),           # commit request received, nothing done
        ("commit.blocks_moved:crash", False),     # blocks moved, manifest not yet replaced
        ("commit.manifest_written:crash", True),  # the commit point passed
        ("commit:crash:after", True),             # committed, answer never sent
    ]
    expected = {1: BLOCKS * ROWS_PER_BLOCK}
    for i, (rule, committed) in enumerate(cases):
        session = 10 + i
        set_fault(server, rule)
        # When the server dies (exit as kill -9 would) at that point
        try:
            writer.run_session(session)
            raise AssertionError(f"{rule}: the session should not have been acknowledged")
        except requests.RequestException:
            pass
        server.wait_exit()
        server.start()
        # Then after restart the data is exactly the committed sessions, each complete
        if committed:
            expected[session] = BLOCKS * ROWS_PER_BLOCK
        assert dict(rows_by_session(server)) == expected, rule
        # And recovery removed every file the manifest does not list
        files = partition_files(server)
        assert all(f == "MANIFEST" or f.endswith(".rec") for f in files), files
        assert len(files) == 1 + BLOCKS * len(expected), (rule, files)
        assert not (server.data_dir / "staging").exists() or not any(
            (server.data_dir / "staging").iterdir())


def test_random_kill9_during_uploads_and_commits_loses_nothing_committed(mclocal):
    server = mclocal
    setup_table(server)
    writer = Writer(server)
    acknowledged = set()
    stop = threading.Event()
    up = threading.Event()
    up.set()

    def write_loop():
        session = 100
        while not stop.is_set():
            session += 1
            up.wait()
            try:
                if writer.run_session(session, timeout=2):
                    acknowledged.add(session)
            except (requests.RequestException, ValueError, AssertionError):
                time.sleep(0.01)

    thread = threading.Thread(target=write_loop)
    thread.start()
    rng = random.Random(int(os.environ.get("MCLOCAL_FAULT_SEED", "7")))
    try:
        for _ in range(12):
            # Given uploads and commits in flight, when mclocal is killed with SIGKILL
            time.sleep(rng.uniform(0.05, 0.5))
            up.clear()
            server.kill9()
            server.start()
            up.set()
    finally:
        time.sleep(0.3)
        stop.set()
        thread.join()
    # Then every acknowledged session is there in full, and no session is there in part
    counts = rows_by_session(server)
    print(f"{len(acknowledged)} sessions acknowledged, {len(counts)} visible after 12 kills")
    assert acknowledged, "the writer never got a commit through; the test proved nothing"
    for session in acknowledged:
        assert counts.get(session) == BLOCKS * ROWS_PER_BLOCK, session
    for session, n in counts.items():
        assert n == BLOCKS * ROWS_PER_BLOCK, f"session {session} is half committed: {n} rows"
