// The live page: polls <mount>/snapshot (every 2 s, or as `?refresh=` says) and draws the real-time dashboard's panels with uPlot.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Snapshot } from '../src/export/snapshot-types.js';
import type { PageConfig, SloSettings } from '../src/dashboard/page-config.js';
import { bucketIncrease, gaugeBy, indexSnapshot, quantiles, rateBy, sloStatus, windowOf, type Indexed, type Match, type SloStatus } from './derive.js';
import { COUNT_INCRS, compliance, countSplits, format, type Unit } from './format.js';

const RANGE_MS = 15_000;
const SHADES = 8;
const QS = [0.5, 0.9, 0.99];
const COLORS = ['#73bf69', '#f2cc0c', '#5794f2', '#ff780a', '#b877d9', '#f2495c', '#8ab8ff', '#ffb357'];
const MODEL = 'gen_ai.request.model';

type Row = { t: number; values: Map<string, number | null> };

interface LineSpec {
  kind: 'line';
  id: string;
  title: string;
  unit: Unit;
  section: string;
  /** What records its data, shown while it has none: an empty panel otherwise reads as a broken one. */
  feeds: string;
  /** Leave out lines that stayed at zero (finish reasons never seen would only crowd the legend). */
  hideZero?: boolean;
  /** Rates or quantiles over RANGE_MS: drawn only once the page holds that much history. */
  windowed?: boolean;
  /** Values at `end` keyed by legend. */
  derive: (window: Indexed[], end: number, latest: Indexed, match: Match) => Map<string, number | null>;
}
interface HeatSpec {
  kind: 'heat';
  id: string;
  title: string;
  section: string;
  feeds: string;
  metric: string;
}
type Spec = LineSpec | HeatSpec;

const quantileLines = (metric: string) => (w: Indexed[], end: number, _l: Indexed, m: Match) =>
  new Map(quantiles(w, end, RANGE_MS, metric, m, QS).map((v, i) => [`p${QS[i] * 100}`, v]));
const gpuLabel = (a: Record<string, unknown>) => `GPU ${String(a['gpu.index'] ?? a['hw.id'] ?? '')} ${String(a['hw.name'] ?? '')}`.trim();
const all: Match = () => true;
// Engine state reported per upstream (the gateway's bridge) names no model: it shows under every
// model, as the Grafana dashboards select it by job and instance only.
const orUnlabelled = (m: Match): Match => (a) => a[MODEL] === undefined || m(a);
// What records each panel's data, in the words of the API a server calls (`code` in backticks).
const FEEDS = {
  ttft: "recorded at a request's first token (streamed responses)",
  itl: 'recorded between the tokens of streamed responses',
  e2e: 'recorded when requests end',
  queue: 'recorded when the server calls `scheduled()`',
};
const GPUS_FEED = 'reported with `startMetrics({ gpu: true })` and `@inferwatch/gpu` installed';
// A GPU panel drawn at all has GPUs: an empty one is a reading the driver does not give.
const GPU_FEEDS = 'read from `nvidia-smi`, which gives none for these GPUs';

