#!/usr/bin/env node
// Draws both dashboards' panels from the real Prometheus data of a demo run (dashboards/lab.mjs:
// the simulated engine, two gateways, load rising to 6 requests/s and back) and saves them as PNGs
// through headless Chromium. Grafana cannot run here; the queries, layout and data are the
// dashboards' own, the drawing is this script's. `node dashboards/render.mjs` (needs prometheus and chromium).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { DASHBOARDS } from './generate.mjs';
import { allPanels, resolveVariables, startLab } from './lab.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const COLORS = ['#73bf69', '#f2cc0c', '#5794f2', '#ff780a', '#b877d9', '#f2495c', '#8ab8ff', '#ffb357'];
const WIDTH = 1600;
const ROW = 34;

function format(value, unit) {
  if (!Number.isFinite(value)) return '–';
  if (unit === 's') return value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
  if (unit === 'percentunit') return `${(value * 100).toFixed(0)}%`;
  if (unit === 'bytes') return `${(value / 2 ** 20).toFixed(0)} MiB`;
  if (unit === 'watt') return `${value.toFixed(0)} W`;
  if (unit === 'celsius') return `${value.toFixed(0)} °C`;
  return Math.abs(value) >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(value < 10 ? 1 : 0);
}

const legendOf = (format, metric) => format.replace(/\{\{(\w+)\}\}/g, (_, k) => metric[k] ?? '');

