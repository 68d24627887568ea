// The Estoria admin UI: a single-page application over the JSON API of
// `estoria ui` (docs/ui.md). Hash routes:
//   #/overview  #/streams  #/streams/<type>/<id>  #/all  #/events/<position>
//   #/projections  #/projections/<name>
// Everything that comes from the store is rendered as text (textContent and
// createElement); innerHTML is never used.

const main = document.getElementById('main');
const statusBox = document.getElementById('status');
let session = { csrf: '', allow_writes: false, version: '' };
let cleanup = [];  // closers of the current page (EventSource, timers)
let renderSeq = 0;

// ---- DOM helpers ------------------------------------------------------------

// h('a', {href: '#/x', class: 'c'}, 'text', child...): an element; strings
// become text nodes, null/undefined/false children are skipped.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function say(text) {
  statusBox.textContent = '';
  // A new text node so that screen readers announce repeated messages too.
  statusBox.appendChild(document.createTextNode(text));
}

// ---- API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options });
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  if (!res.ok) {
    const msg = body && body.error ? body.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, msg, body && body.code);
  }
  return body;
}

function post(path) {
  return api(path, { method: 'POST', headers: { 'X-Estoria-CSRF': session.csrf } });
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
  const t = u.toString();
  return t ? `?${t}` : '';
}

// ---- Formatting -------------------------------------------------------------

const enc = encodeURIComponent;
const streamHref = (type, id) => `#/streams/${enc(type)}/${enc(id)}`;
const eventHref = (pos) => `#/events/${pos}`;
const num = (n) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en'));

function ms(n) {
  if (n === null || n === undefined) return '-';
  if (n < 1000) return `${n} ms`;
  if (n < 60000) return `${(n / 1000).toFixed(1)} s`;
  if (n < 3600000) return `${(n / 60000).toFixed(1)} min`;
  return `${(n / 3600000).toFixed(1)} h`;
}

function time(ts) {
  if (!ts) return '-';
  return h('time', { datetime: ts, title: ts }, ts.replace('T', ' ').replace(/(\.\d{3})\d*/, '$1'));
}

function hexDump(hex) {
  const lines = [];
  for (let i = 0; i < hex.length; i += 32) {
    const chunk = hex.slice(i, i + 32);
    const offset = (i / 2).toString(16).padStart(6, '0');
    lines.push(`${offset}  ${chunk.match(/../g).join(' ')}`);
  }
  return lines.join('\n');
}

function streamLink(e) {
  return h('a', { href: streamHref(e.stream_type, e.stream_id) }, e.stream);
}

function table(caption, headers, rows, opts = {}) {
  const t = h('table', { class: opts.class || null },
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows));
  return h('div', { class: 'table-wrap', tabindex: opts.scroll ? 0 : null, role: opts.scroll ? 'region' : null,
    'aria-label': opts.scroll ? caption : null }, t);
}

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

function pager(links) {
  const items = links.filter(Boolean);
  if (!items.length) return null;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' }, items);
}

// The payload of an event as text: pretty JSON, UTF-8 text or a hex dump.
function payload(e) {
  if (Object.prototype.hasOwnProperty.call(e, 'data')) {
    return h('pre', { class: 'data json' }, JSON.stringify(e.data, null, 2));
  }
  if (e.data_text !== undefined) return h('pre', { class: 'data text' }, e.data_text);
  if (e.data_hex !== undefined) {
    return h('pre', { class: 'data hex', 'aria-label': `binary data, ${e.data_hex.length / 2} bytes` },
      e.data_hex.length ? hexDump(e.data_hex) : '(empty)');
  }
  return h('p', { class: 'muted' }, '(no data)');
}

function dataKind(e) {
  if (Object.prototype.hasOwnProperty.call(e, 'data')) return 'JSON';
  if (e.data_text !== undefined) return 'text';
  if (e.data_hex !== undefined) return `binary, ${e.data_hex.length / 2} bytes`;
  return '';
}

