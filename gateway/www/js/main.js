// The app: wires the connection, the state and the views, and turns user
// actions into requests (docs/protocol.md).
import { Connection, gatewayUrl } from './connection.js';
import { ChatState } from './state.js';
import { Views } from './views.js';
import {
  deriveUserId, randomUserId, checkUserId, checkName,
  loadIdentity, saveIdentity, loadOpenRooms, saveOpenRooms,
} from './identity.js';
import { codePoints } from './util.js';

const ROOMS_REFRESH_MS = 15000;
const REJOIN_RETRY_MS = 4000;
const HISTORY_PAGE = 50;
const ROOMS_PAGE = 50;          // rooms per page of the directory
const SEARCH_DELAY_MS = 200;    // typing pause before a search is sent

const ERROR_TEXT = {
  rate_limited: 'You are sending messages too fast.',
  unavailable: 'This room is unavailable right now; try again in a moment.',
  message_too_long: 'That message is too long (at most 4000 characters).',
  empty_message: 'Empty messages are not sent.',
  not_in_room: 'You are not in that room any more.',
  room_not_found: 'That room does not exist.',
  room_exists: 'A room with that name already exists.',
  invalid_room: 'A room name has 1 to 64 characters and a description at most 256.',
  invalid_user: 'That name or user id is not allowed.',
  offline: 'You are offline; reconnecting…',
  closed: 'The connection dropped; reconnecting…',
  timeout: 'The server did not answer in time.',
  internal: 'Something went wrong on the server.',
};

function describe(error) {
  if (!error) return 'Unknown error';
  let text = ERROR_TEXT[error.code] || error.message || error.code || 'Unknown error';
  if (error.code === 'rate_limited' && Number.isFinite(error.retryAfterMs)) {
    text += ` Try again in ${Math.max(1, Math.ceil(error.retryAfterMs / 1000))}s.`;
  }
  return text;
}

class App {
  constructor() {
    this.state = new ChatState();
    this.conn = null;
    this.joining = new Set();   // room ids with a joinRoom in flight
    this.restored = false;      // rooms saved in localStorage were reopened
    this.wasOpen = false;       // the connection has been up at least once
    this.views = new Views(this.state, {
      suggestUserId: (name) => deriveUserId(name),
      onLogin: (name, userId) => this.login(name, userId),
      onLogout: () => this.logout(),
      onJoin: (roomId) => this.join(roomId),
      onShow: (roomId) => this.state.setActive(roomId),
      onLeave: (roomId) => this.leave(roomId),
      onSend: (text) => this.send(text),
      onCreate: (name, description) => this.createRoom(name, description),
      onLoadOlder: (roomId) => this.loadOlder(roomId),
      onSearch: (text) => this.search(text),
      onMore: () => this.loadMore(),
    });
    this.searchTimer = null;
    this.pageRequest = 0;       // the latest directory request: older answers are dropped
    setInterval(() => this.refreshRooms(), ROOMS_REFRESH_MS);
    setInterval(() => this.retryJoins(), REJOIN_RETRY_MS);
  }

  boot() {
    const identity = loadIdentity();
    if (identity && !identity.signedOut) this.start(identity);
    else this.views.showLogin(identity);
  }

  // ------------------------------------------------------------ identity

  login(name, userIdInput) {
    const trimmedName = name.trim();
    const userId = userIdInput || deriveUserId(trimmedName) || randomUserId();
    const problem = checkName(trimmedName) || checkUserId(userId);
    if (problem) {
      this.views.loginError(problem);
      return;
    }
    const identity = { userId, name: trimmedName };
    saveIdentity(identity);
    this.start(identity);
  }

  logout() {
    if (this.conn) this.conn.stop();
    const identity = loadIdentity();
    if (identity) saveIdentity({ ...identity, signedOut: true });
    saveOpenRooms([]);
    window.location.reload();
  }

