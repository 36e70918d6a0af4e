// The Weft dashboard: polls the control plane's JSON API every two seconds and redraws the
// service graph (golden metrics on nodes and edges), the tables, the selected service's
// charts and the sync status. Plain DOM and SVG, no framework and no build step.

const SVG = 'http://www.w3.org/2000/svg';
const POLL_MS = 2000;
const state = { window: '1m', selected: undefined, updates: 0, trace: undefined };

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') node.addEventListener('click', v);
    else if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const key = (s) => `${s.namespace}/${s.service}`;
const label = (s) => (s.namespace === 'default' || !s.namespace ? s.service : `${s.service}.${s.namespace}`);
const pct = (rate) => (rate === null || rate === undefined ? '-' : `${(rate * 100).toFixed(2)}%`);
const ms = (v) => (v === null || v === undefined ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`);
const rps = (v) => (v === undefined ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const health = (rate) => (rate === null || rate === undefined ? 'idle' : rate >= 0.99 ? 'ok' : rate >= 0.95 ? 'warn' : 'bad');
const COLORS = { ok: '#2e9d5b', warn: '#d39b1c', bad: '#cf3f3f', idle: '#8c96a3' };

/** Columns by call depth: callers left, callees right; cycles stop at the node count. */
function layout(nodes, edges) {
  const depth = new Map(nodes.map((n) => [key(n), 0]));
  for (let round = 0; round < nodes.length; round++) {
    let changed = false;
    for (const e of edges) {
      const from = depth.get(key(e.source));
      const to = depth.get(key(e.destination));
      if (from === undefined || to === undefined || key(e.source) === key(e.destination)) continue;
      if (to < from + 1 && from + 1 < nodes.length) {
        depth.set(key(e.destination), from + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = new Map();
  for (const n of nodes) {
    const d = depth.get(key(n));
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(n);
  }
  const positions = new Map();
  const width = 180;
  const gapX = 230;
  const height = 64;
  const gapY = 28;
  let maxRows = 1;
  for (const [d, column] of columns) {
    maxRows = Math.max(maxRows, column.length);
    column.forEach((n, i) => {
      positions.set(key(n), { x: 20 + d * (width + gapX), y: 20 + i * (height + gapY), width, height });
    });
  }
  return { positions, width: 40 + columns.size * (width + gapX), height: 40 + maxRows * (height + gapY) };
}

function drawGraph(services, edges) {
  const svg = $('graph');
  const nodes = services.slice();
  const known = new Set(nodes.map(key));
  for (const e of edges) {
    for (const end of [e.source, e.destination]) {
      if (!known.has(key(end))) {
        known.add(key(end));
        nodes.push({ service: end.service, namespace: end.namespace, meshed: 0, inbound: null });
      }
    }
  }
  const { positions, width, height } = layout(nodes, edges);
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${Math.max(width, 400)} ${Math.max(height, 200)}`);
  svg.append(
    el(
      'svg:defs',
      {},
      el(
        'svg:marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        el('svg:path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#7d8896' }),
      ),
    ),
  );
  for (const e of edges) {
    const a = positions.get(key(e.source));
    const b = positions.get(key(e.destination));
    if (!a || !b) continue;
    const x1 = a.x + a.width;
    const y1 = a.y + a.height / 2;
    const x2 = b.x;
    const y2 = b.y + b.height / 2;
    const mx = (x1 + x2) / 2;
    const m = e.metrics;
    const g = el('svg:g', {
      class: 'edge',
      'data-source': label(e.source),
      'data-destination': label(e.destination),
      'data-requests': m.requests,
      'data-success': m.successRate ?? '',
    });
    g.append(
      el('svg:path', {
        d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
        'marker-end': 'url(#arrow)',
        stroke: COLORS[health(m.successRate)],
      }),
    );
    g.append(
      el(
        'svg:text',
        { x: mx, y: (y1 + y2) / 2 - 6, 'text-anchor': 'middle' },
        `${rps(m.rps)} rps · ${pct(m.successRate)} · p99 ${ms(m.latencyMs?.p99)}`,
      ),
    );
    svg.append(g);
  }
  for (const n of nodes) {
    const p = positions.get(key(n));
    const m = n.inbound;
    const h = health(m?.successRate);
    const g = el('svg:g', {
      class: 'node',
      'data-service': n.service,
      'data-namespace': n.namespace,
      'data-requests': m?.requests ?? 0,
      'data-success': m?.successRate ?? '',
      transform: `translate(${p.x} ${p.y})`,
      onclick: () => select(n),
    });
    g.append(el('svg:rect', { width: p.width, height: p.height, rx: 8, stroke: COLORS[h] }));
    g.append(el('svg:text', { class: 'name', x: 10, y: 20 }, label(n)));
    g.append(el('svg:text', { x: 10, y: 38 }, m ? `${pct(m.successRate)} · ${rps(m.rps)} rps` : 'no inbound traffic'));
    g.append(el('svg:text', { x: 10, y: 54 }, m ? `p50 ${ms(m.latencyMs?.p50)} · p99 ${ms(m.latencyMs?.p99)}` : `${n.meshed} sidecar(s)`));
    svg.append(g);
  }
}

