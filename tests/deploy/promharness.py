"""A test harness for mcsink's Prometheus integration: starts mcsink services on free ports and
a real Prometheus (Debian's package) scraping them with a generated config and a temporary
storage directory, and reads series back through Prometheus' HTTP API."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

METRICS_PORT = re.compile(r"metrics on port (\d+)")
# "<name> serving on port N, metrics on port M" (ingest: "health on port N, ...").
GRPC_PORT = re.compile(r"on port (\d+), metrics on port \d+")


class Failure(Exception):
    pass


class Service:
    """A service process started with --metrics_address on port 0; its metrics port is read
    from its log ("... metrics on port N")."""

    def __init__(self, argv, timeout=30):
        self.argv = argv
        self.log = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        found = threading.Event()
        self.metrics_port = None
        self.grpc_port = None

        def drain():
            for line in self.proc.stderr:
                self.log.append(line)
                m = METRICS_PORT.search(line)
                if m and self.metrics_port is None:
                    g = GRPC_PORT.search(line)
                    self.grpc_port = int(g.group(1)) if g else None
                    self.metrics_port = int(m.group(1))
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(timeout) or self.metrics_port is None:
            self.stop()
            raise Failure(f"{argv[0]} did not report its metrics port within {timeout} s; "
                          f"log:\n{''.join(self.log)}")

    @property
    def metrics_url(self):
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def free_port():
    # Prometheus cannot report a port it picked: take one from the kernel and hand it over.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_until(what, predicate, timeout, interval=0.25):
    """Polls predicate() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, Failure) as e:
            last_error = e
        time.sleep(interval)
    raise Failure(f"timed out after {timeout} s waiting for {what}"
                  + (f" (last error: {last_error})" if last_error else ""))


class Prometheus:
    """A Prometheus server scraping `targets` ({job: ["host:port", ...]}) every second."""

    def __init__(self, binary, targets, rule_files=(), timeout=60):
        self.dir = tempfile.mkdtemp(prefix="mcsink-prometheus-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [os.path.abspath(f) for f in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(addrs),
                                                      "labels": {"namespace": "e2e"}}]}
                for job, addrs in targets.items()
            ],
        }
        config_path = os.path.join(self.dir, "prometheus.yml")
        with open(config_path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config_path}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        try:
            wait_until("Prometheus to be ready", self._ready, timeout)
        except Failure:
            self.stop()
            raise

    def _ready(self):
        if self.proc.poll() is not None:
            raise Failure(f"prometheus exited with {self.proc.returncode}: {self.log()}")
        return http_get(self.url + "/-/ready", timeout=1) is not None

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def api(self, path, **params):
        body = json.loads(http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"))
        if body.get("status") != "success":
            raise Failure(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr):
        """The instant vector of expr: [(labels, value), ...]."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise Failure(f"{expr} gave a {data['resultType']}, not a vector")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def wait_for(self, expr, timeout=30):
        """The first non-empty result of expr (e.g. `up{job="x"} == 1`)."""
        return wait_until(f"a result for {expr}", lambda: self.query(expr), timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def kafka_bootstrap():
    """The bootstrap address of the CTest fixture "kafka" (MCSINK_KAFKA_BOOTSTRAP_FILE)."""
    path = os.environ.get("MCSINK_KAFKA_BOOTSTRAP_FILE")
    if not path or not os.path.exists(path):
        raise Failure(f"a Kafka broker is needed: MCSINK_KAFKA_BOOTSTRAP_FILE ({path}) names no "
                      "file (run through ctest, which starts the kafka fixture)")
    return open(path).read().strip()


class Pipeline:
    """mclocal with a table, and writer <- transform <- ingest for one connector reading `topic`
    from Kafka, each service on free ports. binaries: {"mclocal", "mclocal-sql", "ingest",
    "transform", "writer"} -> path."""

    def __init__(self, binaries, bootstrap, topic, connector="e2e", writer_args=()):
        self.dir = tempfile.mkdtemp(prefix="mcsink-pipeline-")
        self.services = {}
        try:
            self._start(binaries, bootstrap, topic, connector, list(writer_args))
        except BaseException:
            self.stop()
            raise

    def _start(self, binaries, bootstrap, topic, connector, writer_args):
        port_file = os.path.join(self.dir, "port")
        self.services["mclocal"] = Service([
            binaries["mclocal"], "--address=127.0.0.1:0", f"--port_file={port_file}",
            f"--data_dir={self.dir}/data", "--metrics_address=127.0.0.1:0"])
        port = wait_until("mclocal's port file",
                          lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                          10)
        endpoint = f"http://127.0.0.1:{port}/api"
        subprocess.run([binaries["mclocal-sql"], f"--endpoint={endpoint}", "--project=e2e",
                        "-e", "CREATE TABLE orders (value STRING) PARTITIONED BY (pt STRING)"],
                       check=True, capture_output=True)
        config = {
            "name": connector, "sourceTopic": topic,
            "kafkaProperties": {"bootstrap.servers": bootstrap},
            "target": {"endpoint": endpoint, "project": "e2e", "table": "orders",
                       "region": "local", "accessKeyId": {"env": "MCSINK_E2E_KEY_ID"},
                       "accessKeySecret": {"env": "MCSINK_E2E_KEY_SECRET"}},
            "mode": "MODE_VALUE", "format": "FORMAT_TEXT",
        }
        self.config_path = os.path.join(self.dir, "connector.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        # mclocal runs with --auth=permissive: any key will do.
        os.environ.update(MCSINK_E2E_KEY_ID="mclocal", MCSINK_E2E_KEY_SECRET="mclocal")
        common = [f"--connector_config={self.config_path}", "--grpc_address=127.0.0.1:0",
                  "--metrics_address=127.0.0.1:0"]
        self.services["writer"] = Service([binaries["writer"], *common, *writer_args])
        self.services["transform"] = Service([
            binaries["transform"], *common,
            f"--writer_address=127.0.0.1:{self.services['writer'].grpc_port}"])
        self.services["ingest"] = Service([
            binaries["ingest"], *common,
            f"--transform_address=127.0.0.1:{self.services['transform'].grpc_port}"])

    def targets(self):
        """Prometheus scrape targets, by the job names of deploy/prometheus (mcsink-<service>)."""
        return {(name if name == "mclocal" else f"mcsink-{name}"):
                [f"127.0.0.1:{s.metrics_port}"] for name, s in self.services.items()}

    def stop(self):
        # Upstream first, so each service drains into a running downstream.
        for name in ("ingest", "transform", "writer", "mclocal"):
            if name in self.services:
                self.services[name].stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def create_topic(repo, bootstrap, topic, partitions):
    """Creates a topic with Kafka's own tool from the broker jars deploy/setup.sh fetches."""
    libs = os.path.join(repo, ".deps", "kafka", "libs")
    result = subprocess.run(
        ["java", "-cp", os.path.join(libs, "*"), "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", bootstrap, "--create", "--if-not-exists", "--topic", topic,
         "--partitions", str(partitions), "--replication-factor", "1"],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise Failure(f"cannot create topic {topic}: {result.stderr[-2000:]}")


def produce(bootstrap, topic, records):
    """Produces records (keyed, so they spread over the partitions) with kcat."""
    data = "".join(f"k{i}\t{value}\n" for i, value in enumerate(records))
    subprocess.run(["kcat", "-b", bootstrap, "-t", topic, "-P", "-K", "\t"], input=data,
                   text=True, check=True, capture_output=True)
