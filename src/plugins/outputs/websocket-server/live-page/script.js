(function () {
  'use strict';
  /** @typedef {{ tag: string | null, time: number | null, record: unknown, error: string | null, received: number, compact: string, search: string }} Entry */
  var MAX_ROWS = 2000;
  // Containers that fit in this many characters stay on one line; larger ones get a line per entry.
  var WIDTH = 110;
  // Every id is in the page this script ships with.
  var el = function (/** @type {string} */ id) { return /** @type {HTMLElement} */ (document.getElementById(id)); };
  var scroller = el('scroller'), list = el('list'), empty = el('empty'), filterBox = /** @type {HTMLInputElement} */ (el('filter'));
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
  if (params.get('filter')) filterBox.value = /** @type {string} */ (params.get('filter'));
  var serverMatch = params.getAll('match');
  // Every other parameter but the page's own `filter` box is the server's record filter (?user=6).
  /** @type {Array<[string, string]>} */
  var recordFilter = [];
  params.forEach(function (value, name) {
    if (['token', 'match', 'filter', 'last_received'].indexOf(name) < 0) recordFilter.push([name, value]);
  });

  /** @type {WeakMap<Element, Entry>} */
  var entries = new WeakMap();
  /** @type {Entry[]} */
  var queue = [];
  /** @type {Entry[]} */
  var pending = [];
  var paused = false, visible = 0, unseen = 0, scheduled = false;
  /** @type {WebSocket | null} */
  var socket = null;
  var arrivals = 0, lastArrivals = 0, retryMs = 1000, mode = '';
  /** The server's message_id_key (from /status) and the last record received, to resume after a reconnect. */
  /** @type {string | null} */
  var idKey = null;
  /** @type {unknown} */
  var lastRecord = null;

  function socketUrl() {
    var query = new URLSearchParams();
    serverMatch.forEach(function (m) { query.append('match', m); });
    recordFilter.forEach(function (pair) { query.append(pair[0], pair[1]); });
    // After a reconnect, resume after the last record seen (the server's message_id_key).
    var lastId = idKey && lastRecord && typeof lastRecord === 'object' ? /** @type {Record<string, unknown>} */ (lastRecord)[idKey] : undefined;
    if (typeof lastId === 'number' || typeof lastId === 'bigint') query.set('last_received', String(lastId));
    if (token) query.set('token', token);
    var q = query.toString();
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + (q ? '?' + q : '');
  }

  /** @param {string} state @param {string} text */
  function setStatus(state, text) {
    dot.className = 'dot ' + state;
    statusText.textContent = text;
  }

  function describeLive() {
    return 'live' + (mode ? ' · ' + mode : '') + (serverMatch.length ? ' · match ' + serverMatch.join(', ') : '') +
      (recordFilter.length ? ' · where ' + recordFilter.map(function (pair) { return pair[0] + '=' + pair[1]; }).join(', ') : '');
  }

  function connect() {
    setStatus('connecting', 'connecting…');
    var opened = false;
    var opening = new WebSocket(socketUrl());
    socket = opening;
    opening.binaryType = 'arraybuffer';
    opening.onopen = function () {
      opened = true;
      retryMs = 1000;
      setStatus('live', describeLive());
      refreshClients();
    };
    opening.onmessage = function (event) { receive(event.data); };
    opening.onclose = function (event) {
      var why = !opened ? 'cannot connect' + (token ? '' : ' (if the server has a token, open this page with ?token=…)')
        : event.code === 1001 ? 'server stopped' : event.code === 1013 ? 'dropped: this page fell behind' : 'disconnected';
      setStatus('down', why + ' · retrying in ' + Math.round(retryMs / 1000) + ' s');
      el('clients').textContent = '–';
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  /** @param {string | ArrayBuffer} data @returns {unknown} */
  function decode(data) {
    var kind = typeof data === 'string' ? 'json' : 'msgpack';
    if (mode !== kind) { mode = kind; setStatus('live', describeLive()); }
    if (typeof data === 'string') return JSON.parse(data);
    if (!window.MessagePack) throw new Error('the msgpack decoder did not load');
    return window.MessagePack.decode(new Uint8Array(data));
  }

  // A message is [tag, time, record] with the tag and the time each optional: the record is last,
  // a string before it is the tag and a number the time.
  /** @param {string | ArrayBuffer} data */
  function receive(data) {
    arrivals++;
    /** @type {Entry} */
    var entry = { tag: null, time: null, record: null, error: null, received: Date.now(), compact: '', search: '' };
    try {
      var message = decode(data);
      if (Array.isArray(message) && message.length > 0) {
        entry.record = message[message.length - 1];
        for (var i = 0; i < message.length - 1; i++) {
          if (typeof message[i] === 'string') entry.tag = message[i];
          else if (typeof message[i] === 'number' || typeof message[i] === 'bigint') entry.time = Number(message[i]);
        }
        lastRecord = entry.record;
      } else {
        // {"missed": N, "first_id": F}: records the server no longer had when this page resumed.
        entry.record = message;
        if (message && typeof message === 'object' && 'missed' in message) entry.tag = 'wsbit: missed records';
      }
    } catch (error) {
      entry.error = String(error && /** @type {Error} */ (error).message || error);
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

  /** @param {unknown} value */
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

  /** @param {Entry} entry */
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
      var oldest = /** @type {HTMLElement} */ (list.firstElementChild);
      if (!oldest.hidden) visible--;
      oldest.remove();
    }
    if (stick) { scroller.scrollTop = scroller.scrollHeight; unseen = 0; }
    else unseen += batch.length;
    jump.hidden = stick || unseen === 0;
    jump.textContent = '↓ ' + unseen.toLocaleString() + ' newer';
    counts();
  }

  /** @param {number} n @param {number} [width] */
  function pad(n, width) { var s = String(n); while (s.length < (width || 2)) s = '0' + s; return s; }
  /** @param {Date} date @param {boolean} millis */
  function clock(date, millis) {
    return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()) + (millis ? '.' + pad(date.getMilliseconds(), 3) : '');
  }
  /** @param {string} text */
  function hue(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return (h * 47) % 360;
  }
  /** @param {string} cls @param {string} text */
  function span(cls, text) {
    var s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  // Errors and warnings get a coloured edge, from the level keys log records commonly carry.
  /** @param {unknown} record */
  function levelOf(record) {
    if (record === null || typeof record !== 'object') return null;
    var fields = /** @type {Record<string, unknown>} */ (record);
    var value = fields.level || fields.severity || fields.log_level || fields.loglevel;
    if (typeof value !== 'string') return null;
    var level = value.toLowerCase();
    if (/^(err|fatal|crit|alert|emerg|panic)/.test(level)) return 'error';
    return /^warn/.test(level) ? 'warn' : null;
  }

  /** @param {Entry} entry */
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
  /** @param {unknown} value @returns {string} */
  function inline(value) {
    if (value === null || value === undefined) return 'null';
    if (typeof value === 'string') return JSON.stringify(value);
    if (typeof value !== 'object') return String(value);
    if (value instanceof Uint8Array) return '<' + value.length + ' bytes>';
    if (Array.isArray(value)) return '[' + value.map(inline).join(', ') + ']';
    var fields = /** @type {Record<string, unknown>} */ (value);
    var keys = Object.keys(fields);
    if (keys.length === 0) return '{}';
    return '{ ' + keys.map(function (k) { return JSON.stringify(k) + ': ' + inline(fields[k]); }).join(', ') + ' }';
  }

  /** @param {unknown} value @param {number} indent @param {HTMLElement} out @returns {void} */
  function build(value, indent, out) {
    if (value === null || value === undefined) { out.appendChild(span('j-lit', 'null')); return; }
    var type = typeof value;
    if (type === 'string') { out.appendChild(span('j-str', JSON.stringify(value))); return; }
    if (type === 'number' || type === 'bigint') { out.appendChild(span('j-num', String(value))); return; }
    if (type === 'boolean') { out.appendChild(span('j-lit', String(value))); return; }
    if (value instanceof Uint8Array) { out.appendChild(span('j-lit', '<' + value.length + ' bytes>')); return; }
    // What is left is an array or a map; an array's items are looked up by index the same way.
    var items = /** @type {Record<string, unknown>} */ (value);
    var isArray = Array.isArray(value);
    var keys = isArray ? [] : Object.keys(items);
    var count = isArray ? /** @type {unknown[]} */ (value).length : keys.length;
    var fits = indent + inline(value).length <= WIDTH;
    var edge = isArray ? '' : ' ';
    out.appendChild(span('j-p', isArray ? '[' : '{'));
    if (count > 0) {
      var newline = '\n' + ' '.repeat(indent + 2);
      for (var i = 0; i < count; i++) {
        if (i > 0) out.appendChild(span('j-p', ','));
        out.appendChild(document.createTextNode(!fits ? newline : i === 0 ? edge : ' '));
        if (!isArray) {
          out.appendChild(span('j-key', JSON.stringify(keys[i])));
          out.appendChild(span('j-p', ': '));
        }
        build(isArray ? items[i] : items[/** @type {string} */ (keys[i])], indent + 2, out);
      }
      out.appendChild(document.createTextNode(fits ? edge : '\n' + ' '.repeat(indent)));
    }
    out.appendChild(span('j-p', isArray ? ']' : '}'));
  }

  // The engine's Match rules: * matches any run of characters (dots too), everything else is literal.
  /** @param {string} pattern @param {string} tag */
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
  /** @param {Entry} entry @param {string} filter */
  function matches(entry, filter) {
    if (filter === '') return true;
    if (filter.indexOf('*') >= 0) return entry.tag !== null && wildcard(filter, entry.tag);
    return entry.search.indexOf(filter.toLowerCase()) >= 0;
  }

  function applyFilter() {
    var filter = currentFilter();
    visible = 0;
    for (var row = /** @type {HTMLElement | null} */ (list.firstElementChild); row !== null; row = /** @type {HTMLElement | null} */ (row.nextElementSibling)) {
      row.hidden = !matches(/** @type {Entry} */ (entries.get(row)), filter);
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
    /** @type {Record<string, string>} */
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    fetch('/status', { headers: headers, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        el('clients').textContent = status ? String(status.clients) : '–';
        if (status && typeof status.message_id_key === 'string') idKey = status.message_id_key;
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
