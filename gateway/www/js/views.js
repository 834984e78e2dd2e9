// Everything that touches the DOM. Views read ChatState and call the
// handlers the app gives them; they never talk to the server. User text is
// only ever set as text (el() uses text nodes), never parsed as HTML.
import { el, avatar, formatTime, formatDateTime } from './util.js';
import { MAX_LISTED } from './state.js';

const $ = (id) => document.getElementById(id);
const NEAR_BOTTOM_PX = 90;
const TOAST_MS = 5000;

export class Views {
  constructor(state, handlers) {
    this.state = state;
    this.handlers = handlers;   // onLogin, onLogout, onJoin, onShow, onLeave, onSend, onCreate,
                                // onLoadOlder, onSearch, onMore
    this.lists = new Map();     // room id -> {list: <ul>, nodes: Map seq -> <li>}
    this.narrow = window.matchMedia('(max-width: 960px)');
    this.bind();
    state.addEventListener('rooms', () => this.renderRoomList());
    state.addEventListener('tabs', () => { this.renderTabs(); this.renderRoom(); });
    state.addEventListener('users', (e) => {
      if (e.detail.roomId === state.activeId) { this.renderUsers(); this.renderHeader(); }
    });
    state.addEventListener('messages', (e) => this.addMessages(e.detail.roomId, e.detail.added));
  }

  // ------------------------------------------------------------ wiring

