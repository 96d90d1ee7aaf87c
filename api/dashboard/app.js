// Creator dashboard: plain browser JavaScript over the read API, no build step.
// Every value from the API or the URL reaches the page through textContent, never as HTML.
import { ApiError, api, parameterValues } from './api.js';
import { renderSeries } from './series-chart.js';
import { renderBreakdown, renderTrending } from './tables.js';

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '28d': 28 * 86_400_000, '90d': 90 * 86_400_000, '365d': 365 * 86_400_000 };
/** The form's fields, as they appear in the page's URL. */
const FIELDS = ['channel', 'video', 'range', 'country', 'device', 'traffic_source', 'tz'];
/** Breakdowns whose rows set a filter of the same name. */
const FILTERS = ['country', 'device', 'traffic_source'];
const LIVE_POLL_MS = 2_000;
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();

let livePoll = null;
let generation = 0;

function showError(err) {
  const el = $('error');
  el.hidden = err === null;
  el.textContent = err === null ? '' : err instanceof ApiError ? err.message : `Could not reach the API: ${err.message}`;
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
      const unknown = live.known === false ? 'no event of this video has arrived yet (check the id); ' : '';
      $('live-meta').textContent = `${unknown}from ${live.source} at ${new Date(live.as_of).toLocaleTimeString()}`;
    } catch (err) {
      $('live-meta').textContent = `live count unavailable: ${err.message}`;
    }
  };
  void tick();
  livePoll = setInterval(tick, LIVE_POLL_MS);
}

function readForm() {
  const f = Object.fromEntries(FIELDS.map((name) => [name, $(name).value.trim()]));
  f.country = f.country.toUpperCase();
  return f;
}

/** Nothing of an earlier answer stays on the page once a new one failed or none is asked for. */
function clearResults() {
  stopLive();
  $('results').hidden = true;
}

function pick(name, value) {
  $(name).value = value;
  void show();
}

async function show() {
  const mine = ++generation;
  const f = readForm();
  const url = new URL(location.href);
  url.search = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== '')).toString();
  history.replaceState(null, '', url);
  $('trending-section').hidden = f.channel !== '' || f.video !== '';
  if (f.channel === '' && f.video === '') {
    clearResults();
    showError(new ApiError('Enter a channel id or a video id, or pick a trending video.'));
    return;
  }
  showError(null);
  document.body.dataset.state = 'loading';
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
  const from = new Date(to.getTime() - (RANGES[f.range] ?? RANGES['24h']));
  const q = { from: from.toISOString(), to: to.toISOString(), tz: f.tz, channel_id: f.channel, video_id: f.video, country: f.country, device: f.device, traffic_source: f.traffic_source };
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
    $('results').hidden = false;
    $('range-views').textContent = fmt.format(totals.views);
    $('range-views').dataset.views = String(totals.views);
    $('range-unique').textContent = fmt.format(totals.unique_viewers);
    const filters = FILTERS.filter((name) => f[name] !== '').map((name) => `${name.replace('_', ' ')} ${f[name]}`);
    $('range-meta').textContent = `${totals.from} – ${totals.to}${filters.length > 0 ? ` · ${filters.join(', ')}` : ''}`;
    renderSeries(series);
    renderBreakdown($('breakdown-country'), 'Country', country.rows, (v) => pick('country', v));
    renderBreakdown($('breakdown-device'), 'Device', device.rows, (v) => pick('device', v));
    renderBreakdown($('breakdown-traffic_source'), 'Source', source.rows, (v) => pick('traffic_source', v));
    $('country-codes').replaceChildren(...country.rows.map((r) => Object.assign(document.createElement('option'), { value: r.value })));
    $('videos-section').hidden = videos === null;
    if (videos !== null) renderBreakdown($('top-videos'), 'Video', videos.rows, (id) => pick('video', id));
    if (f.video !== '') startLive(f.video);
    else {
      stopLive();
      $('live-card').hidden = true;
    }
    document.body.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation) return;
    clearResults();
    document.body.dataset.state = 'error';
    showError(err);
  }
}

/** The trending videos: a list to pick from, and the suggestions of the channel and video fields. */
async function loadTrending() {
  let { videos, window_minutes: minutes } = await api('/v1/trending', { window_minutes: 60, limit: 50 });
  if (videos.length === 0) ({ videos, window_minutes: minutes } = await api('/v1/trending', { window_minutes: 1440, limit: 50 }));
  $('trending-meta').textContent = `most viewed in the last ${minutes === 60 ? 'hour' : '24 hours'}; pick one`;
  renderTrending($('trending'), videos.slice(0, 10), (v) => {
    $('channel').value = v.channel_id;
    $('video').value = v.video_id;
    void show();
  });
  const option = (value) => Object.assign(document.createElement('option'), { value });
  $('channel-ids').replaceChildren(...[...new Set(videos.map((v) => v.channel_id))].map(option));
  $('video-ids').replaceChildren(...videos.map((v) => option(v.video_id)));
  document.body.dataset.trending = 'ready';
}

async function init() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [zone, 'UTC'];
  $('zones').replaceChildren(...['UTC', ...zones].map((z) => Object.assign(document.createElement('option'), { value: z })));
  for (const name of ['device', 'traffic_source']) {
    $(name).append(...(await parameterValues(name)).map((v) => Object.assign(document.createElement('option'), { value: v, textContent: v })));
  }
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) if (params.has(name)) $(name).value = params.get(name);
  if (!(params.get('range') in RANGES)) $('range').value = '24h';
  if (!params.has('tz')) $('tz').value = zone;
  $('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    void show();
  });
  $('trending-section').hidden = $('channel').value !== '' || $('video').value !== '';
  void loadTrending().catch(showError);
  if ($('channel').value !== '' || $('video').value !== '') void show();
}

void init().catch(showError);