const SPECS: Spec[] = [
  { kind: 'line', id: 'requests', title: 'Finished requests by outcome (req/s)', unit: 'rate', section: 'Requests', hideZero: true, windowed: true, feeds: 'counted when requests end',
    derive: (w, end, _l, m) => rateBy(w, end, RANGE_MS, 'inferwatch.requests.finished', m, 'finish_reason') },
  { kind: 'line', id: 'tokens', title: 'Token throughput (tokens/s)', unit: 'rate', section: 'Requests', windowed: true, feeds: 'counted from the prompt and generated tokens of requests',
    derive: (w, end, _l, m) => {
      const by = rateBy(w, end, RANGE_MS, 'inferwatch.tokens', m, 'gen_ai.token.type');
      return new Map([['prompt', by.get('input') ?? null], ['generation', by.get('output') ?? null]]);
    } },
  { kind: 'line', id: 'scheduler', title: 'Scheduler: running / waiting / swapped', unit: 'count', section: 'Requests',
    feeds: 'counted from requests in flight, or reported through `reportEngineState()` / `observeEngineState()`',
    derive: (_w, _e, l, m) => new Map(['running', 'waiting', 'swapped'].map((s) => [s, gaugeBy(l, `inferwatch.scheduler.${s}`, orUnlabelled(m), 'sum').get('') ?? null])) },
  { kind: 'line', id: 'kv', title: 'KV-cache usage', unit: 'ratio', section: 'Requests',
    feeds: 'reported through `reportEngineState()` / `observeEngineState()`, or bridged from an engine',
    derive: (_w, _e, l, m) => new Map([['GPU KV cache', gaugeBy(l, 'inferwatch.kv_cache.gpu.usage', orUnlabelled(m), 'avg').get('') ?? null], ['CPU KV cache', gaugeBy(l, 'inferwatch.kv_cache.cpu.usage', orUnlabelled(m), 'avg').get('') ?? null]]) },
  { kind: 'line', id: 'ttft', title: 'Time to first token', unit: 's', section: 'Latency', windowed: true, feeds: FEEDS.ttft, derive: quantileLines('gen_ai.server.time_to_first_token') },
  { kind: 'heat', id: 'ttft-heat', title: 'Time to first token: distribution', section: 'Latency', feeds: FEEDS.ttft, metric: 'gen_ai.server.time_to_first_token' },
  { kind: 'line', id: 'itl', title: 'Inter-token latency', unit: 's', section: 'Latency', windowed: true, feeds: FEEDS.itl, derive: quantileLines('inferwatch.request.inter_token_latency') },
  { kind: 'heat', id: 'itl-heat', title: 'Inter-token latency: distribution', section: 'Latency', feeds: FEEDS.itl, metric: 'inferwatch.request.inter_token_latency' },
  { kind: 'line', id: 'e2e', title: 'End-to-end request latency', unit: 's', section: 'Latency', windowed: true, feeds: FEEDS.e2e, derive: quantileLines('gen_ai.server.request.duration') },
  { kind: 'heat', id: 'e2e-heat', title: 'End-to-end latency: distribution', section: 'Latency', feeds: FEEDS.e2e, metric: 'gen_ai.server.request.duration' },
  { kind: 'line', id: 'queue', title: 'Queue time', unit: 's', section: 'Latency', windowed: true, feeds: FEEDS.queue, derive: quantileLines('inferwatch.request.queue.duration') },
  { kind: 'heat', id: 'queue-heat', title: 'Queue time: distribution', section: 'Latency', feeds: FEEDS.queue, metric: 'inferwatch.request.queue.duration' },
  { kind: 'line', id: 'gpu-util', title: 'GPU utilization', unit: 'ratio', section: 'GPUs', feeds: GPU_FEEDS,
    derive: (_w, _e, l) => gaugeBy(l, 'hw.gpu.utilization', all, 'avg', gpuLabel) },
  { kind: 'line', id: 'gpu-mem', title: 'GPU memory used', unit: 'ratio', section: 'GPUs', feeds: GPU_FEEDS,
    derive: (_w, _e, l) => {
      const used = gaugeBy(l, 'hw.gpu.memory.usage', all, 'sum', gpuLabel);
      const limit = gaugeBy(l, 'hw.gpu.memory.limit', all, 'sum', gpuLabel);
      return new Map([...used].map(([g, u]) => [g, limit.get(g) ? u / limit.get(g)! : null]));
    } },
  { kind: 'line', id: 'gpu-power', title: 'GPU power', unit: 'W', section: 'GPUs', feeds: GPU_FEEDS, derive: (_w, _e, l) => gaugeBy(l, 'hw.power', all, 'sum', gpuLabel) },
  { kind: 'line', id: 'gpu-temp', title: 'GPU temperature', unit: 'C', section: 'GPUs', feeds: GPU_FEEDS, derive: (_w, _e, l) => gaugeBy(l, 'hw.temperature', all, 'max', gpuLabel) },
];

function refreshFrom(value: string | null): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value ?? '');
  if (!m) return 2000;
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
  return Math.min(60_000, Math.max(250, ms));
}

// The token comes once in the address (?token=…), then lives in this tab's session storage only.
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? sessionStorage.getItem('inferwatch-token');
if (params.has('token')) {
  sessionStorage.setItem('inferwatch-token', params.get('token')!);
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
}
// How often to poll: `?refresh=5s`, `500ms` or `1m`, as Grafana's address takes it, within 250 ms to 1 minute; 2 s by default.
const refreshMs = refreshFrom(params.get('refresh'));
const KEEP = Math.ceil(300_000 / refreshMs); // 5 minutes of history
const snapshotUrl = `${location.pathname.replace(/\/+$/, '')}/snapshot`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = $('main');
const statusEl = $('status');
const modelSelect = $<HTMLSelectElement>('model');

