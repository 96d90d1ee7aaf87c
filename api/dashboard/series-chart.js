// The views-over-time chart: buckets not written yet are drawn as pending, not as zeros,
// and the x-axis shows only as many labels as its width holds.

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
let chart = null;

/** Bucket start → its label: `13:05` within one day, `06-01 13:05` across days, `2024-06-01` for days. */
function bucketLabel(t, granularity, oneDay) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(t);
  if (!m) return t;
  if (granularity === 'day') return `${m[1]}-${m[2]}-${m[3]}`;
  return oneDay ? `${m[4]}:${m[5]}` : `${m[2]}-${m[3]} ${m[4]}:${m[5]}`;
}

/** About one label per 80 px: a phone gets a few, a wide screen at most 12. */
const ticksFor = (width) => Math.max(2, Math.min(12, Math.floor(width / 80)));

/** Shades the buckets from `from` (an index) on, and says why they are empty. */
const pendingShade = {
  id: 'pendingShade',
  beforeDatasetsDraw(c, _args, options) {
    if (options.from === null || options.from === undefined) return;
    const { top, bottom, right } = c.chartArea;
    const x = c.scales.x.getPixelForValue(options.from);
    const ctx = c.ctx;
    ctx.save();
    ctx.fillStyle = 'rgba(91, 102, 120, 0.12)';
    ctx.fillRect(x, top, right - x, bottom - top);
    ctx.fillStyle = '#5b6678';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.fillText('not written yet', right - 4, top + 14);
    ctx.restore();
  },
};

/** Draws a views-over-time answer (chart, data table and the figure's data attributes). */
export function renderSeries(series) {
  const figure = $('series');
  const pendingMs = series.pending_from ? Date.parse(series.pending_from) : Infinity;
  let firstPending = series.points.findIndex((p) => Date.parse(p.t) >= pendingMs);
  if (firstPending < 0) firstPending = null;
  figure.dataset.points = JSON.stringify(series.points);
  figure.dataset.granularity = series.granularity;
  figure.dataset.totalViews = String(series.points.reduce((s, p) => s + p.views, 0));
  figure.dataset.pendingFrom = series.pending_from ?? '';
  const utcDays = series.utc_days_before ? ` (days before ${series.utc_days_before} are UTC days)` : '';
  const pending = firstPending === null ? '' : ` · from ${bucketLabel(series.points[firstPending].t, series.granularity, false)} not written yet`;
  $('series-meta').textContent = `per ${series.granularity}, ${series.tz}${utcDays}${pending}`;

  $('series-table').querySelector('tbody').replaceChildren(
    ...series.points.filter((p) => p.views > 0).map((p) => {
      const tr = document.createElement('tr');
      for (const [text, cls] of [[p.t, ''], [fmt.format(p.views), 'num'], [fmt.format(p.unique_viewers), 'num']]) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );

  const points = series.points;
  const oneDay = points.length > 0 && points[0].t.slice(0, 10) === points[points.length - 1].t.slice(0, 10);
  const written = (value, i) => (firstPending !== null && i >= firstPending ? null : value);
  const data = {
    labels: points.map((p) => bucketLabel(p.t, series.granularity, oneDay)),
    datasets: [
      { label: 'Views', data: points.map((p, i) => written(p.views, i)), borderColor: '#2f6fdb', backgroundColor: 'rgba(47,111,219,0.18)', fill: true, pointRadius: 0, borderWidth: 2, cubicInterpolationMode: 'monotone' },
      { label: 'Unique viewers', data: points.map((p, i) => written(p.unique_viewers, i)), borderColor: '#e0822b', backgroundColor: 'transparent', pointRadius: 0, borderWidth: 1.5, borderDash: [4, 3], cubicInterpolationMode: 'monotone' },
    ],
  };
  if (typeof window.Chart !== 'function') return;
  if (chart) {
    chart.data = data;
    chart.options.plugins.pendingShade.from = firstPending;
    chart.update('none');
    return;
  }
  const canvas = $('series-chart');
  chart = new window.Chart(canvas, {
    type: 'line',
    data,
    plugins: [pendingShade],
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        x: { ticks: { maxTicksLimit: ticksFor(canvas.parentElement.clientWidth), maxRotation: 0, autoSkipPadding: 12 } },
      },
      plugins: { legend: { position: 'bottom' }, pendingShade: { from: firstPending } },
      onResize(c, size) {
        c.options.scales.x.ticks.maxTicksLimit = ticksFor(size.width);
      },
    },
  });
}
