// OpenDCRE dashboard. Hand-written, no framework: it draws the readings of
// GET /opendcre/2/readings as a rack, keeps them live from the server-sent
// events of GET /opendcre/2/events (read with fetch(), which can send the
// Authorization header that EventSource cannot), and offers the v1.1 power
// actions to operators. The credential lives in sessionStorage (this tab
// only) and goes out in the Authorization header, never in a cookie or URL:
// a foreign page can make the browser send requests, but not with it.
'use strict';

const KEY = 'opendcre.authorization';
const STALE_SECS = 90;
const HOUR_MS = 3600e3;
const $ = (id) => document.getElementById(id);
const errors = [];
function recordError(text) {
  errors.push(String(text));
  document.documentElement.dataset.errors = errors.join(' | ');
}
window.addEventListener('error', (e) => recordError(e.message));
window.addEventListener('unhandledrejection', (e) => recordError(e.reason));

let me = null;             // GET /opendcre/2/whoami
let stream = null;         // AbortController of the event stream
const tiles = new Map();   // "board/device" -> tile parts
const trends = new Map();  // "board/device" -> [[ms, celsius], ...]
const loaded = new Set();  // trends fetched from the history endpoint

function headers() {
  const a = sessionStorage.getItem(KEY);
  return a ? { Authorization: a } : {};
}

function api(path, signal) {
  return fetch(path, { headers: headers(), cache: 'no-store', signal });
}

async function errorText(r) {
  try { return (await r.json()).message || r.statusText; } catch (_) { return r.statusText; }
}

