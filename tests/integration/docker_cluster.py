#!/usr/bin/python3
"""The chat cluster in Docker containers, end to end (deploy/).

Builds the image (making the Debian base image locally when it cannot be
pulled), starts deploy/docker-compose.yml with three roomds under a unique
project name and free host ports, and talks the client protocol through the
published gateway port:

  1. a user joins, sends, receives and reads history;
  2. rooms spread over the three roomds (chatctl rooms inside the cluster);
  3. `docker kill` of a roomd: its rooms answer `unavailable`, the roomd
     comes back (`docker start`: Docker treats a kill as a manual stop), the
     rooms serve again with every acknowledged message, same node name;
  4. a roomd that crashes (its processes SIGKILLed) is restarted by the
     restart policy and serves its rooms again with every acknowledged
     message, same node name;
  5. `docker restart` of the registry: rooms being served keep working
     during and after;
  6. two more Compose projects (deploy/docker-compose.roomd.yml, as two other
     machines on their own networks) join the registry through its
     published port; their roomds take rooms and serve them;
  7. `down` (volumes kept) and `up` again: the same nodes come back (each
     roomd replica finds its slot's data and name) with every room's history.

Everything started is removed at the end, pass or fail, and also when this
process is killed (a reaper in its own session waits for it).

Exit 77 (skipped) when CHAT_SKIP_DOCKER=1, no Docker engine answers, or the
source lacks one of the programs.
Environment: CHAT_SOURCE_DIR (the repository; default: two levels up),
CHAT_DOCKER_KEEP=1 keeps everything for a post-mortem.
"""

import asyncio
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time

