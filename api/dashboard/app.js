// Creator dashboard: plain browser JavaScript over the read API, no build step.
// Every value from the API or the URL reaches the page through textContent, never as HTML.

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '28d': 28 * 86_400_000, '90d': 90 * 86_400_000, '365d': 365 * 86_400_000 };
const LIVE_POLL_MS = 2_000;
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();

let chart = null;
let livePoll = null;
let generation = 0;

class ApiError extends Error {}

async function api(path, params = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const res = await fetch(qs.size > 0 ? `${path}?${qs}` : path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function showError(err) {
  const el = $('error');
  if (err === null) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = err instanceof ApiError ? err.message : `Could not reach the API: ${err.message}`;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** `2024-06-01T13:05:00+02:00` → `06-01 13:05` (minute/hour) or `2024-06-01` (day), in the zone the API answered in. */
function bucketLabel(t, granularity) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(t);
  if (!m) return t;
  return granularity === 'day' ? `${m[1]}-${m[2]}-${m[3]}` : `${m[2]}-${m[3]} ${m[4]}:${m[5]}`;
}

function renderSeries(series) {
  const figure = $('series');
  figure.dataset.points = JSON.stringify(series.points);
  figure.dataset.granularity = series.granularity;
  const total = series.points.reduce((s, p) => s + p.views, 0);
  figure.dataset.totalViews = String(total);
  $('series-meta').textContent = `per ${series.granularity}, ${series.tz}${series.utc_days_before ? ` (days before ${series.utc_days_before} are UTC days)` : ''}`;

  const tbody = $('series-table').querySelector('tbody');
  tbody.replaceChildren(
    ...series.points.filter((p) => p.views > 0).map((p) => {
      const tr = document.createElement('tr');
      tr.append(cell(p.t), cell(fmt.format(p.views), 'num'), cell(fmt.format(p.unique_viewers), 'num'));
      return tr;
    }),
  );

  const labels = series.points.map((p) => bucketLabel(p.t, series.granularity));
  const data = {
    labels,
    datasets: [
      { label: 'Views', data: series.points.map((p) => p.views), borderColor: '#2f6fdb', backgroundColor: 'rgba(47,111,219,0.18)', fill: true, pointRadius: 0, borderWidth: 2, cubicInterpolationMode: 'monotone' },
      { label: 'Unique viewers', data: series.points.map((p) => p.unique_viewers), borderColor: '#e0822b', backgroundColor: 'transparent', pointRadius: 0, borderWidth: 1.5, borderDash: [4, 3], cubicInterpolationMode: 'monotone' },
    ],
  };
  if (typeof window.Chart !== 'function') return;
  if (chart) {
    chart.data = data;
    chart.update('none');
    return;
  }
  chart = new window.Chart($('series-chart'), {
    type: 'line',
    data,
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 12, maxRotation: 0 } } },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}

function renderBreakdown(table, label, rows, onPick) {
  const max = rows.reduce((m, r) => Math.max(m, r.views), 0);
  const head = document.createElement('tr');
  for (const [text, cls] of [[label, ''], ['Views', 'num'], ['Unique', 'num'], ['', '']]) {
    const th = document.createElement('th');
    th.textContent = text;
    if (cls) th.className = cls;
    head.append(th);
  }
  const body = rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.value = r.value;
    tr.dataset.views = String(r.views);
    tr.dataset.uniqueViewers = String(r.unique_viewers);
    const name = cell('');
    if (onPick) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link';
      b.textContent = r.value;
      b.addEventListener('click', () => onPick(r.value));
      name.append(b);
    } else name.textContent = r.value;
    const bar = cell('', 'bar');
    const span = document.createElement('span');
    span.style.width = `${max > 0 ? (100 * r.views) / max : 0}%`;
    bar.append(span);
    tr.append(name, cell(fmt.format(r.views), 'num'), cell(fmt.format(r.unique_viewers), 'num'), bar);
    return tr;
  });
  if (body.length === 0) {
    const tr = document.createElement('tr');
    const td = cell('No views in this range');
    td.colSpan = 4;
    tr.append(td);
    body.push(tr);
  }
  table.replaceChildren(head, ...body);
}