let snapshots: Indexed[] = [];
const models = new Set<string>();

interface Panel {
  spec: Spec;
  el: HTMLElement;
  /** Over the chart while it has nothing to draw: why, and what would feed it. */
  note: HTMLElement;
  rows: Row[];
  legends: string[];
  plot?: uPlot;
  heat?: { t: number; counts: Map<string, number> }[];
  heatView?: { les: string[]; max: number };
}
const panels: Panel[] = [];
const sections = new Map<string, HTMLElement>();

function sectionFor(name: string): HTMLElement {
  let grid = sections.get(name);
  if (grid === undefined) {
    const h = document.createElement('h2');
    h.textContent = name;
    h.dataset.section = name;
    grid = document.createElement('div');
    grid.className = 'grid';
    grid.dataset.section = name;
    main.append(h, grid);
    sections.set(name, grid);
  }
  return grid;
}

const statsEl = document.createElement('div');
statsEl.className = 'stats';
main.append(statsEl);
// The last field: a rate or quantile over RANGE_MS, "collecting…" until the page holds that much history.
const STATS: [string, string, Unit, (p: Panel[]) => number | null | undefined, boolean][] = [
  ['stat-rps', 'Requests/s', 'rate', (p) => sumOf(last(p, 'requests')), true],
  ['stat-prompt', 'Prompt tokens/s', 'rate', (p) => last(p, 'tokens')?.get('prompt'), true],
  ['stat-gen', 'Generation tokens/s', 'rate', (p) => last(p, 'tokens')?.get('generation'), true],
  ['stat-running', 'Running', 'count', (p) => last(p, 'scheduler')?.get('running'), false],
  ['stat-waiting', 'Waiting', 'count', (p) => last(p, 'scheduler')?.get('waiting'), false],
  ['stat-kv', 'GPU KV cache', 'ratio', (p) => last(p, 'kv')?.get('GPU KV cache'), false],
  ['stat-ttft', 'TTFT p50', 's', (p) => last(p, 'ttft')?.get('p50'), true],
  ['stat-e2e', 'E2E p99', 's', (p) => last(p, 'e2e')?.get('p99'), true],
];
for (const [id, label] of STATS) {
  const el = document.createElement('div');
  el.className = 'stat';
  el.innerHTML = `<div class="label"></div><div class="value" id="${id}">–</div>`;
  el.querySelector('.label')!.textContent = label;
  statsEl.append(el);
}
// The objectives the server set (`dashboard: { slo }`), which its handler writes into the page.
const slo = ((): SloSettings => {
  try {
    return (JSON.parse(document.getElementById('inferwatch-config')?.textContent ?? '{}') as Partial<PageConfig>).slo ?? {};
  } catch {
    return {};
  }
})();
const SLOS: ['ttft' | 'availability', string][] = [];
if (slo.ttft) SLOS.push(['ttft', `TTFT ≤ ${format(slo.ttft.thresholdSeconds, 's')}, objective ${format(slo.ttft.objective, 'ratio')}`]);
if (slo.availability) SLOS.push(['availability', `Availability, objective ${format(slo.availability.objective, 'ratio')}`]);
const sloEl = document.createElement('div');
sloEl.className = 'stats';
sloEl.id = 'slo';
if (SLOS.length > 0) {
  const h = document.createElement('h2');
  h.textContent = 'SLOs since start';
  main.append(h, sloEl);
}
for (const [id, label] of SLOS) {
  const el = document.createElement('div');
  el.className = 'stat';
  el.id = `slo-${id}`;
  el.innerHTML = '<div class="label"></div><div class="value">–</div><div class="detail"></div>';
  el.querySelector('.label')!.textContent = label;
  sloEl.append(el);
}

/** Compliance, the error budget left and the requests it counts, in the SLO's tile (and its data-* for a reader that cannot see it). */
function drawSlo(id: string, s: SloStatus | undefined): void {
  const el = document.getElementById(`slo-${id}`);
  if (el === null || s === undefined) return;
  const value = el.querySelector<HTMLElement>('.value')!;
  value.textContent = s.compliance === null ? 'no requests' : compliance(s.compliance);
  value.classList.toggle('pending', s.compliance === null);
  value.classList.toggle('over', s.budgetLeft !== null && s.budgetLeft < 0);
  el.querySelector('.detail')!.textContent =
    s.budgetLeft === null ? '' : `${s.budgetLeft < 0 ? 'budget overspent' : `${format(s.budgetLeft, 'ratio')} of the error budget left`} · ${s.total} requests`;
  el.dataset.compliance = String(s.compliance);
  el.dataset.budgetLeft = String(s.budgetLeft);
  el.dataset.total = String(s.total);
}

