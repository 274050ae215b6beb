// Line charts for the status page, drawn as SVG: a time axis over the last minutes, a value
// axis from 0 to a round maximum, one path per series and its current value in the caption.
// Plain browser JavaScript, no library, no build step.
'use strict';

window.IhsCharts = (function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const HEIGHT = 160;
  // Room for the value labels on the left and the time labels below.
  const PAD = { left: 58, right: 10, top: 10, bottom: 22 };
  const TICK_MINUTES = 5;

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** The smallest 1, 2 or 5 × 10^k at or above v: axis maxima a person reads at a glance. */
  function niceCeiling(v) {
    if (!(v > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(v)));
    for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
    return 10 * power;
  }

  function lastValue(points) {
    for (let i = points.length - 1; i >= 0; i--) if (points[i][1] !== null) return points[i][1];
    return null;
  }

  /**
   * Draw `series` — [{ key, name, colour, points: [[t ms, value or null], ...] }], t ascending;
   * null is a gap — into `figure` (its <svg>, and its caption's .chart-value), over
   * [now − windowMs, now]. o: { now, windowMs, format(value) → text, minTop, ceil }: the
   * value axis goes from 0 to ceil(the largest value, at least minTop) — niceCeiling by
   * default; bytes want round binary figures.
   * The figure's data-points (points drawn) and data-latest (the first series' last value)
   * say what is shown, for tests and scripts.
   */
  function draw(figure, series, o) {
    const svg = figure.querySelector('svg');
    // The SVG's own width in pixels: text keeps its size on any screen.
    const width = Math.max(160, Math.round(svg.getBoundingClientRect().width) || 480);
    svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    const left = PAD.left;
    const right = width - PAD.right;
    const bottom = HEIGHT - PAD.bottom;
    const top = PAD.top;
    const from = o.now - o.windowMs;
    let max = 0;
    let drawn = 0;
    for (const s of series) {
      for (const [t, v] of s.points) {
        if (t < from || v === null) continue;
        drawn++;
        if (v > max) max = v;
      }
    }
    const ceiling = (o.ceil || niceCeiling)(Math.max(max, o.minTop || 0));
    const x = (t) => left + ((t - from) / o.windowMs) * (right - left);
    const y = (v) => bottom - (v / ceiling) * (bottom - top);

    const parts = [];
    for (const f of [0, 0.5, 1]) {
      const yy = y(ceiling * f).toFixed(1);
      parts.push(svgEl('line', { x1: left, x2: right, y1: yy, y2: yy, class: f === 0 ? 'axis' : 'grid' }));
      parts.push(svgEl('text', { x: left - 6, y: yy, class: 'label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, o.format(ceiling * f)));
    }
    const minutes = Math.round(o.windowMs / 60000);
    for (let m = minutes; m >= 0; m -= TICK_MINUTES) {
      const xx = x(o.now - m * 60000);
      const anchor = m === minutes ? 'start' : m === 0 ? 'end' : 'middle';
      parts.push(svgEl('line', { x1: xx, x2: xx, y1: bottom, y2: bottom + 4, class: 'axis' }));
      parts.push(svgEl('text', { x: xx, y: HEIGHT - 4, class: 'label', 'text-anchor': anchor }, m === 0 ? 'now' : `−${m} min`));
    }
    for (const s of series) {
      let d = '';
      let pen = false;
      let last;
      for (const [t, v] of s.points) {
        if (t < from || v === null) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
        last = [t, v];
      }
      if (d === '') continue;
      parts.push(svgEl('path', { d, stroke: s.colour, class: 'series', 'data-series': s.key }));
      parts.push(svgEl('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 2.5, fill: s.colour, class: 'series-end' }));
    }
    svg.replaceChildren(...parts);

    const latest = series.map((s) => lastValue(s.points));
    figure.dataset.points = String(drawn);
    figure.dataset.latest = latest.length === 0 || latest[0] === null ? '' : String(latest[0]);
    const caption = figure.querySelector('.chart-value');
    caption.replaceChildren(
      ...series.map((s, i) => {
        const item = document.createElement('span');
        item.className = 'chart-current';
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = s.colour;
        item.append(swatch, `${s.name} ${latest[i] === null ? '–' : o.format(latest[i])}`);
        return item;
      }),
    );
  }

  return { draw, niceCeiling };
})();