SKIP = 77
SOURCE = os.path.abspath(
    os.environ.get("CHAT_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_MAIN = os.path.join(SOURCE, "deploy", "docker-compose.yml")
COMPOSE_ROOMD = os.path.join(SOURCE, "deploy", "docker-compose.roomd.yml")
DOCKERFILE = os.path.join(SOURCE, "deploy", "Dockerfile")
DEPS_BUILD = "chat-cluster-deps:build"
DEPS_RUNTIME = "chat-cluster-deps:runtime"
STARTED = time.monotonic()
# The whole test must end well inside ctest's TIMEOUT (tests/integration/docker.cmake).
DEADLINE = STARTED + float(os.environ.get("CHAT_DOCKER_TEST_BUDGET_S", "1200"))


def log(text):
    print(f"[{time.monotonic() - STARTED:7.1f}s] {text}", flush=True)


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)
    log(f"ok: {what}")


def run(cmd, env=None, timeout=300, check_rc=True, quiet=False):
    """Runs cmd (a list); returns its stdout. Raises Failure on a non-zero exit."""
    timeout = max(5, min(timeout, DEADLINE - time.monotonic()))
    if not quiet:
        log("$ " + " ".join(shlex.quote(c) for c in cmd))
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise Failure(f"{cmd[0]} {' '.join(cmd[1:3])} exited {proc.returncode}:\n"
                      f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def wait_until(what, probe, timeout, interval=0.25):
    """Calls probe() until it returns a true value or timeout passes."""
    end = min(time.monotonic() + timeout, DEADLINE)
    last_error = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Failure as error:
            last_error = error
        if time.monotonic() >= end:
            raise Failure(f"timed out waiting for {what}" +
                          (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


def free_port(address="127.0.0.1"):
    """A port free now on address, for Docker to publish a moment later.
    Chosen below Linux's ephemeral range (32768 and up), where the kernel
    hands out none by itself (bind to port 0, outgoing connections): only
    someone else's explicit choice can take it in between."""
    for _ in range(200):
        port = random.randrange(20000, 30000)
        with socket.socket() as s:
            try:
                s.bind((address, port))
                return port
            except OSError:
                continue
    raise Failure(f"no free port in 20000-29999 on {address}")


def compose_command():
    if os.environ.get("CHAT_COMPOSE"):
        return shlex.split(os.environ["CHAT_COMPOSE"])
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    probe = subprocess.run(["docker-compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker-compose"]
    return None


class Project:
    """One Compose project: a file, a unique name, its environment."""

    def __init__(self, compose, name, file, env):
        self.compose = compose
        self.name = name
        self.file = file
        self.own_env = env
        self.env = dict(os.environ, **env)

    def cmd(self, *args):
        return self.compose + ["-p", self.name, "-f", self.file] + list(args)

    def run(self, *args, timeout=300, quiet=False):
        return run(self.cmd(*args), env=self.env, timeout=timeout, quiet=quiet)

    def containers(self, service):
        out = run(["docker", "ps", "-a", "-q", "--no-trunc",
                   "--filter", f"label=com.docker.compose.project={self.name}",
                   "--filter", f"label=com.docker.compose.service={service}"], quiet=True)
        return out.split()

    def down_cmd(self):
        return self.cmd("down", "-v", "--remove-orphans", "-t", "2")

    def shell_down(self):
        """down_cmd as one shell command that carries its own environment."""
        settings = [f"{k}={v}" for k, v in self.own_env.items()]
        return " ".join(shlex.quote(c) for c in ["env"] + settings + self.down_cmd()) + " >/dev/null 2>&1"


def inspect(container, fmt):
    return run(["docker", "inspect", "-f", fmt, container], quiet=True).strip()


# ---- the client protocol over the published gateway port --------------------


class Client:
    """A WebSocket client of docs/protocol.md, with every received frame kept."""

    def __init__(self, url, user):
        self.url = url
        self.user = user
        self.ws = None
        self.refs = 0
        self.replies = {}  # ref -> reply frame
        self.received = {}  # room id -> [Message, ...] from messageReceived, in arrival order
        self.frames = []  # every frame, for failure reports
        self.reader = None
        self.waiters = []

    async def open(self):
        import websockets
        self.ws = await websockets.connect(self.url, subprotocols=["chat.v1"], open_timeout=15,
                                           ping_interval=None, max_size=2 ** 22)
        self.reader = asyncio.ensure_future(self._read())
        reply = await self.request({"type": "connect", "userId": self.user, "name": self.user.title()})
        if reply.get("type") != "connected":
            raise Failure(f"connect as {self.user}: {reply}")
        return self

    async def _read(self):
        try:
            async for text in self.ws:
                frame = json.loads(text)
                self.frames.append(frame)
                if "ref" in frame:
                    self.replies[frame["ref"]] = frame
                if frame.get("type") == "messageReceived":
                    message = frame["message"]
                    self.received.setdefault(message["roomId"], []).append(message)
                for event in self.waiters:
                    event.set()
        except Exception:  # connection closed: requests time out with a clear message
            pass

    async def wait_for(self, what, predicate, timeout=15):
        end = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = end - time.monotonic()
            if left <= 0:
                raise Failure(f"{self.user}: timed out waiting for {what}; last frames: {self.frames[-5:]}")
            event = asyncio.Event()
            self.waiters.append(event)
            try:
                await asyncio.wait_for(event.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass
            finally:
                self.waiters.remove(event)

    async def request(self, body, timeout=20):
        self.refs += 1
        ref = f"{self.user}-{self.refs}"
        await self.ws.send(json.dumps(dict(body, ref=ref)))
        return await self.wait_for(f"reply to {body['type']}", lambda: self.replies.pop(ref, None),
                                   timeout)

    async def join(self, room, **extra):
        reply = await self.request(dict({"type": "joinRoom", "roomId": room}, **extra))
        if reply.get("type") != "roomJoined":
            raise Failure(f"{self.user} join {room}: {reply}")
        return reply

    async def send(self, room, content, timeout=20):
        """Returns the messageAck or the error reply."""
        return await self.request({"type": "sendMessage", "roomId": room, "content": content},
                                  timeout)

    async def history(self, room, limit=200):
        """Every message of the room, oldest first (pages backwards)."""
        messages, before = [], None
        while True:
            body = {"type": "getHistory", "roomId": room, "limit": limit}
            if before is not None:
                body["before"] = before
            reply = await self.request(body)
            if reply.get("type") != "history":
                raise Failure(f"history of {room}: {reply}")
            messages = reply["messages"] + messages
            if not reply.get("hasMore") or not reply["messages"]:
                return messages
            before = reply["messages"][0]["seq"]

    async def close(self):
        if self.ws:
            await self.ws.close()
        if self.reader:
            self.reader.cancel()


def assert_room_log(messages, acked, room):
    """Seqs 1..n with no gap or duplicate; every acked (seq, content) is there."""
    seqs = [m["seq"] for m in messages]
    check(seqs == list(range(1, len(seqs) + 1)),
          f"{room}: history has seqs 1..{len(seqs)} with no gap or duplicate")
    by_seq = {m["seq"]: m for m in messages}
    lost = [(seq, content) for seq, content in acked
            if by_seq.get(seq, {}).get("content") != content]
    check(not lost, f"{room}: every one of {len(acked)} acknowledged messages is in history"
          + (f" (lost: {lost[:5]})" if lost else ""))


async def wait_for_history(client, room, last_seq, timeout=60):
    """History of room once it reaches last_seq (a room may be unavailable
    for a moment while its roomd registers again)."""
    end = time.monotonic() + timeout
    while True:
        try:
            messages = await client.history(room)
            if messages and messages[-1]["seq"] >= last_seq:
                return messages
        except Failure as error:
            if time.monotonic() > end:
                raise
            log(f"{room}: {error}; again")
        if time.monotonic() > end:
            raise Failure(f"{room}: history does not reach seq {last_seq}")
        await asyncio.sleep(0.5)


def assert_in_order(client, room):
    """What a connection received in a room: increasing seqs, no gap, no duplicate."""
    seqs = [m["seq"] for m in client.received.get(room, [])]
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else False,
          f"{client.user} received {room}'s {len(seqs)} messages in seq order, once each, no gap")


# ---- the test ---------------------------------------------------------------


class ClusterTest:
    def __init__(self, compose):
        self.compose = compose
        tag = f"chattest{os.getpid()}x{int(time.time()) % 100000}"
        self.tag = tag
        self.image = f"chat-cluster:{tag}"
        self.build_image = f"chat-cluster-build:{tag}"
        self.http_port = free_port()
        self.url = f"ws://127.0.0.1:{self.http_port}/ws"
        self.host_ip = None  # the host as containers reach it (host-gateway)
        self.main = None
        self.remote = []  # roomd-only projects ("other machines")
        self.acked = {}  # room -> [(seq, content)] acknowledged to a client
        self.timings = {}

    # -- infrastructure --

    def projects(self):
        return [p for p in [self.main] + self.remote if p]

    def start_reaper(self):
        """A process in its own session that cleans up if this one dies first."""
        cleanup = "; ".join(p.shell_down() for p in self.projects())
        cleanup += f"; docker rmi {self.image} {self.build_image} >/dev/null 2>&1"
        script = f"tail --pid={os.getpid()} -f /dev/null; {cleanup}"
        return subprocess.Popen(["bash", "-c", script], start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def cleanup(self, failed):
        if failed:
            for project in self.projects():
                out = subprocess.run(project.cmd("logs", "--no-color", "--tail", "40"),
                                     env=project.env, capture_output=True, text=True)
                print(f"---- logs of {project.name}\n{out.stdout[-12000:]}", flush=True)
        if os.environ.get("CHAT_DOCKER_KEEP") == "1":
            log(f"CHAT_DOCKER_KEEP=1: left projects {[p.name for p in self.projects()]} running")
            return
        for project in self.projects():
            subprocess.run(project.down_cmd(), env=project.env, capture_output=True, timeout=180)
        # Untagged parents go too, down to the tagged Debian package stages.
        subprocess.run(["docker", "rmi", self.image, self.build_image], capture_output=True)
        leftovers = [c for p in self.projects() for c in subprocess.run(
            ["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={p.name}"],
            capture_output=True, text=True).stdout.split()]
        log("cleaned up" + (f" (containers left: {leftovers})" if leftovers else ""))

    def chatctl(self, *args):
        """chatctl inside the cluster, --json output parsed."""
        out = self.main.run("exec", "-T", "registry", "chatctl", "--json", *args, timeout=60,
                            quiet=True)
        return json.loads(out)

    def nodes(self):
        return self.chatctl("nodes")

    def live_nodes(self):
        return [n for n in self.nodes() if n.get("live")]

    def rooms_by_node(self):
        placement = {}
        for room in self.chatctl("rooms"):
            if room.get("node"):
                placement.setdefault(room["node"], []).append(room["id"])
        return placement

    def room_node(self, room):
        for node, rooms in self.rooms_by_node().items():
            if room in rooms:
                return node
        return None

    def container_of_node(self, node):
        """The roomd container that runs node (it advertises its hostname)."""
        endpoint_host = None
        for entry in self.nodes():
            if entry["node"] == node:
                endpoint_host = entry["cmdEndpoint"].split("//")[1].rsplit(":", 1)[0]
        for container in self.main.containers("roomd"):
            if inspect(container, "{{.Config.Hostname}}") == endpoint_host:
                return container
        raise Failure(f"no roomd container advertises {endpoint_host} (node {node})")

    def build(self):
        t0 = time.monotonic()
        base = run([os.path.join(SOURCE, "deploy", "base-image")], timeout=900).strip()
        self.timings["base image"] = time.monotonic() - t0
        log(f"base image: {base}")
        env = {"CHAT_BASE_IMAGE": base, "CHAT_IMAGE": self.image}
        host_gateway = self.find_host_gateway(base)
        self.host_ip = host_gateway
        registry_port = free_port(host_gateway)
        self.main = Project(self.compose, self.tag, COMPOSE_MAIN, dict(
            env,
            CHAT_PUBLISH_HTTP=f"127.0.0.1:{self.http_port}",
            # Published on the host's bridge address: reachable from the
            # other projects' containers, not from outside this machine.
            CHAT_PUBLISH_REGISTRY=f"{host_gateway}:{registry_port}",
            CHAT_PUBLISH_REGISTRY_PUB=f"127.0.0.1:{free_port()}"))
        self.registry_endpoint = f"tcp://{host_gateway}:{registry_port}"
        self.reaper = self.start_reaper()
        t0 = time.monotonic()
        # The Debian package stages under stable tags: the cache that the
        # removal of this run's images at the end leaves in place.
        for target, tag in (("build-deps", DEPS_BUILD), ("runtime-deps", DEPS_RUNTIME),
                            ("build", self.build_image)):
            run(["docker", "build", "-q", "--force-rm", "-f", DOCKERFILE, "--build-arg",
                 f"BASE_IMAGE={base}", "--target", target, "-t", tag, SOURCE], timeout=900)
        self.main.run("build", "--force-rm", timeout=900)
        self.timings["image build"] = time.monotonic() - t0

    def find_host_gateway(self, base):
        """The host's address as containers see it (Docker's host-gateway)."""
        out = run(["docker", "run", "--rm", "--add-host", "host.docker.internal:host-gateway",
                   base, "getent", "hosts", "host.docker.internal"], timeout=60)
        return out.split()[0]

    # -- steps --

    async def step_up(self):
        t0 = time.monotonic()
        self.main.run("up", "-d", "--no-build", "--scale", "roomd=3", timeout=300)
        wait_until("the gateway's /healthz", self.healthz, 120)
        live = wait_until("three live roomds", lambda: len(self.live_nodes()) == 3 and self.live_nodes(), 120)
        self.timings["cluster up"] = time.monotonic() - t0
        check(len(live) == 3, f"chatctl nodes shows three live roomds: {[n['node'] for n in live]}")
        health = wait_until("healthy containers", self.all_healthy, 120, interval=1)
        check(health, "every container's HEALTHCHECK reports healthy")
        if os.path.exists(os.path.join(SOURCE, "gateway", "www", "index.html")):
            status, kind, body = self.http_get("/")
            check(status == 200 and "html" in kind and b"<html" in body.lower(),
                  f"the gateway serves the web UI at / ({status}, {kind}, {len(body)} bytes)")
        else:
            log("no gateway/www/index.html in the source: the web UI is not checked")

    def http_get(self, path):
        """(status, content type, body) of GET path on the published port."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            conn.close()

    def healthz(self):
        import http.client
        try:
            return self.http_get("/healthz")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def all_healthy(self):
        states = [inspect(c, "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}")
                  for s in ("registry", "roomd", "gateway") for c in self.main.containers(s)]
        return all(s == "healthy" for s in states) and states

    async def step_chat(self):
        alice = await Client(self.url, "alice").open()
        bob = await Client(self.url, "bob").open()
        joined = await alice.join("general")
        check(joined["room"]["id"] == "general", "alice joins general through the published port")
        await bob.join("general")
        ack = await alice.send("general", "hello from a container")
        check(ack.get("type") == "messageAck", f"alice's message is acknowledged: {ack}")
        self.acked.setdefault("general", []).append((ack["seq"], "hello from a container"))
        got = await bob.wait_for("alice's message at bob", lambda: [
            m for m in bob.received.get("general", []) if m["content"] == "hello from a container"])
        check(got[0]["userId"] == "alice" and got[0]["seq"] == ack["seq"],
              "bob receives it with the acknowledged seq")
        history = await bob.history("general")
        check(history[-1]["content"] == "hello from a container", "history ends with the message")
        page = await Client(self.url, "carol").open()
        rejoin = await page.join("general")
        check(any(m["content"] == "hello from a container" for m in rejoin["history"]),
              "a new member's roomJoined history has it")
        await page.close()
        self.alice, self.bob = alice, bob

    async def step_spread(self):
        """Creates rooms until each of the three roomds holds at least one."""
        nodes = {n["node"] for n in self.live_nodes()}
        for i in range(40):
            placement = self.rooms_by_node()
            if nodes <= set(placement):
                break
            name = f"spread {i}"
            reply = await self.alice.request({"type": "createRoom", "name": name})
            if reply.get("type") != "roomCreated":
                raise Failure(f"createRoom {name}: {reply}")
            await self.alice.join(reply["room"]["id"])
        placement = self.rooms_by_node()
        check(nodes <= set(placement),
              "rooms are spread over all three roomds: "
              + ", ".join(f"{n}: {len(r)}" for n, r in sorted(placement.items())))

    async def send_acked(self, client, room, count, label):
        for i in range(count):
            content = f"{label} {i}"
            ack = await client.send(room, content)
            if ack.get("type") != "messageAck":
                raise Failure(f"{room}: '{content}' not acknowledged: {ack}")
            self.acked.setdefault(room, []).append((ack["seq"], content))

    async def sends_until(self, client, room, label, stop, timeout):
        """Sends to room until stop(reply) is true; records acks. Returns the replies."""
        end = time.monotonic() + timeout
        replies, i = [], 0
        while time.monotonic() < end:
            content = f"{label} {i}"
            i += 1
            try:
                reply = await client.send(room, content, timeout=15)
            except Failure as error:
                reply = {"type": "timeout", "error": str(error)}
            replies.append(reply)
            if reply.get("type") == "messageAck":
                self.acked.setdefault(room, []).append((reply["seq"], content))
            if stop(reply):
                return replies
            await asyncio.sleep(0.2)
        raise Failure(f"{room}: '{label}': condition not met in {timeout} s; last replies {replies[-3:]}")

    async def pick_room_on_other_node(self, exclude_nodes):
        placement = self.rooms_by_node()
        for node, rooms in sorted(placement.items()):
            if node not in exclude_nodes and node in {n["node"] for n in self.live_nodes()}:
                return node, sorted(rooms)[0]
        raise Failure(f"no room on a node other than {exclude_nodes}: {placement}")

    async def step_docker_kill(self):
        node, room = await self.pick_room_on_other_node(set())
        container = self.container_of_node(node)
        await self.alice.join(room)
        await self.bob.join(room)
        await self.send_acked(self.alice, room, 5, "before kill")
        boot_before = self.node_entry(node).get("instance")
        log(f"docker kill {container[:12]} (node {node}, room {room})")
        t0 = time.monotonic()
        run(["docker", "kill", container])
        replies = await self.sends_until(self.alice, room, "during kill",
                                         lambda r: r.get("code") == "unavailable", 60)
        self.timings["kill -> unavailable"] = time.monotonic() - t0
        check(replies[-1].get("code") == "unavailable",
              f"{room} answers unavailable while its roomd is down "
              f"(after {self.timings['kill -> unavailable']:.1f} s, {len(replies)} sends)")
        state = inspect(container, "{{.State.Status}} restarts={{.RestartCount}}")
        log(f"container after docker kill: {state}")
        if not state.startswith("running"):
            # Docker treats `docker kill` as a manual stop: restart policies do
            # not apply (see the crash step for those). Start it as an operator would.
            run(["docker", "start", container])
        t0 = time.monotonic()
        await self.sends_until(self.alice, room, "after kill",
                               lambda r: r.get("type") == "messageAck", 90)
        self.timings["start -> serving"] = time.monotonic() - t0
        check(True, f"{room} serves again {self.timings['start -> serving']:.1f} s after docker start")
        entry = wait_until(f"node {node} live", lambda: self.node_entry(node).get("live") and self.node_entry(node), 60)
        check(entry["instance"] != boot_before,
              f"the roomd came back as the same node {node} (new instance {entry['instance']})")
        assert_room_log(await self.alice.history(room), self.acked[room], room)
        await self.check_receivers(room)
        self.killed_node = node

    async def check_receivers(self, room):
        last = self.acked[room][-1][0]
        for client in (self.alice, self.bob):
            await client.wait_for(f"{room} seq {last}", lambda c=client: any(
                m["seq"] >= last for m in c.received.get(room, [])), 30)
            assert_in_order(client, room)

    def node_entry(self, node):
        for entry in self.nodes():
            if entry["node"] == node:
                return entry
        return {}

    async def step_crash(self):
        node, room = await self.pick_room_on_other_node({self.killed_node})
        container = self.container_of_node(node)
        await self.alice.join(room)
        await self.bob.join(room)
        await self.send_acked(self.alice, room, 5, "before crash")
        restarts = int(inspect(container, "{{.RestartCount}}"))
        pid = int(inspect(container, "{{.State.Pid}}"))
        log(f"SIGKILL pid {pid}: the processes of {container[:12]} (node {node}, room {room})")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        replies = await self.sends_until(self.alice, room, "during crash",
                                         lambda r: r.get("type") == "messageAck"
                                         and int(inspect(container, "{{.RestartCount}}")) > restarts,
                                         120)
        self.timings["crash -> serving"] = time.monotonic() - t0
        codes = sorted({r.get("code") or r.get("type") for r in replies})
        check(int(inspect(container, "{{.RestartCount}}")) == restarts + 1,
              f"the restart policy restarted the crashed roomd; {room} serves again after "
              f"{self.timings['crash -> serving']:.1f} s (replies meanwhile: {codes})")
        wait_until(f"node {node} live", lambda: self.node_entry(node).get("live"), 60)
        check(True, f"it is the same node {node}")
        assert_room_log(await self.alice.history(room), self.acked[room], room)
        await self.check_receivers(room)

    async def step_registry_restart(self):
        room = "general"
        registry = self.main.containers("registry")[0]
        sent = len(self.acked.get(room, []))
        errors = []

        async def keep_sending(stop):
            i = 0
            while not stop.is_set():
                content = f"during registry restart {i}"
                i += 1
                reply = await self.alice.send(room, content, timeout=30)
                if reply.get("type") == "messageAck":
                    self.acked.setdefault(room, []).append((reply["seq"], content))
                else:
                    errors.append(reply)
                await asyncio.sleep(0.2)

        stop = asyncio.Event()
        sender = asyncio.ensure_future(keep_sending(stop))
        await asyncio.sleep(1)
        t0 = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: run(["docker", "restart", "-t", "5", registry]))
        restarted = time.monotonic() - t0
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: wait_until("the registry answering", lambda: len(self.live_nodes()) >= 3, 60))
        await asyncio.sleep(2)
        stop.set()
        await sender
        count = len(self.acked[room]) - sent
        check(not errors and count > 10,
              f"{count} messages sent to {room} while the registry restarted ({restarted:.1f} s) "
              f"and after were all acknowledged" + (f"; errors: {errors[:3]}" if errors else ""))
        assert_room_log(await self.bob.history(room), self.acked[room], room)
        await self.check_receivers(room)
        reply = await self.alice.request({"type": "createRoom", "name": "after registry restart"})
        check(reply.get("type") == "roomCreated", "rooms can be created after the restart")
        await self.alice.join(reply["room"]["id"])
        await self.send_acked(self.alice, reply["room"]["id"], 1, "new room")
        check(True, "and placed on a roomd, and serve")

    async def step_remote_roomds(self):
        before = {n["node"] for n in self.nodes()}
        for i in (1, 2):
            project = Project(self.compose, f"{self.tag}m{i}", COMPOSE_ROOMD, dict(
                CHAT_IMAGE=self.image, CHAT_BASE_IMAGE=self.main.env["CHAT_BASE_IMAGE"],
                CHAT_REGISTRY=self.registry_endpoint, CHAT_ADVERTISE_HOST=self.host_ip,
                CHAT_PUBLISH_ADDRESS=self.host_ip,
                CHAT_ROOMD_PORT=str(free_port(self.host_ip)),
                CHAT_ROOMD_PUB_PORT=str(free_port(self.host_ip))))
            self.remote.append(project)
        # The reaper learns of the new projects.
        self.reaper.kill()
        self.reaper.wait()
        self.reaper = self.start_reaper()
        t0 = time.monotonic()
        for project in self.remote:
            project.run("up", "-d", "--no-build", timeout=300)
        new = wait_until("two more live roomds",
                         lambda: len({n["node"] for n in self.live_nodes()} - before) == 2
                         and {n["node"] for n in self.live_nodes()} - before, 120)
        self.timings["remote roomds up"] = time.monotonic() - t0
        check(True, f"the roomds of two other projects registered: {sorted(new)}")
        endpoints = [n["cmdEndpoint"] for n in self.nodes() if n["node"] in new]
        check(all(self.host_ip in e for e in endpoints),
              f"they advertise their host's address: {endpoints}")
        placed = {}
        for i in range(30):
            placement = self.rooms_by_node()
            placed = {node: rooms for node, rooms in placement.items() if node in new}
            if len(placed) == 2:
                break
            reply = await self.alice.request({"type": "createRoom", "name": f"remote {i}"})
            if reply.get("type") != "roomCreated":
                raise Failure(f"createRoom: {reply}")
            await self.alice.join(reply["room"]["id"])
        check(len(placed) == 2, f"chatctl rooms shows rooms on both: {placed}")
        for node, rooms in sorted(placed.items()):
            room = rooms[0]
            await self.alice.join(room)
            await self.bob.join(room)
            await self.send_acked(self.alice, room, 3, f"via {node}")
            await self.check_receivers(room)
            assert_room_log(await self.bob.history(room), self.acked[room], room)

    async def step_down_up(self):
        """down (volumes kept) and up: same nodes, every room's history intact."""
        nodes = {n["node"] for n in self.live_nodes()}
        await self.alice.close()
        await self.bob.close()
        t0 = time.monotonic()
        self.main.run("down", "-t", "5", timeout=300)
        check(not self.main.containers("roomd"), "down removed the main project's containers")
        self.main.run("up", "-d", "--no-build", "--scale", "roomd=3", timeout=300)
        wait_until("the gateway's /healthz", self.healthz, 120)
        back = wait_until("the same nodes live", lambda: nodes <= {n["node"] for n in self.live_nodes()}
                          and nodes, 120)
        self.timings["down/up -> live"] = time.monotonic() - t0
        check(True, f"after down and up, the same {len(back)} nodes are live (roomd slots kept "
              "their names and data)")
        reader = await Client(self.url, "dave").open()
        for room, acked in sorted(self.acked.items()):
            messages = await wait_for_history(reader, room, acked[-1][0])
            assert_room_log(messages, acked, room)
        await reader.close()

    async def steps(self):
        await self.step_up()
        await self.step_chat()
        await self.step_spread()
        await self.step_docker_kill()
        await self.step_crash()
        await self.step_registry_restart()
        await self.step_remote_roomds()
        await self.step_down_up()


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
    absent = [part for part in ("registry", "roomd", "gateway")
              if not os.path.exists(os.path.join(SOURCE, part, "CMakeLists.txt"))]
    if absent:
        print(f"skipped: the source has no {', '.join(absent)} yet")
        return SKIP
    compose = compose_command()
    if not compose:
        print("skipped: neither `docker compose` nor docker-compose is installed")
        return SKIP
    try:
        import websockets  # noqa: F401
    except ImportError:
        print("python3-websockets is missing (tests/run installs it)")
        return 1

    test = ClusterTest(compose)
    failed = True

    def on_signal(signum, frame):
        raise Failure(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        test.build()
        asyncio.run(test.steps())
        failed = False
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}", flush=True)
    finally:
        try:
            test.cleanup(failed)
        finally:
            if getattr(test, "reaper", None):
                test.reaper.kill()
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in test.timings.items())
    log(f"timings: {timings}; total {time.monotonic() - STARTED:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