function drawServices(services) {
  const body = $('services').tBodies[0];
  body.replaceChildren(
    ...services.map((s) => {
      const m = s.inbound;
      const row = el(
        'tr',
        {
          class: `clickable${state.selected && key(state.selected) === key(s) ? ' selected' : ''}`,
          'data-service': s.service,
          onclick: () => select(s),
        },
        el('td', {}, label(s)),
        el('td', {}, s.meshed),
        el('td', { class: health(m?.successRate) }, pct(m?.successRate)),
        el('td', {}, m ? rps(m.rps) : '-'),
        el('td', {}, ms(m?.latencyMs?.p50)),
        el('td', {}, ms(m?.latencyMs?.p95)),
        el('td', {}, ms(m?.latencyMs?.p99)),
      );
      return row;
    }),
  );
}

function drawEdges(edges) {
  const body = $('edges').tBodies[0];
  body.replaceChildren(
    ...edges.map((e) => {
      const ids = [...e.sourceIdentities, '→', ...e.destinationIdentities].join(' ');
      return el(
        'tr',
        {},
        el('td', {}, label(e.source)),
        el('td', {}, label(e.destination)),
        el('td', { class: 'muted' }, e.sourceIdentities.length || e.destinationIdentities.length ? ids : 'no mTLS identity'),
        el('td', { class: health(e.metrics.successRate) }, pct(e.metrics.successRate)),
        el('td', {}, rps(e.metrics.rps)),
        el('td', {}, ms(e.metrics.latencyMs?.p99)),
      );
    }),
  );
}

