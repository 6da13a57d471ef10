// app.js wires the dashboard: it opens the event stream, applies its
// updates to the views, and turns clicks into API calls. See
// docs/dashboard.md for the endpoints.

import {GraphView, hopColour, degreeGradientCSS} from './graph.js';
import {DegreeChart} from './chart.js';

const $ = id => document.getElementById(id);

const state = {
  client: null,     // the stream's id, for POST /api/watch
  net: null,        // GET /api/state's network
  graph: {nodes: [], edges: []},
  nodes: new Map(), // addr → node of the last graph
  peerKey: '',      // live peer set of the publish menu
  selected: null,
  watch: null,      // {origin, seq}
  receipts: [],
  watchMsg: null,
};

const graph = new GraphView($('graph'), {onSelect: addr => selectPeer(addr, false)});
const chart = new DegreeChart($('degree-chart'), $('fit-text'));
window.dashboard = {graph, chart, state}; // for the console and the browser test

// ---- API ------------------------------------------------------------------

async function api(method, path, body) {
  const init = {method, headers: {}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || `${r.status} ${r.statusText}`);
  return j;
}

const enc = encodeURIComponent;

let toastTimer = null;
function toast(text, kind = 'info') {
  const t = $('toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 8000 : 5000);
}

// ---- stream ---------------------------------------------------------------

function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('hello', e => {
    state.client = JSON.parse(e.data).client;
    setConn('live', 'live');
    if (state.watch) postWatch();
  });
  es.addEventListener('update', e => apply(JSON.parse(e.data)));
  es.onerror = () => setConn('down', 'reconnecting…'); // EventSource retries by itself
}

function setConn(s, text) {
  const c = $('conn-status');
  c.dataset.state = s;
  c.textContent = text;
}

function apply(u) {
  if (u.full) $('feed').replaceChildren();
  if (u.counts) renderCounts(u.counts);
  if (u.graph) setGraph(u.graph);
  if (u.degrees) chart.set(u.degrees);
  if (u.messages) renderMessages(u.messages);
  if (u.seeds) renderSeeds(u.seeds);
  if (u.feed || u.skipped) appendFeed(u.feed || [], u.skipped || 0);
  if (u.watch) applyWatch(u.watch);
}

// ---- counters -------------------------------------------------------------

function renderCounts(c) {
  const set = (id, v) => { $(id).textContent = v; };
  set('peer-count', c.peers);
  set('link-count', c.links);
  set('msg-count', c.messages);
  set('complete-count', c.complete);
  set('spread-p50', c.complete ? `${c.spread_p50_ms.toFixed(1)} ms` : '–');
  set('component-count', c.components);
  set('frozen-count', c.frozen);
  set('dead-count', c.dead);
  set('seed-count', `${c.seeds_up}/${c.seeds}`);
  set('dup-count', c.local_peers ? c.duplicates : 'n/a');
  set('coverage', c.messages ? c.coverage.toFixed(4) : '–');
  set('false-deaths', `${c.false_dead_reports} + ${c.false_seed_removals}`);
  $('false-deaths').dataset.reports = c.false_dead_reports;
  $('false-deaths').dataset.removals = c.false_seed_removals;
  set('slow-closes', c.slow_closes);
  set('demoted', c.demoted);
  set('cpu-per-delivery', c.deliveries && c.cpu_us_per_delivery ? `${c.cpu_us_per_delivery.toFixed(1)} µs` : '–');
  set('peak-rss', c.peak_rss_mb ? `${c.peak_rss_mb.toFixed(0)} MiB` : '–');
  $('peer-count').dataset.value = c.peers;
}

// ---- graph and selection --------------------------------------------------

function setGraph(g) {
  state.graph = g;
  state.nodes = new Map(g.nodes.map(n => [n.addr, n]));
  graph.setGraph(g);
  const live = g.nodes.filter(n => !n.dead).map(n => n.addr).sort(compareAddr);
  const key = live.join(' ');
  if (key !== state.peerKey) {
    state.peerKey = key;
    const sel = $('publish-peer'), keep = sel.value;
    const opts = [new Option('a random peer', '')];
    for (const a of live) opts.push(new Option(a, a));
    sel.replaceChildren(...opts);
    sel.value = live.includes(keep) ? keep : '';
  }
  renderSelection();
  renderLegend();
  markGone();
}

