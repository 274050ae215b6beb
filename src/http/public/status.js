// The live status page: polls GET api/v1/cluster once a second and draws the slot map, the
// nodes and the proxy's figures. Plain browser JavaScript, no build step, no dependencies.
'use strict';

(function () {
  const SLOTS = 16384;
  const COLUMNS = 128; // 128 × 128 cells, one per slot
  const POLL_MS = 1000;
  // A request that takes this long counts as a failure (the proxy answers LIST from every node).
  const FETCH_TIMEOUT_MS = 5000;
  const UNASSIGNED = '#d4d4d4';
  // Distinct colours for the first masters; more are generated on the colour wheel.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79', '#637939', '#843c39'];

  const $ = (id) => document.getElementById(id);
  // The admin password, when the API asks for one: kept for this tab only.
  const TOKEN_KEY = 'ihs-admin-token';

  function colourFor(index) {
    if (index < PALETTE.length) return PALETTE[index];
    // Golden-angle hues: neighbours stay far apart however many masters there are.
    return hslToHex((index * 137.508) % 360, 0.6, 0.45);
  }

  function hslToHex(h, s, l) {
    const k = (n) => (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
    return '#' + [f(0), f(8), f(4)].map((x) => Math.round(x * 255).toString(16).padStart(2, '0')).join('');
  }

  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  // Node ids in the order a person reads them: m2 before m10.
  const byId = (a, b) => a.id.localeCompare(b.id, 'en', { numeric: true });

  function fmt(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  }

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  function swatch(colour) {
    return el('span', { class: 'swatch', style: `background:${colour}`, 'aria-hidden': 'true' });
  }

  function rangesText(slots) {
    const parts = slots.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`));
    return parts.length > 4 ? parts.slice(0, 4).join(', ') + ` … (${parts.length} ranges)` : parts.join(', ');
  }

  function slotCount(slots) {
    return slots.reduce((sum, [a, b]) => sum + (b - a + 1), 0);
  }

  /** Masters in id order, each with its colour; owner[slot] = index into masters, or -1. */
  function slotOwners(nodes) {
    const masters = nodes.filter((n) => n.role === 'master').sort(byId).map((n, i) => ({ node: n, colour: colourFor(i) }));
    const owner = new Int16Array(SLOTS).fill(-1);
    masters.forEach((m, i) => {
      for (const [a, b] of m.node.slots) for (let s = Math.max(0, a); s <= Math.min(SLOTS - 1, b); s++) owner[s] = i;
    });
    return { masters, owner };
  }

  let current = { masters: [], owner: new Int16Array(SLOTS).fill(-1) };

  function drawSlotMap(view) {
    const canvas = $('slot-map');
    const cell = canvas.width / COLUMNS;
    const ctx = canvas.getContext('2d');
    // Pixels written directly: each cell exactly its master's colour (no smoothing), which
    // is also what a test reading the canvas back compares against.
    const image = ctx.createImageData(canvas.width, canvas.height);
    const rgb = view.masters.map((m) => hexToRgb(m.colour));
    const none = hexToRgb(UNASSIGNED);
    let covered = 0;
    for (let s = 0; s < SLOTS; s++) {
      const o = view.owner[s];
      if (o >= 0) covered++;
      const [r, g, b] = o >= 0 ? rgb[o] : none;
      const x0 = (s % COLUMNS) * cell;
      const y0 = Math.floor(s / COLUMNS) * cell;
      for (let y = y0; y < y0 + cell; y++) {
        for (let x = x0; x < x0 + cell; x++) {
          const p = (y * canvas.width + x) * 4;
          image.data[p] = r;
          image.data[p + 1] = g;
          image.data[p + 2] = b;
          image.data[p + 3] = 255;
        }
      }
    }
    ctx.putImageData(image, 0, 0);
    canvas.dataset.slotsCovered = String(covered);
    const owners = view.masters.map((m) => `${m.node.id}: ${rangesText(m.node.slots) || 'no slots'}`).join('; ');
    canvas.setAttribute('aria-label', `slot map: ${covered} of ${SLOTS} slots served. ${owners}`);
  }

  function renderLegend(view) {
    const items = view.masters.map((m) => {
      const count = slotCount(m.node.slots);
      return el('li', { 'data-master-id': m.node.id, 'data-colour': m.colour, 'data-slot-count': count }, [
        swatch(m.colour),
        el('span', { class: 'legend-id', text: m.node.id }),
        el('span', { class: 'legend-count', text: `${fmt(count)} slots` }),
      ]);
    });
    const unassigned = view.owner.reduce((n, o) => n + (o < 0 ? 1 : 0), 0);
    if (unassigned > 0) {
      items.push(el('li', { 'data-master-id': '', 'data-colour': UNASSIGNED, 'data-slot-count': unassigned, class: 'unassigned' }, [
        swatch(UNASSIGNED),
        el('span', { class: 'legend-id', text: 'unassigned' }),
        el('span', { class: 'legend-count', text: `${fmt(unassigned)} slots` }),
      ]));
    }
    $('slot-legend').replaceChildren(...items);
  }

  /** Masters in id order, each followed by its replicas; nodes whose master is unknown last. */
  function nodeOrder(nodes) {
    const masters = nodes.filter((n) => n.role === 'master').sort(byId);
    const placed = new Set();
    const order = [];
    for (const m of masters) {
      order.push(m);
      placed.add(m.id);
      for (const r of nodes.filter((n) => n.role !== 'master' && n.masterId === m.id).sort(byId)) {
        order.push(r);
        placed.add(r.id);
      }
    }
    return order.concat(nodes.filter((n) => !placed.has(n.id)).sort(byId));
  }

  function renderNodes(nodes, view) {
    const colourOf = new Map(view.masters.map((m) => [m.node.id, m.colour]));
    const rows = nodeOrder(nodes).map((n) => {
      const shardColour = colourOf.get(n.role === 'master' ? n.id : n.masterId);
      const masterCell = n.role === 'master' ? '—' : n.masterId || '?';
      return el('tr', { 'data-node-id': n.id, 'data-state': n.state, 'data-role': n.role, 'data-master-id': n.masterId || '', class: n.role === 'master' ? 'master' : 'replica' }, [
        el('th', { scope: 'row' }, shardColour ? [swatch(shardColour), n.id] : [n.id]),
        el('td', { text: n.address }),
        el('td', { class: 'role', text: n.role }),
        el('td', { text: masterCell }),
        el('td', { class: 'state' }, [el('span', { class: `badge state-${n.state}`, text: n.state })]),
        el('td', { class: 'slots', text: n.slots.length === 0 ? '—' : `${fmt(slotCount(n.slots))} (${rangesText(n.slots)})` }),
        el('td', { class: 'num', 'data-keys': n.keys === null ? '' : n.keys, text: fmt(n.keys) }),
        el('td', { class: 'num', text: fmt(n.offset) }),
        el('td', { class: 'num', 'data-lag-bytes': n.lagBytes === null ? '' : n.lagBytes, text: n.role === 'master' ? '—' : fmt(n.lagBytes) }),
      ]);
    });
    $('nodes').tBodies[0].replaceChildren(...rows);
  }

  function renderOperations(operations) {
    const list = $('operations');
    list.dataset.operationCount = String(operations.length);
    if (operations.length === 0) {
      list.replaceChildren(el('li', { class: 'none', text: 'none' }));
      return;
    }
    list.replaceChildren(
      ...operations.map((op) =>
        el('li', { 'data-kind': op.kind, 'data-operation-id': op.id }, [el('strong', { text: op.kind }), ` ${op.id}: `, el('span', { text: op.progress })]),
      ),
    );
  }

  function setStat(id, value) {
    const dd = $(id);
    dd.textContent = fmt(value);
    // The data attribute is named after the id (master-count → data-master-count).
    dd.setAttribute(`data-${id}`, value === null || value === undefined ? '' : String(value));
  }

  /**
   * Who runs the control plane: this proxy alone, or (several proxies: --workers,
   * --coordinator) this one's role, the leader and how many serve the cluster.
   */
  function renderCoordination(c) {
    const dd = $('control-plane');
    let text;
    if (!c || c.mode === 'single') text = 'this proxy';
    else if (c.role === 'leader') text = `this ${c.mode === 'workers' ? 'worker' : 'proxy'} leads (${c.proxies} ${c.mode === 'workers' ? 'workers' : 'proxies'})`;
    else if (c.leader === '') text = 'no leader';
    else text = `${c.leader} leads (${c.proxies} ${c.mode === 'workers' ? 'workers' : 'proxies'})`;
    dd.textContent = text;
    dd.title = c && c.unavailable ? `admin changes unavailable: ${c.unavailable}` : '';
    dd.setAttribute('data-control-plane', c ? `${c.mode}:${c.role}` : '');
  }

  function render(cluster) {
    current = slotOwners(cluster.nodes);
    setStat('master-count', current.masters.length);
    setStat('node-count', cluster.nodes.length);
    setStat('ops-per-sec', cluster.stats.opsPerSec);
    setStat('total-commands', cluster.stats.totalCommands);
    setStat('connected-clients', cluster.stats.connectedClients);
    setStat('failovers', cluster.stats.failovers);
    renderCoordination(cluster.coordination);
    drawSlotMap(current);
    renderLegend(current);
    renderNodes(cluster.nodes, current);
    renderOperations(cluster.operations);
  }

  function setConnection(state, text) {
    const p = $('connection');
    p.dataset.connection = state;
    $('connection-text').textContent = text;
    document.body.classList.toggle('stale', state === 'disconnected');
  }

  function isCluster(body) {
    return body !== null && typeof body === 'object' && Array.isArray(body.nodes) && Array.isArray(body.operations) && body.stats !== null && typeof body.stats === 'object';
  }

  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const token = sessionStorage.getItem(TOKEN_KEY);
      const headers = token === null ? {} : { authorization: `Bearer ${token}` };
      const res = await fetch('api/v1/cluster', { cache: 'no-store', signal: abort.signal, headers });
      $('auth').hidden = res.status !== 401;
      if (res.status === 401) throw new Error(token === null ? 'the admin password is needed' : 'the admin password was refused');
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      if (!isCluster(body)) throw new Error('unexpected reply');
      render(body);
      const now = new Date();
      const t = $('last-update');
      t.dateTime = now.toISOString();
      t.textContent = now.toLocaleTimeString('en-GB');
      setConnection('live', 'live');
    } catch (err) {
      const reason = err && err.name === 'AbortError' ? 'no answer within 5 s' : err && err.message ? err.message : String(err);
      setConnection('disconnected', `disconnected (${reason}); retrying`);
    } finally {
      clearTimeout(timer);
      // The next request after this one settles: a slow answer never piles requests up.
      setTimeout(poll, POLL_MS);
    }
  }

  function onHover(event) {
    const canvas = $('slot-map');
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor(((event.clientX - rect.left) / rect.width) * COLUMNS);
    const row = Math.floor(((event.clientY - rect.top) / rect.height) * COLUMNS);
    if (col < 0 || col >= COLUMNS || row < 0 || row >= COLUMNS) return;
    const slot = row * COLUMNS + col;
    const o = current.owner[slot];
    $('slot-hover').textContent = `slot ${slot}: ${o >= 0 ? current.masters[o].node.id : 'unassigned'}`;
  }

  function onAuth(event) {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('auth-token').value);
    $('auth-token').value = '';
    $('auth').hidden = true; // the next poll shows it again if the password is wrong
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('slot-map').addEventListener('mousemove', onHover);
    $('auth').addEventListener('submit', onAuth);
    poll();
  });
})();