function chart(title, points, series, format) {
  const width = 440;
  const height = 110;
  const svg = el('svg:svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, 'data-chart': title });
  const values = points.flatMap((p) => series.map((s) => p[s.field])).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, ...values);
  const t0 = points.length ? points[0].t : 0;
  const t1 = points.length ? points[points.length - 1].t : 1;
  const x = (t) => 30 + ((t - t0) / Math.max(1, t1 - t0)) * (width - 40);
  const y = (v) => height - 15 - (v / max) * (height - 30);
  svg.append(el('svg:line', { class: 'axis', x1: 30, y1: height - 15, x2: width - 10, y2: height - 15 }));
  svg.append(el('svg:text', { x: 0, y: 12 }, `${title} (max ${format(max)})`));
  for (const s of series) {
    const pts = points.filter((p) => p[s.field] !== null && p[s.field] !== undefined).map((p) => `${x(p.t)},${y(p[s.field])}`);
    if (pts.length === 1) pts.push(pts[0].replace(/^[^,]+/, (v) => String(Number(v) + 2)));
    svg.append(el('svg:polyline', { points: pts.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    svg.append(el('svg:text', { x: width - 10, y: 12 + 12 * series.indexOf(s), 'text-anchor': 'end', fill: s.color }, s.name));
  }
  return svg;
}

async function drawCharts() {
  const target = state.selected;
  if (!target) return;
  $('chart-title').textContent = `Latency and success: ${label(target)} (last 10 min)`;
  const data = await getJson(
    `/api/timeline?service=${encodeURIComponent(target.service)}&namespace=${encodeURIComponent(target.namespace)}`,
  );
  const points = data.points;
  $('charts').replaceChildren(
    chart(
      'latency',
      points,
      [
        { field: 'p50', name: 'p50', color: '#5b8def' },
        { field: 'p95', name: 'p95', color: '#d39b1c' },
      ],
      ms,
    ),
    chart('success rate', points, [{ field: 'successRate', name: 'success', color: '#2e9d5b' }], pct),
    chart('requests per second', points, [{ field: 'rps', name: 'rps', color: '#7d5bef' }], rps),
  );
}

function drawSidecars(status, telemetry) {
  $('change').textContent = `control plane at change ${status.changeId}; ${status.sidecars.length} sidecar(s) connected`;
  const reporting = new Map(telemetry.sidecars.map((s) => [s.nodeId, s]));
  const cell = (t) =>
    el('td', { class: t.status === 'SYNCED' ? 'ok' : t.status === 'NACKED' ? 'bad' : 'warn', title: t.error ?? t.version }, t.status);
  $('sidecars').tBodies[0].replaceChildren(
    ...status.sidecars
      .sort((a, b) => a.node.id.localeCompare(b.node.id))
      .map((s) => {
        const t = reporting.get(s.node.id);
        return el(
          'tr',
          { 'data-node': s.node.id },
          el('td', {}, s.node.id),
          el('td', {}, label(s.node)),
          cell(s.types.listener),
          cell(s.types.route),
          cell(s.types.cluster),
          cell(s.types.endpoint),
          el(
            'td',
            { class: t ? (t.dropped.batches > 0 ? 'warn' : 'ok') : 'muted' },
            t ? (t.dropped.batches > 0 ? `dropped ${t.dropped.requests} req` : 'reporting') : 'not reporting',
          ),
        );
      }),
  );
}

function drawTraces(traces) {
  $('traces').tBodies[0].replaceChildren(
    ...traces.map((t) =>
      el(
        'tr',
        { class: 'clickable', onclick: () => showTrace(t.traceId) },
        el('td', {}, t.traceId.slice(0, 16)),
        el('td', { class: t.error ? 'bad' : '' }, t.root),
        el('td', {}, t.services.join(', ')),
        el('td', {}, t.spans),
        el('td', {}, ms(t.durationMs)),
      ),
    ),
  );
}

async function showTrace(id) {
  state.trace = id;
  const data = await getJson(`/api/traces/${id}`);
  const spans = data.spans;
  const start = Math.min(...spans.map((s) => s.startUnixMs));
  const end = Math.max(...spans.map((s) => s.startUnixMs + s.durationMs));
  const total = Math.max(0.001, end - start);
  const depthOf = new Map();
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s) => {
    if (depthOf.has(s.spanId)) return depthOf.get(s.spanId);
    const parent = byId.get(s.parentSpanId);
    const d = parent && parent !== s ? depth(parent) + 1 : 0;
    depthOf.set(s.spanId, d);
    return d;
  };
  const table = el(
    'table',
    {},
    el(
      'thead',
      {},
      el('tr', {}, el('th', {}, 'Hop'), el('th', {}, 'Status'), el('th', {}, 'Duration'), el('th', { style: 'width:45%' }, 'Timeline')),
    ),
  );
  const body = el('tbody');
  for (const s of spans) {
    const who =
      s.direction === 'inbound' ? `${s.destination.service} ← ${s.source.service}` : `${s.source.service} → ${s.destination.service}`;
    const left = ((s.startUnixMs - start) / total) * 100;
    const width = Math.max(0.5, (s.durationMs / total) * 100);
    body.append(
      el(
        'tr',
        {},
        el('td', { style: `padding-left:${0.5 + depth(s)}rem` }, `${who} (${s.direction}) ${s.method} ${s.path}`),
        el(
          'td',
          { class: s.statusCode >= 500 || s.statusCode === 0 ? 'bad' : '' },
          `${s.statusCode}${s.responseFlags ? ` ${s.responseFlags}` : ''}`,
        ),
        el('td', {}, ms(s.durationMs)),
        el('td', {}, el('div', { class: `bar${s.statusCode >= 500 ? ' error' : ''}`, style: `margin-left:${left}%;width:${width}%` })),
      ),
    );
  }
  table.append(body);
  $('trace').replaceChildren(el('h3', {}, `Trace ${id}`), table);
}

function select(service) {
  state.selected = { service: service.service, namespace: service.namespace };
  drawCharts().catch(showError);
}

function showError(error) {
  $('error').hidden = false;
  $('error').textContent = String(error.message ?? error);
}

async function refresh() {
  try {
    const w = state.window;
    const [stat, edges, status, telemetry, traces] = await Promise.all([
      getJson(`/api/stat?window=${w}`),
      getJson(`/api/edges?window=${w}`),
      getJson('/api/status'),
      getJson('/api/telemetry'),
      getJson('/api/traces?limit=15'),
    ]);
    drawGraph(stat.services, edges.edges);
    drawServices(stat.services);
    drawEdges(edges.edges);
    drawSidecars(status, telemetry);
    drawTraces(traces.traces);
    if (!state.selected && stat.services.length > 0) state.selected = stat.services.find((s) => s.inbound) ?? stat.services[0];
    await drawCharts();
    state.updates += 1;
    document.body.dataset.updates = String(state.updates);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    $('error').hidden = true;
  } catch (error) {
    showError(error);
  }
}

$('window').addEventListener('change', (event) => {
  state.window = event.target.value;
  refresh();
});

refresh();
setInterval(refresh, POLL_MS);