// One event with everything in it.
function eventCard(e, { showStream = true, headingLevel = 'h3' } = {}) {
  const meta = e.metadata && Object.keys(e.metadata).length ? e.metadata : null;
  return h('article', { class: 'event', 'aria-label': `Event ${e.position}` },
    h(headingLevel, {}, h('a', { href: eventHref(e.position) }, `#${e.position}`), ' ', h('span', { class: 'etype' }, e.type)),
    dl([
      ['Position', h('a', { href: eventHref(e.position) }, String(e.position))],
      showStream ? ['Stream', streamLink(e)] : null,
      ['Version', String(e.version)],
      ['Type', e.type],
      ['Timestamp', time(e.timestamp)],
      ['Content type', `${e.content_type}${dataKind(e) ? ` (${dataKind(e)})` : ''}`],
      ['Event id', h('code', {}, e.id)],
    ].filter(Boolean)),
    h('h4', {}, 'Data'), payload(e),
    h('h4', {}, 'Metadata'),
    meta ? h('pre', { class: 'data json' }, JSON.stringify(meta, null, 2)) : h('p', { class: 'muted' }, '(none)'));
}

// ---- Pages ------------------------------------------------------------------

function chart(rate) {
  const buckets = (rate && rate.buckets) || [];
  const W = 600, H = 160, pad = 24, bottom = 20;
  const max = Math.max(1, ...buckets.map((b) => b.events));
  const total = buckets.reduce((a, b) => a + b.events, 0);
  const bw = buckets.length ? (W - pad) / buckets.length : 0;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `Appends per ${(rate && rate.bucket_seconds) || 60} s over the last ${buckets.length} buckets: ${total} events, at most ${max} in one bucket` });
  svg.appendChild(s('line', { x1: pad, y1: H - bottom, x2: W, y2: H - bottom, class: 'axis' }));
  svg.appendChild(s('text', { x: 0, y: 12, class: 'label' }, String(max)));
  svg.appendChild(s('text', { x: 0, y: H - bottom, class: 'label' }, '0'));
  buckets.forEach((b, i) => {
    const bh = ((H - bottom - 16) * b.events) / max;
    const x = pad + i * bw + 2;
    const rect = s('rect', { x, y: H - bottom - bh, width: Math.max(1, bw - 4), height: bh, class: 'bar' });
    rect.appendChild(s('title', {}, `${b.start}: ${b.events} events`));
    svg.appendChild(rect);
    if (i === 0 || i === buckets.length - 1) {
      const label = (b.start || '').slice(11, 16);
      svg.appendChild(s('text', { x: i === 0 ? x : x + bw - 4, y: H - 4, class: 'label',
        'text-anchor': i === 0 ? 'start' : 'end' }, label));
    }
  });
  return svg;
}

function projectionRows(list, head) {
  return list.map((p) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `#/projections/${enc(p.name)}` }, p.name)),
    h('td', { class: 'num' }, num(p.position)),
    h('td', { class: 'num' }, num(head)),
    h('td', { class: `num ${p.lag_events > 0 ? 'warn' : ''}` }, num(p.lag_events)),
    h('td', { class: 'num' }, ms(p.lag_ms)),
    h('td', {}, p.lease ? p.lease.holder : '-'),
    h('td', {}, p.failure_policy || '-'),
    h('td', { class: `num ${p.dead_letters > 0 ? 'bad' : ''}` }, num(p.dead_letters))));
}

const projectionHeaders = ['Projection', 'Checkpoint', 'Head', 'Lag (events)', 'Lag (time)', 'Lease holder',
  'Failure policy', 'Dead letters'];

