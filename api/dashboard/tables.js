// Tables of the dashboard: breakdowns and the trending list, every row a choice.

const fmt = new Intl.NumberFormat();

/** A table cell holding `text` (never HTML). */
export function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function headRow(columns) {
  const head = document.createElement('tr');
  for (const [text, cls] of columns) {
    const th = document.createElement('th');
    th.textContent = text;
    if (cls) th.className = cls;
    head.append(th);
  }
  return head;
}

/** A row that picks its value on click; its first cell is also a button, for the keyboard. */
function pickRow(label, onPick) {
  const tr = document.createElement('tr');
  const name = cell('');
  if (onPick) {
    tr.className = 'pick';
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = label;
    name.append(b);
    tr.addEventListener('click', () => onPick());
  } else name.textContent = label;
  tr.append(name);
  return tr;
}

function emptyRow(text, columns) {
  const tr = document.createElement('tr');
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  return tr;
}

/** Views and unique viewers per value, with a bar; a click on a row calls `onPick(value)`. */
export function renderBreakdown(table, label, rows, onPick) {
  const max = rows.reduce((m, r) => Math.max(m, r.views), 0);
  const body = rows.map((r) => {
    const tr = pickRow(r.value, onPick && (() => onPick(r.value)));
    tr.dataset.value = r.value;
    tr.dataset.views = String(r.views);
    tr.dataset.uniqueViewers = String(r.unique_viewers);
    const bar = cell('', 'bar');
    const span = document.createElement('span');
    span.style.width = `${max > 0 ? (100 * r.views) / max : 0}%`;
    bar.append(span);
    tr.append(cell(fmt.format(r.views), 'num'), cell(fmt.format(r.unique_viewers), 'num'), bar);
    return tr;
  });
  if (body.length === 0) body.push(emptyRow('No views in this range', 4));
  table.replaceChildren(headRow([[label, ''], ['Views', 'num'], ['Unique', 'num'], ['', '']]), ...body);
}

/** The trending videos with their channel; a click on a row calls `onPick(video)`. */
export function renderTrending(table, videos, onPick) {
  const body = videos.map((v) => {
    const tr = pickRow(v.video_id, () => onPick(v));
    tr.dataset.value = v.video_id;
    tr.dataset.channel = v.channel_id;
    tr.append(cell(v.channel_id), cell(fmt.format(v.views), 'num'));
    return tr;
  });
  if (body.length === 0) body.push(emptyRow('No views in the last 24 hours: start the job (npm start) or produce events', 3));
  table.replaceChildren(headRow([['Video', ''], ['Channel', ''], ['Views', 'num']]), ...body);
}
