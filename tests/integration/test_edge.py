#!/usr/bin/env python3
"""The gateway's edge against a real cluster: TLS (https://, wss://) with a
certificate this test makes with the openssl CLI, the origin check of
WebSocket upgrades, and the security headers of every HTTP response.

A plain cluster comes from deploy/cluster; a second gateway with
--tls-cert/--tls-key joins the same registry on a port it picks itself
(--port 0, read back from its log)."""

import asyncio
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import unittest
import urllib.request
import uuid

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_browser  # noqa: E402
from ui_support import BIN_DIR, TIMEOUT, Client, Cluster  # noqa: E402

ALLOWED = 'self,https://app.example'
HEADERS = {
    'content-security-policy': "default-src 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
}


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    cert, key = os.path.join(directory, 'cert.pem'), os.path.join(directory, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=chat-edge-test',
                    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def log_tail(path, lines=30):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError as e:
        return f'({e})'


class TlsGateway:
    """A gateway process with TLS on a port of its own choosing."""

    def __init__(self, cluster, cert, key, *flags):
        self.log = os.path.join(cluster.data, 'gateway-tls.log')
        base = cluster.base_port
        argv = [os.path.join(BIN_DIR, 'gateway'), '--port', '0', '--listen', '127.0.0.1',
                '--registry', f'tcp://127.0.0.1:{base}',
                '--registry-pub', f'tcp://127.0.0.1:{base + 1}',
                '--tls-cert', cert, '--tls-key', key, *flags]
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log, errors='replace') as f:
                m = re.search(r'listening on port (\d+) \(https', f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f'the TLS gateway did not say its port within {TIMEOUT}s '
                             f'(exit {self.proc.poll()}); log:\n{log_tail(self.log)}')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http_get(url, context=None, headers=None):
    """(status, lower-cased headers, body) of a GET; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=context) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class EdgeTest(unittest.IsolatedAsyncioTestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(roomds=1, gateways=1)
        cls.addClassCleanup(cls.cluster.cleanup)
        cls.addClassCleanup(cls.cluster.assert_clean_logs)
        cls.addClassCleanup(cls.cluster.down)
        cls.cluster.up()
        cls.cert, cls.key = make_certificate(cls.cluster.data)
        cls.tls = TlsGateway(cls.cluster, cls.cert, cls.key, '--allowed-origins', ALLOWED)
        cls.addClassCleanup(cls.tls.stop)
        cls.ssl = ssl.create_default_context(cafile=cls.cert)

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await c.close()

    async def client(self, url, user_id=None, **connect_args):
        c = await Client.open(url, user_id, **connect_args)
        self.clients.append(c)
        return c

    def tls_url(self, scheme='https', path='/'):
        return f'{scheme}://127.0.0.1:{self.tls.port}{path}'

    async def refused_status(self, url, **connect_args):
        """The HTTP status of a refused upgrade (fails when it is accepted)."""
        try:
            ws = await asyncio.wait_for(websockets.connect(url, open_timeout=TIMEOUT,
                                                           **connect_args), TIMEOUT)
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
        await ws.close()
        self.fail(f'the upgrade of {url} with {connect_args} was accepted')

    def refused_count(self, url, context=None):
        status, _, body = http_get(url + 'metrics', context)
        self.assertEqual(status, 200)
        m = re.search(rb'^chat_gateway_upgrades_refused_total (\d+)$', body, re.M)
        self.assertIsNotNone(m, 'chat_gateway_upgrades_refused_total in /metrics')
        return int(m.group(1))

    # ------------------------------------------------------------ TLS

    async def test_a_wss_client_chats_with_a_client_of_a_plain_gateway(self):
        room = f'edge-{uuid.uuid4().hex[:8]}'
        secure = await self.client(self.tls_url('wss', '/ws'), 'tls_alice', ssl=self.ssl)
        plain = await self.client(self.cluster.ws_url(), 'plain_bob')
        created = await secure.request({'type': 'createRoom', 'name': room, 'description': ''})
        self.assertEqual(created['type'], 'roomCreated', created)
        room_id = created['room']['id']
        for c in (secure, plain):
            joined = await c.request({'type': 'joinRoom', 'roomId': room_id})
            self.assertEqual(joined['type'], 'roomJoined', joined)
        ack = await secure.request({'type': 'sendMessage', 'roomId': room_id,
                                    'content': 'over TLS'})
        self.assertEqual(ack['type'], 'messageAck', ack)
        got = await plain.message(room_id, lambda m: m['messageType'] == 'text')
        self.assertEqual((got['content'], got['userId']), ('over TLS', 'tls_alice'))
        await plain.request({'type': 'sendMessage', 'roomId': room_id, 'content': 'back'})
        got = await secure.message(room_id, lambda m: m['content'] == 'back')
        self.assertEqual(got['userId'], 'plain_bob')

    def test_https_serves_the_ui_and_health_with_hsts(self):
        status, headers, body = http_get(self.tls_url(), self.ssl)
        self.assertEqual(status, 200)
        self.assertIn(b'<script type="module" src="js/main.js">', body)
        self.assertIn('max-age=', headers.get('strict-transport-security', ''))
        # curl, a client we did not write, with the test's certificate as its CA
        out = subprocess.run(['curl', '-sS', '--max-time', str(int(TIMEOUT)), '--cacert',
                              self.cert, '-D', '-', self.tls_url(path='/healthz')],
                             capture_output=True, text=True, timeout=TIMEOUT + 5)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r'^HTTP/1\.1 200')
        self.assertIn('ok', out.stdout)

    def test_the_tls_port_refuses_plain_http_and_an_unknown_certificate(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.tls.port, timeout=TIMEOUT)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            conn.request('GET', '/healthz')
            conn.getresponse()
        conn.close()
        with self.assertRaises(urllib.error.URLError) as caught:
            http_get(self.tls_url(), ssl.create_default_context())
        self.assertIsInstance(caught.exception.reason, ssl.SSLCertVerificationError)

    # ------------------------------------------------------------ origins

    async def test_an_upgrade_from_a_foreign_origin_is_refused_with_403_and_counted(self):
        before = self.refused_count(self.cluster.url())
        status = await self.refused_status(self.cluster.ws_url(), origin='http://evil.example')
        self.assertEqual(status, 403)
        self.assertEqual(self.refused_count(self.cluster.url()), before + 1)
        # the page's own origin and a program that sends none are served
        own = self.cluster.url().rstrip('/')
        for args in ({'origin': own}, {}):
            c = await self.client(self.cluster.ws_url(), f'origin_{len(args)}', **args)
            pong = await c.request({'type': 'ping'})
            self.assertEqual(pong['type'], 'pong')

    async def test_allowed_origins_lists_other_pages_and_keeps_self(self):
        url = self.tls_url('wss', '/ws')
        for origin in ('https://app.example', f'https://127.0.0.1:{self.tls.port}'):
            c = await self.client(url, None, ssl=self.ssl, origin=origin)
            self.assertEqual((await c.request({'type': 'ping'}))['type'], 'pong', origin)
        for origin in ('http://app.example', 'https://app.example:8443', 'null'):
            self.assertEqual(await self.refused_status(url, ssl=self.ssl, origin=origin), 403,
                             origin)

    async def test_an_upgrade_elsewhere_than_ws_is_refused_with_404(self):
        status = await self.refused_status(self.cluster.url().replace('http', 'ws', 1) + 'chat')
        self.assertEqual(status, 404)

    # ------------------------------------------------------------ headers

    def test_every_response_carries_the_security_headers(self):
        base = self.cluster.url()
        for path, status, kind in (('', 200, 'text/html'), ('js/main.js', 200, 'javascript'),
                                   ('style.css', 200, 'text/css'), ('healthz', 200, 'text/plain'),
                                   ('metrics', 200, 'text/plain'), ('nothing-here', 404, None)):
            got, headers, _ = http_get(base + path)
            self.assertEqual(got, status, path)
            for name, value in HEADERS.items():
                self.assertIn(value, headers.get(name, ''), f'{name} on /{path}')
            self.assertIn("frame-ancestors 'none'", headers['content-security-policy'])
            self.assertNotIn('strict-transport-security', headers, 'no HSTS without TLS')
            if kind:
                self.assertIn(kind, headers.get('content-type', ''), path)

    def test_the_web_ui_works_over_https_and_wss_within_its_policy(self):
        driver = test_browser.browser(extra=('--ignore-certificate-errors',))
        self.addCleanup(driver.quit)
        tessa = test_browser.Person(driver, self.tls_url())
        tessa.sign_in('Tessa')
        tessa.join('general')
        text = f'secure {uuid.uuid4().hex[:6]}'
        tessa.say(text)
        tessa.wait_message(text)
        self.assertEqual(driver.execute_script('return location.protocol'), 'https:')
        self.assertEqual(test_browser.page_problems(driver), [])

    # ------------------------------------------------------------ settings

    def test_bad_edge_settings_stop_the_gateway_at_start(self):
        gateway = os.path.join(BIN_DIR, 'gateway')
        for flags, message in ((['--tls-cert', self.cert], 'go together'),
                               (['--tls-cert', self.cert, '--tls-key', '/nonexistent/key.pem'],
                                '--tls-key'),
                               (['--allowed-origins', 'self,chat.example.com'],
                                'chat.example.com')):
            out = subprocess.run([gateway, '--port', '0', *flags], capture_output=True,
                                 text=True, timeout=TIMEOUT)
            self.assertEqual(out.returncode, 2, flags)
            self.assertIn(message, out.stderr)
        # a file that is no certificate: readable, so only TLS can tell
        garbage = os.path.join(self.cluster.data, 'garbage.pem')
        with open(garbage, 'w') as f:
            f.write('not a certificate\n')
        out = subprocess.run([gateway, '--port', '0', '--tls-cert', garbage, '--tls-key', self.key],
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 1)
        self.assertIn('cannot use --tls-cert and --tls-key', out.stderr)


if __name__ == '__main__':
    unittest.main(verbosity=2)