async function overviewPage() {
  const o = await api('/api/overview');
  const rate = o.append_rate || { buckets: [] };
  const recent = (rate.buckets || []).reduce((a, b) => a + b.events, 0);
  return [
    h('h1', {}, 'Overview'),
    h('section', { class: 'cards', 'aria-label': 'Store' },
      card('Head position', num(o.head), h('a', { href: '#/all' }, 'Global log')),
      card('Streams', o.streams === null || o.streams === undefined ? 'not counted'
        : num(o.streams) + (o.streams_capped ? '+' : ''),
        h('a', { href: '#/streams' }, 'Browse streams')),
      card('Backend', o.backend, o.store),
      card('Durability', o.durability || '-'),
      card('Appends, last 15 min', num(recent))),
    h('section', { 'aria-labelledby': 'rate-h' },
      h('h2', { id: 'rate-h' }, `Append rate (events per ${rate.bucket_seconds || 60} s)`),
      chart(rate)),
    h('section', { 'aria-labelledby': 'proj-h' },
      h('h2', { id: 'proj-h' }, 'Projections'),
      o.projections && o.projections.length
        ? table(null, projectionHeaders, projectionRows(o.projections, o.head), { scroll: true })
        : h('p', { class: 'muted' }, 'No projection has a checkpoint in this read model.')),
  ];
}

function card(title, value, extra) {
  return h('div', { class: 'card' }, h('h2', {}, title), h('p', { class: 'value' }, value),
    extra ? h('p', { class: 'extra' }, extra) : null);
}

function filterForm(fields, onSubmit) {
  const form = h('form', { class: 'filters', role: 'search' });
  for (const f of fields) {
    const id = `f-${f.name}`;
    form.appendChild(h('div', { class: 'field' },
      h('label', { for: id }, f.label),
      h('input', { id, name: f.name, type: f.type || 'text', value: f.value || '', placeholder: f.placeholder || '',
        inputmode: f.inputmode || null, autocomplete: 'off', spellcheck: 'false' })));
  }
  form.appendChild(h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Apply'),
    h('a', { href: `#${location.hash.slice(1).split('?')[0]}`, class: 'button secondary' }, 'Reset')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const values = {};
    for (const f of fields) values[f.name] = form.elements[f.name].value.trim();
    onSubmit(values);
  });
  return form;
}

async function streamsPage(params) {
  const q = { type: params.get('type') || '', prefix: params.get('prefix') || '', after: params.get('after') || '',
    limit: 50 };
  const r = await api(`/api/streams${qs(q)}`);
  const rows = r.streams.map((x) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: streamHref(x.type, x.id) }, x.stream)),
    h('td', {}, x.type),
    h('td', { class: 'num' }, num(x.version)),
    h('td', {}, time(x.last_timestamp))));
  return [
    h('h1', {}, 'Streams'),
    filterForm([
      { name: 'type', label: 'Stream type', value: q.type, placeholder: 'e.g. account' },
      { name: 'prefix', label: 'Id prefix', value: q.prefix, placeholder: 'e.g. 0190' },
    ], (v) => go('#/streams', { type: v.type, prefix: v.prefix })),
    rows.length ? table(`Streams${q.type ? ` of type ${q.type}` : ''}${q.after ? ' (continued)' : ''}`,
      ['Stream', 'Type', 'Version', 'Last event'], rows, { scroll: true })
      : h('p', { class: 'muted' }, 'No stream matches.'),
    pager([
      q.after ? h('a', { href: `#/streams${qs({ type: q.type, prefix: q.prefix })}` }, 'First page') : null,
      r.next ? h('a', { href: `#/streams${qs({ type: q.type, prefix: q.prefix, after: r.next })}`, rel: 'next' },
        'Next page') : null,
    ]),
  ];
}

async function streamPage(type, id, params) {
  const from = params.get('from') || '';
  const r = await api(`/api/streams/${enc(type)}/${enc(id)}${qs({ from, limit: 50 })}`);
  document.title = `${r.stream} - Estoria`;
  return [
    h('p', { class: 'crumbs' }, h('a', { href: `#/streams${qs({ type: r.type })}` }, `Streams of type ${r.type}`)),
    h('h1', {}, h('span', { class: 'muted' }, 'Stream '), h('span', { class: 'break' }, r.stream)),
    dl([['Type', r.type], ['Id', h('code', {}, r.id)], ['Version', num(r.version)]]),
    h('section', { 'aria-label': 'Events' },
      r.events.length ? r.events.map((e) => eventCard(e, { showStream: false, headingLevel: 'h2' }))
        : h('p', { class: 'muted' }, 'No events here.')),
    pager([
      from ? h('a', { href: streamHref(type, id) }, 'First page') : null,
      r.next !== null && r.next !== undefined
        ? h('a', { href: `${streamHref(type, id)}${qs({ from: r.next })}`, rel: 'next' }, 'Next page') : null,
    ]),
  ];
}