function lineChart(series, w, h, unit) {
  const pad = { l: 64, r: 12, t: 8, b: 22 };
  const points = series.flatMap((s) => s.values);
  if (points.length === 0) return `<div class="empty">No data</div>`;
  const xs = points.map((p) => p[0]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const ymax = Math.max(...points.map((p) => p[1]), unit === 'percentunit' ? 1 : 0) * 1.1 || 1;
  const X = (x) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - (y / ymax) * (h - pad.t - pad.b);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<line x1="${pad.l}" x2="${w - pad.r}" y1="${Y(f * ymax)}" y2="${Y(f * ymax)}" class="grid"/><text x="${pad.l - 6}" y="${Y(f * ymax) + 4}" class="axis" text-anchor="end">${format(f * ymax, unit)}</text>`)
    .join('');
  const ticks = [0, 0.5, 1]
    .map((f) => {
      const t = x0 + f * (x1 - x0);
      const label = new Date(t * 1000).toISOString().slice(11, 19);
      return `<text x="${X(t)}" y="${h - 6}" class="axis" text-anchor="${f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}">${label}</text>`;
    })
    .join('');
  const lines = series
    .map((s, i) => `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${s.values.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  return `<svg width="${w}" height="${h}">${grid}${ticks}${lines}</svg>`;
}

function barChart(buckets, w, h) {
  if (buckets.length === 0) return `<div class="empty">No data</div>`;
  const max = Math.max(...buckets.map((b) => b.count)) || 1;
  const bw = (w - 20) / buckets.length;
  return `<svg width="${w}" height="${h}">${buckets
    .map((b, i) => {
      const bh = (b.count / max) * (h - 40);
      return `<rect x="${10 + i * bw + 1}" y="${h - 22 - bh}" width="${bw - 2}" height="${bh}" fill="${COLORS[2]}" opacity="0.85"/>${
        i % Math.ceil(buckets.length / 16) === 0 ? `<text x="${10 + i * bw + bw / 2}" y="${h - 8}" class="axis" text-anchor="middle">${b.le}</text>` : ''
      }`;
    })
    .join('')}</svg>`;
}

async function panelHtml(lab, panel, start, end) {
  const w = (panel.gridPos.w / 24) * WIDTH - 8;
  const h = panel.gridPos.h * ROW - 8;
  const unit = panel.fieldConfig?.defaults?.unit;
  const box = (inner, legend = '') =>
    `<div class="panel" style="left:${(panel.gridPos.x / 24) * WIDTH + 4}px;top:${panel.gridPos.y * ROW + 4}px;width:${w}px;height:${h}px"><div class="title">${panel.title}</div>${inner}<div class="legend">${legend}</div></div>`;
  if (panel.type === 'row') {
    return `<div class="row" style="top:${panel.gridPos.y * ROW + 4}px;width:${WIDTH - 8}px">⌄ ${panel.title}</div>`;
  }
  if (panel.type === 'bargauge') {
    const result = await lab.query(resolveVariables(panel.targets[0].expr, { range: `${Math.round(end - start)}s` }), end);
    const buckets = result
      .map((s) => ({ le: s.metric.le === '+Inf' ? '+Inf' : Number(s.metric.le), count: Number(s.value[1]) }))
      .sort((a, b) => (a.le === '+Inf' ? 1 : b.le === '+Inf' ? -1 : a.le - b.le));
    // Per bucket, not cumulative, as Grafana's heatmap format shows them.
    const perBucket = buckets.map((b, i) => ({ le: b.le === '+Inf' ? '+Inf' : format(b.le, 's'), count: b.count - (i > 0 ? buckets[i - 1].count : 0) }));
    return box(barChart(perBucket, w, h - 30), `requests per bucket (upper bound) over the run`);
  }
  const series = [];
  for (const target of panel.targets) {
    const result = await lab.queryRange(resolveVariables(target.expr), start, end, 2);
    for (const s of result) series.push({ name: legendOf(target.legendFormat, s.metric), values: s.values.map(([t, v]) => [t, Number(v)]).filter(([, v]) => Number.isFinite(v)) });
  }
  if (panel.type === 'stat') {
    const last = series[0]?.values.at(-1)?.[1];
    return box(`<div class="stat">${format(last, unit)}</div>`, 'tokens/s, last value');
  }
  const legend = series.map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${s.name}</span>`).join('');
  return box(lineChart(series, w, h - 44, unit), legend);
}

const STYLE = `body{margin:0;background:#111217;font-family:Inter,Helvetica,Arial,sans-serif;color:#ccccdc}
.header{height:44px;line-height:44px;padding-left:12px;font-size:18px;border-bottom:1px solid #2c3235}
.header small{color:#8e8e8e;font-size:13px;margin-left:12px}.board{position:relative}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:4px;overflow:hidden}
.title{font-size:13px;font-weight:500;padding:6px 8px}.legend{font-size:11px;padding:0 8px;white-space:nowrap;overflow:hidden}
.legend span{margin-right:12px}.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
.grid{stroke:#2c3235}.axis{fill:#8e8e8e;font-size:10px}.stat{font-size:48px;color:#73bf69;padding:10px 12px}
.row{position:absolute;left:4px;font-size:15px;font-weight:500;padding:6px 4px}.empty{padding:20px;color:#8e8e8e}`;

const lab = await startLab();
const start = Date.now() / 1000;
try {
  // Per gateway: 2 to 6 requests/s in all, past what the engine keeps up with, then back.
  for (const rate of [1, 2, 3, 2, 1]) await lab.load(rate, 20);
  const end = Date.now() / 1000;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  for (const [file, dashboard] of Object.entries(DASHBOARDS)) {
    const panels = allPanels(dashboard);
    const height = Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * ROW)) + 60;
    const html = `<html><head><style>${STYLE}</style></head><body><div class="header">${dashboard.title}<small>job: inferwatch-gateway · instance: All · model: All — drawn from Prometheus data of a demo run (2 gateways, simulated engine, fake nvidia-smi)</small></div><div class="board" style="height:${height}px">${(
      await Promise.all(panels.map((p) => panelHtml(lab, p, start, end)))
    ).join('')}</div></body></html>`;
    const page = await browser.newPage({ viewport: { width: WIDTH, height: height + 44 } });
    await page.setContent(html);
    const png = here(`./screenshots/${file.replace('.json', '.png')}`);
    writeFileSync(png, await page.screenshot({ fullPage: true }));
    console.log(`wrote ${png}`);
  }
  await browser.close();
} finally {
  await lab.stop();
}
