#!/usr/bin/env python3
"""The client protocol (docs/protocol.md) against a real cluster, spoken by
python3-websockets: a WebSocket implementation we did not write."""

import asyncio
import os
import sys
import unittest
import uuid

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ui_support import Client, Cluster  # noqa: E402


def unique(prefix):
    return f'{prefix}-{uuid.uuid4().hex[:8]}'


class ProtocolTest(unittest.IsolatedAsyncioTestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(roomds=2, gateways=1)
        cls.addClassCleanup(cls.cluster.cleanup)
        cls.addClassCleanup(cls.cluster.assert_clean_logs)   # after down: leaks show at exit
        cls.addClassCleanup(cls.cluster.down)
        cls.cluster.up()

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await c.close()

    async def client(self, user_id=None, name=None):
        c = await Client.open(self.cluster.ws_url(), user_id, name)
        self.clients.append(c)
        return c

    async def new_room(self, c):
        reply = await c.request({'type': 'createRoom', 'name': unique('Proto Room'),
                                 'description': 'made by test_protocol'})
        self.assertEqual(reply['type'], 'roomCreated', reply)
        return reply['room']['id']

    # ------------------------------------------------------------ tests

    async def test_the_gateway_accepts_the_chat_v1_subprotocol(self):
        c = await self.client()
        self.assertEqual(c.ws.subprotocol, 'chat.v1')

    async def test_connect_answers_connected_with_the_user(self):
        c = await self.client()
        reply = await c.request({'type': 'connect', 'userId': 'alice_1', 'name': 'Alice One'})
        self.assertEqual(reply['type'], 'connected')
        self.assertEqual(reply['user']['id'], 'alice_1')
        self.assertEqual(reply['user']['name'], 'Alice One')
        self.assertIsInstance(reply['sessionId'], str)

    async def test_a_new_cluster_lists_general_random_and_tech(self):
        c = await self.client(unique('lister'))
        reply = await c.request({'type': 'getRooms'})
        self.assertEqual(reply['type'], 'roomsList')
        rooms = {r['id']: r for r in reply['rooms']}
        for rid, desc in (('general', 'General discussion'), ('random', 'Random chat'),
                          ('tech', 'Technology discussions')):
            self.assertIn(rid, rooms)
            self.assertEqual(rooms[rid]['description'], desc)
            self.assertIsInstance(rooms[rid]['users'], list)

    async def test_a_sent_message_is_acked_with_its_ref_and_received_by_the_sender(self):
        alice = await self.client(unique('alice'), 'Alice')
        room = await self.new_room(alice)
        joined = await alice.request({'type': 'joinRoom', 'roomId': room})
        self.assertEqual(joined['type'], 'roomJoined')
        self.assertEqual(joined['room']['id'], room)
        join_line = await alice.message(room)
        self.assertEqual(join_line['messageType'], 'join')
        self.assertEqual(join_line['content'], 'Alice joined the room')

        await alice.send({'type': 'sendMessage', 'roomId': room, 'content': 'Hello <b>there</b>',
                          'ref': 'my-ref-42'})
        ack = await alice.expect(lambda m: m.get('ref') == 'my-ref-42')
        self.assertEqual(ack['type'], 'messageAck', ack)
        self.assertEqual(ack['roomId'], room)
        self.assertEqual(ack['seq'], join_line['seq'] + 1)
        got = await alice.message(room, lambda m: m['messageType'] == 'text')
        self.assertEqual(got['seq'], ack['seq'])
        self.assertEqual(got['id'], ack['id'])
        self.assertEqual(got['content'], 'Hello <b>there</b>')
        self.assertEqual(got['userName'], 'Alice')

    async def test_a_second_client_sees_the_join_and_the_message(self):
        alice_id = unique('alice')
        alice = await self.client(alice_id, 'Alice')
        bob_id = unique('bob')
        bob = await self.client(bob_id, 'Bob')
        room = await self.new_room(alice)
        await alice.request({'type': 'joinRoom', 'roomId': room})
        await alice.message(room)   # her own join line

        joined = await bob.request({'type': 'joinRoom', 'roomId': room})
        self.assertEqual(sorted(u['id'] for u in joined['room']['users']), sorted([alice_id, bob_id]))
        user_joined = await alice.expect(lambda m: m.get('type') == 'userJoined')
        self.assertEqual(user_joined['roomId'], room)
        self.assertEqual(user_joined['user']['id'], bob_id)
        line = await alice.message(room, lambda m: m['messageType'] == 'join')
        self.assertEqual(line['content'], 'Bob joined the room')
        self.assertEqual(line['userId'], 'system')

        ack = await alice.request({'type': 'sendMessage', 'roomId': room, 'content': 'hi bob'})
        self.assertEqual(ack['type'], 'messageAck')
        got = await bob.message(room, lambda m: m['messageType'] == 'text')
        self.assertEqual((got['seq'], got['content']), (ack['seq'], 'hi bob'))

        await bob.request({'type': 'leaveRoom', 'roomId': room})
        left = await alice.expect(lambda m: m.get('type') == 'userLeft')
        self.assertEqual(left['userId'], bob_id)
        line = await alice.message(room, lambda m: m['messageType'] == 'leave')
        self.assertEqual(line['content'], 'Bob left the room')

    async def test_history_returns_messages_oldest_first_and_since_skips_what_was_seen(self):
        alice = await self.client(unique('alice'))
        room = await self.new_room(alice)
        await alice.request({'type': 'joinRoom', 'roomId': room})
        seqs = []
        for i in range(5):
            ack = await alice.request({'type': 'sendMessage', 'roomId': room, 'content': f'm{i}'})
            self.assertEqual(ack['type'], 'messageAck', ack)
            seqs.append(ack['seq'])
        history = await alice.request({'type': 'getHistory', 'roomId': room, 'limit': 3})
        self.assertEqual(history['type'], 'history')
        self.assertEqual([m['content'] for m in history['messages']], ['m2', 'm3', 'm4'])
        self.assertTrue(history['hasMore'])
        older = await alice.request({'type': 'getHistory', 'roomId': room,
                                     'before': seqs[2], 'limit': 50})
        self.assertEqual([m['content'] for m in older['messages'] if m['messageType'] == 'text'],
                         ['m0', 'm1'])

        bob = await self.client(unique('bob'))
        joined = await bob.request({'type': 'joinRoom', 'roomId': room, 'since': seqs[2]})
        self.assertEqual([m['content'] for m in joined['history']], ['m3', 'm4'])

    async def test_bad_requests_get_error_codes_and_the_connection_stays_open(self):
        c = await self.client()
        reply = await c.request({'type': 'getRooms'})
        self.assertEqual((reply['type'], reply['code']), ('error', 'connect_required'))
        await c.send('this is not json')
        reply = await c.expect(lambda m: m.get('type') == 'error')
        self.assertEqual(reply['code'], 'bad_json')
        reply = await c.request({'type': 'connect', 'userId': 'no spaces allowed'})
        self.assertEqual(reply['code'], 'invalid_user')

        user = unique('errs')
        reply = await c.request({'type': 'connect', 'userId': user})
        self.assertEqual(reply['type'], 'connected')
        cases = [
            ({'type': 'connect', 'userId': user}, 'already_connected'),
            ({'type': 'noSuchThing'}, 'unknown_type'),
            ({'type': 'joinRoom'}, 'bad_request'),
            ({'type': 'joinRoom', 'roomId': 'no-such-room'}, 'room_not_found'),
            ({'type': 'sendMessage', 'roomId': 'random', 'content': 'x'}, 'not_in_room'),
            ({'type': 'createRoom', 'name': 'General', 'description': ''}, 'room_exists'),
            ({'type': 'createRoom', 'name': '', 'description': ''}, 'invalid_room'),
        ]
        for request, code in cases:
            reply = await c.request(request)
            self.assertEqual((reply['type'], reply.get('code')), ('error', code), request)
            self.assertIsInstance(reply.get('message'), str)

        room = await self.new_room(c)
        await c.request({'type': 'joinRoom', 'roomId': room})
        for content, code in (('   \n ', 'empty_message'), ('x' * 4001, 'message_too_long')):
            reply = await c.request({'type': 'sendMessage', 'roomId': room, 'content': content})
            self.assertEqual((reply['type'], reply.get('code')), ('error', code))

        pong = await c.request({'type': 'ping'})
        self.assertEqual(pong['type'], 'pong')
        self.assertIsInstance(pong['serverTime'], int)

    async def test_a_frame_over_64_kib_closes_the_connection_with_1009(self):
        c = await self.client(unique('big'))
        await c.send('{"type":"ping","pad":"' + 'x' * (65 * 1024) + '"}')
        with self.assertRaises(websockets.ConnectionClosed):
            await asyncio.wait_for(c.ws.recv(), 30)
        await asyncio.wait_for(c.ws.wait_closed(), 30)
        self.assertEqual(c.ws.close_code, 1009)


if __name__ == '__main__':
    unittest.main(verbosity=2)
