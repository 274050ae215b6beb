// The live status page: polls GET api/v1/cluster once a second (health, slot map, nodes, the
// proxy's figures), and reads GET api/v1/events (the cluster's timeline and each new metrics
// sample) as a stream, with GET api/v1/history for the charts' past. Plain browser
// JavaScript, no build step, no dependencies (charts.js and event-stream.js are this page's).
'use strict';

(function () {
  const SLOTS = 16384;
  const COLUMNS = 128; // 128 × 128 cells, one per slot
  const POLL_MS = 1000;
  // A request that takes this long counts as a failure (the proxy answers LIST from every node).
  const FETCH_TIMEOUT_MS = 5000;
  // The stream is retried this long after it ends; silent this long it is taken for dead
  // (the proxy sends a comment every 15 s).
  const STREAM_RETRY_MS = 1000;
  const STREAM_SILENCE_MS = 45000;
  // Timeline entries kept on the page (the proxy keeps 1000).
  const TIMELINE_MAX = 300;
  const CHART_WINDOW_MS = 15 * 60000;
  const UNASSIGNED = '#d4d4d4';
  // Shard N's colour is PALETTE[N] (mN and its replicas mNrK); later shards get golden-angle hues.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79', '#637939', '#843c39'];
  const LATENCY_COLOURS = { p50: '#1a73e8', p99: '#c5221f' };

  const $ = (id) => document.getElementById(id);
  // The admin password, when the API asks for one: kept for this tab only.
  const TOKEN_KEY = 'ihs-admin-token';

  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token === null ? {} : { authorization: `Bearer ${token}` };
  }

  // --- colours --------------------------------------------------------------------------------

  /**
   * A shard's identity: the master id it was formed with (m3 for m3 and its replicas m3r0,
   * m3r1): after a failover m3r0 serves shard m3, in its colour. Other ids (a static
   * cluster's) are their own shard.
   */
  function shardOf(id) {
    const m = /^m\d+/.exec(id || '');
    return m === null ? id || '' : m[0];
  }

  /** The colour of a node's shard: from the shard's identity, never from its place in a list. */
  function shardColour(id) {
    const shard = shardOf(id);
    const m = /^m(\d+)$/.exec(shard);
    const n = m === null ? hashOf(shard) : Number(m[1]);
    if (m !== null && n < PALETTE.length) return PALETTE[n];
    // Golden-angle hues: neighbours stay far apart however many shards there are.
    return hslToHex((n * 137.508) % 360, 0.6, 0.45);
  }

  function hashOf(text) {
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return h;
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

  // --- formatting -----------------------------------------------------------------------------

  // Node ids in the order a person reads them: m2 before m10.
  const byId = (a, b) => a.id.localeCompare(b.id, 'en', { numeric: true });

  function fmt(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  }

  function fmtCompact(n) {
    if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
    if (n >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
    return String(Math.round(n));
  }

  function fmtMicros(us) {
    if (us >= 1e6) return `${+(us / 1e6).toFixed(2)} s`;
    if (us >= 1000) return `${+(us / 1000).toFixed(us >= 1e5 ? 0 : 1)} ms`;
    return `${Math.round(us)} µs`;
  }

  function fmtBytes(b) {
    if (b >= 1 << 30) return `${+(b / (1 << 30)).toFixed(1)} GB`;
    if (b >= 1 << 20) return `${+(b / (1 << 20)).toFixed(1)} MB`;
    if (b >= 1 << 10) return `${+(b / (1 << 10)).toFixed(0)} KB`;
    return `${Math.round(b)} B`;
  }

  function clockTime(date) {
    return `${date.toLocaleTimeString('en-GB')}.${String(date.getMilliseconds()).padStart(3, '0')}`;
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

  // --- slot map, legend, nodes ----------------------------------------------------------------

  // A master in these states serves none of its slots (the proxy's health says down).
  const NOT_SERVING = new Set(['failed', 'stopped', 'useless']);

  /** Masters in id order, each with its shard's colour; owner[slot] = index into masters, or -1. */
  function slotOwners(nodes) {
    const masters = nodes
      .filter((n) => n.role === 'master')
      .sort(byId)
      .map((n) => ({ node: n, colour: shardColour(n.id), serving: !NOT_SERVING.has(n.state) && n.clusterState !== 'fail' }));
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
    // is also what a test reading the canvas back compares against (at the cell's centre).
    // The slots of a master that serves nothing now are hatched with the unassigned grey.
    const image = ctx.createImageData(canvas.width, canvas.height);
    const rgb = view.masters.map((m) => hexToRgb(m.colour));
    const none = hexToRgb(UNASSIGNED);
    let covered = 0;
    for (let s = 0; s < SLOTS; s++) {
      const o = view.owner[s];
      if (o >= 0) covered++;
      const colour = o >= 0 ? rgb[o] : none;
      const hatched = o >= 0 && !view.masters[o].serving;
      const x0 = (s % COLUMNS) * cell;
      const y0 = Math.floor(s / COLUMNS) * cell;
      for (let y = y0; y < y0 + cell; y++) {
        for (let x = x0; x < x0 + cell; x++) {
          const [r, g, b] = hatched && (x + y) % 4 >= 2 ? none : colour;
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
      return el('li', { 'data-master-id': m.node.id, 'data-shard': shardOf(m.node.id), 'data-colour': m.colour, 'data-slot-count': count, 'data-serving': m.serving }, [
        swatch(m.colour),
        el('span', { class: 'legend-id', text: m.node.id }),
        el('span', { class: 'legend-count', text: `${fmt(count)} slots` }),
        m.serving ? '' : el('span', { class: 'legend-down', text: m.node.clusterState === 'fail' && !NOT_SERVING.has(m.node.state) ? 'CLUSTERDOWN' : `${m.node.state}: not served` }),
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

  function renderNodes(nodes) {
    const rows = nodeOrder(nodes).map((n) => {
      const masterCell = n.role === 'master' ? '—' : n.masterId || '?';
      return el('tr', { 'data-node-id': n.id, 'data-state': n.state, 'data-role': n.role, 'data-master-id': n.masterId || '', class: n.role === 'master' ? 'master' : 'replica' }, [
        el('th', { scope: 'row' }, [swatch(shardColour(n.id)), n.id]),
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

  // --- hot keys / big keys --------------------------------------------------------------------

  const KEYS_POLL_MS = 2000;
  const KEYS_PER_SHARD = 5;

  function keyRows(table, keys, cells) {
    table.dataset.keyCount = String(keys.length);
    const rows = keys.map((k) => el('tr', { 'data-shard': k.shard, 'data-key': k.key }, [el('th', { scope: 'row', title: k.address }, [swatch(shardColour(k.shard)), k.shard]), el('td', { class: 'key', text: k.key }), ...cells(k)]));
    table.tBodies[0].replaceChildren(...(rows.length > 0 ? rows : [el('tr', { class: 'none' }, [el('td', { colspan: table.tHead.rows[0].cells.length, text: 'none sampled lately' })])]));
  }

  async function fetchKeys(what) {
    const res = await fetch(`api/v1/${what}?count=${KEYS_PER_SHARD}`, { cache: 'no-store', headers: authHeaders() });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  /** The panel's own loop: a 401 here is the cluster poll's to explain (the same token). */
  async function pollKeys() {
    try {
      const [hot, big] = await Promise.all([fetchKeys('hotkeys'), fetchKeys('bigkeys')]);
      $('keys-note').textContent = hot.sampleRate === 0 ? '(sampling off: --hotkeys-sample-rate 0)' : `(1 request in ${hot.sampleRate} sampled, last ~10 s)`;
      keyRows($('hotkeys'), hot.keys, (k) => [el('td', { class: 'num', text: fmtCompact(k.opsPerSec) }), el('td', { class: 'num', text: `${(k.share * 100).toFixed(1)}%` })]);
      keyRows($('bigkeys'), big.keys, (k) => [
        el('td', { class: 'num', text: fmtBytes(k.readPerSec) }),
        el('td', { class: 'num', text: fmtBytes(k.writtenPerSec) }),
        el('td', { class: 'num', text: fmtBytes(k.largestReply) }),
        el('td', { class: 'num', text: fmtBytes(k.largestRequest) }),
      ]);
    } catch (err) {
      $('keys-note').textContent = `(not available: ${err && err.message ? err.message : String(err)})`;
    } finally {
      setTimeout(pollKeys, KEYS_POLL_MS);
    }
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

  /** The header: the cluster's health as the proxy states it (ok / degraded / down) and why. */
  function renderHealth(health) {
    const p = $('health');
    const status = health ? health.status : 'unknown';
    p.dataset.health = status;
    $('health-status').textContent = status;
    $('health-reason').textContent = health && health.reasons.length > 0 ? health.reasons.join('; ') : status === 'ok' ? 'every slot served, every node up' : '';
  }

  function render(cluster) {
    current = slotOwners(cluster.nodes);
    renderHealth(cluster.health);
    setStat('master-count', current.masters.length);
    setStat('node-count', cluster.nodes.length);
    setStat('ops-per-sec', cluster.stats.opsPerSec);
    setStat('total-commands', cluster.stats.totalCommands);
    setStat('connected-clients', cluster.stats.connectedClients);
    setStat('failovers', cluster.stats.failovers);
    renderCoordination(cluster.coordination);
    drawSlotMap(current);
    renderLegend(current);
    renderNodes(cluster.nodes);
    renderOperations(cluster.operations);
  }

  function setConnection(state, text) {
    const p = $('connection');
    p.dataset.connection = state;
    $('connection-text').textContent = text;
    document.body.classList.toggle('stale', state === 'disconnected');
    if (state === 'disconnected') {
      $('health').dataset.health = 'unknown';
      $('health-status').textContent = 'unknown';
      $('health-reason').textContent = 'the proxy does not answer';
    }
  }

  function isCluster(body) {
    return body !== null && typeof body === 'object' && Array.isArray(body.nodes) && Array.isArray(body.operations) && body.stats !== null && typeof body.stats === 'object';
  }

  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch('api/v1/cluster', { cache: 'no-store', signal: abort.signal, headers: authHeaders() });
      $('auth').hidden = res.status !== 401;
      if (res.status === 401) throw new Error(sessionStorage.getItem(TOKEN_KEY) === null ? 'the admin password is needed' : 'the admin password was refused');
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

  // --- timeline -------------------------------------------------------------------------------

  const shownEvents = new Set();

  function timelineItem(e) {
    const at = new Date(e.at);
    const attrs = { 'data-event-id': e.id, 'data-kind': e.kind, 'data-severity': e.severity, class: `event severity-${e.severity}` };
    if (e.node !== undefined) attrs['data-node'] = e.node;
    if (e.to !== undefined) attrs['data-to'] = e.to;
    const subject = e.node || e.master;
    return el('li', attrs, [
      el('time', { datetime: e.at, title: e.at, text: clockTime(at) }),
      subject ? swatch(shardColour(subject)) : '',
      el('span', { class: 'event-text', text: e.text }),
    ]);
  }

  /** Newest first; the oldest fall off past TIMELINE_MAX. */
  function addToTimeline(item) {
    const list = $('timeline');
    list.querySelector('li.none')?.remove();
    list.prepend(item);
    while (list.children.length > TIMELINE_MAX) list.lastElementChild.remove();
    list.dataset.eventCount = String(list.querySelectorAll('li.event').length);
  }

  function addEvent(e) {
    if (shownEvents.has(e.id)) return;
    shownEvents.add(e.id);
    addToTimeline(timelineItem(e));
  }

  function addNote(text) {
    addToTimeline(el('li', { class: 'note', text }));
  }

  // --- charts ---------------------------------------------------------------------------------

  /** Samples by time, oldest first, within the window: the history, then the stream's. */
  let samples = [];

  function addSamples(more) {
    const byTime = new Map(samples.map((s) => [s.t, s]));
    for (const s of more) byTime.set(s.t, s);
    const all = [...byTime.values()].sort((a, b) => a.t - b.t);
    const newest = all.length === 0 ? 0 : all[all.length - 1].t;
    samples = all.filter((s) => s.t >= newest - CHART_WINDOW_MS);
    drawCharts();
  }

  /** One series per shard, named after its master in the latest sample that has it (m0, then m0r0 after a failover). */
  function masterSeries(value) {
    const shards = new Map();
    for (const s of samples) {
      for (const m of s.masters) {
        const key = shardOf(m.id);
        if (!shards.has(key)) shards.set(key, { key, name: m.id, colour: shardColour(m.id), points: [] });
        shards.get(key).name = m.id;
      }
    }
    for (const series of shards.values()) {
      for (const s of samples) {
        const m = s.masters.find((x) => shardOf(x.id) === series.key);
        series.points.push([s.t, m === undefined ? null : value(m)]);
      }
    }
    return [...shards.values()].sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  }

  function drawCharts() {
    const charts = window.IhsCharts;
    // The right edge is the newest sample's time: the proxy's clock, not this browser's.
    const now = samples.length === 0 ? Date.now() : samples[samples.length - 1].t;
    const common = { now, windowMs: CHART_WINDOW_MS };
    charts.draw($('chart-ops'), [{ key: 'proxy', name: 'proxy', colour: '#1a73e8', points: samples.map((s) => [s.t, s.opsPerSec]) }], { ...common, format: fmtCompact, minTop: 10 });
    charts.draw(
      $('chart-latency'),
      [
        { key: 'p50', name: 'p50', colour: LATENCY_COLOURS.p50, points: samples.map((s) => [s.t, s.p50Us]) },
        { key: 'p99', name: 'p99', colour: LATENCY_COLOURS.p99, points: samples.map((s) => [s.t, s.p99Us]) },
      ],
      { ...common, format: fmtMicros, minTop: 100 },
    );
    charts.draw($('chart-master-ops'), masterSeries((m) => m.opsPerSec), { ...common, format: fmtCompact, minTop: 10 });
    const mb = 1 << 20;
    charts.draw($('chart-master-memory'), masterSeries((m) => m.usedMemory), { ...common, format: fmtBytes, minTop: mb, ceil: (v) => charts.niceCeiling(v / mb) * mb });
  }

  async function loadHistory() {
    try {
      const res = await fetch('api/v1/history', { cache: 'no-store', headers: authHeaders() });
      if (!res.ok) return; // the stream's samples fill the charts from now on
      const body = await res.json();
      if (Array.isArray(body.samples)) addSamples(body.samples);
      $('charts-section').dataset.history = 'loaded';
    } catch {
      /* the same */
    }
  }

  // --- the event stream -----------------------------------------------------------------------

  /** The last timeline event received: a reconnect asks only for what came after it. */
  let lastEventId = '';
  let streamName = '';

  function setStream(state, text) {
    $('timeline-section').dataset.stream = state;
    $('timeline-state').textContent = text;
  }

  function onMessage(message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (message.event === 'hello') {
      if (streamName !== '' && data.stream !== streamName) addNote('the proxy restarted: a new timeline begins');
      else if (lastEventId !== '' && data.complete === false) addNote('some events were missed while disconnected (the proxy keeps the last 1000)');
      streamName = data.stream;
    } else if (message.event === 'cluster-event') {
      if (message.id !== undefined) lastEventId = message.id;
      addEvent(data);
    } else if (message.event === 'sample') {
      addSamples([data]);
    }
  }

  async function stream() {
    for (;;) {
      try {
        const headers = authHeaders();
        if (lastEventId !== '') headers['last-event-id'] = lastEventId;
        await window.IhsEventStream.read('api/v1/events', {
          headers,
          silenceMs: STREAM_SILENCE_MS,
          onOpen: () => {
            setStream('live', '');
            void loadHistory();
          },
          onMessage,
        });
        setStream('reconnecting', '(reconnecting…)');
      } catch (err) {
        const why = err && err.status === 401 ? 'the admin password is needed' : 'reconnecting…';
        setStream('reconnecting', `(${why})`);
      }
      await new Promise((resolve) => setTimeout(resolve, STREAM_RETRY_MS));
    }
  }

  // --- page -----------------------------------------------------------------------------------

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
    // The charts are drawn at the width they have: again when it changes.
    let resizing;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(drawCharts, 100);
    });
    drawCharts();
    poll();
    void pollKeys();
    void stream();
  });
})();