// markGone greys the receipts of peers that have died since.
function markGone() {
  for (const tr of $('receipt-list').rows) {
    const n = state.nodes.get(tr.dataset.peer);
    tr.classList.toggle('gone', !n || !!n.dead); // a boolean: undefined would toggle
  }
}

function compareAddr(a, b) {
  const [ha, pa] = splitAddr(a), [hb, pb] = splitAddr(b);
  return ha === hb ? pa - pb : (ha < hb ? -1 : 1);
}
function splitAddr(a) {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i), Number(a.slice(i + 1))];
}

function selectPeer(addr, fromOutside = true) {
  state.selected = addr;
  if (fromOutside) graph.select(addr, false);
  if (addr && state.nodes.has(addr) && !state.nodes.get(addr).dead) $('publish-peer').value = addr;
  renderSelection();
  if (addr) loadPeer(addr);
}

async function loadPeer(addr) {
  try {
    const p = await api('GET', `/api/peers/${enc(addr)}`);
    if (state.selected !== addr) return;
    let s = `degree ${p.degree} of target ${p.target} · ${p.neighbours.length} neighbours`;
    if (p.id) s = `node ID ${p.id} · ` + s;
    if (p.stats) s += ` · generated ${p.stats.generated}, received ${p.stats.received}, forwarded ${p.stats.forwarded}, duplicates ${p.stats.duplicates}, dead reported ${p.stats.dead_reported}`;
    $('sel-info').textContent = s;
  } catch (e) {
    if (state.selected === addr) $('sel-info').textContent = e.message;
  }
}

function renderSelection() {
  const addr = state.selected, n = addr ? state.nodes.get(addr) : null;
  $('selection').dataset.addr = n ? addr : '';
  $('sel-addr').textContent = n ? addr : 'none — click a peer';
  const st = !n ? '' : n.dead ? 'dead' : n.frozen ? 'frozen' : 'live';
  $('sel-state').textContent = st === 'dead' ? 'killed, awaiting removal' : st;
  $('sel-state').dataset.state = st;
  if (!n) $('sel-info').textContent = '';
  else if (n.dead) $('sel-info').textContent = 'killed: its neighbours report it dead and the seeds remove it';
  $('kill-btn').disabled = !n || !!n.dead;
  $('freeze-btn').disabled = !n || !!n.dead || !!n.frozen;
  $('thaw-btn').disabled = !n || !n.frozen;
}

async function peerAction(action) {
  const addr = state.selected;
  if (!addr) return;
  try {
    await api('POST', `/api/peers/${enc(addr)}/${action}`);
    const net = state.net;
    const silent = net ? `${(net.liveness_ms * net.liveness_misses / 1000).toFixed(1)} s` : 'a few liveness rounds';
    toast({
      kill: `killed ${addr}: its sockets closed; neighbours notice, report it dead and the seeds remove it`,
      freeze: `froze ${addr}: its sockets stay open, so neighbours notice only after ${silent} without a liveness reply`,
      thaw: `thawed ${addr}`,
    }[action]);
    loadPeer(addr);
  } catch (e) {
    toast(`${action} ${addr}: ${e.message}`, 'error');
  }
}

$('kill-btn').addEventListener('click', () => peerAction('kill'));
$('freeze-btn').addEventListener('click', () => peerAction('freeze'));
$('thaw-btn').addEventListener('click', () => peerAction('thaw'));
$('fit-btn').addEventListener('click', () => graph.fit());
$('publish-peer').addEventListener('change', e => { if (e.target.value) { graph.select(e.target.value, false); selectPeer(e.target.value, false); } });
document.addEventListener('keydown', e => {
  if (e.key === 'Escape' && e.target.tagName !== 'INPUT') { graph.select(null); }
});