  start(identity) {
    this.state.me = identity;
    this.views.showApp(identity);
    this.conn = new Connection(gatewayUrl(), identity);
    this.conn.addEventListener('status', (e) => this.onStatus(e.detail));
    this.conn.addEventListener('ready', () => this.onReady());
    this.conn.addEventListener('push', (e) => this.onPush(e.detail.message));
    this.conn.addEventListener('rejected', (e) => {
      this.views.showLogin(identity, describe(e.detail.error));
    });
    this.conn.start();
  }

  // ------------------------------------------------------------ connection

  onStatus(status) {
    this.views.renderStatus(status);
    if (status.state !== 'open' && this.wasOpen && [...this.state.open.values()].some((r) => r.joined)) {
      this.state.markAllLeft();
    }
  }

  async onReady() {
    if (this.wasOpen) this.views.toast('Reconnected.', 'info');
    this.wasOpen = true;
    this.refreshRooms();
    const ids = [...this.state.open.keys()];
    if (!this.restored) {
      this.restored = true;
      for (const id of loadOpenRooms()) if (!ids.includes(id)) ids.push(id);
    }
    for (const id of ids) this.join(id, { show: false, quietErrors: true });
  }

  onPush(message) {
    switch (message.type) {
    case 'messageReceived': {
      const m = message.message;
      if (!m || typeof m.roomId !== 'string') return;
      const { gapAfter } = this.state.addMessages(m.roomId, [m]);
      if (gapAfter !== null) this.fillGap(m.roomId, gapAfter, m.seq);
      break;
    }
    case 'userJoined':
      this.state.userJoined(message.roomId, message.user);
      break;
    case 'userLeft':
      this.state.userLeft(message.roomId, message.userId);
      break;
    case 'roomCreated':
      this.state.addRoom(message.room);
      break;
    case 'error':
      this.views.toast(describe(message));
      break;
    default:
      break;   // pong and anything newer than this client
    }
  }

  // ------------------------------------------------------------ directory

  // The first page again (fresh online counts), unless the user scrolled
  // past it: then the pages stay as they are.
  refreshRooms() {
    const d = this.state.directory;
    if (!d.loading && d.ids.length <= ROOMS_PAGE) this.loadPage(false);
  }

