#!/usr/bin/env python3
"""deploy/cluster itself: up with 2 roomds and 2 gateways, status, a message
crossing gateways, refusals (second up, a taken port), and down leaving no
process behind."""

import asyncio
import os
import shutil
import socket
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ui_support import BIN_DIR, Client, Cluster, free_range  # noqa: E402


def processes_mentioning(text):
    """Pids of processes whose command line contains text."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue
        if text in cmdline:
            found.append(int(pid))
    return found


def pid_files(data):
    pids = {}
    for name in os.listdir(data):
        if name.endswith('.pid'):
            with open(os.path.join(data, name)) as f:
                pids[name[:-4]] = int(f.read().split()[0])
    return pids


class ClusterScriptTest(unittest.TestCase):
    def test_help_documents_every_flag(self):
        c = Cluster()
        self.addCleanup(c.cleanup)
        out = c.run('--help').stdout
        for flag in ('up', 'down', 'status', '--roomd', '--gateways', '--port', '--base-port',
                     '--data', '--bin', '--timeout', '--listen'):
            self.assertIn(flag, out)

    def test_up_status_cross_gateway_message_and_down_leaves_nothing(self):
        c = Cluster(roomds=2, gateways=2)
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        c.up()
        self.assertIn(c.url(0), c.up_output)
        self.assertIn(c.url(1), c.up_output)

        status = c.status()
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        self.assertEqual(sorted(rows), ['gateway1', 'gateway2', 'registry', 'roomd1', 'roomd2'])
        for name, row in rows.items():
            self.assertEqual(row[2], 'healthy', status.stdout)
            self.assertTrue(os.path.exists(f'/proc/{row[1]}'), name)

        asyncio.run(self.message_crosses_gateways(c))

        again = c.run('up', '--roomd', '2', '--gateways', '2', '--port', str(c.port),
                      '--base-port', str(c.base_port), check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn('already running', again.stderr)

        pids = pid_files(c.data)
        self.assertEqual(len(pids), 5)
        down = c.down()
        self.assertEqual(down.returncode, 0, down.stderr)
        for name, pid in pids.items():
            self.assertFalse(os.path.exists(f'/proc/{pid}') and self.alive(pid), f'{name} ({pid}) still runs')
        self.assertEqual(processes_mentioning(c.data), [])
        self.assertEqual(pid_files(c.data), {})
        after = c.status()
        self.assertNotEqual(after.returncode, 0)
        c.assert_clean_logs()

    async def message_crosses_gateways(self, c):
        alice = await Client.open(c.ws_url(0), 'alice', 'Alice')
        bob = await Client.open(c.ws_url(1), 'bob', 'Bob')
        try:
            # Several rooms, so that both roomds take part.
            for room in ('general', 'random', 'tech'):
                for who in (alice, bob):
                    reply = await who.request({'type': 'joinRoom', 'roomId': room})
                    self.assertEqual(reply['type'], 'roomJoined', reply)
                text = f'across gateways {uuid.uuid4().hex[:6]}'
                ack = await alice.request({'type': 'sendMessage', 'roomId': room, 'content': text})
                self.assertEqual(ack['type'], 'messageAck', ack)
                got = await bob.message(room, lambda m: m['content'] == text)
                self.assertEqual(got['seq'], ack['seq'])
        finally:
            await alice.close()
            await bob.close()

    @staticmethod
    def alive(pid):
        try:
            with open(f'/proc/{pid}/stat') as f:
                return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
        except OSError:
            return False

    def test_up_refuses_a_taken_port_and_starts_nothing(self):
        c = Cluster(roomds=1, gateways=1)
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            s.listen()
            taken = s.getsockname()[1]
            proc = c.run('up', '--roomd', '1', '--port', str(taken),
                         '--base-port', str(free_range(4)), check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(f'port {taken} is taken', proc.stderr)
        self.assertEqual(pid_files(c.data), {})
        self.assertEqual(processes_mentioning(c.data), [])

    def test_a_process_that_dies_at_start_is_reported_with_its_log_and_the_rest_stopped(self):
        bin_dir = tempfile.mkdtemp(prefix='chat-ui-bin-')
        self.addCleanup(shutil.rmtree, bin_dir, True)
        for program in ('registry', 'chatctl', 'gateway'):
            os.symlink(os.path.join(BIN_DIR, program), os.path.join(bin_dir, program))
        os.symlink(shutil.which('false'), os.path.join(bin_dir, 'roomd'))
        c = Cluster(roomds=1, gateways=1)
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        proc = c.run('up', '--roomd', '1', '--bin', bin_dir, '--port', str(free_range(1)),
                     '--base-port', str(free_range(4)), check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('roomd1 died at start', proc.stderr)
        self.assertIn('last lines of', proc.stderr)
        self.assertIn('--node roomd1', proc.stderr)   # the log's first line names the command
        self.assertEqual(pid_files(c.data), {})
        self.assertEqual(processes_mentioning(c.data), [])


if __name__ == '__main__':
    unittest.main(verbosity=2)
