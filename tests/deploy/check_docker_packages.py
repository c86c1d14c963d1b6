#!/usr/bin/env python3
"""Checks deploy/docker/Dockerfile without a Docker engine:
- the build stage installs the library packages deploy/setup.sh installs (test-only tools
  aside), so the image builds with what the project is developed with;
- every package any stage installs exists in Debian 12 (apt-cache policy has a candidate);
- it lists the service binaries the image stages copy that no CMake target installs yet.

Usage: check_docker_packages.py REPO
"""
import os
import re
import subprocess
import sys

# In deploy/setup.sh for development and tests only, not needed to build the services.
TEST_ONLY = {"git", "curl", "python3", "python3-venv", "clang-format", "clang-14",
             "libclang-rt-14-dev", "tzdata", "libgtest-dev", "libgmock-dev", "libbenchmark-dev",
             "kcat", "openjdk-17-jre-headless", "maven", "prometheus", "python3-yaml"}


def dockerfile_stages(path):
    """{stage name: [packages installed with apt-get install]}."""
    text = open(path).read().replace("\\\n", " ")
    stages, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(1) or f"stage{len(stages)}"
            stages[current] = []
            continue
        if line.upper().startswith("RUN "):
            for command in line[4:].split("&&"):
                words = command.split()
                if "apt-get" in words and "install" in words:
                    after = words[words.index("install") + 1:]
                    stages[current] += [w for w in after if not w.startswith("-")]
    return stages


def setup_packages(path):
    m = re.search(r"^packages=\((.*?)^\)", open(path).read(), re.S | re.M)
    if not m:
        raise SystemExit(f"{path}: no packages=( ... ) list found: update this check")
    return set(re.sub(r"#.*", "", m.group(1)).split())


def apt_candidates(packages):
    out = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True,
                         check=True).stdout
    candidates, name = {}, None
    for line in out.splitlines():
        if not line.startswith(" "):
            name = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            candidates[name] = line.split(":", 1)[1].strip()
    return candidates


def main():
    repo = sys.argv[1]
    dockerfile = os.path.join(repo, "deploy", "docker", "Dockerfile")
    errors = []
    stages = dockerfile_stages(dockerfile)
    build = set(stages.get("build", []))
    if not build or not stages.get("runtime"):
        errors.append(f"{dockerfile}: no apt-get install in stage build or runtime")
    wanted = setup_packages(os.path.join(repo, "deploy", "setup.sh")) - TEST_ONLY
    for p in sorted(wanted - build):
        errors.append(f"deploy/setup.sh installs {p} but the Dockerfile's build stage does not")

    every = sorted({p for packages in stages.values() for p in packages})
    candidates = apt_candidates(every)
    for p in every:
        if candidates.get(p) in (None, "(none)"):
            errors.append(f"Dockerfile installs {p}, which apt-cache does not know in this "
                          "Debian (run apt-get update if the lists are empty)")

    installed = set()
    for d, _, _ in os.walk(os.path.join(repo, "services")):
        cm = os.path.join(d, "CMakeLists.txt")
        if os.path.exists(cm):
            for m in re.finditer(r"install\(TARGETS\s+([^)]*?)\s+RUNTIME", open(cm).read()):
                installed.update(m.group(1).split())
    copied = re.findall(r"COPY --from=build /out/bin/(\S+(?:\s+/out/bin/\S+)*)",
                        open(dockerfile).read())
    binaries = {b.split("/")[-1] for c in copied for b in c.split()}
    missing = sorted(binaries - installed)
    for e in errors:
        print("error:", e, file=sys.stderr)
    print(f"{len(every)} packages exist in Debian; build stage matches deploy/setup.sh")
    if missing:
        print(f"note: no CMake target installs {', '.join(missing)} yet: those image targets "
              "cannot be built until they exist")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
