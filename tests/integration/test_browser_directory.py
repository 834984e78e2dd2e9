#!/usr/bin/env python3
"""The web UI's room directory at 100,000 rooms, in headless Chromium
against a real cluster whose registry was filled with registry-seed: the
first page shows at once, the page never holds more than the pages
scrolled to, scrolling loads more, the search box finds one room among
100,000, and joining it puts it among the user's rooms."""

import json
import os
import sys
import time
import unittest

from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_browser import BrowserCase  # noqa: E402
from ui_support import Cluster, seed_name  # noqa: E402

ROOMS = int(os.environ.get('CHAT_UI_DIRECTORY_ROOMS', '100000'))
PAGE = 50   # the UI's page size (js/main.js ROOMS_PAGE)


class DirectoryAtScaleTest(BrowserCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(roomds=1, gateways=1, seed_rooms=ROOMS)
        cls.addClassCleanup(cls.cluster.cleanup)
        cls.addClassCleanup(cls.cluster.assert_clean_logs)
        cls.addClassCleanup(cls.cluster.down)
        cls.cluster.up()
        cls.shots = os.environ.get('CHAT_SCREENSHOT_DIR')

    def items(self, p):
        return p.finds('room-item')

    # Read in one script: the list may be redrawn between two WebDriver calls.
    def ids(self, p):
        return p.d.execute_script('return [...document.querySelectorAll('
                                  '\'[data-testid="room-item"]\')].map(e => e.dataset.roomId)')

    def names(self, p):
        return p.d.execute_script('return [...document.querySelectorAll('
                                  '\'[data-testid="room-item-name"]\')].map(e => e.textContent)')

    def search(self, p, text):
        box = p.find('room-search')
        box.send_keys(Keys.CONTROL, 'a')
        box.send_keys(Keys.DELETE)
        if text:
            box.send_keys(text)

    def test_the_first_page_shows_at_once_and_search_finds_one_room_among_all(self):
        p = self.person()
        started = time.monotonic()
        p.sign_in('Dora')   # waits for the first rooms of the list
        first_page_s = time.monotonic() - started
        print(f'first page of {ROOMS} rooms shown {first_page_s:.2f} s after signing in',
              file=sys.stderr)
        #  The seeded rooms, and the default ones when the registry made them.
        stats = json.loads(self.cluster.chatctl('--json', 'stats').stdout)
        rooms = int(stats['registry']['rooms'])
        self.assertGreaterEqual(rooms, ROOMS)
        total = f'{rooms:,} rooms'
        p.wait(lambda: total in p.find('room-total').text, f'the total {total!r}')
        ids = self.ids(p)
        self.assertLessEqual(len(ids), 2 * PAGE, 'only the first pages are in the page')
        self.assertEqual(len(ids), len(set(ids)), 'each room once')
        dom = p.d.execute_script('return document.getElementsByTagName("*").length')
        self.assertLess(dom, 3000, 'the page is small, whatever the catalog')

        # Scrolling to the end of the list loads the next pages.
        for pages in (2, 3):
            p.d.execute_script('const s = document.getElementById("sidebar");'
                               's.scrollTop = s.scrollHeight;')
            p.wait(lambda pages=pages: len(self.ids(p)) >= pages * PAGE,
                   f'{pages} pages after scrolling')
        ids = self.ids(p)
        self.assertEqual(len(ids), len(set(ids)), 'each room once after scrolling')
        self.assertLess(len(ids), 10 * PAGE)

        # One room among all of them, by its whole name, in any case.
        name, room_id = seed_name(ROOMS * 7 // 9)
        self.search(p, name.upper())
        p.wait(lambda: self.ids(p) == [room_id], f'only {room_id} listed')
        p.wait(lambda: '1 room' in p.find('room-total').text, 'a total of 1 room')
        p.join(room_id)
        self.assertEqual(p.find('room-title').text, f'# {name}')
        p.wait(lambda: p.finds('room-tab', f'[data-room-id="{room_id}"]'), 'the room in "Your rooms"')

        # A word: many rooms, each with it in its name; no match: said so.
        self.search(p, 'jazz')
        p.wait(lambda: len(self.names(p)) >= PAGE
               and all('jazz' in n.lower() for n in self.names(p)), 'rooms named with jazz')
        self.search(p, 'no room is called this')
        p.wait(lambda: not self.ids(p) and 'No room matches' in p.find('room-list-status').text,
               'an empty listing')
        self.search(p, '')
        p.wait(lambda: len(self.ids(p)) >= PAGE and total in p.find('room-total').text,
               'the whole listing again')


if __name__ == '__main__':
    unittest.main(verbosity=2)