function eventRow(e) {
  return h('tr', { class: 'event-row' },
    h('th', { scope: 'row', class: 'num' }, h('a', { href: eventHref(e.position) }, String(e.position))),
    h('td', {}, h('span', { class: 'break' }, streamLink(e))),
    h('td', { class: 'num' }, String(e.version)),
    h('td', {}, e.type),
    h('td', {}, time(e.timestamp)),
    h('td', { class: 'preview' }, preview(e)));
}

function preview(e) {
  let t;
  if (Object.prototype.hasOwnProperty.call(e, 'data')) t = JSON.stringify(e.data);
  else if (e.data_text !== undefined) t = e.data_text;
  else if (e.data_hex !== undefined) t = `0x${e.data_hex.slice(0, 32)}${e.data_hex.length > 32 ? '...' : ''}`;
  else t = '';
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

const eventHeaders = ['Position', 'Stream', 'Version', 'Type', 'Timestamp', 'Data'];

async function allPage(params) {
  const q = { after: params.get('after') || '', stream_type: params.get('stream_type') || '',
    event_type: params.get('event_type') || '', limit: 50 };
  const r = await api(`/api/all${qs(q)}`);
  const tbody = h('tbody', {}, r.events.map(eventRow));
  const liveBody = h('tbody', { id: 'live-events' });
  const liveStatus = h('p', { class: 'muted', id: 'live-state', role: 'status' }, 'Live tail is off.');
  let source = null;
  const toggle = h('button', { type: 'button', 'aria-pressed': 'false', id: 'live-toggle' }, 'Start live tail');
  function stop() {
    if (source) source.close();
    source = null;
    toggle.textContent = 'Start live tail';
    toggle.setAttribute('aria-pressed', 'false');
    liveStatus.textContent = 'Live tail is off.';
  }
  toggle.addEventListener('click', () => {
    if (source) {
      stop();
      return;
    }
    const after = liveBody.firstChild ? liveBody.firstChild.dataset.position : r.head;
    source = new EventSource(`/api/all/tail${qs({ after, stream_type: q.stream_type, event_type: q.event_type })}`);
    toggle.textContent = 'Stop live tail';
    toggle.setAttribute('aria-pressed', 'true');
    liveStatus.textContent = `Live tail: waiting for events after position ${after}.`;
    source.addEventListener('event', (m) => {
      let e;
      try {
        e = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      const row = eventRow(e);
      row.dataset.position = String(e.position);
      row.classList.add('fresh');
      liveBody.insertBefore(row, liveBody.firstChild);
      while (liveBody.childNodes.length > 200) liveBody.removeChild(liveBody.lastChild);
      liveStatus.textContent = `Live tail: ${liveBody.childNodes.length} new event(s), last at position ${e.position}.`;
    });
    source.addEventListener('error', () => {
      if (source && source.readyState === EventSource.CLOSED) stop();
      else liveStatus.textContent = 'Live tail: reconnecting...';
    });
  });
  cleanup.push(stop);
  const first = r.events.length ? r.events[0].position : null;
  return [
    h('h1', {}, 'Global log ($all)'),
    h('p', {}, `Head position ${num(r.head)}.`),
    filterForm([
      { name: 'after', label: 'After position', value: q.after, inputmode: 'numeric', placeholder: '0' },
      { name: 'stream_type', label: 'Stream types', value: q.stream_type, placeholder: 'account,order' },
      { name: 'event_type', label: 'Event types', value: q.event_type, placeholder: 'OrderPlaced' },
    ], (v) => go('#/all', v)),
    h('section', { 'aria-labelledby': 'live-h', class: 'live' },
      h('h2', { id: 'live-h' }, 'Live tail'),
      h('div', { class: 'live-controls' }, toggle, liveStatus),
      h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
        h('caption', { class: 'sr-only' }, 'Events appended since the live tail started, newest first'),
        h('thead', {}, h('tr', {}, eventHeaders.map((x) => h('th', { scope: 'col' }, x)))), liveBody))),
    h('section', { 'aria-labelledby': 'log-h' },
      h('h2', { id: 'log-h' }, first ? `Events from position ${first}` : 'Events'),
      r.events.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
        h('thead', {}, h('tr', {}, eventHeaders.map((x) => h('th', { scope: 'col' }, x)))), tbody))
        : h('p', { class: 'muted' }, 'No events match.'),
      pager([
        q.after ? h('a', { href: `#/all${qs({ stream_type: q.stream_type, event_type: q.event_type })}` }, 'From the start') : null,
        r.next !== null && r.next !== undefined
          ? h('a', { href: `#/all${qs({ after: r.next, stream_type: q.stream_type, event_type: q.event_type })}`, rel: 'next' },
            'Next page') : null,
      ])),
  ];
}

