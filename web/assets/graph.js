// graph.js draws the overlay as a force-directed graph on a canvas.
//
// The layout is the classic one of d3-force, written out here so that the
// dashboard needs no library: springs along the links, a many-body
// repulsion approximated with a Barnes–Hut quadtree (O(n log n), so 1,000
// peers stay smooth), a weak pull to the centre, velocity Verlet with
// friction, and an "alpha" temperature that cools the layout to rest.
// Nodes keep their positions across updates; a change only reheats it a
// little, so the picture moves where the network moved and nowhere else.

const THETA2 = 0.81;          // Barnes–Hut opening criterion θ = 0.9, squared
const CHARGE = -45;           // repulsion per node
const DIST_MAX2 = 500 * 500;  // no repulsion beyond this distance
const GRAVITY = 0.03;         // pull towards the origin
const ALPHA_MIN = 0.002;
const ALPHA_DECAY = 1 - Math.pow(ALPHA_MIN, 1 / 300); // cool in 300 ticks
const VELOCITY_DECAY = 0.4;

// plasma-like scale for degrees, dark to bright.
const DEGREE_STOPS = [[0.0, [92, 64, 201]], [0.3, [177, 42, 144]], [0.55, [225, 100, 98]], [0.8, [252, 166, 54]], [1.0, [240, 249, 33]]];
// one colour per hop; hop 0 is the origin.
const HOP_COLOURS = ['#ffffff', '#4cc9f0', '#57c98a', '#f9c74f', '#f8961e', '#f3722c', '#f94144', '#c77dff', '#90be6d', '#43aa8b', '#577590'];

export function hopColour(h) {
  return h === 0 ? HOP_COLOURS[0] : HOP_COLOURS[1 + ((h - 1) % (HOP_COLOURS.length - 1))];
}

export function degreeColour(d, lo, hi) {
  let t = 0;
  if (hi > lo) t = (Math.log(Math.max(d, 1)) - Math.log(Math.max(lo, 1))) / (Math.log(hi) - Math.log(Math.max(lo, 1)));
  t = Math.min(1, Math.max(0, t));
  for (let i = 1; i < DEGREE_STOPS.length; i++) {
    const [t1, c1] = DEGREE_STOPS[i];
    if (t <= t1) {
      const [t0, c0] = DEGREE_STOPS[i - 1];
      const u = (t - t0) / (t1 - t0);
      return `rgb(${c0.map((c, j) => Math.round(c + (c1[j] - c) * u)).join(',')})`;
    }
  }
  return 'rgb(240,249,33)';
}

export function degreeGradientCSS() {
  return 'linear-gradient(90deg,' + DEGREE_STOPS.map(([t, c]) => `rgb(${c.join(',')}) ${t * 100}%`).join(',') + ')';
}

// radius in layout units: area grows with the degree.
function radius(n) { return n.dead ? 4 : 2.5 + 1.6 * Math.sqrt(Math.max(n.degree, 0)); }

function jiggle() { return (Math.random() - 0.5) * 1e-6; }

