// Who the user is: a display name and a user id derived from it, checked
// against docs/protocol.md and remembered in localStorage.
import { codePoints } from './util.js';

const KEY = 'chat.identity';
const USER_ID_RE = /^[A-Za-z0-9_.-]{1,32}$/;

export const NAME_MAX = 64;

// A user id the name suggests: ASCII letters and digits kept (accents
// dropped), white space becomes '_', other characters '-', cut to 32.
// Empty when nothing usable is left.
export function deriveUserId(name) {
  const ascii = String(name).normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  return ascii.trim()
    .replace(/\s+/g, '_')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '')
    .slice(0, 32)
    .replace(/[-_.]+$/, '');
}

// A fallback id for names with no ASCII letter at all.
export function randomUserId() {
  const bytes = new Uint8Array(3);
  crypto.getRandomValues(bytes);
  return 'user-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// null when valid, else a sentence saying what is wrong.
export function checkUserId(id) {
  if (!id) return 'Choose a user id.';
  if (!USER_ID_RE.test(id)) return 'A user id is 1 to 32 letters, digits, "_", "." or "-".';
  return null;
}

export function checkName(name) {
  if (!name || !name.trim()) return 'Enter your name.';
  if (codePoints(name) > NAME_MAX) return `A name is at most ${NAME_MAX} characters.`;
  return null;
}

// {userId, name} from localStorage, or null.
export function loadIdentity() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (value && !checkUserId(value.userId) && !checkName(value.name)) return value;
  } catch (e) { /* corrupt or unavailable storage: ask again */ }
  return null;
}

export function saveIdentity(identity) {
  try { localStorage.setItem(KEY, JSON.stringify(identity)); } catch (e) { /* private mode */ }
}

export function forgetIdentity() {
  try { localStorage.removeItem(KEY); } catch (e) { /* ignore */ }
}

// The rooms the user had open, to open them again after a reload.
const ROOMS_KEY = 'chat.openRooms';

export function loadOpenRooms() {
  try {
    const value = JSON.parse(localStorage.getItem(ROOMS_KEY) || '[]');
    return Array.isArray(value) ? value.filter((id) => typeof id === 'string') : [];
  } catch (e) { return []; }
}

export function saveOpenRooms(ids) {
  try { localStorage.setItem(ROOMS_KEY, JSON.stringify(ids)); } catch (e) { /* ignore */ }
}