function say(text, status) {
  const m = $('msg');
  m.textContent = text;
  m.dataset.status = String(status || '');
  m.hidden = !text;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Numbers as v1.1 prints them: at most two decimals.
const num = (v) => String(Math.round(v * 100) / 100);
const UNITS = [
  ['_celsius', (v) => num(v) + ' °C'],
  ['_ratio', (v) => num(v * 100) + ' %RH'],
  ['_pascals', (v) => num(v / 1000) + ' kPa'],
  ['_amperes', (v) => num(v) + ' A'],
  ['_watts', (v) => num(v) + ' W'],
  ['_volts', (v) => num(v) + ' V'],
  ['_rpm', (v) => num(v) + ' rpm'],
  ['_on', (v) => (v ? 'on' : 'off')],
  ['_ok', (v) => (v ? 'ok' : 'FAULT')],
  ['_current', (v) => (v ? 'OVER-CURRENT' : '')],
  ['_voltage', (v) => (v ? 'UNDER-VOLTAGE' : '')],
];
function show(field, v) {
  const u = UNITS.find(([suffix]) => field.endsWith(suffix));
  return u ? u[1](v) : num(v);
}

function tempClass(c) {
  const steps = [15, 20, 25, 30, 35, 40, 45, 50];
  let k = steps[0];
  for (const s of steps) if (c >= s - 2.5) k = s;
  return 't' + k;
}

// ---- login ----------------------------------------------------------------

function utf8base64(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function askLogin(why) {
  const d = $('login');
  $('login-error').textContent = why || '';
  $('login-error').hidden = !why;
  if (!d.open) d.showModal();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token').value.trim();
  const user = $('user').value;
  if (token) sessionStorage.setItem(KEY, 'Bearer ' + token);
  else if (user) sessionStorage.setItem(KEY, 'Basic ' + utf8base64(user + ':' + $('pass').value));
  else return askLogin('Enter a token, or a user name and password.');
  $('pass').value = '';
  $('token').value = '';
  $('login').close();
  start();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.reload();
});

// ---- the rack -------------------------------------------------------------

function boardSection(board) {
  let s = document.querySelector(`section[data-board="${board}"]`);
  if (s) return s;
  s = el('section', 'board');
  s.dataset.board = board;
  const h = el('h2', '', 'Board ' + board);
  h.append(el('span', 'fw'));
  s.append(h, el('div', 'devs'));
  const all = [...$('boards').children];
  const after = all.find((x) => x.dataset.board > board);
  $('boards').insertBefore(s, after || null);
  return s;
}

function powerButtons(target, label) {
  const box = el('div', 'btns');
  for (const action of ['on', 'off', 'cycle']) {
    const b = el('button', action === 'off' ? 'danger' : '', action);
    b.type = 'button';
    b.dataset.action = action;
    mayPower(b);
    b.addEventListener('click', () => confirmPower(action, target, label()));
    box.append(b);
  }
  return box;
}

function newTile(key, kind, cls) {
  const t = { root: el('div', 'dev ' + cls), fields: new Map() };
  t.root.dataset.key = key;
  t.root.dataset.kind = kind;
  t.id = el('span', 'id', key.replace('/', ' · ') + ' ' + kind);
  t.v = el('span', 'v');
  t.x = el('span', 'x');
  t.tag = el('span', 'tag');
  t.err = el('span', 'err');
  t.root.append(t.id, t.v, t.x);
  tiles.set(key, t);
  return t;
}

function deviceTile(d) {
  const key = d.board_id + '/' + d.device_id;
  let t = tiles.get(key);
  if (!t) {
    t = newTile(key, d.kind, d.kind);
    if (d.kind === 'power') {
      t.root.append(powerButtons([d.board_id, d.device_id], () => t.tag.textContent || key));
    } else if (d.values && 'temperature_celsius' in d.values) {
      t.svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      t.svg.setAttribute('viewBox', '0 0 120 18');
      t.line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      t.svg.append(t.line);
      t.root.append(t.svg);
    }
    t.root.append(t.tag, t.err);
    boardSection(d.board_id).querySelector('.devs').append(t.root);
  }
  return t;
}

function setField(t, where, field, text) {
  let s = t.fields.get(field);
  if (!s) {
    s = el('span');
    s.dataset.f = field;
    where.append(s, ' ');
    t.fields.set(field, s);
  }
  if (s.textContent !== text) s.textContent = text;
}

function updateDevice(d) {
  const key = d.board_id + '/' + d.device_id;
  const t = deviceTile(d);
  const v = d.values || {};
  const keys = Object.keys(v);
  t.root.className = 'dev ' + d.kind;
  if (d.kind === 'power') {
    setField(t, t.v, 'power_on', show('power_on', v.power_on));
    t.fields.get('power_on').className = 'st ' + (v.power_on ? 'on' : 'off');
    for (const f of ['power_input_watts', 'power_input_volts', 'power_output_amperes']) {
      if (f in v) setField(t, t.x, f, show(f, v[f]));
    }
    const flags = ['power_ok', 'power_over_current', 'power_under_voltage']
      .map((f) => (f in v ? show(f, v[f]) : '')).filter((x) => x && x !== 'ok');
    setField(t, t.x, 'flags', flags.join(' '));
    const section = boardSection(d.board_id);
    section.classList.add('server');
    section.classList.toggle('down', !v.power_on);
  } else if (keys.length) {
    setField(t, t.v, keys[0], show(keys[0], v[keys[0]]));
    for (const f of keys.slice(1)) setField(t, t.x, f, show(f, v[f]));
  }
  if ('temperature_celsius' in v) {
    t.root.classList.add(tempClass(v.temperature_celsius));
    addTrend(key, d.time, v.temperature_celsius);
  }
  const stale = d.age_seconds === null || d.age_seconds > STALE_SECS;
  t.root.classList.toggle('stale', stale && !d.error);
  t.root.classList.toggle('fail', !d.up);
  t.root.title = d.time ? 'read ' + d.time : 'not read yet';
  t.tag.textContent = d.asset || '';
  t.err.textContent = d.error ? 'error: ' + d.error : '';
}

function updateBmc(b) {
  const key = '40000000/' + b.bmc;
  let t = tiles.get(key);
  if (!t) {
    t = newTile(key, 'bmc', 'bmc');
    t.root.append(powerButtons(['40000000', b.bmc], () => b.host), t.tag, t.err);
    $('bmcs').append(t.root);
    $('servers').hidden = false;
  }
  setField(t, t.v, 'power_on', b.power_on === null ? 'unknown' : show('power_on', b.power_on));
  t.tag.textContent = b.host;
  t.root.classList.toggle('fail', !b.up);
  t.err.textContent = b.error ? 'error: ' + b.error : '';
}

// ---- trends (last hour) ---------------------------------------------------

function addTrend(key, time, c) {
  if (!time) return;
  const ms = Date.parse(time);
  const s = trends.get(key) || [];
  if (!s.length || s[s.length - 1][0] < ms) s.push([ms, c]);
  while (s.length && s[0][0] < ms - HOUR_MS) s.shift();
  trends.set(key, s);
  drawTrend(key);
}

function drawTrend(key) {
  const t = tiles.get(key);
  const s = trends.get(key) || [];
  if (!t || !t.line || s.length < 2) return;
  const lo = Math.min(...s.map((p) => p[1])) - 0.5;
  const hi = Math.max(...s.map((p) => p[1])) + 0.5;
  // The hour, or as much of it as the node has: the width is the span.
  const t0 = s[0][0];
  const span = Math.max(1, s[s.length - 1][0] - t0);
  const step = Math.max(1, Math.floor(s.length / 120));
  const pts = [];
  for (let i = 0; i < s.length; i += step) {
    const [ms, c] = s[i];
    pts.push(((ms - t0) / span * 120).toFixed(1) + ',' + (17 - (c - lo) / (hi - lo) * 16).toFixed(1));
  }
  t.line.setAttribute('points', pts.join(' '));
  if (!t.svgTitle) {
    t.svgTitle = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    t.svg.append(t.svgTitle);
  }
  t.svgTitle.textContent = `${num(lo + 0.5)}–${num(hi - 0.5)} °C over the last ${Math.round(span / 60e3)} min`;
  t.root.dataset.trend = String(s.length);
}

async function loadTrends(devices) {
  const since = new Date(Date.now() - HOUR_MS).toISOString();
  for (const d of devices) {
    const key = d.board_id + '/' + d.device_id;
    if (loaded.has(key) || !d.values || !('temperature_celsius' in d.values)) continue;
    loaded.add(key);
    const r = await api(`/opendcre/2/readings/${d.board_id}/${d.device_id}/history?since=${since}`);
    if (!r.ok) continue;
    const h = await r.json();
    const old = trends.get(key) || [];
    const s = h.samples.map((x) => [Date.parse(x.time), x.values.temperature_celsius]);
    trends.set(key, s.concat(old.filter((p) => !s.length || p[0] > s[s.length - 1][0])));
    drawTrend(key);
  }
}

// ---- data -----------------------------------------------------------------

function apply(doc) {
  $('rack').textContent = doc.rack;
  const s = doc.scan;
  $('scan').textContent = `${s.boards} boards, ${s.devices} devices` +
    (s.time ? ', scanned ' + new Date(s.time).toLocaleTimeString() : '') +
    (s.error ? ' — scan failed: ' + s.error : '');
  const seen = new Set();
  for (const d of doc.devices) {
    updateDevice(d);
    seen.add(d.board_id + '/' + d.device_id);
  }
  for (const b of doc.bmcs) {
    updateBmc(b);
    seen.add('40000000/' + b.bmc);
  }
  for (const [key, t] of tiles) {
    if (!seen.has(key)) {
      t.root.remove();
      tiles.delete(key);
    }
  }
  for (const sec of [...$('boards').children]) if (!sec.querySelector('.dev')) sec.remove();
  document.body.dataset.updated = String(Date.now());
  loadTrends(doc.devices).catch((e) => recordError(e));
}

function live(on, text) {
  $('live').className = on ? 'on' : 'off';
  $('live').textContent = text;
}

// The event stream: `event: readings` with the readings document in
// `data:`; comment lines are keep-alives. The server ends a stream after
// a while; we reconnect, and re-authenticate on the way.
async function follow() {
  stream = new AbortController();
  const signal = stream.signal;
  for (;;) {
    try {
      const r = await api('/opendcre/2/events', signal);
      if (r.status === 401) return askLogin('Your login is no longer accepted.');
      if (!r.ok) throw new Error(await errorText(r));
      live(true, 'live');
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) apply(JSON.parse(data));
        }
      }
      live(false, 'reconnecting');
    } catch (e) {
      if (signal.aborted) return;
      live(false, 'disconnected: ' + e.message);
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
}

