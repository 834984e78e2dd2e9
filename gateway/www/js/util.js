// Small DOM and formatting helpers. Text always goes in as text: el() sets
// strings with textContent and never parses HTML.

// el('li', {className: 'x', dataset: {seq: 3}}, 'text', child) -> Element
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'testid') node.dataset.testid = value;
    else if (key === 'onclick') node.addEventListener('click', value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const pad2 = (n) => String(n).padStart(2, '0');

// Local wall-clock time as HH:mm.
export function formatTime(ms) {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

// Full local date and time, for tooltips.
export function formatDateTime(ms) {
  return new Date(ms).toLocaleString();
}

// The first letter of a name (a whole code point, not half a surrogate pair).
export function initialOf(name) {
  const first = Array.from(String(name || '?').trim())[0];
  return first ? first.toUpperCase() : '?';
}

// A stable pleasant colour for a user id.
export function colorFor(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360}, 55%, 48%)`;
}

// A round avatar with the name's initial.
export function avatar(userId, name, extraClass = '') {
  const node = el('span', { className: `avatar ${extraClass}`.trim(), 'aria-hidden': 'true' },
    initialOf(name || userId));
  node.style.background = colorFor(userId);
  return node;
}

// Length in code points, as the server counts it.
export function codePoints(text) {
  return Array.from(text).length;
}