const last = (p: Panel[], id: string) => p.find((x) => x.spec.id === id)?.rows.at(-1)?.values;
const sumOf = (m: Map<string, number | null> | undefined) => (m === undefined || m.size === 0 ? null : [...m.values()].reduce<number>((a, v) => a + (v ?? 0), 0));

for (const spec of SPECS) {
  const el = document.createElement('div');
  el.className = 'panel';
  el.id = `panel-${spec.id}`;
  el.dataset.points = '0';
  el.innerHTML = '<h3></h3><div class="chart"></div><p class="note hidden"></p>';
  el.querySelector('h3')!.textContent = spec.title;
  sectionFor(spec.section).append(el);
  panels.push({ spec, el, note: el.querySelector('.note')!, rows: [], legends: [], heat: spec.kind === 'heat' ? [] : undefined });
}
// Without GPUs the section keeps its heading and says what would fill it, instead of four empty panels.
const gpuNote = document.createElement('p');
gpuNote.className = 'note hidden';
gpuNote.id = 'gpus-note';
sections.get('GPUs')!.before(gpuNote);

/** Sets a note's text, `code` in backticks as code; touches the DOM only when the text changes. */
function setNote(el: HTMLElement, text: string): void {
  el.classList.toggle('hidden', text === '');
  if (el.dataset.text === text) return;
  el.dataset.text = text;
  el.replaceChildren(
    ...text.split('`').map((part, i) => {
      if (i % 2 === 0) return part;
      const code = document.createElement('code');
      code.textContent = part;
      return code;
    }),
  );
}

/** Milliseconds of history the page holds up to snapshot `at`. */
const heldAt = (at: number) => (at < 0 ? 0 : snapshots[at].t - snapshots[0].t);

const matchModel = (): Match => {
  const model = modelSelect.value;
  return model === '' ? all : (a) => a[MODEL] === model;
};

function deriveRow(panel: Panel, at: number, match: Match): void {
  const latest = snapshots[at];
  if (panel.spec.kind === 'line') {
    const window = windowOf(snapshots.slice(0, at + 1), latest.t, RANGE_MS);
    let values = panel.spec.derive(window, latest.t, latest, match);
    // A window the page has not held in full would give a rate that ramps up from 0 as history
    // arrives (rate() divides by the whole range): no point until the window is full.
    if (panel.spec.windowed && heldAt(at) < RANGE_MS) values = new Map([...values.keys()].map((k) => [k, null]));
    panel.rows.push({ t: latest.t, values });
    if (panel.rows.length > KEEP) panel.rows.shift();
  } else {
    panel.heat!.push({ t: latest.t, counts: bucketIncrease(snapshots[at - 1], latest, panel.spec.metric, match) });
    if (panel.heat!.length > KEEP) panel.heat!.shift();
  }
}

const width = (el: HTMLElement) => Math.max(300, el.clientWidth - 16);

// Y axes as wide as their longest label ("≤ 1.95 ms", "0.75 ms"), measured in uPlot's axis font,
// plus its tick and gap: a fixed width would clip the digits that tell ticks apart.
const measure = document.createElement('canvas').getContext('2d')!;
measure.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
const axisSize = (_u: uPlot, values: string[] | null) => Math.ceil(Math.max(24, ...(values ?? []).map((v) => measure.measureText(v).width)) + 20);