function renderLegend() {
  const l = $('legend');
  const parts = [];
  if (graph.highlight) {
    const max = Math.max(0, ...graph.highlight.hops.values());
    for (let h = 0; h <= Math.min(max, 10); h++) {
      parts.push(`<span><span class="sw" style="background:${hopColour(h)}"></span>${h === 0 ? 'origin' : 'hop ' + h}</span>`);
    }
    parts.push('<span><span class="sw" style="background:#39414e"></span>not yet</span>');
  } else {
    parts.push(`<span>degree ${graph.degLo} <span class="grad" style="background:${degreeGradientCSS()}"></span> ${graph.degHi}</span>`);
  }
  parts.push('<span><span class="sw" style="border:2px dashed #6fd6ff"></span>frozen</span>');
  parts.push('<span><span class="sw" style="border:2px solid #f0a43a"></span>declared dead</span>');
  parts.push('<span><span class="sw" style="border:1.5px solid #8a96a8"></span>killed, awaiting removal</span>');
  l.innerHTML = parts.join('');
}

// ---- publish ----------------------------------------------------------------

$('publish-form').addEventListener('submit', async e => {
  e.preventDefault();
  const peer = $('publish-peer').value, text = $('publish-text').value;
  try {
    const r = await api('POST', '/api/publish', {peer, text});
    toast(`${r.origin} published "${r.text}"`);
    if (r.found) watchMessage(r.origin, r.seq);
  } catch (err) {
    toast(`publish: ${err.message}`, 'error');
  }
});

// ---- messages ---------------------------------------------------------------

function renderMessages(msgs) {
  const tb = $('msg-list');
  const dups = msgs.some(m => m.duplicates !== undefined);
  $('msg-table').classList.toggle('with-dups', dups);
  const rows = msgs.map(m => {
    const tr = document.createElement('tr');
    tr.dataset.origin = m.origin;
    tr.dataset.seq = m.seq;
    tr.dataset.reached = m.reached;
    tr.dataset.live = m.live;
    if (state.watch && state.watch.origin === m.origin && state.watch.seq === m.seq) tr.className = 'watched';
    const full = m.live > 0 && m.reached === m.live;
    const pct = m.live ? Math.round(100 * m.reached / m.live) : 0;
    tr.innerHTML = `<td class="mono"></td><td class="text"></td>` +
      `<td>${m.reached}/${m.live}<span class="cov${full ? ' full' : ''}"><span style="width:${pct}%"></span></span></td>` +
      `<td>${m.max_hops}</td><td>${m.spread_ms.toFixed(1)} ms</td><td class="dups-col">${m.duplicates ?? ''}</td>`;
    tr.cells[0].textContent = `${m.origin} #${m.seq}`;
    tr.cells[1].textContent = m.text;
    tr.cells[1].title = m.text;
    tr.addEventListener('click', () => watchMessage(m.origin, m.seq));
    return tr;
  });
  tb.replaceChildren(...rows);
}

function watchMessage(origin, seq) {
  state.watch = origin ? {origin, seq} : null;
  state.receipts = [];
  state.watchMsg = null;
  const d = $('msg-detail');
  d.dataset.origin = origin || '';
  d.dataset.seq = origin ? seq : '';
  $('msg-title').textContent = origin ? `${origin} #${seq} — waiting for the stream…` : 'none';
  $('msg-coverage').textContent = '–';
  $('msg-coverage').dataset.reached = 0;
  $('msg-coverage').dataset.live = 0;
  $('msg-bar').style.width = '0';
  $('msg-stats').textContent = '';
  $('hop-summary').replaceChildren();
  $('receipt-list').replaceChildren();
  $('unwatch-btn').hidden = !origin;
  for (const tr of $('msg-list').rows) {
    tr.classList.toggle('watched', !!origin && tr.dataset.origin === origin && Number(tr.dataset.seq) === seq);
  }
  graph.setHighlight(null);
  renderLegend();
  postWatch();
}

