#!/usr/bin/python3
"""The chat cluster as a Docker Swarm stack (deploy/stack.yml), end to end.

On a one-node swarm (made with `docker swarm init --advertise-addr
127.0.0.1` when the engine is in none, and left at the end only then):

  1. build the image, `docker stack deploy -c deploy/stack.yml` under a
     unique stack name, the gateway published through the ingress on a
     free port (in host mode when the kernel has no IPVS, without which the
     routing mesh cannot work: CHAT_PUBLISH_MODE=host, said in the log);
  2. chat through the published port (join, send, receive, history);
  3. `docker service scale <stack>_roomd=3`: chatctl nodes shows three live
     roomds, roomd-1..3, advertising their overlay addresses; rooms are
     placed on all three and serve;
  4. SIGKILL a roomd task's process: Swarm starts a new task in the same
     slot, which comes back as the same node (new instance) with its
     volume, and serves its rooms with every acknowledged message;
  5. `docker stack rm`, then its volumes: nothing of the stack is left.

Everything made is removed at the end, pass or fail, and also when this
process is killed (a reaper in its own session waits for it).

Exit 77 (skipped) when CHAT_SKIP_DOCKER=1, no Docker engine answers, or the
engine is a swarm worker (no manager to deploy from).
Environment: CHAT_SOURCE_DIR, CHAT_DOCKER_TEST_BUDGET_S (as docker_cluster.py).
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from docker_cluster import (DEPS_BUILD, DEPS_RUNTIME, DOCKERFILE, SKIP, SOURCE,  # noqa: E402
                            Client, Failure, assert_room_log, check, free_port, inspect, log,
                            run, wait_until)

STACK_FILE = os.path.join(SOURCE, "deploy", "stack.yml")
SLOTS = 3


def ipvs_available():
    """Whether the kernel has IPVS (the swarm's routing mesh and virtual IPs
    need it): loaded or built in, or loadable now."""
    if os.path.exists("/proc/net/ip_vs"):
        return True
    try:
        subprocess.run(["modprobe", "-q", "ip_vs"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return os.path.exists("/proc/net/ip_vs")


class SwarmTest:
    def __init__(self):
        self.tag = f"chatswarm{os.getpid()}x{int(time.time()) % 100000}"
        self.stack = self.tag
        self.image = f"chat-cluster:{self.tag}"
        self.port = free_port("0.0.0.0")  # published on every address of the machine
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.made_swarm = False
        self.reaper = None
        self.acked = {}
        self.timings = {}

    # -- what the test made, and its removal --

    def volumes(self):
        return [f"{self.stack}_registry-data"] + [f"{self.stack}_roomd-{n}" for n in range(1, SLOTS + 1)]

    def cleanup_script(self):
        """Shell that removes the stack, its volumes and network, the image,
        and the swarm if this test made it; waits for the containers to go."""
        label = f"label=com.docker.stack.namespace={self.stack}"
        steps = [
            f"docker stack rm {self.stack}",
            f"for i in $(seq 120); do [ -z \"$(docker ps -aq --filter {label})\" ] && break; sleep 0.5; done",
            f"for i in $(seq 60); do docker network inspect {self.stack}_chat >/dev/null 2>&1 || break; sleep 0.5; done",
            "docker volume rm " + " ".join(self.volumes()),
            f"docker rmi {self.image}",
        ]
        if self.made_swarm:
            steps.append("docker swarm leave --force")
        return "; ".join(f"{s} >/dev/null 2>&1" for s in steps)

    def start_reaper(self):
        script = f"tail --pid={os.getpid()} -f /dev/null; {self.cleanup_script()}"
        if self.reaper:
            self.reaper.kill()
            self.reaper.wait()
        self.reaper = subprocess.Popen(["bash", "-c", script], start_new_session=True,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)

    def cleanup(self, failed):
        if failed:
            for service in ("registry", "roomd", "gateway"):
                out = subprocess.run(["docker", "service", "logs", "--no-task-ids", "--tail", "30",
                                      f"{self.stack}_{service}"], capture_output=True, text=True)
                print(f"---- logs of {self.stack}_{service}\n{out.stdout[-6000:]}{out.stderr[-2000:]}",
                      flush=True)
        subprocess.run(["bash", "-c", self.cleanup_script()], timeout=240)
        left = [v for v in self.volumes() if subprocess.run(
            ["docker", "volume", "inspect", v], capture_output=True).returncode == 0]
        containers = subprocess.run(["docker", "ps", "-aq", "--filter",
                                     f"label=com.docker.stack.namespace={self.stack}"],
                                    capture_output=True, text=True).stdout.split()
        log("cleaned up" + (f" (left: volumes {left}, containers {containers})"
                            if left or containers else "")
            + ("; left the swarm this test made" if self.made_swarm else ""))
        return not left and not containers

    # -- setup --

    def join_swarm(self):
        state = run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"],
                    quiet=True).split()
        if state[0] == "inactive":
            self.made_swarm = True
            self.start_reaper()
            run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
            log("made a one-node swarm (left at the end)")
        elif state[0] == "active" and state[1] == "true":
            log("the engine is a swarm manager already: deploying there (the swarm stays)")
        else:
            raise SystemExit(SKIP)

    def build(self):
        t0 = time.monotonic()
        base = run([os.path.join(SOURCE, "deploy", "base-image")], timeout=900).strip()
        for target, tag in (("build-deps", DEPS_BUILD), ("runtime-deps", DEPS_RUNTIME)):
            run(["docker", "build", "-q", "--force-rm", "-f", DOCKERFILE, "--build-arg",
                 f"BASE_IMAGE={base}", "--target", target, "-t", tag, SOURCE], timeout=900)
        run(["docker", "build", "-q", "--force-rm", "-f", DOCKERFILE, "--build-arg",
             f"BASE_IMAGE={base}", "-t", self.image, SOURCE], timeout=900)
        self.timings["image build"] = time.monotonic() - t0

    # -- the cluster, seen through chatctl in the registry's task --

    def service_containers(self, service):
        return run(["docker", "ps", "-q", "--no-trunc", "--filter",
                    f"label=com.docker.swarm.service.name={self.stack}_{service}"], quiet=True).split()

    def chatctl(self, *args):
        registry = self.service_containers("registry")
        if not registry:
            raise Failure("no registry task runs")
        return json.loads(run(["docker", "exec", registry[0], "chatctl", "--json", *args],
                              timeout=60, quiet=True))

    def live_nodes(self):
        return {n["node"]: n for n in self.chatctl("nodes") if n.get("live")}

    def rooms_by_node(self):
        placement = {}
        for room in self.chatctl("rooms"):
            if room.get("node"):
                placement.setdefault(room["node"], []).append(room["id"])
        return placement

    def healthz(self):
        import http.client
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    # -- steps --

    async def step_deploy(self):
        t0 = time.monotonic()
        env = dict(os.environ, CHAT_IMAGE=self.image, CHAT_PUBLISH_HTTP=str(self.port))
        if ipvs_available():
            log("publishing the gateway through the swarm's ingress (routing mesh)")
        else:
            env["CHAT_PUBLISH_MODE"] = "host"
            log("this kernel has no IPVS (no /proc/net/ip_vs, modprobe ip_vs fails): the "
                "routing mesh cannot work here, so the gateway is published in host mode "
                "(CHAT_PUBLISH_MODE=host)")
        self.start_reaper()
        run(["docker", "stack", "deploy", "-c", STACK_FILE, self.stack], env=env, timeout=120)
        wait_until(f"the gateway's /healthz through the ingress on port {self.port}", self.healthz, 180)
        live = wait_until("one live roomd", lambda: len(self.live_nodes()) == 1 and self.live_nodes(), 120)
        self.timings["deploy -> healthy"] = time.monotonic() - t0
        check(list(live) == ["roomd-1"], f"the stack runs one roomd, node roomd-1: {list(live)}")

    async def step_chat(self):
        self.alice = await Client(self.url, "alice").open()
        self.bob = await Client(self.url, "bob").open()
        await self.alice.join("general")
        await self.bob.join("general")
        await self.send_acked("general", 3, "through the ingress")
        last = self.acked["general"][-1]
        got = await self.bob.wait_for("alice's message at bob", lambda: [
            m for m in self.bob.received.get("general", []) if m["seq"] == last[0]])
        check(got[0]["content"] == last[1], "bob receives alice's message through the published port")

    async def send_acked(self, room, count, label):
        for i in range(count):
            content = f"{label} {i}"
            ack = await self.alice.send(room, content)
            if ack.get("type") != "messageAck":
                raise Failure(f"{room}: '{content}' not acknowledged: {ack}")
            self.acked.setdefault(room, []).append((ack["seq"], content))

    async def step_scale(self):
        t0 = time.monotonic()
        run(["docker", "service", "scale", "-d", f"{self.stack}_roomd={SLOTS}"])
        live = wait_until(f"{SLOTS} live roomds", lambda: len(self.live_nodes()) == SLOTS and self.live_nodes(), 180)
        self.timings[f"scale -> {SLOTS} live"] = time.monotonic() - t0
        names = sorted(live)
        check(names == [f"roomd-{n}" for n in range(1, SLOTS + 1)],
              f"chatctl nodes shows {SLOTS} live nodes, one per task slot: {names}")
        endpoints = [live[n]["cmdEndpoint"] for n in names]
        check(all(e.split("//")[1].split(":")[0].replace(".", "").isdigit() for e in endpoints),
              f"each advertises its task's overlay address: {endpoints}")
        # Rooms on every roomd, each serving.
        for i in range(40):
            placement = self.rooms_by_node()
            if set(names) <= set(placement):
                break
            reply = await self.alice.request({"type": "createRoom", "name": f"swarm {i}"})
            if reply.get("type") != "roomCreated":
                raise Failure(f"createRoom: {reply}")
            await self.alice.join(reply["room"]["id"])
        placement = self.rooms_by_node()
        check(set(names) <= set(placement),
              "rooms are placed on all three: " + ", ".join(f"{n}: {len(r)}" for n, r in sorted(placement.items())))
        for node in names:
            room = sorted(placement[node])[0]
            await self.alice.join(room)
            await self.send_acked(room, 2, f"on {node}")
        check(True, "every roomd serves its rooms")

    def container_of_node(self, node):
        for container in self.service_containers("roomd"):
            if inspect(container, "{{.Config.Hostname}}") == node:
                return container
        raise Failure(f"no running roomd task has hostname {node}")

    async def step_kill_task(self):
        placement = self.rooms_by_node()
        node = "roomd-2" if "roomd-2" in placement else sorted(placement)[0]
        room = sorted(placement[node])[0]
        await self.bob.join(room)
        await self.send_acked(room, 5, "before the kill")
        before = self.live_nodes()[node]["instance"]
        container = self.container_of_node(node)
        volume = inspect(container, "{{range .Mounts}}{{.Name}}{{end}}")
        pid = int(inspect(container, "{{.State.Pid}}"))
        log(f"SIGKILL pid {pid}: the process of {container[:12]} (node {node}, room {room}, volume {volume})")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 180
        while True:
            reply = await self.alice.send(room, "after the kill", timeout=15)
            if reply.get("type") == "messageAck":
                self.acked[room].append((reply["seq"], "after the kill"))
                break
            if time.monotonic() > end:
                raise Failure(f"{room} does not serve again after the kill; last reply {reply}")
            await asyncio.sleep(0.5)
        self.timings["kill -> serving"] = time.monotonic() - t0
        entry = wait_until(f"{node} live again", lambda: self.live_nodes().get(node), 60)
        replacement = self.container_of_node(node)
        check(replacement != container and entry["instance"] != before,
              f"Swarm started a new task for the slot: the same node {node} "
              f"(instance {before} -> {entry['instance']}), serving again after "
              f"{self.timings['kill -> serving']:.1f} s")
        check(inspect(replacement, "{{range .Mounts}}{{.Name}}{{end}}") == volume,
              f"the new task has the slot's volume {volume}")
        check(room in self.rooms_by_node().get(node, []), f"{room} is still on {node}")
        assert_room_log(await self.bob.history(room), self.acked[room], room)
        await self.bob.wait_for(f"{room} seq {self.acked[room][-1][0]} at bob", lambda: any(
            m["seq"] >= self.acked[room][-1][0] for m in self.bob.received.get(room, [])), 30)
        check(True, "bob, still a member, receives the message sent after the kill")

    async def steps(self):
        await self.step_deploy()
        await self.step_chat()
        await self.step_scale()
        await self.step_kill_task()
        await self.alice.close()
        await self.bob.close()


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
    test = SwarmTest()

    def on_signal(signum, frame):
        raise Failure(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    failed = True
    try:
        test.join_swarm()
        test.build()
        asyncio.run(test.steps())
        failed = False
    except SystemExit as exit_:
        print("skipped: the engine is a swarm worker; deploy from a manager")
        return exit_.code
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}", flush=True)
    except Exception as error:  # a bug here: still clean up, and say what broke
        import traceback
        traceback.print_exc()
        print(f"FAILED: {error!r}", flush=True)
    finally:
        t0 = time.monotonic()
        clean = test.cleanup(failed)
        test.timings["stack rm and cleanup"] = time.monotonic() - t0
        if test.reaper:
            test.reaper.kill()
    if not failed:
        check(clean, "docker stack rm and the volume removal left nothing of the stack")
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in test.timings.items())
    log(f"timings: {timings}; total {time.monotonic() - STARTED_AT:.1f} s")
    return 1 if failed or not clean else 0


STARTED_AT = time.monotonic()

if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as error:
        print(f"FAILED: {error}", flush=True)
        sys.exit(1)