function stopLive() {
  if (livePoll !== null) clearInterval(livePoll);
  livePoll = null;
}

function startLive(videoId) {
  stopLive();
  $('live-card').hidden = false;
  const tick = async () => {
    try {
      const live = await api(`/v1/videos/${encodeURIComponent(videoId)}/views`);
      $('live-views').textContent = fmt.format(live.views);
      $('live-views').dataset.views = String(live.views);
      $('live-unique').textContent = fmt.format(live.unique_viewers);
      $('live-meta').textContent = `from ${live.source} at ${new Date(live.as_of).toLocaleTimeString()}`;
    } catch (err) {
      $('live-meta').textContent = `live count unavailable: ${err.message}`;
    }
  };
  void tick();
  livePoll = setInterval(tick, LIVE_POLL_MS);
}

function readForm() {
  return { channel: $('channel').value.trim(), video: $('video').value.trim(), range: $('range').value, tz: $('tz').value.trim() };
}

async function show() {
  const mine = ++generation;
  const f = readForm();
  const url = new URL(location.href);
  url.search = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== '')).toString();
  history.replaceState(null, '', url);
  if (f.channel === '' && f.video === '') {
    showError(new ApiError('Enter a channel id or a video id.'));
    return;
  }
  showError(null);
  document.body.dataset.state = 'loading';
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
  const from = new Date(to.getTime() - (RANGES[f.range] ?? RANGES['24h']));
  const q = { from: from.toISOString(), to: to.toISOString(), tz: f.tz || undefined, channel_id: f.channel || undefined, video_id: f.video || undefined };
  try {
    const [series, totals, country, device, source, videos] = await Promise.all([
      api('/v1/analytics/views-over-time', q),
      api('/v1/analytics/totals', q),
      api('/v1/analytics/breakdown', { ...q, dimension: 'country', limit: 20 }),
      api('/v1/analytics/breakdown', { ...q, dimension: 'device' }),
      api('/v1/analytics/breakdown', { ...q, dimension: 'traffic_source' }),
      f.channel !== '' ? api('/v1/analytics/breakdown', { ...q, video_id: undefined, dimension: 'video_id', limit: 20 }) : Promise.resolve(null),
    ]);
    if (mine !== generation) return;
    $('summary').hidden = false;
    $('range-views').textContent = fmt.format(totals.views);
    $('range-views').dataset.views = String(totals.views);
    $('range-unique').textContent = fmt.format(totals.unique_viewers);
    $('range-meta').textContent = `${totals.from} – ${totals.to}`;
    $('series-section').hidden = false;
    renderSeries(series);
    $('breakdowns').hidden = false;
    renderBreakdown($('breakdown-country'), 'Country', country.rows);
    renderBreakdown($('breakdown-device'), 'Device', device.rows);
    renderBreakdown($('breakdown-traffic_source'), 'Source', source.rows);
    $('videos-section').hidden = videos === null;
    if (videos !== null) {
      renderBreakdown($('top-videos'), 'Video', videos.rows, (id) => {
        $('video').value = id;
        void show();
      });
    }
    if (f.video !== '') startLive(f.video);
    else {
      stopLive();
      $('live-card').hidden = true;
    }
    document.body.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation) return;
    document.body.dataset.state = 'error';
    showError(err);
  }
}

function init() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [zone, 'UTC'];
  $('zones').replaceChildren(...['UTC', ...zones].map((z) => Object.assign(document.createElement('option'), { value: z })));
  const params = new URLSearchParams(location.search);
  $('channel').value = params.get('channel') ?? '';
  $('video').value = params.get('video') ?? '';
  if (params.get('range') in RANGES) $('range').value = params.get('range');
  $('tz').value = params.get('tz') ?? zone;
  $('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    void show();
  });
  if ($('channel').value !== '' || $('video').value !== '') void show();
}

init();