$('unwatch-btn').addEventListener('click', () => watchMessage(null));

async function postWatch() {
  if (!state.client) return; // the hello event posts it
  const w = state.watch;
  try {
    await api('POST', '/api/watch', {client: state.client, origin: w ? w.origin : '', seq: w ? w.seq : 0});
  } catch (e) {
    toast(`watch: ${e.message}`, 'error');
  }
}

function applyWatch(w) {
  const cur = state.watch;
  if (!cur || cur.origin !== w.origin || cur.seq !== w.seq) return; // an old watch
  const tb = $('receipt-list');
  if (w.reset) {
    state.receipts = [];
    tb.replaceChildren(receiptRow({peer: w.origin, hops: 0, ms: 0, from: ''}, true));
  }
  if (w.gone) {
    $('msg-title').textContent = `${w.origin} #${w.seq} — no such message`;
    return;
  }
  state.watchMsg = w;
  state.receipts.push(...w.receipts);
  const frag = document.createDocumentFragment();
  for (const r of w.receipts) frag.appendChild(receiptRow(r, false));
  tb.appendChild(frag);
  markGone();

  $('msg-title').textContent = `${w.origin} #${w.seq} · "${w.text}"`;
  const cov = $('msg-coverage');
  cov.textContent = `${w.reached}/${w.live}`;
  cov.title = 'live peers holding the message (its origin included) / live peers';
  cov.dataset.reached = w.reached;
  cov.dataset.live = w.live;
  const full = w.live > 0 && w.reached === w.live;
  $('msg-bar').style.width = `${w.live ? 100 * w.reached / w.live : 0}%`;
  $('msg-bar').classList.toggle('full', full);
  let s = `${w.receivers} received it · ${w.max_hops} hops max · last receipt after ${w.spread_ms.toFixed(1)} ms`;
  if (w.duplicates !== undefined) s += ` · ${w.duplicates} duplicate copies`;
  if (!w.receipts_kept) s += ' · receipts no longer kept';
  $('msg-stats').textContent = s;

  const byHop = new Map([[0, 1]]);
  const hops = new Map([[w.origin, 0]]), from = new Map();
  for (const r of state.receipts) {
    byHop.set(r.hops, (byHop.get(r.hops) || 0) + 1);
    hops.set(r.peer, r.hops);
    if (r.from && r.from !== r.peer) from.set(r.peer, r.from);
  }
  $('hop-summary').replaceChildren(...[...byHop.keys()].sort((a, b) => a - b).map(h => {
    const sp = document.createElement('span');
    sp.style.background = hopColour(h);
    sp.textContent = `${h === 0 ? 'origin' : 'hop ' + h}: ${byHop.get(h)}`;
    return sp;
  }));
  graph.setHighlight({hops, from, origin: w.origin});
  renderLegend();
}

function receiptRow(r, origin) {
  const tr = document.createElement('tr');
  tr.dataset.peer = r.peer;
  tr.dataset.hops = r.hops;
  tr.innerHTML = '<td class="mono"></td><td></td><td></td><td class="mono"></td>';
  tr.cells[0].textContent = r.peer;
  tr.cells[1].textContent = origin ? '0 (origin)' : r.hops;
  tr.cells[1].style.color = hopColour(r.hops);
  tr.cells[2].textContent = r.ms.toFixed(1);
  tr.cells[3].textContent = r.from;
  tr.addEventListener('click', () => { graph.select(r.peer, false); selectPeer(r.peer, false); });
  return tr;
}

// ---- seeds ----------------------------------------------------------------

