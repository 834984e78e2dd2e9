#!/usr/bin/env python3
"""deploy/cluster itself: up with 2 roomds and 2 gateways, status, a message
crossing gateways, refusals (second up, a taken port), and down leaving no
process behind; flags passed through to the programs, and restart-gateways
(what the benchmark scripts use)."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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


def cmdline(pid):
    """The argv of a running process."""
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        return [a.decode() for a in f.read().split(b'\0')[:-1]]


def pid_records(data):
    """name -> (pid, start time) from the pid files: a process restarted
    under the same pid would still show as new."""
    records = {}
    for name in os.listdir(data):
        if name.endswith('.pid'):
            with open(os.path.join(data, name)) as f:
                pid, started = f.read().split()[:2]
            records[name[:-4]] = (int(pid), started)
    return records


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
        for flag in ('up', 'down', 'status', 'restart-gateways', 'restart-registry',
                     '--registries', '--roomd', '--gateways', '--port',
                     '--base-port', '--data', '--bin', '--timeout', '--listen', '--gateway-flags',
                     '--roomd-flags', '--gateway-bin', '--roomd-bin', '--log-level'):
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
                         '--base-port', str(free_range(5)), check=False)
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
                     '--base-port', str(free_range(5)), check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('roomd1 died at start', proc.stderr)
        self.assertIn('last lines of', proc.stderr)
        self.assertIn('--node roomd1', proc.stderr)   # the log's first line names the command
        self.assertEqual(pid_files(c.data), {})
        self.assertEqual(processes_mentioning(c.data), [])


    def test_gateway_and_roomd_flags_programs_and_the_log_level_reach_every_process(self):
        bin_dir = tempfile.mkdtemp(prefix='chat-ui-bin-')
        self.addCleanup(shutil.rmtree, bin_dir, True)
        roomd_b = os.path.join(bin_dir, 'roomd-b')
        gateway_b = os.path.join(bin_dir, 'gateway b')   # a space, to test the quoting
        shutil.copy2(os.path.join(BIN_DIR, 'roomd'), roomd_b)
        shutil.copy2(os.path.join(BIN_DIR, 'gateway'), gateway_b)
        c = Cluster(roomds=1, gateways=2, extra=(
            '--gateway-flags', "--rate 0 --queue-max '5000'", '--roomd-flags', '--max-batch 500',
            '--log-level', 'warn', '--roomd-bin', roomd_b, '--gateway-bin', gateway_b))
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        c.up()
        self.assertEqual(os.path.realpath(f'/proc/{c.pid("roomd1")}/exe'), os.path.realpath(roomd_b))
        self.assertEqual(os.path.realpath(f'/proc/{c.pid("gateway1")}/exe'), os.path.realpath(gateway_b))
        for name in ('gateway1', 'gateway2'):
            argv = cmdline(c.pid(name))
            self.assertEqual(argv[-4:], ['--rate', '0', '--queue-max', '5000'], argv)
            self.assertIn('--log-level warn', ' '.join(argv))
        argv = cmdline(c.pid('roomd1'))
        self.assertEqual(argv[-2:], ['--max-batch', '500'], argv)
        self.assertIn('--log-level warn', ' '.join(argv))
        self.assertIn('--log-level warn', ' '.join(cmdline(c.pid('registry'))))
        # --rate 0 in effect: far more than the default burst (20) at once, all acked.
        acks = asyncio.run(self.burst_of_messages(c.ws_url(1), 60))
        self.assertEqual(acks, ['messageAck'] * 60)

        # restart-gateways reads the same program and flags back from cluster.env.
        argv = cmdline(c.pid('gateway1'))
        c.run('restart-gateways', '--timeout', '120')
        self.assertEqual(cmdline(c.pid('gateway1')), argv)
        self.assertEqual(os.path.realpath(f'/proc/{c.pid("gateway1")}/exe'), os.path.realpath(gateway_b))
        c.assert_clean_logs()

    async def burst_of_messages(self, url, count):
        client = await Client.open(url, 'burst', 'Burst')
        try:
            reply = await client.request({'type': 'joinRoom', 'roomId': 'general'})
            self.assertEqual(reply['type'], 'roomJoined', reply)
            refs = [f'b{i}' for i in range(count)]
            for ref in refs:
                await client.send({'type': 'sendMessage', 'roomId': 'general',
                                   'content': f'burst {ref}', 'ref': ref})
            replies = []
            for ref in refs:
                replies.append((await client.expect(lambda m, ref=ref: m.get('ref') == ref))['type'])
            return replies
        finally:
            await client.close()

    def test_restart_gateways_starts_new_healthy_gateways_with_the_same_flags_and_leaves_the_rest(self):
        c = Cluster(roomds=1, gateways=2, extra=('--gateway-flags', '--rate 0'))
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        c.up()
        before = pid_records(c.data)
        argv_before = {g: cmdline(c.pid(g)) for g in ('gateway1', 'gateway2')}

        proc = c.run('restart-gateways', '--timeout', '120')
        self.assertIn(c.url(0), proc.stdout)
        self.assertIn(c.url(1), proc.stdout)
        after = pid_records(c.data)
        for name in ('registry', 'roomd1'):
            self.assertEqual(after[name], before[name], f'{name} was restarted')
            self.assertTrue(self.alive(before[name][0]), name)
        for name in ('gateway1', 'gateway2'):
            self.assertNotEqual(after[name], before[name], f'{name} was not restarted')
            self.assertFalse(self.alive(before[name][0]), f'old {name} still runs')
            self.assertEqual(cmdline(after[name][0]), argv_before[name])
        status = c.status()
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        self.assertEqual(status.stdout.count('healthy'), 4, status.stdout)
        asyncio.run(self.message_crosses_gateways(c))

        c.down()
        for name, (pid, _) in after.items():
            self.assertFalse(self.alive(pid), f'{name} ({pid}) still runs')
        c.assert_clean_logs()

    def test_restart_gateways_settings_apply_once_and_a_failed_restart_leaves_registry_and_roomds(self):
        bin_dir = tempfile.mkdtemp(prefix='chat-ui-bin-')
        self.addCleanup(shutil.rmtree, bin_dir, True)
        other = os.path.join(bin_dir, 'gateway-b')
        shutil.copy2(os.path.join(BIN_DIR, 'gateway'), other)
        c = Cluster(roomds=1, gateways=1, extra=('--gateway-flags', '--rate 0'))
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        c.up()
        kept = {n: r for n, r in pid_records(c.data).items() if n != 'gateway1'}

        # Another binary, no extra flags, another log level: this restart only.
        c.run('restart-gateways', '--gateway-bin', other, '--gateway-flags', '', '--log-level', 'debug',
              '--timeout', '120')
        argv = cmdline(c.pid('gateway1'))
        self.assertEqual(os.path.realpath(f'/proc/{c.pid("gateway1")}/exe'), os.path.realpath(other))
        self.assertNotIn('--rate', argv)
        self.assertEqual(argv[-2:], ['--log-level', 'debug'], argv)
        self.assertEqual(c.status().returncode, 0)

        # A gateway that cannot start: reported with its log, nothing left half up.
        failed = c.run('restart-gateways', '--gateway-flags', '--no-such-flag 1', check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn('gateway1 died at start', failed.stderr)
        self.assertIn('--no-such-flag', failed.stderr)
        self.assertIn('the registry and the roomds still run', failed.stderr)
        status = c.status()
        self.assertNotEqual(status.returncode, 0)
        rows = {line.split()[0]: line.split()[2] for line in status.stdout.splitlines()[1:]}
        self.assertEqual(rows, {'registry': 'healthy', 'roomd1': 'healthy', 'gateway1': 'down'},
                         status.stdout)

        # A plain restart brings back up's settings.
        c.run('restart-gateways', '--timeout', '120')
        argv = cmdline(c.pid('gateway1'))
        self.assertEqual(os.path.realpath(f'/proc/{c.pid("gateway1")}/exe'),
                         os.path.realpath(os.path.join(BIN_DIR, 'gateway')))
        self.assertEqual(argv[-2:], ['--rate', '0'], argv)
        self.assertEqual(c.status().returncode, 0)
        self.assertEqual({n: r for n, r in pid_records(c.data).items() if n != 'gateway1'}, kept)
        c.assert_clean_logs()

    def test_three_registries_survive_a_kill_9_of_the_leader(self):
        c = Cluster(roomds=1, gateways=1, registries=3)
        self.addCleanup(c.cleanup)
        self.addCleanup(c.down)
        c.up()
        status = c.status()
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        self.assertEqual(sorted(rows), ['gateway1', 'registry1', 'registry2', 'registry3',
                                        'roomd1'])
        roles = sorted(rows[f'registry{j}'][3] for j in (1, 2, 3))
        self.assertEqual(roles, ['follower', 'follower', 'leader'], status.stdout)
        leader = next(j for j in (1, 2, 3) if rows[f'registry{j}'][3] == 'leader')

        c.kill(f'registry{leader}')
        started = time.monotonic()
        created = c.chatctl('create-room', 'After the kill')
        took = time.monotonic() - started
        self.assertEqual(created.returncode, 0, created.stdout + created.stderr)
        self.assertLess(took, 2.0, f'create-room answered {took:.2f} s after kill -9 of the leader')
        down = c.status()
        self.assertNotEqual(down.returncode, 0)
        self.assertIn(f'registry{leader}', [l.split()[0] for l in down.stdout.splitlines()
                                              if ' down' in l])

        back = c.run('restart-registry', str(leader), check=False)
        self.assertEqual(back.returncode, 0, back.stdout + back.stderr)
        self.assertIn('follower', back.stdout)
        status = c.status()
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        # The one brought back holds what was created while it was away.
        local = subprocess.run([os.path.join(BIN_DIR, 'chatctl'), '--registry',
                                f'tcp://127.0.0.1:{c.base_port + 3 * (leader - 1)}', '--local',
                                '--json', 'rooms'], capture_output=True, text=True, timeout=30)
        deadline = time.monotonic() + 10
        while 'after-the-kill' not in local.stdout and time.monotonic() < deadline:
            time.sleep(0.2)
            local = subprocess.run(local.args, capture_output=True, text=True, timeout=30)
        self.assertIn('after-the-kill', local.stdout)
        pids = pid_files(c.data)
        self.assertEqual(c.down().returncode, 0)
        for name, pid in pids.items():
            self.assertFalse(self.alive(pid), f'{name} ({pid}) still runs')
        self.assertEqual(processes_mentioning(c.data), [])

    def test_restart_gateways_refuses_options_of_up_and_a_directory_without_a_cluster(self):
        c = Cluster()
        self.addCleanup(c.cleanup)
        proc = c.run('restart-gateways', check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('no cluster in', proc.stderr)
        for args in (('--port', '9000'), ('--gateways', '3'), ('--roomd-flags', '--max-batch 1')):
            proc = c.run('restart-gateways', *args, check=False)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(f'{args[0]} is for up only', proc.stderr)
        proc = c.run('up', '--gateway-flags', "--rate '0", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('cannot split', proc.stderr)
        self.assertEqual(pid_files(c.data), {})


if __name__ == '__main__':
    unittest.main(verbosity=2)