function drawLine(panel: Panel): void {
  const spec = panel.spec as LineSpec;
  const shown = ([, v]: [string, number | null]) => !spec.hideZero || (v !== 0 && v !== null);
  const legends = [...new Set(panel.rows.flatMap((r) => [...r.values].filter(shown).map(([k]) => k)))].sort();
  const lines = legends.map((l) => panel.rows.map((r) => r.values.get(l) ?? null));
  const data: uPlot.AlignedData = [panel.rows.map((r) => r.t / 1000), ...lines];
  const points = lines.reduce((n, line) => n + line.filter((v) => v !== null).length, 0);
  panel.el.dataset.points = String(points);
  panel.el.dataset.last = JSON.stringify(Object.fromEntries(panel.rows.at(-1)?.values ?? []));
  if (panel.plot === undefined || legends.join('\n') !== panel.legends.join('\n')) {
    panel.plot?.destroy();
    panel.legends = legends;
    const chart = panel.el.querySelector<HTMLElement>('.chart')!;
    panel.plot = new uPlot(
      {
        width: width(panel.el),
        height: 200,
        series: [{}, ...legends.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, value: (_u: uPlot, v: number | null) => format(v, spec.unit) }))],
        axes: [
          { stroke: '#8e8e9e', grid: { stroke: '#2c3235' } },
          {
            stroke: '#8e8e9e',
            grid: { stroke: '#2c3235' },
            size: axisSize,
            // Counts are whole: ticks chosen among whole steps, not fractions rounded into repeated labels.
            ...(spec.unit === 'count' ? { incrs: COUNT_INCRS, splits: (_u: uPlot, _i: number, min: number, max: number, incr: number) => countSplits(min, max, incr) } : {}),
            values: (_u, vs) => {
              const labels = vs.map((v) => format(v, spec.unit));
              // The labels as drawn on the canvas, for a reader (or test) that cannot see it.
              const ticks = JSON.stringify(labels);
              if (panel.el.dataset.ticks !== ticks) panel.el.dataset.ticks = ticks;
              return labels;
            },
          },
        ],
        scales: { y: { range: (_u, min, max) => [Math.min(0, min), spec.unit === 'ratio' ? Math.max(1, max) : max > 0 ? max * 1.1 : 1] } },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      chart,
    );
  } else {
    panel.plot.setData(data);
  }
}

const leOrder = (le: string) => (le === '+Inf' ? Infinity : Number(le));

function drawHeat(panel: Panel): void {
  const columns = panel.heat!;
  // Every bucket between the lowest and the highest that saw an observation, so rows are contiguous.
  const bounds = [...new Set(columns.flatMap((c) => [...c.counts.keys()]))].sort((a, b) => leOrder(a) - leOrder(b));
  const used = (le: string) => columns.some((c) => (c.counts.get(le) ?? 0) > 0);
  const les = bounds.slice(Math.max(0, bounds.findIndex(used)), bounds.findLastIndex(used) + 1);
  const max = Math.max(0, ...columns.flatMap((c) => [...c.counts.values()]));
  panel.el.dataset.points = String(columns.filter((c) => [...c.counts.values()].some((n) => n > 0)).length);
  panel.heatView = { les, max };
  const data: uPlot.AlignedData = [columns.map((c) => c.t / 1000), columns.map(() => null)];
  if (panel.plot !== undefined) return panel.plot.setData(data);
  // Drawn in uPlot's draw hook on its canvas and scales: one cell per refresh and bucket, shaded by count.
  const draw = (u: uPlot) => {
    const { les, max } = panel.heatView!;
    if (les.length === 0 || max === 0) return;
    const rowH = u.bbox.height / les.length;
    // One path per shade: a few fills per redraw instead of one per cell.
    const shades = Array.from({ length: SHADES }, () => new Path2D());
    panel.heat!.forEach((column) => {
      const x0 = u.valToPos((column.t - refreshMs) / 1000, 'x', true);
      const x1 = u.valToPos(column.t / 1000, 'x', true);
      les.forEach((le, j) => {
        const n = column.counts.get(le) ?? 0;
        if (n === 0) return;
        shades[Math.min(SHADES - 1, Math.floor((n / max) * SHADES))].rect(x0, u.bbox.top + u.bbox.height - (j + 1) * rowH, Math.max(1, x1 - x0), Math.max(1, rowH - 1));
      });
    });
    u.ctx.save();
    u.ctx.beginPath();
    u.ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    u.ctx.clip();
    shades.forEach((path, i) => {
      u.ctx.fillStyle = `rgba(255, 120, 10, ${(0.15 + (0.85 * (i + 1)) / SHADES).toFixed(3)})`;
      u.ctx.fill(path);
    });
    u.ctx.restore();
  };
  const label = (le: string | undefined) => (le === undefined ? '' : le === '+Inf' ? '≤ +Inf' : `≤ ${format(Number(le), 's')}`);
  const every = () => Math.max(1, Math.ceil(panel.heatView!.les.length / 8));
  panel.plot = new uPlot(
    {
      width: width(panel.el),
      height: 200,
      legend: { show: false },
      series: [{}, { label: 'observations', stroke: 'transparent' }],
      scales: { y: { range: () => [0, Math.max(1, panel.heatView!.les.length)] } },
      axes: [
        { stroke: '#8e8e9e', grid: { stroke: '#2c3235' } },
        {
          stroke: '#8e8e9e',
          grid: { show: false },
          size: axisSize,
          splits: () => panel.heatView!.les.map((_, j) => j + 0.5).filter((_, j) => j % every() === 0),
          values: (_u, vs) => vs.map((v) => label(panel.heatView!.les[Math.floor(v)])),
        },
      ],
      hooks: { draw: [draw] },
      cursor: { show: false },
    },
    data,
    panel.el.querySelector<HTMLElement>('.chart')!,
  );
}