  search(text) {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      const query = text.trim();
      if (query === this.state.directory.query && this.state.directory.loaded) return;
      this.state.resetDirectory(query);
      this.loadPage(false);
    }, SEARCH_DELAY_MS);
  }

  // The next page, when the end of the list is in view.
  loadMore() {
    const d = this.state.directory;
    if (d.loading || !(d.error || (d.loaded && d.more))) return;
    this.loadPage(d.loaded && d.cursor !== null);
  }

  // One getRooms page of the directory's query: after the pages loaded
  // (append) or instead of them.
  loadPage(append) {
    if (!this.conn || !this.conn.ready) return;
    const d = this.state.directory;
    const request = { type: 'getRooms', limit: ROOMS_PAGE };
    if (d.query) request.query = d.query;
    if (append && d.cursor) request.cursor = d.cursor;
    d.loading = true;
    d.error = null;
    const mine = ++this.pageRequest;
    this.state.emit('rooms');
    this.conn.request(request)
      .then((reply) => {
        if (mine === this.pageRequest && this.state.directory === d) {
          this.state.addDirectoryPage(reply, append);
        }
      })
      .catch((error) => {
        if (mine === this.pageRequest && this.state.directory === d) this.state.directoryFailed(error);
      });
  }

  // ------------------------------------------------------------ rooms

  async join(roomId, { show = true, quietErrors = false } = {}) {
    const open = this.state.open.get(roomId);
    if (open && open.joined) {
      if (show) this.state.setActive(roomId);
      return;
    }
    if (this.joining.has(roomId)) return;
    if (!this.conn || !this.conn.ready) {
      if (!quietErrors) this.views.toast(describe({ code: 'offline' }));
      return;
    }
    this.joining.add(roomId);
    const request = { type: 'joinRoom', roomId };
    if (open && open.maxSeq > 0) request.since = open.maxSeq;
    try {
      const reply = await this.conn.request(request);
      if (open && !this.state.open.has(roomId)) {
        // Left while the rejoin was in flight.
        this.conn.request({ type: 'leaveRoom', roomId }).catch(() => {});
        return;
      }
      this.state.joinedRoom(reply.room, reply.history, reply.truncated === true);
      if (show) this.state.setActive(roomId);
      this.saveRooms();
    } catch (error) {
      if (error.code === 'room_not_found') {
        if (open) this.closeLocally(roomId);
        this.saveRooms();
      }
      if (!quietErrors || error.code === 'room_not_found') {
        const name = (this.state.rooms.get(roomId) || {}).name || roomId;
        this.views.toast(`${name}: ${describe(error)}`);
      }
    } finally {
      this.joining.delete(roomId);
    }
  }

  // Rooms still open but not joined (their roomd was down): try again.
  retryJoins() {
    if (!this.conn || !this.conn.ready) return;
    for (const open of this.state.open.values()) {
      if (!open.joined) this.join(open.id, { show: false, quietErrors: true });
    }
  }

  async leave(roomId) {
    const open = this.state.open.get(roomId);
    if (!open) return;
    this.closeLocally(roomId);
    this.saveRooms();
    if (open.joined && this.conn && this.conn.ready) {
      try {
        await this.conn.request({ type: 'leaveRoom', roomId });
      } catch (error) {
        if (error.code !== 'not_in_room') this.views.toast(describe(error));
      }
    }
  }

  closeLocally(roomId) {
    this.state.closeRoom(roomId);
    this.views.dropRoom(roomId);
  }

  saveRooms() {
    saveOpenRooms([...this.state.open.keys()]);
  }

  async createRoom(name, description) {
    const cleanName = name.trim();
    if (!cleanName || codePoints(cleanName) > 64 || codePoints(description) > 256) {
      this.views.createRoomError(ERROR_TEXT.invalid_room);
      return;
    }
    if (!this.conn || !this.conn.ready) {
      this.views.createRoomError(describe({ code: 'offline' }));
      return;
    }
    try {
      const reply = await this.conn.request({ type: 'createRoom', name: cleanName, description });
      this.state.addRoom(reply.room);
      this.views.createRoomDone();
      this.join(reply.room.id);
    } catch (error) {
      this.views.createRoomError(describe(error));
    }
  }

  // ------------------------------------------------------------ messages

  async send(text) {
    const roomId = this.state.activeId;
    const open = this.state.open.get(roomId);
    if (!open || !text.trim()) return;
    if (!this.conn || !this.conn.ready || !open.joined) {
      this.views.toast(describe({ code: 'offline' }));
      this.views.restoreDraft(text);
      return;
    }
    try {
      await this.conn.request({ type: 'sendMessage', roomId, content: text });
    } catch (error) {
      this.views.toast(describe(error));
      if (error.code !== 'message_too_long' && error.code !== 'empty_message') {
        this.views.restoreDraft(text);
      }
      if (error.code === 'not_in_room') {
        open.joined = false;
        this.join(roomId, { show: false, quietErrors: true });
      }
    }
  }

  async loadOlder(roomId) {
    const open = this.state.open.get(roomId);
    if (!open || !this.conn || !this.conn.ready || open.minSeq <= 1) return;
    try {
      const reply = await this.conn.request({
        type: 'getHistory', roomId, before: open.minSeq, limit: HISTORY_PAGE,
      });
      this.state.addMessages(roomId, reply.messages || [], { countUnread: false, detectGap: false });
    } catch (error) {
      this.views.toast(describe(error));
    }
  }

  // A message skipped ahead of what we held: fetch the hole (after, before).
  async fillGap(roomId, after, before) {
    let upTo = before;
    while (upTo - after > 1 && this.conn && this.conn.ready) {
      const limit = Math.min(200, upTo - after - 1);
      try {
        const reply = await this.conn.request({ type: 'getHistory', roomId, before: upTo, limit });
        const messages = (reply.messages || []).filter((m) => m.seq > after);
        if (!messages.length) return;
        this.state.addMessages(roomId, messages, { countUnread: false, detectGap: false });
        upTo = messages[0].seq;
      } catch (error) {
        return;
      }
    }
  }
}

new App().boot();
