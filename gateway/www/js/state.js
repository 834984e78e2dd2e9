// What the client knows, kept apart from the DOM: the rooms seen so far,
// the directory listing (the pages of getRooms loaded for the search box's
// query), the rooms this tab has open (members, messages by seq, unread
// count) and which one is shown. Every change is announced as an event so
// views can redraw just that part:
//   rooms                        the directory or a room's online count changed
//   tabs                         open rooms, unread counts or the active room changed
//   users    {roomId}            a room's member list changed
//   messages {roomId, added}     messages were added (added is sorted by seq)
//   reset    {roomId}            a room's message list was replaced

export class OpenRoom {
  constructor(room) {
    this.id = room.id;
    this.room = room;           // the Room object as the server last sent it
    this.users = new Map();     // user id -> User
    this.messages = [];         // Message objects sorted by seq, each seq once
    this.seqs = new Set();      // seqs present in messages
    this.unread = 0;            // text messages that arrived while not shown
    this.joined = false;        // true while the server has us in the room
    this.truncated = false;     // a rejoin skipped messages the server left out
  }

  get maxSeq() {
    return this.messages.length ? this.messages[this.messages.length - 1].seq : 0;
  }

  get minSeq() {
    return this.messages.length ? this.messages[0].seq : 0;
  }
}

// The directory: pages of getRooms for one query, most users first. Only
// the pages scrolled to are loaded, and at most MAX_LISTED rooms: past that
// the search box narrows the listing down.
export const MAX_LISTED = 1000;

export class Directory {
  constructor(query = '') {
    this.query = query;         // what the search box asks for
    this.ids = [];              // room ids in listing order, each once
    this.cursor = null;         // where the next page starts; null at the end
    this.total = null;          // rooms in the whole listing, null until known
    this.loaded = false;        // the first page came
    this.loading = false;       // a page request is in flight
    this.error = null;          // why the last page failed, or null
  }

  get more() {
    return this.cursor !== null && this.ids.length < MAX_LISTED;
  }
}

