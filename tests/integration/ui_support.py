"""Shared by the ui integration tests: a cluster started with deploy/cluster
on free ports in a temporary directory, and a small asyncio WebSocket client
for docs/protocol.md built on Debian's python3-websockets."""

import asyncio
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import websockets

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CLUSTER = os.path.join(SOURCE_DIR, 'deploy', 'cluster')
BIN_DIR = os.environ.get('CHAT_CLUSTER_BIN', os.path.join(SOURCE_DIR, 'build', 'bin'))
TIMEOUT = 30.0   # seconds for any single expected reply; generous on a busy machine


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def free_range(count):
    """First port of count consecutive free ports, below Linux's ephemeral
    range (32768 and up), where outgoing connections would take them."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)
        if all(port_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError('no free port range')


class Cluster:
    """deploy/cluster up in a temp dir; down() always (use as a context manager).
    extra: more arguments for up (e.g. '--gateway-flags', '--rate 0').
    seed_rooms: rooms registry-seed puts in the registry's data before the
    first up ("Seed <word> <word> <n>", see seed_name)."""

    def __init__(self, roomds=2, gateways=1, extra=(), registries=1, seed_rooms=0):
        self.registries = registries
        self.roomds = roomds
        self.gateways = gateways
        self.extra = list(extra)
        self.seed_rooms = seed_rooms
        self.data = tempfile.mkdtemp(prefix='chat-ui-test-')
        self.port = None
        self.base_port = None
        self.up_output = ''
        self.restarted = []   # processes restart() started: ours to reap
        self.reaper = None    # runs down if this process dies first

    def run(self, *args, check=True, timeout=240):
        cmd = [CLUSTER, *args, '--data', self.data]
        env = dict(os.environ, CHAT_CLUSTER_BIN=BIN_DIR)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f'{" ".join(cmd)} exited {proc.returncode}\n'
                                 f'stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}')
        return proc

    def start_reaper(self):
        """A process in its own session that runs `deploy/cluster down` on this
        cluster if the test dies first (a ctest timeout kills the test, not the
        programs deploy/cluster started in sessions of their own)."""
        down = ' '.join(shlex.quote(a) for a in [CLUSTER, 'down', '--data', self.data])
        remove = f'rm -rf {shlex.quote(self.data)}'
        self.reaper = subprocess.Popen(
            ['bash', '-c', f'tail --pid={os.getpid()} -f /dev/null; {down} >/dev/null 2>&1; {remove}'],
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def up(self):
        if self.reaper is None:
            self.start_reaper()
    def seed(self):
        """Fills the registry's data directory with seed_rooms rooms."""
        cmd = [os.path.join(BIN_DIR, 'registry-seed'), '--data', os.path.join(self.data, 'registry'),
               '--rooms', str(self.seed_rooms)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f'{" ".join(cmd)} exited {proc.returncode}\n{proc.stderr}')

    def up(self):
        if self.seed_rooms and not os.path.isdir(os.path.join(self.data, 'registry')):
            self.seed()
        last = None
        for _ in range(5):   # another test may grab a port between our check and the bind
            self.port = free_range(self.gateways)
            self.base_port = free_range(2 * self.roomds + 3 * self.registries)
            proc = self.run('up', '--registries', str(self.registries),
                            '--roomd', str(self.roomds), '--gateways', str(self.gateways),
                            '--port', str(self.port), '--base-port', str(self.base_port),
                            '--listen', '127.0.0.1', '--timeout', '120', *self.extra, check=False)
            if proc.returncode == 0:
                self.up_output = proc.stdout
                return self
            last = proc
            if 'is taken' not in proc.stderr and 'already in use' not in proc.stderr:
                break
        raise AssertionError(f'deploy/cluster up failed ({last.returncode})\n'
                             f'stdout:\n{last.stdout}\nstderr:\n{last.stderr}\n{self.logs()}')

    def down(self):
        proc = self.run('down', check=False)
        for child in self.restarted:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.restarted = []
        if self.reaper:
            self.reaper.kill()
            self.reaper.wait()
            self.reaper = None
        return proc

    def status(self):
        return self.run('status', check=False)

    def registry_list(self):
        return ','.join(f'tcp://127.0.0.1:{self.base_port + 3 * j}'
                        for j in range(self.registries))

    def chatctl(self, *args):
        return subprocess.run([os.path.join(BIN_DIR, 'chatctl'), '--registry',
                               self.registry_list(), *args],
                              capture_output=True, text=True, timeout=60)

    def url(self, i=0):
        return f'http://127.0.0.1:{self.port + i}/'

    def ws_url(self, i=0):
        return f'ws://127.0.0.1:{self.port + i}/ws'

    def logs(self, lines=30):
        out = []
        if os.path.isdir(self.data):
            for name in sorted(os.listdir(self.data)):
                if name.endswith('.log'):
                    with open(os.path.join(self.data, name), errors='replace') as f:
                        tail = f.readlines()[-lines:]
                    out.append(f'---- {name}\n' + ''.join(tail))
        return '\n'.join(out)

    def pid(self, name):
        with open(os.path.join(self.data, f'{name}.pid')) as f:
            return int(f.read().split()[0])

    def kill(self, name):
        """SIGKILLs one process of the cluster; returns its command line."""
        pid = self.pid(name)
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            argv = [a.decode() for a in f.read().split(b'\0')[:-1]]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while os.path.exists(f'/proc/{pid}') and time.monotonic() < deadline:
            time.sleep(0.05)
        return argv

    def restart(self, name, argv):
        """Starts argv again as name, with a pid file in deploy/cluster's
        format ("pid starttime exe") so that down stops it."""
        with open(os.path.join(self.data, f'{name}.log'), 'ab') as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        with open(f'/proc/{proc.pid}/stat') as f:
            started = f.read().rsplit(')', 1)[1].split()[19]
        with open(os.path.join(self.data, f'{name}.pid'), 'w') as f:
            f.write(f'{proc.pid} {started} {os.path.realpath(argv[0])}\n')
        self.restarted.append(proc)
        return proc

    SANITIZER_MARKS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:')

    def assert_clean_logs(self):
        """Fails when a process logged a sanitizer report (the ASan pass)."""
        found = []
        if os.path.isdir(self.data):
            for name in sorted(os.listdir(self.data)):
                if name.endswith('.log'):
                    with open(os.path.join(self.data, name), errors='replace') as f:
                        text = f.read()
                    if any(mark in text for mark in self.SANITIZER_MARKS):
                        found.append(f'---- {name}\n{text[-4000:]}')
        if found:
            raise AssertionError('sanitizer reports in the cluster logs:\n' + '\n'.join(found))

    def cleanup(self):
        shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self):
        try:
            return self.up()
        except BaseException:
            self.down()
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.down()
        try:
            self.assert_clean_logs()
        finally:
            self.cleanup()
        return False