function render(): void {
  const gpus = (snapshots.at(-1)?.metrics.get('hw.gpu.utilization')?.size ?? 0) > 0;
  sections.get('GPUs')!.classList.toggle('hidden', !gpus);
  setNote(gpuNote, gpus ? '' : `No GPU metrics: ${GPUS_FEED}.`);
  const held = heldAt(snapshots.length - 1);
  const collecting = held < RANGE_MS;
  for (const panel of panels) {
    if (panel.spec.section === 'GPUs' && !gpus) continue;
    if (panel.spec.kind === 'line') drawLine(panel);
    else drawHeat(panel);
    // A heatmap column is the increase between two snapshots: none before the second.
    const empty = panel.el.dataset.points === '0' && (panel.spec.kind === 'line' || snapshots.length > 1);
    setNote(
      panel.note,
      panel.spec.kind === 'line' && panel.spec.windowed && collecting
        ? `collecting… ${Math.floor(held / 1000)} s of the ${RANGE_MS / 1000} s window`
        : empty
          ? `No data: ${panel.spec.feeds}.`
          : '',
    );
  }
  const status = sloStatus(snapshots.at(-1), matchModel(), slo);
  for (const [id] of SLOS) drawSlo(id, status[id]);
  for (const [id, , unit, value, windowed] of STATS) {
    const el = $(id);
    el.classList.toggle('pending', windowed && collecting);
    el.textContent = windowed && collecting ? 'collecting…' : format(value(panels), unit);
  }
}

function rederive(): void {
  const match = matchModel();
  for (const panel of panels) {
    panel.rows = [];
    panel.heat = panel.spec.kind === 'heat' ? [] : undefined;
    for (let i = 0; i < snapshots.length; i++) deriveRow(panel, i, match);
  }
  render();
}

modelSelect.addEventListener('change', rederive);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) render();
});

function noteModels(snapshot: Indexed): void {
  for (const point of snapshot.metrics.get('inferwatch.requests.finished')?.values() ?? []) {
    const model = String(point.attributes[MODEL] ?? '');
    if (model === '' || models.has(model)) continue;
    models.add(model);
    const option = document.createElement('option');
    option.value = option.textContent = model;
    modelSelect.append(option);
  }
}

async function poll(): Promise<void> {
  try {
    const response = await fetch(snapshotUrl, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store', signal: AbortSignal.timeout(10_000) });
    if (response.status === 401) throw new Error('this server needs its metrics token: open the page as /dashboard?token=…');
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const snapshot = (await response.json()) as Snapshot;
    const indexed = indexSnapshot(snapshot);
    if (snapshots.length > 0 && indexed.t <= snapshots[snapshots.length - 1].t) return;
    $('service').textContent = snapshot.service;
    snapshots.push(indexed);
    if (snapshots.length > KEEP) snapshots = snapshots.slice(-KEEP);
    noteModels(indexed);
    const match = matchModel();
    for (const panel of panels) deriveRow(panel, snapshots.length - 1, match);
    // A background tab keeps its history but draws nothing until it is looked at.
    if (!document.hidden) render();
    statusEl.className = 'status';
    statusEl.textContent = `updated ${new Date(snapshot.t).toLocaleTimeString()} · every ${refreshMs / 1000} s · rates and quantiles over ${RANGE_MS / 1000} s`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes ?? 0) + 1);
  } catch (error) {
    // A restart or a network blip: keep the snapshots and keep polling.
    statusEl.className = 'status bad';
    statusEl.textContent = `no data: ${error instanceof Error ? error.message : String(error)}; retrying`;
  } finally {
    setTimeout(poll, refreshMs);
  }
}

void poll();