export class ChatState extends EventTarget {
  constructor() {
    super();
    this.me = null;             // {userId, name}
    this.rooms = new Map();     // room id -> Room as last seen (pages, pushes, joins)
    this.directory = new Directory();
    this.open = new Map();      // room id -> OpenRoom, in the order opened
    this.activeId = null;       // the room on screen
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ------------------------------------------------------------ directory

  // The rooms of the directory listing, in order.
  listedRooms() {
    return this.directory.ids.map((id) => this.rooms.get(id)).filter(Boolean);
  }

  // A new listing for query: empty until its first page comes.
  resetDirectory(query) {
    this.directory = new Directory(query);
    this.emit('rooms');
  }

  // A page of the listing (a roomsList reply); append adds it after the
  // pages already there, else it replaces them (a refresh of page one).
  addDirectoryPage(reply, append) {
    const d = this.directory;
    if (!append) d.ids = [];
    const seen = new Set(d.ids);
    for (const room of reply.rooms || []) {
      if (!room || typeof room.id !== 'string') continue;
      this.rooms.set(room.id, room);
      if (!seen.has(room.id)) {
        seen.add(room.id);
        d.ids.push(room.id);
      }
    }
    d.cursor = typeof reply.cursor === 'string' ? reply.cursor : null;
    d.total = Number.isFinite(reply.total) ? reply.total : d.ids.length;
    d.loaded = true;
    d.loading = false;
    d.error = null;
    // Rooms we are in know their members better than a listing does.
    for (const open of this.open.values()) {
      const room = this.rooms.get(open.id);
      if (room && open.joined) room.users = [...open.users.values()];
    }
    this.emit('rooms');
  }

  directoryFailed(error) {
    this.directory.loading = false;
    this.directory.error = error;
    this.emit('rooms');
  }

  // A room made now (ours, or roomCreated pushed): listed first when it
  // matches the query, since the server would list it by users and name.
  addRoom(room) {
    if (!room || typeof room.id !== 'string') return;
    const known = this.rooms.get(room.id);
    this.rooms.set(room.id, { ...known, ...room, users: room.users || (known && known.users) || [] });
    const d = this.directory;
    const query = d.query.toLowerCase();
    if (!known && !d.ids.includes(room.id) && String(room.name).toLowerCase().includes(query)) {
      d.ids.unshift(room.id);
      if (d.total !== null) d.total += 1;
    }
    this.emit('rooms');
  }

  onlineCount(roomId) {
    const open = this.open.get(roomId);
    if (open && open.joined) return open.users.size;
    const room = this.rooms.get(roomId);
    return room && Array.isArray(room.users) ? room.users.length : 0;
  }

  // ------------------------------------------------------------ open rooms

  // After roomJoined: the room, its members and history. Returns the OpenRoom.
  joinedRoom(room, history, truncated) {
    let open = this.open.get(room.id);
    const fresh = !open;
    if (fresh) {
      open = new OpenRoom(room);
      this.open.set(room.id, open);
    }
    open.room = room;
    open.joined = true;
    if (truncated) open.truncated = true;
    this.rooms.set(room.id, { ...this.rooms.get(room.id), ...room });
    this.setUsers(open, room.users || []);
    // Missed messages count as unread after a rejoin, not on a first join.
    this.addMessages(room.id, history || [], { countUnread: !fresh, detectGap: false });
    if (!this.activeId) this.activeId = room.id;
    this.emit('tabs');
    this.emit('rooms');
    return open;
  }

  setUsers(open, users) {
    open.users = new Map();
    for (const user of users) {
      if (user && typeof user.id === 'string') open.users.set(user.id, user);
    }
    this.emit('users', { roomId: open.id });
  }

  // Adds messages the room does not hold yet (dedupe by seq) in seq order.
  // Returns {added, gapAfter}: gapAfter is the seq we held before a
  // message that skipped ahead (the client should fetch the hole), or null.
  addMessages(roomId, messages, { countUnread = true, detectGap = true } = {}) {
    const open = this.open.get(roomId);
    if (!open) return { added: [], gapAfter: null };
    const before = open.maxSeq;
    const added = [];
    for (const message of messages) {
      if (!message || !Number.isInteger(message.seq) || open.seqs.has(message.seq)) continue;
      open.seqs.add(message.seq);
      added.push(message);
    }
    if (!added.length) return { added, gapAfter: null };
    added.sort((a, b) => a.seq - b.seq);
    const appendOnly = added[0].seq > before;
    open.messages = appendOnly ? open.messages.concat(added)
      : open.messages.concat(added).sort((a, b) => a.seq - b.seq);
    const gapAfter = detectGap && before > 0 && added[0].seq > before + 1 ? before : null;
    if (countUnread && roomId !== this.activeId) {
      const fresh = added.filter((m) => m.messageType === 'text' && m.userId !== (this.me && this.me.userId));
      if (fresh.length) {
        open.unread += fresh.length;
        this.emit('tabs');
      }
    }
    this.emit('messages', { roomId, added });
    return { added, gapAfter };
  }

  userJoined(roomId, user) {
    if (!user || typeof user.id !== 'string') return;
    const open = this.open.get(roomId);
    if (open) {
      open.users.set(user.id, user);
      this.emit('users', { roomId });
    }
    const room = this.rooms.get(roomId);
    if (room) {
      const users = (room.users || []).filter((u) => u.id !== user.id);
      room.users = users.concat([user]);
    }
    this.emit('rooms');
  }

  userLeft(roomId, userId) {
    const open = this.open.get(roomId);
    if (open && open.users.delete(userId)) this.emit('users', { roomId });
    const room = this.rooms.get(roomId);
    if (room && Array.isArray(room.users)) room.users = room.users.filter((u) => u.id !== userId);
    this.emit('rooms');
  }

  // The socket dropped: every open room needs a rejoin.
  markAllLeft() {
    for (const open of this.open.values()) open.joined = false;
    this.emit('tabs');
  }

  closeRoom(roomId) {
    if (!this.open.delete(roomId)) return;
    const room = this.rooms.get(roomId);
    if (room && Array.isArray(room.users) && this.me) {
      room.users = room.users.filter((u) => u.id !== this.me.userId);
    }
    if (this.activeId === roomId) {
      const rest = [...this.open.keys()];
      this.activeId = rest.length ? rest[rest.length - 1] : null;
      if (this.activeId) this.open.get(this.activeId).unread = 0;
    }
    this.emit('tabs');
    this.emit('rooms');
  }

  setActive(roomId) {
    const open = this.open.get(roomId);
    if (!open) return;
    this.activeId = roomId;
    open.unread = 0;
    this.emit('tabs');
  }

  totalUnread() {
    let n = 0;
    for (const open of this.open.values()) n += open.unread;
    return n;
  }
}