export class GraphView {
  constructor(canvas, {onSelect = () => {}} = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.onSelect = onSelect;
    this.nodes = [];
    this.byAddr = new Map();
    this.links = [];
    this.linkKeys = new Set(); // "a b" of every link, to measure a change
    this.alpha = 1;
    this.alphaTarget = 0;
    this.view = {k: 1, x: 0, y: 0};
    this.autoFit = true;
    this.selected = null;
    this.hover = null;
    this.highlight = null; // {hops: Map(addr → hop), from: Map(addr → addr), origin}
    this.degLo = 1;
    this.degHi = 1;
    this.dirty = true;
    this.w = 0; this.h = 0; this.dpr = 1;
    this.tooltip = canvas.parentElement.querySelector('#tooltip');
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    this.bind();
    this.frame = this.frame.bind(this);
    requestAnimationFrame(this.frame);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, r.width);
    this.h = Math.max(1, r.height);
    this.canvas.width = Math.round(this.w * this.dpr);
    this.canvas.height = Math.round(this.h * this.dpr);
    this.dirty = true;
  }

  // setGraph takes the server's Graph: {nodes: [{addr, degree, target,
  // frozen, dead, suspect}], edges: [a0, b0, a1, b1, ...]}.
  setGraph(g) {
    const old = this.byAddr;
    const next = new Map();
    const nodes = [];
    let added = 0;
    for (const n of g.nodes) {
      let o = old.get(n.addr);
      if (!o) {
        o = {addr: n.addr, x: NaN, y: NaN, vx: 0, vy: 0, fx: null, fy: null};
        added++;
      }
      o.degree = n.degree;
      o.target = n.target;
      o.frozen = !!n.frozen;
      o.suspect = !!n.suspect;
      if (n.dead && !o.dead && !isNaN(o.x)) { o.fx = o.x; o.fy = o.y; } // a ghost stays where the peer was
      o.dead = !!n.dead;
      o.index = nodes.length;
      nodes.push(o);
      next.set(n.addr, o);
    }
    const removed = old.size + added - next.size;
    const count = new Array(nodes.length).fill(0);
    const links = [];
    const keys = new Set();
    let newLinks = 0;
    for (let i = 0; i + 1 < g.edges.length; i += 2) {
      const a = g.edges[i], b = g.edges[i + 1];
      if (a >= nodes.length || b >= nodes.length) continue;
      links.push({s: nodes[a], t: nodes[b]});
      count[a]++; count[b]++;
      const k = nodes[a].addr + ' ' + nodes[b].addr;
      keys.add(k);
      if (!this.linkKeys.has(k)) newLinks++;
    }
    const goneLinks = this.linkKeys.size - (keys.size - newLinks);
    this.linkKeys = keys;
    for (const l of links) {
      const cs = count[l.s.index], ct = count[l.t.index];
      l.strength = 1 / Math.min(cs, ct);
      l.bias = cs / (cs + ct);
      l.len = 22 + radius(l.s) + radius(l.t);
    }
    this.nodes = nodes;
    this.byAddr = next;
    this.links = links;
    this.place(added);
    let lo = Infinity, hi = 1;
    for (const n of nodes) if (!n.dead) { lo = Math.min(lo, Math.max(n.degree, 1)); hi = Math.max(hi, n.degree); }
    this.degLo = lo === Infinity ? 1 : lo;
    this.degHi = hi;
    if (this.selected && !next.has(this.selected)) { this.selected = null; this.onSelect(null); }
    // Reheat in proportion to the change: a new link among 1,000 peers
    // nudges the picture, a fresh network lays itself out from scratch.
    const changed = added + removed + newLinks + goneLinks;
    if (changed > 0) this.alpha = Math.max(this.alpha, Math.min(1, 0.08 + 3 * changed / Math.max(nodes.length, 1)));
    this.dirty = true;
  }

  // place puts new nodes beside their placed neighbours, or on a
  // sunflower spiral (even spacing without overlaps) when they have none.
  place(added) {
    if (!added) return;
    const adj = new Map();
    for (const l of this.links) {
      if (!adj.has(l.s)) adj.set(l.s, []);
      if (!adj.has(l.t)) adj.set(l.t, []);
      adj.get(l.s).push(l.t);
      adj.get(l.t).push(l.s);
    }
    let spiral = 0;
    for (let pass = 0; pass < 3; pass++) {
      for (const n of this.nodes) {
        if (!isNaN(n.x)) continue;
        const placed = (adj.get(n) || []).filter(m => !isNaN(m.x));
        if (placed.length > 0) {
          n.x = placed.reduce((s, m) => s + m.x, 0) / placed.length + (Math.random() - 0.5) * 20;
          n.y = placed.reduce((s, m) => s + m.y, 0) / placed.length + (Math.random() - 0.5) * 20;
        } else if (pass === 2 || this.nodes.every(m => isNaN(m.x) || m === n)) {
          const r = 12 * Math.sqrt(0.5 + spiral), a = spiral * Math.PI * (3 - Math.sqrt(5));
          n.x = r * Math.cos(a); n.y = r * Math.sin(a);
          spiral++;
        }
      }
    }
  }

  // setHighlight colours the peers that hold the watched message by hop
  // (null: back to degree colours).
  setHighlight(h) { this.highlight = h; this.dirty = true; }

  select(addr, notify = true) {
    this.selected = addr && this.byAddr.has(addr) ? addr : null;
    this.dirty = true;
    if (notify) this.onSelect(this.selected);
  }

  fit() { this.autoFit = true; this.dirty = true; }

  // screenPos returns a peer's position in client (viewport) pixels, for
  // tests and tooltips.
  screenPos(addr) {
    const n = this.byAddr.get(addr);
    if (!n) return null;
    const r = this.canvas.getBoundingClientRect();
    return {x: r.left + n.x * this.view.k + this.view.x, y: r.top + n.y * this.view.k + this.view.y};
  }

  // settled reports whether the layout has cooled down.
  settled() { return this.alpha <= ALPHA_MIN * 5 && this.alphaTarget === 0; }

  frame() {
    if (this.alpha > ALPHA_MIN || this.alphaTarget > 0) {
      this.tick();
      this.dirty = true;
    }
    if (this.autoFit && this.dirty) this.fitStep();
    if (this.dirty) {
      this.dirty = false;
      this.draw();
    }
    requestAnimationFrame(this.frame);
  }

  tick() {
    const nodes = this.nodes, alpha = this.alpha;
    for (const l of this.links) {
      const s = l.s, t = l.t;
      let x = t.x + t.vx - s.x - s.vx || jiggle(), y = t.y + t.vy - s.y - s.vy || jiggle();
      const d = Math.sqrt(x * x + y * y);
      const f = (d - l.len) / d * alpha * l.strength;
      x *= f; y *= f;
      t.vx -= x * l.bias; t.vy -= y * l.bias;
      s.vx += x * (1 - l.bias); s.vy += y * (1 - l.bias);
    }
    if (nodes.length > 1) {
      const root = buildTree(nodes);
      for (const n of nodes) charge(root, n, alpha);
    }
    for (const n of nodes) {
      n.vx -= n.x * GRAVITY * alpha;
      n.vy -= n.y * GRAVITY * alpha;
      if (n.fx != null) { n.x = n.fx; n.vx = 0; } else { n.vx *= 1 - VELOCITY_DECAY; n.x += n.vx; }
      if (n.fy != null) { n.y = n.fy; n.vy = 0; } else { n.vy *= 1 - VELOCITY_DECAY; n.y += n.vy; }
    }
    this.alpha += (this.alphaTarget - this.alpha) * ALPHA_DECAY;
  }

  // fitStep eases the view towards one that shows every node.
  fitStep() {
    if (!this.nodes.length) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const n of this.nodes) {
      const r = radius(n);
      x0 = Math.min(x0, n.x - r); x1 = Math.max(x1, n.x + r);
      y0 = Math.min(y0, n.y - r); y1 = Math.max(y1, n.y + r);
    }
    const pad = 24;
    const k = Math.min((this.w - 2 * pad) / Math.max(x1 - x0, 1), (this.h - 2 * pad) / Math.max(y1 - y0, 1), 4);
    const tx = this.w / 2 - k * (x0 + x1) / 2, ty = this.h / 2 - k * (y0 + y1) / 2;
    const v = this.view, e = 0.25;
    v.k += (k - v.k) * e; v.x += (tx - v.x) * e; v.y += (ty - v.y) * e;
    if (Math.abs(k - v.k) / k > 0.002 || Math.abs(tx - v.x) > 0.5 || Math.abs(ty - v.y) > 0.5) this.dirty = true;
  }

  nodeAt(cx, cy) {
    const r = this.canvas.getBoundingClientRect();
    const x = (cx - r.left - this.view.x) / this.view.k, y = (cy - r.top - this.view.y) / this.view.k;
    let best = null, bestD = Infinity;
    for (const n of this.nodes) {
      const d = Math.hypot(n.x - x, n.y - y);
      const reach = (this.screenRadius(n) + 5) / this.view.k;
      if (d < reach && d < bestD) { best = n; bestD = d; }
    }
    return best;
  }

  screenRadius(n) { return Math.max(2, radius(n) * Math.min(1.6, Math.max(0.5, Math.sqrt(this.view.k)))); }

  draw() {
    const ctx = this.ctx, {k, x: ox, y: oy} = this.view, hl = this.highlight;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    const X = n => n.x * k + ox, Y = n => n.y * k + oy;

    ctx.lineWidth = 1;
    ctx.strokeStyle = hl ? 'rgba(140,155,180,0.12)' : 'rgba(140,155,180,0.32)';
    ctx.beginPath();
    for (const l of this.links) { ctx.moveTo(X(l.s), Y(l.s)); ctx.lineTo(X(l.t), Y(l.t)); }
    ctx.stroke();

    if (hl) {
      // the links the message first arrived by, coloured by the hop
      ctx.lineWidth = 2;
      for (const [addr, from] of hl.from) {
        const a = this.byAddr.get(from), b = this.byAddr.get(addr);
        if (!a || !b || a.dead || b.dead) continue;
        ctx.strokeStyle = hopColour(hl.hops.get(addr));
        ctx.globalAlpha = 0.75;
        ctx.beginPath(); ctx.moveTo(X(a), Y(a)); ctx.lineTo(X(b), Y(b)); ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }

    let live = 0, ghosts = 0;
    for (const n of this.nodes) {
      const x = X(n), y = Y(n), r = this.screenRadius(n);
      if (n.dead) {
        ghosts++;
        ctx.strokeStyle = '#8a96a8';
        ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.stroke();
        ctx.strokeStyle = '#ef5f5f';
        ctx.beginPath();
        ctx.moveTo(x - r * 0.7, y - r * 0.7); ctx.lineTo(x + r * 0.7, y + r * 0.7);
        ctx.moveTo(x + r * 0.7, y - r * 0.7); ctx.lineTo(x - r * 0.7, y + r * 0.7);
        ctx.stroke();
        continue;
      }
      live++;
      let fill;
      if (hl) fill = hl.hops.has(n.addr) ? hopColour(hl.hops.get(n.addr)) : '#39414e';
      else fill = degreeColour(n.degree, this.degLo, this.degHi);
      ctx.fillStyle = fill;
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
      if (n.frozen || n.suspect) {
        ctx.strokeStyle = n.frozen ? '#6fd6ff' : '#f0a43a';
        ctx.lineWidth = 2;
        ctx.setLineDash(n.frozen ? [3, 2] : []);
        ctx.beginPath(); ctx.arc(x, y, r + 3, 0, 2 * Math.PI); ctx.stroke();
        ctx.setLineDash([]);
      }
    }
    if (hl && hl.origin) this.ring(hl.origin, '#ffffff', 2, 5);
    if (this.hover) this.ring(this.hover, '#d8dee9', 1.5, 3);
    if (this.selected) this.ring(this.selected, '#ffffff', 2.5, 5, true);
    // the count of peers actually drawn, for the browser test and anyone
    // who inspects the page
    this.canvas.dataset.peers = String(live);
    this.canvas.dataset.ghosts = String(ghosts);
    this.canvas.dataset.links = String(this.links.length);
  }

  ring(addr, colour, width, gap, label = false) {
    const n = this.byAddr.get(addr);
    if (!n) return;
    const ctx = this.ctx, x = n.x * this.view.k + this.view.x, y = n.y * this.view.k + this.view.y, r = this.screenRadius(n);
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.beginPath(); ctx.arc(x, y, r + gap, 0, 2 * Math.PI); ctx.stroke();
    if (label) {
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillStyle = '#ffffff';
      ctx.strokeStyle = '#0e1217';
      ctx.lineWidth = 3;
      ctx.strokeText(addr, x + r + gap + 4, y + 4);
      ctx.fillText(addr, x + r + gap + 4, y + 4);
    }
  }

  bind() {
    const c = this.canvas;
    let down = null; // {x, y, node, view, moved}
    c.addEventListener('pointerdown', e => {
      c.setPointerCapture(e.pointerId);
      down = {x: e.clientX, y: e.clientY, node: this.nodeAt(e.clientX, e.clientY), vx: this.view.x, vy: this.view.y, moved: false};
      c.classList.add('dragging');
    });
    c.addEventListener('pointermove', e => {
      if (!down) { this.hoverAt(e); return; }
      const dx = e.clientX - down.x, dy = e.clientY - down.y;
      if (!down.moved && Math.hypot(dx, dy) < 4) return;
      down.moved = true;
      this.autoFit = false;
      if (down.node && !down.node.dead) {
        const r = c.getBoundingClientRect();
        down.node.fx = (e.clientX - r.left - this.view.x) / this.view.k;
        down.node.fy = (e.clientY - r.top - this.view.y) / this.view.k;
        this.alphaTarget = 0.3;
        this.alpha = Math.max(this.alpha, 0.3);
      } else {
        this.view.x = down.vx + dx;
        this.view.y = down.vy + dy;
      }
      this.dirty = true;
    });
    const up = () => {
      if (!down) return;
      if (!down.moved) this.select(down.node ? down.node.addr : null);
      if (down.node && down.moved && !down.node.dead) { down.node.fx = null; down.node.fy = null; }
      this.alphaTarget = 0;
      down = null;
      c.classList.remove('dragging');
    };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
    c.addEventListener('pointerleave', () => { if (!down) this.hoverAt(null); });
    c.addEventListener('wheel', e => {
      e.preventDefault();
      const r = c.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015), v = this.view;
      const k = Math.min(20, Math.max(0.05, v.k * f));
      v.x = px - (px - v.x) * k / v.k;
      v.y = py - (py - v.y) * k / v.k;
      v.k = k;
      this.autoFit = false;
      this.dirty = true;
    }, {passive: false});
    c.addEventListener('dblclick', () => this.fit());
  }

  hoverAt(e) {
    const n = e ? this.nodeAt(e.clientX, e.clientY) : null;
    const addr = n ? n.addr : null;
    if (addr !== this.hover) { this.hover = addr; this.dirty = true; }
    const tip = this.tooltip;
    if (!tip) return;
    if (!n) { tip.hidden = true; return; }
    const r = this.canvas.getBoundingClientRect();
    let text = `${n.addr} · degree ${n.degree}/${n.target}`;
    if (n.dead) text = `${n.addr} · killed, awaiting removal`;
    else if (n.frozen) text += ' · frozen';
    if (n.suspect) text += ' · declared dead';
    if (this.highlight && this.highlight.hops.has(n.addr)) text += ` · hop ${this.highlight.hops.get(n.addr)}`;
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = `${e.clientX - r.left + 12}px`;
    tip.style.top = `${e.clientY - r.top + 12}px`;
  }
}