function renderSeeds(seeds) {
  $('seed-list').replaceChildren(...seeds.map(s => {
    const li = document.createElement('li');
    li.dataset.seed = s.addr;
    li.dataset.up = s.up;
    li.innerHTML = '<span class="dot"></span><span></span><span class="reg"></span><button type="button"></button>';
    li.children[1].textContent = s.addr;
    li.children[2].textContent = s.up ? `${s.registered} registered` : 'down';
    const b = li.children[3];
    b.textContent = s.up ? 'Stop' : 'Start';
    b.hidden = !!(state.net && state.net.observed);
    b.addEventListener('click', async () => {
      const action = s.up ? 'stop' : 'start';
      try {
        await api('POST', `/api/seeds/${enc(s.addr)}/${action}`);
        toast(`seed ${s.addr}: ${action === 'stop' ? 'stopped; its registry is lost' : 'started with an empty registry; peers re-register on their next refresh'}`);
      } catch (e) {
        toast(`seed ${s.addr}: ${e.message}`, 'error');
      }
    });
    return li;
  }));
}

// ---- feed -----------------------------------------------------------------

const maxFeedItems = 400;

function describe(e) {
  switch (e.kind) {
    case 'join': return `${e.node} joined`;
    case 'link': return e.note || `${e.node} — ${e.peer} linked`;
    case 'unlink': return `${e.node} — ${e.peer} unlinked`;
    case 'dead': return `${e.node} declared ${e.peer} dead and reported it to its seeds`;
    case 'removed': return `seed ${e.node} removed ${e.peer}${e.note ? ' — ' + e.note : ''}`;
    case 'kill': return `${e.node} killed`;
    case 'freeze': return `${e.node} frozen`;
    case 'thaw': return `${e.node} thawed`;
    case 'seed-up': return `seed ${e.node} started`;
    case 'seed-down': return `seed ${e.node} stopped`;
    case 'publish': return `${e.node} published "${e.text}"`;
    default: return `${e.node} ${e.kind} ${e.peer || ''} ${e.text || ''}`;
  }
}

function clock(t) {
  const d = new Date(t);
  return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function appendFeed(events, skipped) {
  const ul = $('feed');
  const frag = document.createDocumentFragment();
  // newest first: prepend in reverse arrival order
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    const li = document.createElement('li');
    li.dataset.kind = e.kind;
    li.dataset.node = e.node;
    if (e.peer) li.dataset.peer = e.peer;
    li.dataset.seq = e.seq;
    const minor = (e.kind === 'link' || e.kind === 'unlink') && !e.note;
    if (minor) li.dataset.minor = 'true';
    if (e.kind === 'link' && e.note) li.classList.add('replace');
    li.innerHTML = '<span class="t"></span><span class="k"></span><span class="x"></span>';
    li.children[0].textContent = clock(e.at);
    li.children[1].textContent = e.kind === 'link' && e.note ? 'replace' : e.kind;
    li.children[2].textContent = describe(e);
    li.addEventListener('click', () => {
      const a = ['dead', 'removed'].includes(e.kind) ? e.peer : e.node;
      graph.select(a, false);
      selectPeer(state.nodes.has(a) ? a : null, false);
    });
    frag.appendChild(li);
  }
  if (skipped) {
    const li = document.createElement('li');
    li.className = 'skipped';
    li.textContent = `… ${skipped} events not shown (they came faster than the dashboard keeps them)`;
    frag.insertBefore(li, frag.firstChild);
  }
  ul.insertBefore(frag, ul.firstChild);
  while (ul.children.length > maxFeedItems) ul.lastChild.remove();
}

$('feed-all-links').addEventListener('change', e => $('feed').classList.toggle('all', e.target.checked));

// ---- start ----------------------------------------------------------------

// A network watched from outside (whispernet watch): the controls would
// only answer that its nodes run elsewhere, so the page turns them off.
function observedMode() {
  document.querySelector('#selection .buttons').hidden = true;
  $('publish-form').hidden = true;
  for (const b of document.querySelectorAll('#seed-list button')) b.hidden = true;
  const note = document.createElement('p');
  note.className = 'muted';
  note.textContent = 'Watching a network that runs elsewhere (whispernet watch): its nodes are ' +
    'controlled by their container runtime or host (docker kill, docker pause, docker stop), not from here.';
  $('selection').after(note);
}

api('GET', '/api/state').then(s => {
  state.net = s.network;
  if (s.network.observed) observedMode();
}).catch(() => {});
renderLegend();
connect();