// ---- power ----------------------------------------------------------------

function confirmPower(action, [board, device], label) {
  const d = $('confirm');
  $('confirm-title').textContent = `Power ${action}?`;
  $('confirm-text').textContent = `Power ${action} ${label} (board ${board}, device ${device}).`;
  d.dataset.action = action;
  d.dataset.target = board + '/' + device;
  d.returnValue = '';
  d.showModal();
}

// Closed by script, not by method="dialog": the page's CSP has
// form-action 'none'.
$('confirm').querySelector('form').addEventListener('submit', (e) => {
  e.preventDefault();
  $('confirm').close(e.submitter ? e.submitter.value : 'no');
});

$('confirm').addEventListener('close', async () => {
  const d = $('confirm');
  if (d.returnValue !== 'yes') return;
  const action = d.dataset.action;
  const target = d.dataset.target;
  say(`power ${action} ${target}: sending…`, 'pending');
  try {
    const r = await api(`/opendcre/1.1/power/${action}/${target}`);
    if (r.ok) {
      const s = await r.json();
      say(`power ${action} ${target}: done, power is ${s.power_status}`, r.status);
    } else {
      say(`power ${action} ${target} refused (${r.status}): ${await errorText(r)}`, r.status);
    }
  } catch (e) {
    say(`power ${action} ${target} failed: ${e.message}`, 'error');
  }
});

// Offered to operators only; the server refuses everyone else anyway.
function mayPower(b) {
  const may = !!me && me.permissions.includes('operate');
  b.disabled = !may;
  b.title = may ? '' : 'needs the operator role';
}

function allowPower() {
  document.body.dataset.operate = String(!!me && me.permissions.includes('operate'));
  document.querySelectorAll('button[data-action]').forEach(mayPower);
}

// ---- start ----------------------------------------------------------------

async function start() {
  const r = await api('/opendcre/2/whoami');
  if (r.status === 401) return askLogin(sessionStorage.getItem(KEY) ? 'Not accepted: ' + await errorText(r) : '');
  if (!r.ok) return say('cannot reach the node: ' + await errorText(r), r.status);
  me = await r.json();
  $('who').textContent = `${me.name} (${me.role})`;
  $('logout').hidden = !sessionStorage.getItem(KEY);
  allowPower();
  const first = await api('/opendcre/2/readings');
  if (!first.ok) return say('readings: ' + await errorText(first), first.status);
  apply(await first.json());
  follow();
}

start().catch((e) => recordError(e));
