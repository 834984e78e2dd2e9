// The WebSocket to the gateway (docs/protocol.md): opens it with the
// chat.v1 subprotocol, says `connect`, matches replies to requests by
// `ref`, keeps the line alive with `ping`, and reconnects with capped,
// jittered exponential backoff whenever the socket drops.
//
// Events (CustomEvent, detail in brackets):
//   status  {state: 'connecting'|'open'|'waiting'|'closed', retryAt?, attempt}
//   ready   {user, sessionId}       after every successful `connect`
//   push    {message}               every frame that answers no request
//   rejected {error}                the server refused `connect`: no retry

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const REQUEST_TIMEOUT_MS = 20000;
const PING_EVERY_MS = 20000;
const PING_TIMEOUT_MS = 15000;

export function gatewayUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

// Delay before reconnect attempt n (0-based): half fixed, half random.
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class Connection extends EventTarget {
  constructor(url, identity) {
    super();
    this.url = url;
    this.identity = identity;   // {userId, name}
    this.ws = null;
    this.ready = false;         // true between `connected` and the socket's close
    this.stopped = false;       // true after stop(): never reconnect
    this.attempt = 0;           // failed attempts since the last `connected`
    this.nextRef = 1;
    this.pending = new Map();   // ref -> {resolve, reject, timer}
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  // Says goodbye and closes for good.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.sendRaw({ type: 'disconnect' });
      this.ws.close(1000);
    }
    this.ws = null;
    this.failPending({ code: 'closed', message: 'Signed out' });
  }

  // Skips the wait before the next attempt (e.g. the user clicked "retry").
  reconnectNow() {
    if (this.ws || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  // Sends a request and resolves with its direct reply; rejects with the
  // `error` object the server answered, or {code:'closed'|'timeout'}.
  request(message) {
    if (!this.ready) {
      return Promise.reject({ code: 'offline', message: 'Not connected' });
    }
    return this.requestRaw(message);
  }

  requestRaw(message) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject({ code: 'timeout', message: 'The server did not answer in time' });
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.sendRaw({ ...message, ref });
    });
  }

  sendRaw(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  open() {
    this.emit('status', { state: 'connecting', attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, 'chat.v1');
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (event) => this.onFrame(event.data);
    ws.onclose = (event) => this.onClose(ws, event);
    ws.onerror = () => { /* onclose follows and handles it */ };
  }

  async onOpen(ws) {
    try {
      const reply = await this.requestRaw({
        type: 'connect', userId: this.identity.userId, name: this.identity.name,
      });
      if (ws !== this.ws) return;
      this.ready = true;
      this.attempt = 0;
      this.startPing();
      this.emit('status', { state: 'open', attempt: 0 });
      this.emit('ready', { user: reply.user, sessionId: reply.sessionId });
    } catch (error) {
      if (ws !== this.ws) return;
      if (error.code === 'invalid_user' || error.code === 'bad_request') {
        this.stopped = true;
        this.emit('rejected', { error });
      }
      ws.close();
    }
  }

  onFrame(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      return;  // not ours to fix; the gateway only sends JSON
    }
    if (!message || typeof message !== 'object') return;
    const waiter = message.ref !== undefined ? this.pending.get(message.ref) : undefined;
    if (waiter) {
      this.pending.delete(message.ref);
      clearTimeout(waiter.timer);
      if (message.type === 'error') waiter.reject(message);
      else waiter.resolve(message);
      return;
    }
    this.emit('push', { message });
  }

  onClose(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    this.failPending({ code: 'closed', message: 'Connection lost' });
    if (this.stopped) {
      this.emit('status', { state: 'closed', code: event.code });
      return;
    }
    this.scheduleRetry(event.code);
  }

  scheduleRetry(code) {
    const delay = backoffDelay(this.attempt++);
    this.emit('status', { state: 'waiting', retryAt: Date.now() + delay, attempt: this.attempt, code });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  failPending(error) {
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.pending.clear();
  }

  // An unanswered ping means the line is dead even if TCP has not noticed.
  startPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      const timer = setTimeout(() => { if (ws === this.ws && ws) ws.close(); }, PING_TIMEOUT_MS);
      this.requestRaw({ type: 'ping' }).then(() => clearTimeout(timer), () => clearTimeout(timer));
    }, PING_EVERY_MS);
  }
}
