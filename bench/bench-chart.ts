import type { BenchResults } from './bench-harness.ts';

/** A series on a panel: points (x, y), drawn against the left or the right axis. */
interface Line {
  label: string;
  color: string;
  axis: 'left' | 'right';
  points: [number, number][];
}

const W = 900;
const PANEL_H = 260;
const M = { left: 80, right: 80, top: 52, bottom: 40 };

/** A round step for about five ticks up to `max`. */
function niceStep(max: number): number {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
}

function fmt(x: number): string {
  if (x >= 1e6) return `${+(x / 1e6).toFixed(1)}M`;
  if (x >= 1e3) return `${+(x / 1e3).toFixed(1)}k`;
  return `${+x.toFixed(1)}`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(y0: number, title: string, xLabel: string, axes: { left: string; right: string }, lines: Line[]): string {
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]));
  const xMax = Math.max(1, ...xs);
  const yMax = { left: 1, right: 1 };
  for (const l of lines) for (const [, y] of l.points) yMax[l.axis] = Math.max(yMax[l.axis], y);
  const step = { left: niceStep(yMax.left), right: niceStep(yMax.right) };
  const top = { left: Math.ceil(yMax.left / step.left) * step.left, right: Math.ceil(yMax.right / step.right) * step.right };
  const xStep = niceStep(xMax);
  const xTop = Math.ceil(xMax / xStep) * xStep;
  const px = (x: number) => M.left + (x / xTop) * plotW;
  const py = (y: number, axis: 'left' | 'right') => y0 + M.top + plotH - (y / top[axis]) * plotH;
  const out: string[] = [];
  out.push(`<text x="${M.left}" y="${y0 + 22}" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${M.left}" y="${y0 + M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let v = 0; v <= top.left + 1e-9; v += step.left) {
    const y = py(v, 'left');
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`);
  }
  if (lines.some((l) => l.axis === 'right')) {
    for (let v = 0; v <= top.right + 1e-9; v += step.right) {
      out.push(`<text x="${M.left + plotW + 6}" y="${py(v, 'right') + 4}" font-size="11">${fmt(v)}</text>`);
    }
  }
  for (let v = 0; v <= xTop + 1e-9; v += xStep) {
    out.push(`<text x="${px(v)}" y="${y0 + M.top + plotH + 16}" font-size="11" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(`<text x="${M.left + plotW / 2}" y="${y0 + PANEL_H - 4}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="16" y="${y0 + M.top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${y0 + M.top + plotH / 2})">${esc(axes.left)}</text>`);
  out.push(`<text x="${W - 16}" y="${y0 + M.top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(90 ${W - 16} ${y0 + M.top + plotH / 2})">${esc(axes.right)}</text>`);
  lines.forEach((l, i) => {
    const pts = l.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y, l.axis).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${l.color}" stroke-width="1.6"/>`);
    const lx = M.left + i * 280;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${y0 + 36}" y2="${y0 + 36}" stroke="${l.color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${y0 + 40}" font-size="12">${esc(l.label)}</text>`);
  });
  return out.join('\n');
}

/** Events/s over the last `window` seconds at each point of a cumulative series. */
function movingRate(points: { t: number; processed: number }[], window: number): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (const p of points) {
    while (j < points.length - 1 && points[j + 1].t <= p.t - window) j++;
    const q = points[j];
    if (p.t - q.t >= window / 2) out.push([p.t, (p.processed - q.processed) / (p.t - q.t)]);
  }
  return out;
}

/** Throughput and lag over time: the job on the pre-loaded topic, and the chosen freshness run. */
export function renderChart(r: BenchResults): string {
  const shown = r.throughput.jobThreads ?? r.throughput.job;
  const job = shown.series.filter((p) => p.t > 0);
  const fresh = r.freshness.chosen.series;
  const freshRate = movingRate(fresh, 2);
  const limit = r.throughput.limit.kafkajs ?? Object.values(r.throughput.limit)[0];
  const jobLines: Line[] = [
    { label: 'job events/s (5 s average)', color: '#1f77b4', axis: 'left', points: movingRate(job, 5) },
    { label: 'lag (events)', color: '#d62728', axis: 'right', points: job.map((p) => [p.t, p.lag]) },
    { label: `limit ${fmt(limit.eventsPerSecond)}/s`, color: '#2ca02c', axis: 'left', points: job.length > 0 ? [[job[0].t, limit.eventsPerSecond], [job[job.length - 1].t, limit.eventsPerSecond]] : [] },
  ];
  const freshLines: Line[] = [
    { label: 'processed events/s (2 s average)', color: '#1f77b4', axis: 'left', points: freshRate },
    { label: 'lag (events)', color: '#d62728', axis: 'right', points: fresh.map((p) => [p.t, Math.max(0, p.lag)]) },
  ];
  const title1 = `Job (--workers ${shown.workers}) on ${fmt(shown.events)} pre-loaded events: ${fmt(shown.eventsPerSecond)} events/s sustained`;
  const title2 = `Freshness run at ${fmt(r.freshness.chosen.targetRate)} events/s produced: p99 ${Number.isFinite(r.freshness.chosen.p99Ms) ? `${Math.round(r.freshness.chosen.p99Ms)} ms` : 'not visible'}`;
  const h = 2 * PANEL_H + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">`,
    `<rect width="${W}" height="${h}" fill="white"/>`,
    panel(0, title1, 'seconds since the job process started', { left: 'events/s', right: 'lag (events)' }, jobLines),
    panel(PANEL_H + 20, title2, 'seconds since producing started', { left: 'events/s', right: 'lag (events)' }, freshLines),
    `<text x="${W - 10}" y="${h - 6}" font-size="10" text-anchor="end" fill="#666">${esc(`${r.mode} run ${r.startedAt.slice(0, 16)} UTC, ${r.machine.cpus} cores, load ${r.machine.loadAverageAtStart[0]} at start, seed ${r.seed}`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
