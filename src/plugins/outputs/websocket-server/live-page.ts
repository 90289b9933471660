/**
 * The live page `websocket_server` serves at `GET /`: one self-contained HTML document that connects
 * back to the same port and shows records as they arrive. It is kept in a TypeScript module (not a
 * static .html file) so it is compiled into dist/ and shipped with the package like the rest of the code.
 *
 * The page builds every row with `textContent`, never HTML from a record, and its Content-Security-Policy
 * allows only its own inline script and style (by hash) plus the msgpack decoder from this server.
 *
 * The script below is plain browser JavaScript in a string: it must not contain backticks, and `${` only
 * where a server-side constant is meant.
 */
import { createHash } from 'node:crypto';

export const MSGPACK_ASSET_PATH = '/assets/msgpack.min.js';
export const STATUS_PATH = '/status';

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1d2330; --muted: #687385; --line: #e4e7ec; --row-alt: #fafbfc;
  --accent: #2563eb; --ok: #16a34a; --warn: #d97706; --bad: #dc2626; --new: #e8f0fe;
  --j-key: #0550ae; --j-str: #116329; --j-num: #9a3412; --j-lit: #7c3aed; --j-punct: #8c959f;
  --tag-s: 62%; --tag-bg-l: 93%; --tag-fg-l: 30%;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --panel: #151b23; --text: #e6edf3; --muted: #8b949e; --line: #262d36; --row-alt: #11161d;
    --accent: #58a6ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --new: #1a2740;
    --j-key: #79c0ff; --j-str: #7ee787; --j-num: #ffa657; --j-lit: #d2a8ff; --j-punct: #6e7681;
    --tag-s: 45%; --tag-bg-l: 20%; --tag-fg-l: 78%;
  }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body {
  display: flex; flex-direction: column; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.mono, .row { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; }
header {
  display: flex; flex-wrap: wrap; align-items: center; gap: 10px 20px; padding: 10px 16px;
  background: var(--panel); border-bottom: 1px solid var(--line); box-shadow: 0 1px 2px rgba(0,0,0,.04);
}
.brand { display: flex; align-items: center; gap: 8px; white-space: nowrap; }
.brand strong { font-size: 15px; letter-spacing: .2px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--muted); flex: none; }
.dot.live { background: var(--ok); box-shadow: 0 0 0 3px color-mix(in srgb, var(--ok) 22%, transparent); }
.dot.connecting { background: var(--warn); }
.dot.down { background: var(--bad); }
.status { color: var(--muted); font-size: 13px; }
.stats { display: flex; gap: 6px; flex-wrap: wrap; }
.stat {
  display: inline-flex; align-items: baseline; gap: 5px; padding: 3px 10px; border-radius: 999px;
  background: var(--bg); border: 1px solid var(--line); color: var(--muted); font-size: 12.5px; white-space: nowrap;
}
.stat b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; font-size: 13px; }
.controls { display: flex; gap: 8px; margin-left: auto; align-items: center; }
input[type=search] {
  width: 300px; max-width: 48vw; padding: 6px 10px; border-radius: 7px; border: 1px solid var(--line);
  background: var(--bg); color: var(--text); font: inherit; font-size: 13px; outline: none;
}
input[type=search]:focus { border-color: var(--accent); box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent) 18%, transparent); }
button {
  padding: 6px 12px; border-radius: 7px; border: 1px solid var(--line); background: var(--panel); color: var(--text);
  font: inherit; font-size: 13px; cursor: pointer; white-space: nowrap;
}
button:hover { border-color: var(--muted); }
button.on { background: var(--accent); border-color: var(--accent); color: #fff; }
main { flex: 1; overflow-y: auto; overflow-x: hidden; }
.row {
  display: grid; grid-template-columns: 6.2em 12em minmax(0, 1fr); gap: 14px; align-items: start;
  padding: 5px 16px; border-bottom: 1px solid var(--line); font-size: 12.5px; line-height: 1.5;
}
.row:nth-child(even) { background: var(--row-alt); }
.row.fresh { animation: fresh .9s ease-out; }
.row.lvl-error { box-shadow: inset 3px 0 0 var(--bad); }
.row.lvl-warn { box-shadow: inset 3px 0 0 var(--warn); }
@keyframes fresh { from { background: var(--new); } }
.time { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.time.arrival { font-style: italic; opacity: .8; }
.tag {
  justify-self: start; max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  padding: 0 7px; border-radius: 5px; font-size: 12px;
  background: hsl(var(--hue, 215) var(--tag-s) var(--tag-bg-l)); color: hsl(var(--hue, 215) var(--tag-s) var(--tag-fg-l));
}
.tag.none { background: transparent; color: var(--muted); }
.rec { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: inherit; }
.j-key { color: var(--j-key); } .j-str { color: var(--j-str); } .j-num { color: var(--j-num); }
.j-lit { color: var(--j-lit); } .j-p { color: var(--j-punct); } .j-err { color: var(--bad); }
.empty { padding: 48px 16px; text-align: center; color: var(--muted); font-size: 14px; }
.empty code { background: var(--panel); border: 1px solid var(--line); border-radius: 5px; padding: 1px 6px; }
.jump {
  position: fixed; right: 22px; bottom: 18px; border-radius: 999px; padding: 7px 14px;
  background: var(--accent); border-color: var(--accent); color: #fff; box-shadow: 0 2px 8px rgba(0,0,0,.18);
}
[hidden] { display: none !important; }
`;

const SCRIPT = `
(function () {
  'use strict';
  var MAX_ROWS = 2000;
  // Containers that fit in this many characters stay on one line; larger ones get a line per entry.
  var WIDTH = 110;
  var el = function (id) { return document.getElementById(id); };
  var scroller = el('scroller'), list = el('list'), empty = el('empty'), filterBox = el('filter');
  var pauseButton = el('pause'), clearButton = el('clear'), jump = el('jump'), dot = el('dot'), statusText = el('status');

  // The token may come in the page URL once; keep it for this tab and take it out of the address bar.
  var params = new URLSearchParams(location.search);
  var token = params.get('token') || sessionStorage.getItem('wsbit.token') || '';
  if (params.has('token')) {
    sessionStorage.setItem('wsbit.token', token);
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  if (params.get('filter')) filterBox.value = params.get('filter');
  var serverMatch = params.getAll('match');

  var entries = new WeakMap();
  var queue = [], pending = [], paused = false, visible = 0, unseen = 0, scheduled = false;
  var arrivals = 0, lastArrivals = 0, socket = null, retryMs = 1000, mode = '';

  function socketUrl() {
    var query = new URLSearchParams();
    serverMatch.forEach(function (m) { query.append('match', m); });
    if (token) query.set('token', token);
    var q = query.toString();
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + (q ? '?' + q : '');
  }

  function setStatus(state, text) {
    dot.className = 'dot ' + state;
    statusText.textContent = text;
  }

  function describeLive() {
    return 'live' + (mode ? ' · ' + mode : '') + (serverMatch.length ? ' · match ' + serverMatch.join(', ') : '');
  }

  function connect() {
    setStatus('connecting', 'connecting…');
    var opened = false;
    socket = new WebSocket(socketUrl());
    socket.binaryType = 'arraybuffer';
    socket.onopen = function () {
      opened = true;
      retryMs = 1000;
      setStatus('live', describeLive());
      refreshClients();
    };
    socket.onmessage = function (event) { receive(event.data); };
    socket.onclose = function (event) {
      var why = !opened ? 'cannot connect' + (token ? '' : ' (if the server has a token, open this page with ?token=…)')
        : event.code === 1001 ? 'server stopped' : event.code === 1013 ? 'dropped: this page fell behind' : 'disconnected';
      setStatus('down', why + ' · retrying in ' + Math.round(retryMs / 1000) + ' s');
      el('clients').textContent = '–';
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  function decode(data) {
    var kind = typeof data === 'string' ? 'json' : 'msgpack';
    if (mode !== kind) { mode = kind; setStatus('live', describeLive()); }
    if (kind === 'json') return JSON.parse(data);
    if (!window.MessagePack) throw new Error('the msgpack decoder did not load');
    return window.MessagePack.decode(new Uint8Array(data));
  }

  // A message is [tag, time, record] with the tag and the time each optional: the record is last,
  // a string before it is the tag and a number the time.
  function receive(data) {
    arrivals++;
    var entry = { tag: null, time: null, record: null, error: null, received: Date.now() };
    try {
      var message = decode(data);
      if (Array.isArray(message) && message.length > 0) {
        entry.record = message[message.length - 1];
        for (var i = 0; i < message.length - 1; i++) {
          if (typeof message[i] === 'string') entry.tag = message[i];
          else if (typeof message[i] === 'number' || typeof message[i] === 'bigint') entry.time = Number(message[i]);
        }
      } else {
        entry.record = message;
      }
    } catch (error) {
      entry.error = String(error && error.message || error);
      entry.record = typeof data === 'string' ? data : '<' + data.byteLength + ' bytes>';
    }
    entry.compact = stringify(entry.record);
    entry.search = ((entry.tag || '') + ' ' + entry.compact).toLowerCase();
    if (paused) {
      pending.push(entry);
      if (pending.length > MAX_ROWS) pending.shift();
      pauseButton.textContent = 'Resume (' + pending.length.toLocaleString() + ' new)';
      return;
    }
    enqueue(entry);
  }

  function stringify(value) {
    try {
      var text = JSON.stringify(value, function (key, v) {
        if (typeof v === 'bigint') return v.toString();
        if (v instanceof Uint8Array) return '<' + v.length + ' bytes>';
        return v;
      });
      return text === undefined ? String(value) : text;
    } catch (error) {
      return String(value);
    }
  }

  function enqueue(entry) {
    queue.push(entry);
    if (scheduled) return;
    scheduled = true;
    // Rows are added in batches: at thousands of records per second, one layout per frame keeps up.
    if (document.hidden) setTimeout(drain, 250); else requestAnimationFrame(drain);
  }

  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48; }

  function drain() {
    scheduled = false;
    if (queue.length === 0) return;
    var batch = queue.length > MAX_ROWS ? queue.slice(queue.length - MAX_ROWS) : queue;
    queue = [];
    var stick = nearBottom();
    var fragment = document.createDocumentFragment();
    var filter = currentFilter();
    batch.forEach(function (entry) {
      var row = makeRow(entry);
      if (matches(entry, filter)) visible++; else row.hidden = true;
      fragment.appendChild(row);
    });
    list.appendChild(fragment);
    while (list.children.length > MAX_ROWS) {
      if (!list.firstElementChild.hidden) visible--;
      list.firstElementChild.remove();
    }
    if (stick) { scroller.scrollTop = scroller.scrollHeight; unseen = 0; }
    else unseen += batch.length;
    jump.hidden = stick || unseen === 0;
    jump.textContent = '↓ ' + unseen.toLocaleString() + ' newer';
    counts();
  }

  function pad(n, width) { var s = String(n); while (s.length < (width || 2)) s = '0' + s; return s; }
  function clock(date, millis) {
    return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()) + (millis ? '.' + pad(date.getMilliseconds(), 3) : '');
  }
  function hue(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return (h * 47) % 360;
  }
  function span(cls, text) {
    var s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  // Errors and warnings get a coloured edge, from the level keys log records commonly carry.
  function levelOf(record) {
    if (record === null || typeof record !== 'object') return null;
    var value = record.level || record.severity || record.log_level || record.loglevel;
    if (typeof value !== 'string') return null;
    value = value.toLowerCase();
    if (/^(err|fatal|crit|alert|emerg|panic)/.test(value)) return 'error';
    return /^warn/.test(value) ? 'warn' : null;
  }

  function makeRow(entry) {
    var row = document.createElement('div');
    row.className = 'row fresh';
    entries.set(row, entry);
    var level = levelOf(entry.record);
    if (level !== null) row.classList.add('lvl-' + level);
    if (entry.tag !== null) row.dataset.tag = entry.tag;
    var time = document.createElement('time');
    if (entry.time !== null) {
      var at = new Date(entry.time * 1000);
      time.className = 'time';
      time.textContent = clock(at, false);
      time.dateTime = at.toISOString();
      time.title = at.toString() + ' (record time ' + entry.time + ')';
    } else {
      var got = new Date(entry.received);
      time.className = 'time arrival';
      time.textContent = clock(got, true);
      time.title = 'Arrival time: the server sends no record time (add_time is off)';
    }
    var tag = span(entry.tag === null ? 'tag none' : 'tag', entry.tag === null ? '—' : entry.tag);
    if (entry.tag !== null) { tag.title = entry.tag; tag.style.setProperty('--hue', String(hue(entry.tag))); }
    var rec = document.createElement('pre');
    rec.className = 'rec';
    if (entry.error !== null) {
      rec.appendChild(span('j-err', entry.error + ': '));
      rec.appendChild(span('j-str', String(entry.record)));
    } else {
      build(entry.record, 0, rec);
    }
    row.appendChild(time);
    row.appendChild(tag);
    row.appendChild(rec);
    return row;
  }

  // Pretty JSON as spans: a container that fits in WIDTH stays on one line, a larger one gets a line
  // per entry, so small nested objects and arrays stay compact inside a long record.
  function inline(value) {
    if (value === null || value === undefined) return 'null';
    if (typeof value === 'string') return JSON.stringify(value);
    if (typeof value !== 'object') return String(value);
    if (value instanceof Uint8Array) return '<' + value.length + ' bytes>';
    if (Array.isArray(value)) return '[' + value.map(inline).join(', ') + ']';
    var keys = Object.keys(value);
    if (keys.length === 0) return '{}';
    return '{ ' + keys.map(function (k) { return JSON.stringify(k) + ': ' + inline(value[k]); }).join(', ') + ' }';
  }

  function build(value, indent, out) {
    if (value === null || value === undefined) { out.appendChild(span('j-lit', 'null')); return; }
    var type = typeof value;
    if (type === 'string') { out.appendChild(span('j-str', JSON.stringify(value))); return; }
    if (type === 'number' || type === 'bigint') { out.appendChild(span('j-num', String(value))); return; }
    if (type === 'boolean') { out.appendChild(span('j-lit', String(value))); return; }
    if (value instanceof Uint8Array) { out.appendChild(span('j-lit', '<' + value.length + ' bytes>')); return; }
    var isArray = Array.isArray(value);
    var keys = isArray ? null : Object.keys(value);
    var count = isArray ? value.length : keys.length;
    var fits = indent + inline(value).length <= WIDTH;
    var edge = isArray ? '' : ' ';
    out.appendChild(span('j-p', isArray ? '[' : '{'));
    if (count > 0) {
      var newline = '\\n' + ' '.repeat(indent + 2);
      for (var i = 0; i < count; i++) {
        if (i > 0) out.appendChild(span('j-p', ','));
        out.appendChild(document.createTextNode(!fits ? newline : i === 0 ? edge : ' '));
        if (!isArray) {
          out.appendChild(span('j-key', JSON.stringify(keys[i])));
          out.appendChild(span('j-p', ': '));
        }
        build(isArray ? value[i] : value[keys[i]], indent + 2, out);
      }
      out.appendChild(document.createTextNode(fits ? edge : '\\n' + ' '.repeat(indent)));
    }
    out.appendChild(span('j-p', isArray ? ']' : '}'));
  }

  // The engine's Match rules: * matches any run of characters (dots too), everything else is literal.
  function wildcard(pattern, tag) {
    var p = 0, t = 0, starP = -1, starT = 0;
    while (t < tag.length) {
      if (p < pattern.length && pattern[p] === '*') { starP = p++; starT = t; }
      else if (p < pattern.length && pattern[p] === tag[t]) { p++; t++; }
      else if (starP >= 0) { p = starP + 1; t = ++starT; }
      else return false;
    }
    while (p < pattern.length && pattern[p] === '*') p++;
    return p === pattern.length;
  }

  function currentFilter() { return filterBox.value.trim(); }

  // With a * the filter is a tag pattern; otherwise it is text looked for in the tag and the record.
  function matches(entry, filter) {
    if (filter === '') return true;
    if (filter.indexOf('*') >= 0) return entry.tag !== null && wildcard(filter, entry.tag);
    return entry.search.indexOf(filter.toLowerCase()) >= 0;
  }

  function applyFilter() {
    var filter = currentFilter();
    visible = 0;
    for (var row = list.firstElementChild; row !== null; row = row.nextElementSibling) {
      row.hidden = !matches(entries.get(row), filter);
      if (!row.hidden) visible++;
    }
    counts();
    scroller.scrollTop = scroller.scrollHeight;
  }

  function counts() {
    var rows = list.children.length;
    var filtering = currentFilter() !== '';
    el('rows').textContent = rows.toLocaleString();
    el('shown').textContent = visible.toLocaleString();
    el('total').textContent = rows.toLocaleString();
    el('rows-stat').hidden = filtering;
    el('shown-stat').hidden = !filtering;
    if (rows > 0) {
      empty.hidden = !(filtering && visible === 0);
      empty.textContent = 'No records match the filter.';
    }
  }

  function refreshClients() {
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    fetch('${STATUS_PATH}', { headers: headers, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        el('clients').textContent = status ? String(status.clients) : '–';
        el('clients-label').textContent = status && status.clients === 1 ? 'client' : 'clients';
      })
      .catch(function () { el('clients').textContent = '–'; });
  }

  setInterval(function () {
    el('rate').textContent = (arrivals - lastArrivals).toLocaleString();
    lastArrivals = arrivals;
  }, 1000);
  setInterval(function () { if (socket && socket.readyState === 1) refreshClients(); }, 2000);

  filterBox.addEventListener('input', applyFilter);
  pauseButton.addEventListener('click', function () {
    paused = !paused;
    pauseButton.classList.toggle('on', paused);
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) { var held = pending; pending = []; held.forEach(enqueue); }
  });
  clearButton.addEventListener('click', function () {
    list.replaceChildren();
    visible = 0; unseen = 0; jump.hidden = true;
    empty.hidden = false;
    empty.textContent = 'Cleared. Waiting for new records…';
    counts();
  });
  jump.addEventListener('click', function () { scroller.scrollTop = scroller.scrollHeight; unseen = 0; jump.hidden = true; });
  scroller.addEventListener('scroll', function () { if (nearBottom()) { unseen = 0; jump.hidden = true; } });
  document.addEventListener('keydown', function (event) {
    if (event.key === '/' && document.activeElement !== filterBox) { event.preventDefault(); filterBox.focus(); }
    else if (event.key === 'Escape' && document.activeElement === filterBox) { filterBox.value = ''; applyFilter(); }
  });
  el('endpoint').textContent = location.host;
  connect();
})();
`;

const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='4' fill='%232563eb'/%3E%3Cpath d='M3 5h10M3 8h7M3 11h9' stroke='white' stroke-width='1.6' stroke-linecap='round'/%3E%3C/svg%3E";

const BODY = `<header>
  <div class="brand"><span id="dot" class="dot"></span><strong>wsbit</strong><span class="mono status" id="endpoint"></span></div>
  <span id="status" class="status">connecting…</span>
  <div class="stats">
    <span class="stat" title="Records received in the last second"><b id="rate">0</b> rec/s</span>
    <span class="stat" title="WebSocket clients connected to this server, this page included"><b id="clients">–</b> <span id="clients-label">clients</span></span>
    <span class="stat" id="rows-stat"><b id="rows">0</b> rows</span>
    <span class="stat" id="shown-stat" hidden><b id="shown">0</b> of <b id="total">0</b> shown</span>
  </div>
  <div class="controls">
    <input id="filter" type="search" placeholder="Filter: text, or a tag pattern like app.*" title="Press / to filter, Esc to clear" autocomplete="off" spellcheck="false" aria-label="Filter records">
    <button id="pause" type="button">Pause</button>
    <button id="clear" type="button">Clear</button>
  </div>
</header>
<main id="scroller">
  <div id="empty" class="empty">Waiting for records… They appear here as they are sent, newest at the bottom.</div>
  <div id="list" role="log" aria-label="Records, newest at the bottom"></div>
</main>
<button id="jump" class="jump" type="button" hidden></button>`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export interface LivePage {
  html: string;
  contentSecurityPolicy: string;
}

let cached: LivePage | undefined;

export function livePage(): LivePage {
  cached ??= {
    html:
      `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>wsbit live</title>\n` +
      `<link rel="icon" href="${ICON}">\n<style>${STYLE}</style>\n<script src="${MSGPACK_ASSET_PATH}"></script>\n</head>\n` +
      `<body>\n${BODY}\n<script>${SCRIPT}</script>\n</body>\n</html>\n`,
    contentSecurityPolicy: [
      "default-src 'none'",
      `script-src 'self' ${sha256(SCRIPT)}`,
      `style-src ${sha256(STYLE)}`,
      "connect-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
  return cached;
}
