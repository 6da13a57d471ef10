// chart.js draws the degree distribution: the empirical CCDF P(X ≥ x) as
// points and the fitted power law as a line, both on log-log axes, where a
// power law is straight with slope 1 − α.

export class DegreeChart {
  constructor(canvas, text) {
    this.canvas = canvas;
    this.text = text;
    this.ctx = canvas.getContext('2d');
    this.data = null;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  // set takes the server's Degrees view.
  set(d) {
    this.data = d;
    this.draw();
    this.describe();
  }

  describe() {
    const d = this.data, t = this.text;
    if (!d || !d.n) { t.textContent = 'no live peers'; return; }
    let s = `${d.n} peers · degree min ${d.min} · mean ${d.mean.toFixed(2)} · max ${d.max}`;
    if (d.fit) {
      const f = d.fit;
      s += ` — fit α = ${f.alpha.toFixed(3)} ± ${f.alpha_err.toFixed(3)}, x_min = ${f.xmin}, ${f.n_tail} peers in the tail, KS D = ${f.ks.toFixed(4)}`;
      if (d.fit_stale) s += ' (refitting…)';
    } else if (d.fit_error) {
      s += ` — no fit: ${d.fit_error.replace(/^powerlaw: /, '')}`;
    }
    t.textContent = s;
    t.dataset.alpha = d.fit ? String(d.fit.alpha) : '';
  }

  draw() {
    const c = this.canvas, r = c.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, r.width), h = Math.max(1, r.height);
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const d = this.data;
    if (!d || !d.ccdf || !d.ccdf.length) return;

    const pts = d.ccdf;
    const line = d.fit ? d.fit.line : [];
    let xmax = d.max, pmin = 1;
    for (const p of pts) pmin = Math.min(pmin, p.p);
    for (const p of line) pmin = Math.min(pmin, p.p);
    const lx0 = 0, lx1 = Math.log10(Math.max(xmax, 2) * 1.25);
    const ly1 = 0.05, ly0 = Math.floor(Math.log10(pmin) - 0.05);
    const m = {l: 44, r: 10, t: 8, b: 30};
    const X = x => m.l + (Math.log10(x) - lx0) / (lx1 - lx0) * (w - m.l - m.r);
    const Y = p => m.t + (ly1 - Math.log10(p)) / (ly1 - ly0) * (h - m.t - m.b);

    // grid and ticks at 1, 2, 5 × 10^k
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#8a96a8';
    ctx.strokeStyle = '#263040';
    ctx.lineWidth = 1;
    ctx.textAlign = 'center';
    for (let e = 0; e <= Math.ceil(lx1); e++) {
      for (const f of [1, 2, 5]) {
        const x = f * 10 ** e;
        if (Math.log10(x) > lx1) break;
        ctx.beginPath(); ctx.moveTo(X(x), m.t); ctx.lineTo(X(x), h - m.b); ctx.stroke();
        ctx.fillText(String(x), X(x), h - m.b + 14);
      }
    }
    ctx.textAlign = 'right';
    for (let e = ly0; e <= 0; e++) {
      const p = 10 ** e;
      ctx.beginPath(); ctx.moveTo(m.l, Y(p)); ctx.lineTo(w - m.r, Y(p)); ctx.stroke();
      ctx.fillText(e === 0 ? '1' : `1e${e}`, m.l - 4, Y(p) + 4);
    }
    ctx.textAlign = 'center';
    ctx.fillText('degree', (m.l + w - m.r) / 2, h - 3);
    ctx.save();
    ctx.translate(11, (m.t + h - m.b) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('P(X ≥ degree)', 0, 0);
    ctx.restore();

    if (line.length > 1) {
      ctx.strokeStyle = '#fca636';
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      line.forEach((p, i) => i ? ctx.lineTo(X(p.x), Y(p.p)) : ctx.moveTo(X(p.x), Y(p.p)));
      ctx.stroke();
      ctx.setLineDash([]);
      // x_min marker
      ctx.strokeStyle = '#fca63666';
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(X(d.fit.xmin), m.t); ctx.lineTo(X(d.fit.xmin), h - m.b); ctx.stroke();
    }
    ctx.fillStyle = '#5fb3f9';
    for (const p of pts) {
      ctx.beginPath(); ctx.arc(X(p.x), Y(p.p), 3, 0, 2 * Math.PI); ctx.fill();
    }
    // legend
    ctx.textAlign = 'left';
    ctx.fillStyle = '#5fb3f9';
    ctx.beginPath(); ctx.arc(w - m.r - 120, m.t + 10, 3, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = '#d8dee9';
    ctx.fillText('peers', w - m.r - 112, m.t + 14);
    if (line.length > 1) {
      ctx.strokeStyle = '#fca636';
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath(); ctx.moveTo(w - m.r - 126, m.t + 26); ctx.lineTo(w - m.r - 114, m.t + 26); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillText(`power law α=${d.fit.alpha.toFixed(2)}`, w - m.r - 108, m.t + 30);
    }
  }
}