// Barnes–Hut quadtree. A cell holds either children or the bodies that
// fell into it (several only when they coincide beyond depth 32).

function buildTree(nodes) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of nodes) {
    if (n.x < x0) x0 = n.x;
    if (n.x > x1) x1 = n.x;
    if (n.y < y0) y0 = n.y;
    if (n.y > y1) y1 = n.y;
  }
  const root = cell(x0, y0, Math.max(x1 - x0, y1 - y0) + 1);
  for (const n of nodes) insert(root, n, 0);
  accumulate(root);
  return root;
}

function cell(x, y, size) { return {x, y, size, bodies: null, kids: null, strength: 0, cx: 0, cy: 0}; }

function insert(c, n, depth) {
  for (;;) {
    if (!c.kids) {
      if (!c.bodies) { c.bodies = [n]; return; }
      if (depth >= 32) { c.bodies.push(n); return; }
      const old = c.bodies;
      c.bodies = null;
      c.kids = [null, null, null, null];
      for (const b of old) insert(c, b, depth);
    }
    const h = c.size / 2;
    const i = (n.x >= c.x + h ? 1 : 0) + (n.y >= c.y + h ? 2 : 0);
    if (!c.kids[i]) c.kids[i] = cell(c.x + (i & 1) * h, c.y + (i >> 1) * h, h);
    c = c.kids[i];
    depth++;
  }
}

