#!/usr/bin/env python3
"""The web UI in headless Chromium against a real cluster: two people sign
in, join one room and talk. Screenshots go to CHAT_SCREENSHOT_DIR when it is
set, and to a temp dir when a test fails."""

import asyncio
import os
import re
import sys
import tempfile
import time
import unittest
import uuid

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ui_support import Client, Cluster  # noqa: E402

WAIT = 45   # seconds; two busy cores run Chromium, the cluster and other builds
CHROMIUM = os.environ.get('CHAT_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHAT_CHROMEDRIVER', '/usr/bin/chromedriver')


def browser(width=1200, height=800, extra=()):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--disable-extensions', '--no-first-run', f'--window-size={width},{height}',
                *extra):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


def page_problems(driver):
    """Uncaught errors and Content-Security-Policy violations the page logged
    since the last call (reading the log empties it)."""
    return [e['message'] for e in driver.get_log('browser')
            if e.get('level') == 'SEVERE' and ('Uncaught' in e.get('message', '')
                                               or 'Content Security Policy' in e.get('message', ''))]


def css(testid, extra=''):
    return (By.CSS_SELECTOR, f'[data-testid="{testid}"]{extra}')


class Person:
    """One browser session and the few things a person does in the UI."""

    def __init__(self, driver, url):
        self.d = driver
        self.url = url

    def wait(self, condition, what):
        return WebDriverWait(self.d, WAIT, poll_frequency=0.1).until(
            lambda d: condition(), message=f'timed out waiting for {what}')

    def find(self, testid, extra=''):
        return self.d.find_element(*css(testid, extra))

    def finds(self, testid, extra=''):
        return self.d.find_elements(*css(testid, extra))

    def sign_in(self, name):
        self.d.get(self.url)
        self.wait(lambda: self.find('login-name').is_displayed(), 'the sign-in form')
        self.find('login-name').send_keys(name)
        self.find('login-submit').click()
        self.wait(lambda: self.find('connection-status').get_attribute('data-state') == 'open',
                  'the connection')
        self.wait(lambda: len(self.finds('room-item')) >= 3, 'the room list')

    def join(self, room_id):
        self.find('room-item', f'[data-room-id="{room_id}"]').find_element(
            *css('room-join')).click()
        self.wait(lambda: self.find('room-view').get_attribute('data-room-id') == room_id
                  and self.find('room-tab', f'[data-room-id="{room_id}"]').get_attribute(
                      'data-joined') == '1', f'room {room_id} open')

    def say(self, text):
        box = self.find('message-input')
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def messages(self, kind=None):
        extra = f'[data-type="{kind}"]' if kind else ''
        return self.finds('message', extra)

    def wait_message(self, content, kind='text'):
        def found():
            for m in self.messages(kind):
                if m.find_element(*css('message-content')).text == content:
                    return m
            return None
        return self.wait(found, f'message {content!r}')

    def online(self):
        return self.find('room-online-count').text


class BrowserCase(unittest.TestCase):
    """Browsers for a test (screenshots, script errors, quit); a subclass
    starts cls.cluster in setUpClass and sets cls.shots."""
    cluster = None
    shots = None

    def setUp(self):
        self.drivers = []

    def tearDown(self):
        result = self._outcome.result
        failed = any(test is self for test, _ in result.errors + result.failures)
        shot_dir = self.shots or (tempfile.mkdtemp(prefix='chat-ui-shots-') if failed else None)
        script_errors = []
        for i, d in enumerate(self.drivers):
            try:
                script_errors += page_problems(d)
            except WebDriverException:
                pass
            try:
                if shot_dir:
                    path = os.path.join(shot_dir, f'{self._testMethodName}-{i}.png')
                    d.save_screenshot(path)
                    if failed:
                        print(f'screenshot: {path}', file=sys.stderr)
            except WebDriverException:
                pass
            d.quit()
        self.assertEqual(script_errors, [], 'uncaught errors or CSP violations in the page')

    def person(self, **size):
        driver = browser(**size)
        self.drivers.append(driver)
        return Person(driver, self.cluster.url())