SEED_WORDS = ('book', 'club', 'tech', 'talk', 'garden', 'music', 'chess', 'news', 'cook',
              'travel', 'rust', 'photo', 'bikes', 'jazz', 'film', 'games', 'art', 'code',
              'coffee', 'hiking', 'poetry', 'space', 'birds', 'yoga', 'maths', 'movies', 'retro',
              'sailing', 'study', 'tea', 'vinyl', 'wine')


def seed_name(i, prefix='Seed'):
    """The name registry-seed gives room i, and its id."""
    x = (i * 2654435761) % (1 << 64)
    name = f'{prefix} {SEED_WORDS[x % 32]} {SEED_WORDS[(x >> 8) % 32]} {i}'
    return name, name.lower().replace(' ', '-')


class Client:
    """One WebSocket session. Frames that are not awaited yet wait in a buffer."""

    def __init__(self, ws):
        self.ws = ws
        self.buffer = []
        self.next_ref = 1

    @classmethod
    async def open(cls, url, user_id=None, name=None, **connect_args):
        """connect_args go to websockets.connect (ssl=..., origin=...)."""
        ws = await asyncio.wait_for(websockets.connect(url, subprotocols=['chat.v1'],
                                                       max_size=None, open_timeout=TIMEOUT,
                                                       **connect_args),
                                    TIMEOUT)
        client = cls(ws)
        if user_id is not None:
            reply = await client.request({'type': 'connect', 'userId': user_id,
                                          'name': name or user_id})
            assert reply['type'] == 'connected', reply
        return client

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def request(self, obj):
        """Sends obj with a fresh ref; returns the reply that echoes it."""
        ref = f't{self.next_ref}'
        self.next_ref += 1
        await self.send({**obj, 'ref': ref})
        return await self.expect(lambda m: m.get('ref') == ref)

    async def expect(self, pred, timeout=TIMEOUT):
        """The first frame (buffered or new) for which pred is true."""
        for i, m in enumerate(self.buffer):
            if pred(m):
                return self.buffer.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f'no matching frame in {timeout}s; buffered: {self.buffer[-10:]}')
            raw = await asyncio.wait_for(self.ws.recv(), left)
            m = json.loads(raw)
            if pred(m):
                return m
            self.buffer.append(m)

    async def message(self, room_id, pred=lambda m: True):
        """The next messageReceived of room_id whose message satisfies pred."""
        frame = await self.expect(lambda f: f.get('type') == 'messageReceived'
                                  and f['message'].get('roomId') == room_id and pred(f['message']))
        return frame['message']

    async def close(self):
        await self.ws.close()
