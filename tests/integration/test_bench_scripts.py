#!/usr/bin/env python3
"""bench/bench-medians and bench/bench-ab against a cluster of deploy/cluster
(the way docs/benchmarks.md runs them), with a tiny load: each run gets a
fresh gateway through `deploy/cluster restart-gateways`, the registry and the
roomd stay, and the reports and medians come out."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ui_support import BIN_DIR, SOURCE_DIR, Cluster  # noqa: E402

CHAT_BENCH = os.path.join(BIN_DIR, 'chat-bench')
MEDIANS = os.path.join(SOURCE_DIR, 'bench', 'bench-medians')
AB = os.path.join(SOURCE_DIR, 'bench', 'bench-ab')


def pid_records(data):
    records = {}
    for name in os.listdir(data):
        if name.endswith('.pid'):
            with open(os.path.join(data, name)) as f:
                records[name[:-4]] = tuple(f.read().split()[:3])
    return records


def gateway_starts(data):
    """The program of each start of gateway1, from the '== date time program args'
    lines deploy/cluster writes to its log."""
    with open(os.path.join(data, 'gateway1.log'), errors='replace') as f:
        return [line.split()[3] for line in f if line.startswith('== ')]


class BenchScriptsTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(roomds=1, gateways=1, extra=('--gateway-flags', '--rate 0'))
        self.addCleanup(self.cluster.cleanup)
        self.addCleanup(self.cluster.down)
        self.cluster.up()
        self.load = ['--url', self.cluster.ws_url(0), '--connections', '12', '--rooms', '3',
                     '--senders', '3', '--window', '4', '--duration', '1', '--warmup', '0']

    def run_script(self, argv, **env):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, **env))
        self.assertEqual(proc.returncode, 0, f'{argv}\nstdout:\n{proc.stdout}\nstderr:\n'
                         f'{proc.stderr}\n{self.cluster.logs()}')
        return proc.stdout

    def assert_only_gateway_restarted(self, before, after):
        for name in ('registry', 'roomd1'):
            self.assertEqual(after[name], before[name], f'{name} was restarted')
        self.assertNotEqual(after['gateway1'], before['gateway1'], 'gateway1 was not restarted')

    def test_bench_medians_restarts_the_gateway_before_each_run_and_prints_medians(self):
        c = self.cluster
        before = pid_records(c.data)
        out = self.run_script([MEDIANS, '--runs', '2', '--restart', c.data, '--bin', CHAT_BENCH,
                               '--', *self.load])
        runs = [json.loads(line.split(': ', 1)[1]) for line in out.splitlines()
                if line.startswith('run ')]
        self.assertEqual(len(runs), 2, out)
        for report in runs:
            self.assertTrue(report['ok'], report)
            self.assertGreater(report['acked'], 0, report)
        self.assertIn('| deliveries/s |', out)
        self.assert_only_gateway_restarted(before, pid_records(c.data))
        self.assertEqual(len(gateway_starts(c.data)), 3)   # up, then once per run
        c.assert_clean_logs()

    def test_bench_ab_alternates_the_gateway_variants_and_leaves_variant_a_running(self):
        c = self.cluster
        bin_dir = tempfile.mkdtemp(prefix='chat-ab-bin-')
        self.addCleanup(shutil.rmtree, bin_dir, True)
        other = os.path.join(bin_dir, 'gateway-b')
        shutil.copy2(os.path.join(BIN_DIR, 'gateway'), other)
        before = pid_records(c.data)
        out = self.run_script([AB, c.data, '1', '', f'--gateway-bin {other}', '--', *self.load],
                              CHAT_BENCH=CHAT_BENCH)
        self.assertIn('run 1 A:', out)
        self.assertIn('run 1 B:', out)
        self.assertIn('A median of 1', out)
        self.assertIn('B median of 1', out)
        for v in 'AB':
            with open(os.path.join(c.data, f'ab-{v}.jsonl')) as f:
                reports = [json.loads(line) for line in f]
            self.assertEqual(len(reports), 1, v)
            self.assertTrue(reports[0]['ok'], reports[0])
        ours = os.path.realpath(os.path.join(BIN_DIR, 'gateway'))
        # up, A, B, and A again at the end.
        self.assertEqual(gateway_starts(c.data), [ours, ours, os.path.realpath(other), ours])
        self.assert_only_gateway_restarted(before, pid_records(c.data))
        self.assertEqual(c.status().returncode, 0)
        c.assert_clean_logs()


if __name__ == '__main__':
    unittest.main(verbosity=2)