  bind() {
    const nameInput = $('login-name');
    const idInput = $('login-userid');
    nameInput.addEventListener('input', () => {
      if (!idInput.dataset.edited) idInput.value = this.handlers.suggestUserId(nameInput.value);
    });
    idInput.addEventListener('input', () => { idInput.dataset.edited = idInput.value ? '1' : ''; });
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.handlers.onLogin(nameInput.value, idInput.value.trim());
    });
    $('logout').addEventListener('click', () => this.handlers.onLogout());
    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('message-input');
      if (!input.value.trim()) return;
      const text = input.value;
      input.value = '';
      this.handlers.onSend(text);
    });
    $('room-leave').addEventListener('click', () => {
      if (this.state.activeId) this.handlers.onLeave(this.state.activeId);
    });
    $('create-room-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.handlers.onCreate($('create-room-name').value, $('create-room-description').value);
    });
    $('room-online').addEventListener('click', () => this.toggleUsers());
    $('menu-toggle').addEventListener('click', () => $('app').classList.toggle('menu-open'));
    $('scrim').addEventListener('click', () => $('app').classList.remove('menu-open'));
    $('messages').addEventListener('scroll', () => {
      if (this.nearBottom()) $('jump-latest').hidden = true;
    });
    $('jump-latest').addEventListener('click', () => this.scrollToBottom());
    $('room-search').addEventListener('input', () => this.handlers.onSearch($('room-search').value));
    // The next page of the directory when the end of the list comes into view.
    this.moreObserver = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.handlers.onMore();
    }, { root: $('sidebar'), rootMargin: '0px 0px 200px 0px' });
    this.moreObserver.observe($('room-list-status'));
  }

  // Asks for more when the end of the list is still in view after a page
  // came (the observer only speaks when visibility changes).
  checkMore() {
    const status = $('room-list-status').getBoundingClientRect();
    const side = $('sidebar').getBoundingClientRect();
    if (status.top < side.bottom + 200 && status.bottom > side.top) this.handlers.onMore();
  }

  // ------------------------------------------------------------ screens

  showLogin(identity, error) {
    $('app').hidden = true;
    $('login').hidden = false;
    if (identity) {
      $('login-name').value = identity.name;
      $('login-userid').value = identity.userId;
      $('login-userid').dataset.edited = '1';
    }
    $('login-error').textContent = error || '';
    $('login-name').focus();
  }

  loginError(text) {
    $('login-error').textContent = text || '';
  }

  showApp(identity) {
    $('login').hidden = true;
    $('app').hidden = false;
    $('me-name').textContent = identity.name;
    $('me-name').title = `@${identity.userId}`;
    const me = $('me-avatar');
    me.replaceWith(Object.assign(avatar(identity.userId, identity.name), { id: 'me-avatar' }));
    this.renderRoomList();
    this.renderTabs();
    this.renderRoom();
  }

  renderStatus({ state, retryAt }) {
    const node = $('connection-status');
    node.dataset.state = state;
    clearInterval(this.statusTimer);
    if (state === 'open') node.textContent = 'Online';
    else if (state === 'connecting') node.textContent = 'Connecting…';
    else if (state === 'closed') node.textContent = 'Offline';
    else if (state === 'waiting') {
      const tick = () => {
        const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        node.textContent = `Offline, retrying in ${s}s`;
      };
      tick();
      this.statusTimer = setInterval(tick, 500);
    }
    $('composer').classList.toggle('offline', state !== 'open');
  }

  // ------------------------------------------------------------ sidebar

  // The directory's rooms, drawn keyed by id: a room keeps its node from
  // one render to the next (only what changed is touched), so a list that
  // refreshes under the pointer does not move what is being clicked.
  renderRoomList() {
    const list = $('room-list');
    const d = this.state.directory;
    const rooms = this.state.listedRooms();
    const nodes = this.roomNodes || (this.roomNodes = new Map());
    const wanted = new Set(rooms.map((room) => room.id));
    for (const [id, node] of nodes) {
      if (!wanted.has(id)) {
        node.remove();
        nodes.delete(id);
      }
    }
    let prev = null;
    for (const room of rooms) {
      let node = nodes.get(room.id);
      if (!node) {
        node = this.roomNode(room.id);
        nodes.set(room.id, node);
      }
      this.updateRoomNode(node, room);
      const next = prev ? prev.nextSibling : list.firstChild;
      if (next !== node) list.insertBefore(node, next);
      prev = node;
    }
    const total = d.total === null ? '' : `${d.total.toLocaleString('en-US')} ${d.total === 1 ? 'room' : 'rooms'}`;
    $('room-total').textContent = total ? `· ${total}` : '';
    let status = '';
    if (d.error) status = 'Could not load the rooms; scroll to try again.';
    else if (!d.loaded || d.loading) status = 'Loading…';
    else if (!d.ids.length) status = d.query ? 'No room matches.' : 'No rooms yet.';
    else if (d.cursor !== null && d.ids.length >= MAX_LISTED) status = 'Search to find more rooms.';
    $('room-list-status').textContent = status;
    $('room-list-status').dataset.state = d.loading ? 'loading' : d.more ? 'more' : 'end';
    if (d.loaded && !d.loading && d.more) requestAnimationFrame(() => this.checkMore());
  }

  roomNode(roomId) {
    const name = el('strong', { testid: 'room-item-name' });
    const description = el('span', { testid: 'room-item-description' });
    const count = el('span', { className: 'room-count', testid: 'room-item-count' });
    const node = el('li', { testid: 'room-item', dataset: { roomId } },
      el('div', { className: 'room-info' }, name, description),
      count,
      el('button', {
        type: 'button', testid: 'room-join',
        onclick: () => { this.handlers.onJoin(roomId); $('app').classList.remove('menu-open'); },
      }, 'Join'));
    node.parts = { name, description, count };
    return node;
  }

  updateRoomNode(node, room) {
    const { name, description, count } = node.parts;
    const online = String(this.state.onlineCount(room.id));
    const text = (e, value) => { if (e.textContent !== value) e.textContent = value; };
    text(name, String(room.name));
    text(description, room.description || '');
    description.title = room.description || '';
    text(count, online);
    count.title = `${online} online`;
    node.classList.toggle('joined', this.state.open.has(room.id));
  }

  renderTabs() {
    const items = [...this.state.open.values()].map((open) => {
      const active = open.id === this.state.activeId;
      return el('li', {
        className: active ? 'active' : '', testid: 'room-tab',
        dataset: { roomId: open.id, joined: open.joined ? '1' : '0' },
      },
      el('button', {
        type: 'button', className: 'tab-open', testid: 'room-tab-open',
        onclick: () => { this.handlers.onShow(open.id); $('app').classList.remove('menu-open'); },
      },
      el('span', { className: 'tab-name' }, open.room.name || open.id),
      open.unread ? el('span', { className: 'unread', testid: 'room-tab-unread' }, open.unread) : null),
      el('button', {
        type: 'button', className: 'tab-close', title: 'Leave room', 'aria-label': 'Leave room',
        testid: 'room-tab-leave', onclick: () => this.handlers.onLeave(open.id),
      }, '×'));
    });
    $('joined-list').replaceChildren(...items);
    $('joined-empty').hidden = items.length > 0;
    const unread = this.state.totalUnread();
    document.title = unread ? `(${unread}) Chat` : 'Chat';
  }

  // ------------------------------------------------------------ room

  renderRoom() {
    const open = this.state.open.get(this.state.activeId);
    const view = $('room-view');
    view.dataset.roomId = open ? open.id : '';
    $('composer').hidden = !open;
    $('room-leave').hidden = !open;
    $('room-online').hidden = !open;
    $('users-panel').hidden = !open;
    $('room-banner').hidden = !open || open.joined;
    const box = $('messages');
    if (!open) {
      box.replaceChildren($('welcome') || this.welcome());
      $('room-title').textContent = 'Welcome';
      $('room-description').textContent = '';
      return;
    }
    const entry = this.listFor(open.id);
    if (box.firstElementChild !== entry.wrap) {
      box.replaceChildren(entry.wrap);
      this.renderOlder(open);
      this.scrollToBottom();
      if (!this.narrow.matches) $('message-input').focus();
    }
    this.renderHeader();
    this.renderUsers();
  }

  welcome() {
    return el('div', { id: 'welcome', className: 'welcome' },
      el('h2', {}, 'Pick a room to start'),
      el('p', { className: 'muted' }, 'Choose one of the rooms on the left, or create your own.'));
  }

  renderHeader() {
    const open = this.state.open.get(this.state.activeId);
    if (!open) return;
    $('room-title').textContent = `# ${open.room.name || open.id}`;
    $('room-description').textContent = open.room.description || '';
    $('room-online-count').textContent = String(open.users.size);
  }

  renderUsers() {
    const open = this.state.open.get(this.state.activeId);
    if (!open) return;
    const users = [...open.users.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    $('user-list').replaceChildren(...users.map((user) =>
      el('li', { testid: 'user-item', dataset: { userId: user.id }, title: `@${user.id}` },
        avatar(user.id, user.name, 'small'),
        el('span', {}, user.name || user.id))));
  }

  toggleUsers() {
    const panel = $('users-panel');
    if (this.narrow.matches) panel.classList.toggle('open');
    else panel.classList.toggle('closed');
  }

  // The message list of a room, built once and kept while the room is open.
  listFor(roomId) {
    let entry = this.lists.get(roomId);
    if (!entry) {
      const older = el('button', {
        type: 'button', className: 'load-older ghost', testid: 'load-older',
        onclick: () => this.handlers.onLoadOlder(roomId),
      }, 'Load earlier messages');
      const note = el('p', { className: 'history-note', testid: 'history-note' });
      const list = el('ul', { className: 'message-list', testid: 'message-list', dataset: { roomId } });
      const wrap = el('div', { className: 'message-wrap' }, older, note, list);
      entry = { wrap, older, note, list, nodes: new Map() };
      this.lists.set(roomId, entry);
    }
    return entry;
  }

  dropRoom(roomId) {
    this.lists.delete(roomId);
  }

  renderOlder(open) {
    const entry = this.listFor(open.id);
    entry.older.hidden = !(open.minSeq > 1);
    entry.note.textContent = open.truncated ? 'Some messages from while you were away are not shown.' : '';
    entry.note.hidden = !open.truncated;
  }

  addMessages(roomId, added) {
    const open = this.state.open.get(roomId);
    if (!open) return;
    const entry = this.listFor(roomId);
    const active = roomId === this.state.activeId;
    const stick = active && this.nearBottom();
    let mine = false;
    for (const message of added) {
      const node = this.messageNode(message);
      entry.nodes.set(message.seq, node);
      const next = this.nextNode(entry, open, message.seq);
      entry.list.insertBefore(node, next);
      if (this.state.me && message.userId === this.state.me.userId) mine = true;
    }
    this.renderOlder(open);
    if (!active) return;
    const appended = added.length && added[added.length - 1].seq === open.maxSeq;
    if (stick || mine) this.scrollToBottom();
    else if (appended) $('jump-latest').hidden = false;
  }

  // The node of the first message after seq, or null (append).
  nextNode(entry, open, seq) {
    if (seq >= open.maxSeq) return null;
    const messages = open.messages;
    let lo = 0;
    let hi = messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (messages[mid].seq <= seq) lo = mid + 1; else hi = mid;
    }
    for (let i = lo; i < messages.length; i++) {
      const node = entry.nodes.get(messages[i].seq);
      if (node && node.parentNode === entry.list) return node;
    }
    return null;
  }

  messageNode(message) {
    const type = ['join', 'leave', 'system'].includes(message.messageType) ? message.messageType : 'text';
    const time = el('time', {
      className: 'msg-time', testid: 'message-time',
      dateTime: new Date(message.timestamp).toISOString(), title: formatDateTime(message.timestamp),
    }, formatTime(message.timestamp));
    const content = el('div', { className: 'msg-content', testid: 'message-content' }, message.content);
    const attrs = { testid: 'message', dataset: { seq: message.seq, type, userId: message.userId } };
    if (type !== 'text') {
      return el('li', { ...attrs, className: `msg event ${type}` }, content, time);
    }
    const mine = this.state.me && message.userId === this.state.me.userId;
    return el('li', { ...attrs, className: mine ? 'msg mine' : 'msg' },
      avatar(message.userId, message.userName),
      el('div', { className: 'msg-body' },
        el('div', { className: 'msg-meta' },
          el('strong', { className: 'msg-author', testid: 'message-author', title: `@${message.userId}` },
            message.userName || message.userId),
          time),
        content));
  }

  nearBottom() {
    const box = $('messages');
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
    $('jump-latest').hidden = true;
  }

  // ------------------------------------------------------------ forms and notices

  createRoomError(text) {
    $('create-room-error').textContent = text || '';
  }

  createRoomDone() {
    $('create-room-name').value = '';
    $('create-room-description').value = '';
    $('create-room-error').textContent = '';
    $('create-room').open = false;
  }

  restoreDraft(text) {
    const input = $('message-input');
    if (!input.value) input.value = text;
  }

  // A short notice; the same text again only renews the one on screen.
  toast(text, kind = 'error') {
    const box = $('toasts');
    const last = box.lastElementChild;
    if (last && last.textContent === text) {
      clearTimeout(last.timer);
      last.timer = setTimeout(() => last.remove(), TOAST_MS);
      return;
    }
    const node = el('div', { className: `toast ${kind}`, testid: 'toast', role: 'status' }, text);
    box.append(node);
    while (box.children.length > 4) box.firstElementChild.remove();
    node.timer = setTimeout(() => node.remove(), TOAST_MS);
  }
}