function accumulate(c) {
  let s = 0, x = 0, y = 0;
  if (c.kids) {
    for (const k of c.kids) {
      if (!k) continue;
      accumulate(k);
      s += k.strength; x += k.strength * k.cx; y += k.strength * k.cy;
    }
  } else {
    for (const b of c.bodies) { s += CHARGE; x += CHARGE * b.x; y += CHARGE * b.y; }
  }
  c.strength = s;
  c.cx = s ? x / s : c.x;
  c.cy = s ? y / s : c.y;
}

function charge(c, n, alpha) {
  if (c.kids) {
    const dx = c.cx - n.x, dy = c.cy - n.y;
    let l = dx * dx + dy * dy;
    if (c.size * c.size / THETA2 < l) {
      // far enough: the whole cell acts as one body at its centre
      if (l < DIST_MAX2) {
        if (l < 1) l = Math.sqrt(l);
        n.vx += dx * c.strength * alpha / l;
        n.vy += dy * c.strength * alpha / l;
      }
      return;
    }
    for (const k of c.kids) if (k) charge(k, n, alpha);
    return;
  }
  for (const b of c.bodies) {
    if (b === n) continue;
    let dx = b.x - n.x, dy = b.y - n.y;
    if (!dx && !dy) { dx = jiggle(); dy = jiggle(); }
    let l = dx * dx + dy * dy;
    if (l >= DIST_MAX2) continue;
    if (l < 1) l = Math.sqrt(l);
    n.vx += dx * CHARGE * alpha / l;
    n.vy += dy * CHARGE * alpha / l;
  }
}