async function eventPage(position) {
  const e = await api(`/api/events/${enc(position)}`);
  document.title = `Event ${e.position} - Estoria`;
  const p = Number(e.position);
  return [
    h('p', { class: 'crumbs' }, h('a', { href: `#/all${qs({ after: Math.max(0, p - 1) })}` }, 'Global log at this position'),
      ' / ', streamLink(e)),
    h('h1', {}, `Event ${e.position}`),
    eventCard(e, { showStream: true, headingLevel: 'h2' }),
    pager([
      p > 1 ? h('a', { href: eventHref(p - 1), rel: 'prev' }, `Previous position (${p - 1})`) : null,
      h('a', { href: eventHref(p + 1), rel: 'next' }, `Next position (${p + 1})`),
    ]),
  ];
}

async function projectionsPage() {
  const r = await api('/api/projections');
  return [
    h('h1', {}, 'Projections'),
    h('p', {}, `Head position ${num(r.head)}.`),
    r.projections.length
      ? table('Projections with a checkpoint in the read model', projectionHeaders,
        projectionRows(r.projections, r.head), { scroll: true })
      : h('p', { class: 'muted' }, 'No projection has a checkpoint in this read model.'),
  ];
}

async function projectionPage(name, params) {
  const after = params.get('after') || '';
  const [all, dl_] = await Promise.all([
    api('/api/projections'),
    api(`/api/projections/${enc(name)}/dead-letters${qs({ after, limit: 50 })}`),
  ]);
  const p = all.projections.find((x) => x.name === name);
  document.title = `${name} - Estoria`;
  const out = [
    h('p', { class: 'crumbs' }, h('a', { href: '#/projections' }, 'Projections')),
    h('h1', {}, h('span', { class: 'muted' }, 'Projection '), name),
  ];
  if (p) {
    out.push(dl([
      ['Checkpoint', num(p.position)], ['Head', num(all.head)], ['Lag', `${num(p.lag_events)} events, ${ms(p.lag_ms)}`],
      ['Updated', time(p.updated_at)],
      ['Lease holder', p.lease ? `${p.lease.holder} (until ${p.lease.expires_at})` : 'none'],
      ['Failure policy', p.failure_policy || '-'], ['Dead letters', num(p.dead_letters)],
    ]));
  } else {
    out.push(h('p', { class: 'muted' }, 'This projection has no checkpoint yet.'));
  }
  const rows = dl_.dead_letters.map((d) => deadLetterRow(name, d));
  out.push(h('section', { 'aria-labelledby': 'dl-h' },
    h('h2', { id: 'dl-h' }, 'Dead letters'),
    session.allow_writes ? null
      : h('p', { class: 'muted' }, 'Read-only: start estoria ui with --allow-writes to replay or skip dead letters.'),
    rows.length ? table(null, ['Position', 'Event', 'Error', 'Attempts', 'Parked at', 'Replay requested',
      session.allow_writes ? 'Actions' : null].filter(Boolean), rows, { scroll: true, class: 'dead-letters' })
      : h('p', { class: 'muted', id: 'no-dead-letters' }, 'No dead letters.'),
    pager([
      after ? h('a', { href: `#/projections/${enc(name)}` }, 'First page') : null,
      dl_.next !== null && dl_.next !== undefined
        ? h('a', { href: `#/projections/${enc(name)}${qs({ after: dl_.next })}`, rel: 'next' }, 'Next page') : null,
    ])));
  return out;
}

