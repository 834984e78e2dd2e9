#!/usr/bin/python3
"""tests/run on a new machine: a clean container of the base image.

The image deploy/base-image makes (Debian bookworm, nothing installed
beyond its minimal base) runs `tests/run --install-only` as root: the
install step, every Debian package of its `packages=(...)` list. A
container of the result gets a copy of the source tree and runs `tests/run`
in it: the build of both passes (gcc, then clang with ASan/UBSan) and a few
quick tests of each. A package missing from the list fails here, not on a
user's machine (as libclang-rt-14-dev once did: clang without it cannot
link a sanitizer build).

The install step is a `docker build` layer whose only input is tests/run
itself (and the base image): it is made again from the bare base whenever
tests/run changes, and reused (tagged chat-cluster-deps:fresh-machine)
while it does not, since the same script on the same base installs the
same packages. CHAT_FRESH_NO_CACHE=1 makes it again regardless.

The tree copied in is what git would commit (tracked files and untracked
ones that .gitignore does not exclude), or the whole tree less build
directories when it is not a git work tree. The container is removed at the
end, pass or fail, and also when this process is killed (a reaper in its
own session waits for it).

Exit 77 (skipped) when CHAT_SKIP_DOCKER=1 or no Docker engine answers.
Environment: CHAT_SOURCE_DIR (the repository; default: two levels up),
CHAT_FRESH_TESTS (the -R filter run in the container; default below),
CHAT_FRESH_BUDGET_S (seconds before the run is stopped; default 900).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
SOURCE = os.path.abspath(
    os.environ.get("CHAT_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", ".."))
# Quick tests that between them need the programs, the test support, python3
# with websockets, deploy/cluster (procps, curl) and the sanitizer runtimes.
QUICK = os.environ.get("CHAT_FRESH_TESTS",
                       "^(unit_common_wire|unit_roomd_store|integration_chatctl|"
                       "integration_ui_protocol)$")
BUDGET = float(os.environ.get("CHAT_FRESH_BUDGET_S", "900"))
DEPS = "chat-cluster-deps:fresh-machine"
STARTED = time.monotonic()


def log(text):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


def source_files():
    """Relative paths of the files a fresh clone would have (and new ones)."""
    if os.path.isdir(os.path.join(SOURCE, ".git")) or os.path.isfile(os.path.join(SOURCE, ".git")):
        out = subprocess.run(["git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p and os.path.lexists(os.path.join(SOURCE, p))]
    files = []
    for root, dirs, names in os.walk(SOURCE):
        rel = os.path.relpath(root, SOURCE)
        dirs[:] = [d for d in dirs if not (rel == "." and (d.startswith("build") or d in (".cluster", ".git")))]
        files += [os.path.normpath(os.path.join(rel, n)) for n in names]
    return files


def main():
    if os.environ.get("CHAT_SKIP_DOCKER") == "1":
        print("skipped: CHAT_SKIP_DOCKER=1")
        return SKIP
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
            print("skipped: no Docker engine answers (docker info failed)")
            return SKIP
    except (OSError, subprocess.TimeoutExpired):
        print("skipped: no docker command or engine")
        return SKIP

    base = subprocess.run([os.path.join(SOURCE, "deploy", "base-image")], capture_output=True,
                          text=True, timeout=900)
    if base.returncode != 0:
        print(f"FAILED: deploy/base-image exited {base.returncode}:\n{base.stderr[-3000:]}")
        return 1
    image = base.stdout.strip()
    log(f"base image: {image}")

    # The install step, as a cached image layer (see above).
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chat-fresh-") as context:
        os.makedirs(os.path.join(context, "tests"))
        shutil.copy2(os.path.join(SOURCE, "tests", "run"), os.path.join(context, "tests", "run"))
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(f"FROM {image}\n"
                    "COPY tests/run /tmp/chat-install/tests/run\n"
                    "RUN /tmp/chat-install/tests/run --install-only && rm -rf /tmp/chat-install\n")
        build = ["docker", "build", "--force-rm", "-t", DEPS, context]
        if os.environ.get("CHAT_FRESH_NO_CACHE") == "1":
            build.insert(2, "--no-cache")
        built = subprocess.run(build, capture_output=True, text=True, timeout=BUDGET)
    if built.returncode != 0:
        print(f"FAILED: tests/run --install-only in a clean {image} container exited "
              f"{built.returncode}:\n{built.stdout[-4000:]}{built.stderr[-4000:]}")
        return 1
    # Only for the log line: the classic builder says "Using cache" per step,
    # BuildKit "CACHED".
    cached = built.stdout.count("Using cache") >= 2 or "CACHED [3/3]" in built.stderr
    log(f"install step: {time.monotonic() - t0:.0f} s"
        + (" (reused: tests/run has not changed since it was made)" if cached else " (made from the bare base)"))
    image = DEPS

    name = f"chat-fresh-{os.getpid()}x{int(time.time()) % 100000}"
    # Removes the container if this process dies first (ctest's timeout, a kill).
    reaper = subprocess.Popen(
        ["bash", "-c", f"tail --pid={os.getpid()} -f /dev/null; docker rm -f {name} >/dev/null 2>&1"],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)

    # In the container: unpack the tree, run tests/run as a new user would
    # (root, nothing installed), with only the quick tests of each pass.
    script = ("set -e; mkdir /src; tar -C /src -xf -; cd /src; "
              f"CHAT_SKIP_DOCKER=1 tests/run -R {shlex.quote(QUICK)}")
    files = source_files()
    log(f"copying {len(files)} files into {name} and running tests/run -R '{QUICK}'")
    tar = subprocess.Popen(["tar", "-C", SOURCE, "--null", "-T", "-", "-cf", "-"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    run = subprocess.Popen(["docker", "run", "--rm", "-i", "--name", name, image,
                            "bash", "-c", script], stdin=tar.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    tar.stdout.close()
    tar.stdin.write(b"\0".join(f.encode() for f in files) + b"\0")
    tar.stdin.close()
    tail = []
    failed = True
    try:
        deadline = STARTED + BUDGET
        for line in run.stdout:
            line = line.rstrip("\n")
            tail = (tail + [line])[-400:]
            if line.startswith("==") or "tests passed" in line or re.search(r"Test +#", line):
                log(f"container: {line}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no result within {BUDGET:.0f} s")
        rc = run.wait(timeout=max(5, deadline - time.monotonic()))
        failed = rc != 0 or "== all tests passed" not in tail
        if failed:
            print(f"FAILED: tests/run in a clean {image} container exited {rc}; its last lines:")
            print("\n".join(tail[-150:]), flush=True)
    except (TimeoutError, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}; the container's last lines:\n" + "\n".join(tail[-150:]), flush=True)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        tar.wait()
        reaper.kill()
    log(("failed" if failed else "passed") + f" in {time.monotonic() - STARTED:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