class BrowserTest(BrowserCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(roomds=2, gateways=2)
        cls.addClassCleanup(cls.cluster.cleanup)
        cls.addClassCleanup(cls.cluster.assert_clean_logs)   # after down: leaks show at exit
        cls.addClassCleanup(cls.cluster.down)
        cls.cluster.up()
        cls.shots = os.environ.get('CHAT_SCREENSHOT_DIR')

    def test_two_people_in_one_room_see_each_others_messages_as_text(self):
        alice = self.person()
        bob = self.person()
        room = f'ui-{uuid.uuid4().hex[:6]}'
        alice.sign_in('Alice')
        bob.sign_in('Bob')

        # Alice makes a fresh room, so nothing else is in it.
        alice.find('create-room-toggle').click()
        alice.find('create-room-name').send_keys(room)
        alice.find('create-room-description').send_keys('made by the browser test')
        alice.find('create-room-submit').click()
        alice.wait(lambda: alice.find('room-view').get_attribute('data-room-id') == room,
                   'the new room to open')
        bob.wait(lambda: bob.finds('room-item', f'[data-room-id="{room}"]'),
                 'the new room in the other browser')
        bob.join(room)

        for p in (alice, bob):
            p.wait(lambda p=p: p.online() == '2', 'an online count of 2')
            self.assertEqual(p.find('room-title').text, f'# {room}')
            self.assertEqual(len(p.finds('user-item')), 2)

        # The join line: grey, italic, centred.
        line = alice.wait_message('Bob joined the room', kind='join')
        content = line.find_element(*css('message-content'))
        self.assertEqual(content.value_of_css_property('font-style'), 'italic')
        r, g, b = map(int, re.findall(r'\d+', content.value_of_css_property('color'))[:3])
        self.assertTrue(max(r, g, b) - min(r, g, b) < 40 and 90 < r < 200, f'grey? {r},{g},{b}')
        self.assertEqual(content.value_of_css_property('text-align'), 'center')

        alice.say('Hello Bob')
        for p in (alice, bob):
            m = p.wait_message('Hello Bob')
            self.assertEqual(m.find_element(*css('message-author')).text, 'Alice')
            weight = int(m.find_element(*css('message-author')).value_of_css_property('font-weight'))
            self.assertGreaterEqual(weight, 600)
            self.assertRegex(m.find_element(*css('message-time')).text, r'^\d\d:\d\d$')
            self.assertEqual(m.find_element(By.CSS_SELECTOR, '.avatar').text, 'A')

        bob.say('<b>x</b>')
        for p in (alice, bob):
            m = p.wait_message('<b>x</b>')
            self.assertEqual(m.find_elements(By.TAG_NAME, 'b'), [])
            self.assertEqual(p.d.find_elements(By.CSS_SELECTOR, '[data-testid="message-list"] b'), [])

        # Enter on an empty input sends nothing.
        count = len(alice.messages())
        alice.say('   ')
        alice.find('message-input').clear()
        alice.say('after blank')
        alice.wait_message('after blank')
        self.assertEqual(len(alice.messages()), count + 1)

        bob.find('room-leave').click()
        alice.wait(lambda: alice.online() == '1', 'an online count of 1 after Bob left')
        alice.wait_message('Bob left the room', kind='leave')

    def test_a_browser_that_lost_its_gateway_rejoins_and_shows_what_it_missed_once(self):
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        run = loop.run_until_complete
        bob = run(Client.open(self.cluster.ws_url(1), 'bob_ws', 'Bob'))   # on the other gateway
        self.addCleanup(lambda: run(bob.close()))
        room = run(bob.request({'type': 'createRoom', 'name': f'again-{uuid.uuid4().hex[:6]}',
                                'description': ''}))['room']['id']
        self.assertEqual(run(bob.request({'type': 'joinRoom', 'roomId': room}))['type'], 'roomJoined')

        def bob_says(text):
            ack = run(bob.request({'type': 'sendMessage', 'roomId': room, 'content': text}))
            self.assertEqual(ack['type'], 'messageAck', ack)

        alice = self.person()
        alice.sign_in('Alice')
        alice.wait(lambda: alice.finds('room-item', f'[data-room-id="{room}"]'), 'the room')
        alice.join(room)
        bob_says('before')
        alice.wait_message('before')

        argv = self.cluster.kill('gateway1')
        alice.wait(lambda: alice.find('connection-status').get_attribute('data-state') != 'open',
                   'the page to notice the lost connection')
        bob_says('during 1')
        bob_says('during 2')
        self.cluster.restart('gateway1', argv)

        alice.wait(lambda: alice.find('connection-status').get_attribute('data-state') == 'open'
                   and alice.find('room-tab', f'[data-room-id="{room}"]').get_attribute('data-joined') == '1',
                   'reconnected and rejoined')
        alice.wait_message('during 1')
        alice.wait_message('during 2')
        bob_says('after')
        alice.wait_message('after')
        seqs = [int(m.get_attribute('data-seq')) for m in alice.messages()]
        self.assertEqual(seqs, sorted(set(seqs)), 'each message once, in seq order')
        texts = [m.find_element(*css('message-content')).text for m in alice.messages('text')]
        self.assertEqual(texts, ['before', 'during 1', 'during 2', 'after'])

    def test_a_narrow_window_still_shows_the_room_and_the_composer(self):
        carol = self.person(width=420, height=720)   # headless Chromium may widen it to 500
        carol.sign_in('Carol')
        carol.find('menu-toggle').click()
        carol.wait(lambda: carol.find('room-item', '[data-room-id="random"]').is_displayed(),
                   'the room list in the drawer')
        # The drawer slides in (0.2 s): a click during the slide misses.
        carol.wait(lambda: carol.find('sidebar').rect['x'] == 0, 'the drawer fully open')
        carol.join('random')
        carol.wait(lambda: carol.find('message-input').is_displayed(), 'the composer')
        carol.say('small screen')
        m = carol.wait_message('small screen')
        self.assertTrue(m.is_displayed())
        inner, scroll = carol.d.execute_script(
            'return [window.innerWidth, document.documentElement.scrollWidth]')
        self.assertLessEqual(inner, 720, 'the window is narrow')
        self.assertLessEqual(scroll, inner, 'nothing sticks out sideways')
        self.assertFalse(carol.find('sidebar').is_displayed() and
                         carol.find('sidebar').rect['x'] >= 0, 'the room list is a closed drawer')


if __name__ == '__main__':
    unittest.main(verbosity=2)