function deadLetterRow(name, d) {
  const e = d.event || {};
  const cells = [
    h('th', { scope: 'row', class: 'num' }, h('a', { href: eventHref(d.position) }, String(d.position))),
    h('td', {}, e.type || '-', e.stream ? h('br') : null, e.stream ? streamLink(e) : null),
    h('td', { class: 'error' }, d.error),
    h('td', { class: 'num' }, String(d.attempts)),
    h('td', {}, time(d.parked_at)),
    h('td', {}, d.replay_requested ? 'yes' : 'no'),
  ];
  if (session.allow_writes) {
    const base = `/api/projections/${enc(name)}/dead-letters/${d.position}`;
    const act = (what, label) => h('button', { type: 'button', class: what === 'skip' ? 'danger' : null,
      'aria-label': `${label} dead letter at position ${d.position}`,
      onclick: async (ev) => {
        if (what === 'skip' && !window.confirm(`Skip (discard) the dead letter at position ${d.position}?`)) return;
        ev.currentTarget.disabled = true;
        try {
          const r = await post(`${base}/${what}`);
          say(what === 'replay'
            ? `Replay requested for position ${d.position} (${r.requested}); the running processor replays it.`
            : `Dead letter at position ${d.position} skipped.`);
        } catch (err) {
          say(`${label} failed: ${err.message}`);
        }
        route();
      } }, label);
    cells.push(h('td', { class: 'actions' }, act('replay', 'Replay'), ' ', act('skip', 'Skip')));
  }
  return h('tr', { 'data-position': d.position }, cells);
}

// ---- Router -------------------------------------------------------------------

function go(path, params) {
  location.hash = `${path}${qs(params || {})}`;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/overview';
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((x) => {
    try {
      return decodeURIComponent(x);
    } catch (_) {
      return x;
    }
  });
  return { parts, params: new URLSearchParams(query || ''), top: parts[0] || 'overview' };
}

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return;  // in-page anchors
  for (const c of cleanup) c();
  cleanup = [];
  const seq = ++renderSeq;
  const { parts, params, top } = parseHash();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === top || (top === 'events' && a.dataset.nav === 'all')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${top[0].toUpperCase()}${top.slice(1)} - Estoria`;
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    if (top === 'overview') content = await overviewPage();
    else if (top === 'streams' && parts.length >= 3) content = await streamPage(parts[1], parts.slice(2).join('/'), params);
    else if (top === 'streams') content = await streamsPage(params);
    else if (top === 'all') content = await allPage(params);
    else if (top === 'events' && parts[1]) content = await eventPage(parts[1]);
    else if (top === 'projections' && parts[1]) content = await projectionPage(parts[1], params);
    else if (top === 'projections') content = await projectionsPage();
    else content = [h('h1', {}, 'Not found'), h('p', {}, 'No such page. '), h('a', { href: '#/overview' }, 'Overview')];
  } catch (err) {
    content = [h('h1', {}, err.status === 404 ? 'Not found' : 'Error'),
      h('p', { class: 'error', role: 'alert' }, err.message),
      err.status === 401 ? h('p', {}, 'This server needs a token: open /?token=YOUR_TOKEN once.') : null];
  }
  if (seq !== renderSeq) {
    for (const c of cleanup) c();
    return;
  }
  main.replaceChildren(...content.filter(Boolean));
  main.removeAttribute('aria-busy');
  const heading = main.querySelector('h1');
  if (route.navigated && heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
  }
  route.navigated = true;
}

async function start() {
  document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
  });
  try {
    session = await api('/api/session');
  } catch (_) {
    // The pages still work read-only; errors show on the page itself.
  }
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = '1';
}

start();
