/* The run console: plain browser JavaScript, served as is (no build step). Pages are hash routes. */
'use strict';

const main = document.getElementById('main');

// ---------- helpers ----------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function table(headers, rows, attrs) {
  return el(
    'table',
    attrs,
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        headers.map((h) => el('th', {}, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))),
        ),
      ),
    ),
  );
}

const num = (v) => el('td', { class: 'num' }, v === null || v === undefined ? '-' : String(v));
const statusCell = (s) => el('td', { class: `status-${s}` }, s);

async function getJson(url, init) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.detail ? `${res.status} ${body.title}: ${body.detail}` : `${res.status} ${res.statusText}`);
  return body;
}

async function getText(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${res.status} ${res.statusText} for ${url}`);
  return res.text();
}

/** RFC 4180 CSV: quoted fields, doubled quotes; first record is the header. */
function parseCsv(text) {
  const records = [];
  let field = '';
  let record = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') ((field += '"'), i++);
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') (record.push(field), (field = ''));
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      (record.push(field), records.push(record), (record = []), (field = ''));
    } else field += ch;
  }
  if (field !== '' || record.length) (record.push(field), records.push(record));
  const [header = [], ...rows] = records.filter((r) => r.length > 1 || r[0] !== '');
  return { header, rows: rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}

/**
 * Python's round(x, 2), then str(): what the team's Bokeh frontend titles its plot with. Python rounds the double's
 * exact value; an exact tie (x * 8 odd) goes to the even neighbour, where toFixed would go up.
 */
function pyRound2(x) {
  const t = x * 8;
  let r;
  if (Number.isInteger(t) && t % 2 !== 0) {
    const lo = Math.floor(x * 100);
    r = (lo % 2 === 0 ? lo : lo + 1) / 100;
  } else r = Number(x.toFixed(2));
  return r;
}
function pyStr(v) {
  return Number.isInteger(v) ? `${v}.0` : String(v);
}
/** `MAD = round(mean(|pred_open - val_open|), 2)` over one symbol's rows. */
function madTitle(rows) {
  let sum = 0;
  for (const r of rows) sum += Math.abs(Number(r.pred_open) - Number(r.val_open));
  return `MAD = ${pyStr(pyRound2(sum / rows.length))}`;
}

function page(title, ...children) {
  main.replaceChildren(el('h2', {}, title), ...children);
}

function failed(err) {
  main.append(el('p', { class: 'error', role: 'alert' }, err.message || String(err)));
}

// ---------- pages ----------

async function runsPage() {
  page('Runs');
  const { runs, total } = await getJson('/console/api/runs');
  main.append(
    el('p', {}, `${total} run${total === 1 ? '' : 's'}, newest first`),
    table(
      ['run', 'input', 'status', 'symbols ok', 'skipped', 'model', 'upload → predictions', 'finished'],
      runs.map((r) => [
        el('td', {}, el('a', { href: `#/run/${r.runId}` }, r.runId)),
        r.input,
        statusCell(r.status),
        num(r.symbolsOk),
        num(r.symbolsSkipped),
        r.model ?? '-',
        num(r.latencyMs === null ? null : `${(r.latencyMs / 1000).toFixed(1)} s`),
        r.at,
      ]),
      { id: 'runs-table' },
    ),
  );
}

let chart = null;

async function runPage(id) {
  page(`Run ${id}`);
  const run = await getJson(`/runs/${encodeURIComponent(id)}`);
  main.append(
    el(
      'p',
      {},
      'status ',
      el('span', { id: 'run-status', class: `status-${run.status}` }, run.status),
      run.upload ? ` · input s3://${run.upload.bucket}/${run.upload.key}` : '',
      run.model ? ` · model ${run.model}` : '',
    ),
  );
  if (run.error) main.append(el('p', { class: 'error', id: 'run-error' }, `${run.error.kind}: ${run.error.message}`));
  if (run.status !== 'succeeded') return;
  const runId = run.runId;
  const [predsText, forecastText] = await Promise.all([getText(`/console/api/runs/${runId}/preds.csv`), getText(`/console/api/runs/${runId}/forecast.csv`)]);
  const preds = parseCsv(predsText).rows;
  const symbols = [...new Set(preds.map((r) => r.symbol))];
  const select = el(
    'select',
    { id: 'symbol' },
    symbols.map((s) => el('option', { value: s }, s)),
  );
  const title = el('h3', { id: 'mad-title' });
  const plot = el('div', { id: 'chart' });
  main.append(el('h3', {}, 'Predicted and actual open'), el('label', {}, 'symbol ', select), title, plot);
  const draw = () => {
    const rows = preds.filter((r) => r.symbol === select.value);
    title.textContent = madTitle(rows);
    const xs = rows.map((r) => Date.parse(`${r.date}T00:00:00Z`) / 1000);
    if (chart) chart.destroy();
    chart = new uPlot(
      {
        title: `${select.value}: ${title.textContent}`,
        width: Math.min(960, window.innerWidth - 60),
        height: 320,
        series: [{}, { label: 'pred_open', stroke: '#d9480f', width: 2 }, { label: 'val_open', stroke: '#1c7ed6', width: 2 }],
        scales: { x: { time: true } },
        axes: [{}, { size: 80, label: 'open' }],
      },
      [xs, rows.map((r) => Number(r.pred_open)), rows.map((r) => Number(r.val_open))],
      plot,
    );
    plot.dataset.symbol = select.value;
    plot.dataset.points = String(rows.length);
  };
  select.addEventListener('change', draw);
  draw();

  const forecast = parseCsv(forecastText);
  main.append(
    el('h3', {}, 'Forecast'),
    table(
      forecast.header,
      forecast.rows.map((r) => forecast.header.map((h) => r[h])),
      { id: 'forecast-table' },
    ),
  );

  const m = run.manifest;
  main.append(
    el('h3', {}, 'Skipped symbols'),
    run.skipped.length
      ? table(
          ['symbol', 'reason', 'row', 'column'],
          run.skipped.map((s) => [s.symbol, s.reason, num(s.row), s.column ?? '-']),
          { id: 'skipped-table' },
        )
      : el('p', { id: 'skipped-table' }, 'none'),
    el('h3', {}, 'Manifest'),
    table(
      ['object', 'key', 'sha256', 'bytes'],
      [
        ['input', m.input.key, el('td', {}, el('code', {}, m.input.sha256)), num(m.input.bytes)],
        ['predictions', m.outputs.preds.key, el('td', {}, el('code', {}, m.outputs.preds.sha256)), num(m.outputs.preds.bytes)],
        ['forecast', m.outputs.forecast.key, el('td', {}, el('code', {}, m.outputs.forecast.sha256)), num(m.outputs.forecast.bytes)],
        ['model', m.model.version, el('td', {}, `h5 ${m.model.sources.h5.slice(0, 16)}…, scaler ${m.model.sources.scaler.slice(0, 16)}…`), ''],
      ],
      { id: 'manifest-table' },
    ),
    el(
      'p',
      {},
      el('a', { href: run.urls.predictions }, 'predictions'),
      ' · ',
      el('a', { href: run.urls.forecast }, 'forecast'),
      ' · ',
      el('a', { href: run.urls.manifest }, 'manifest.json'),
      ' (presigned)',
    ),
    el('details', {}, el('summary', {}, 'manifest.json'), el('pre', {}, JSON.stringify(m, null, 2))),
  );
}

async function dailyPage() {
  page('Daily');
  let daily;
  try {
    daily = await getJson('/console/api/daily');
  } catch (err) {
    main.append(el('p', { id: 'daily-none' }, err.message));
    return;
  }
  main.append(el('p', {}, daily.key));
  const bySymbol = new Map();
  for (const r of daily.rows) bySymbol.set(r.symbol, [...(bySymbol.get(r.symbol) || []), r]);
  for (const [symbol, rows] of bySymbol)
    main.append(
      el('h3', {}, symbol),
      table(
        daily.columns,
        rows.map((r) => daily.columns.map((c) => r[c])),
      ),
    );
}

async function dlqPage() {
  page('Dead-letter queue');
  const result = el('p', { id: 'redrive-result' });
  const { messages } = await getJson('/console/api/dlq');
  const button = el(
    'button',
    {
      id: 'redrive',
      disabled: messages.length ? null : 'disabled',
      onclick: async () => {
        button.disabled = true;
        try {
          const r = await getJson('/console/api/dlq/redrive', { method: 'POST' });
          result.textContent = `moved ${r.moved} message${r.moved === 1 ? '' : 's'} back to the work queue${r.failed.length ? `; ${r.failed.length} failed: ${r.failed.map((f) => f.error).join('; ')}` : ''}`;
          result.dataset.moved = String(r.moved);
        } catch (err) {
          result.textContent = err.message;
        }
      },
    },
    'Redrive all to the work queue',
  );
  main.append(
    el('p', { id: 'dlq-count' }, `${messages.length} message${messages.length === 1 ? '' : 's'}`),
    table(
      ['key', 'reason', 'origin', 'receives', 'first received', 'run'],
      messages.map((m) => [
        m.key ?? '(unknown)',
        m.reason,
        m.origin,
        num(m.receiveCount),
        m.firstReceivedAt ?? '-',
        m.runId ? el('td', {}, el('a', { href: `#/run/${m.runId}` }, m.runId)) : '-',
      ]),
      { id: 'dlq-table' },
    ),
    button,
    result,
  );
}

async function modelsPage() {
  page('Models');
  const { pointer, versions } = await getJson('/models');
  main.append(
    el('p', { id: 'model-pointer' }, pointer ? `in service: ${pointer.version} (models/current.json → ${pointer.prefix})` : 'no model in service'),
    table(
      ['version', 'in service', 'status', 'keras', 'symbols', 'h5 sha256', 'scaler sha256'],
      versions.map((v) => [
        v.version,
        v.current ? 'yes' : '',
        (v.registry && v.registry.status) || '-',
        v.kerasVersion ?? '-',
        num(v.symbols),
        el('td', {}, el('code', {}, (v.h5Sha256 || '').slice(0, 16))),
        el('td', {}, el('code', {}, (v.scalerSha256 || '').slice(0, 16))),
      ]),
      { id: 'models-table' },
    ),
  );
  const withRecords = versions.filter((v) => v.registry);
  if (withRecords.length) {
    main.append(el('h3', {}, 'Registry records (status, change log, realized accuracy)'));
    for (const v of withRecords) main.append(el('details', {}, el('summary', {}, v.version), el('pre', {}, JSON.stringify(v.registry, null, 2))));
  }
}

function uploadPage() {
  const input = el('input', { type: 'file', id: 'file', accept: '.csv,text/csv', required: 'required' });
  const out = el('div', { id: 'upload-result' });
  const form = el(
    'form',
    {
      id: 'upload-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const file = input.files[0];
        if (!file) return;
        out.replaceChildren(el('p', {}, `uploading ${file.name} (${file.size} bytes)…`));
        try {
          const accepted = await getJson('/runs', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: file });
          const state = el('span', { id: 'upload-status', class: 'status-pending' }, 'pending');
          out.replaceChildren(
            el('p', {}, `stored as ${accepted.upload.key}; pred_url ${accepted.pred_url}; status `, state),
            el('p', {}, el('a', { href: accepted.status_url }, accepted.status_url)),
          );
          for (;;) {
            const s = await getJson(accepted.status_url);
            if (s.status !== 'pending') {
              state.textContent = s.status;
              state.className = `status-${s.status}`;
              if (s.runId) out.append(el('p', {}, el('a', { href: `#/run/${s.runId}`, id: 'run-link' }, `run ${s.runId}`)));
              if (s.error) out.append(el('p', { class: 'error' }, s.error.message));
              break;
            }
            await new Promise((r) => setTimeout(r, 500));
          }
        } catch (err) {
          out.append(el('p', { class: 'error', role: 'alert' }, err.message));
        }
      },
    },
    el('p', {}, 'A CSV with the columns of crypto_test.csv; it is stored under incoming/api/ and runs like any upload.'),
    input,
    ' ',
    el('button', { type: 'submit', id: 'upload-submit' }, 'Upload'),
  );
  page('Upload', form, out);
}

// ---------- router ----------

async function route() {
  const hash = location.hash.replace(/^#\/?/, '') || 'runs';
  const [name, ...rest] = hash.split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  try {
    if (name === 'runs') await runsPage();
    else if (name === 'run') await runPage(decodeURIComponent(rest.join('/')));
    else if (name === 'daily') await dailyPage();
    else if (name === 'dlq') await dlqPage();
    else if (name === 'models') await modelsPage();
    else if (name === 'upload') uploadPage();
    else page('Not found', el('p', {}, `no page ${hash}`));
    main.dataset.page = name;
  } catch (err) {
    failed(err);
  }
}

window.addEventListener('hashchange', route);
getJson('/console/api/config').then(
  (c) => (document.getElementById('target').textContent = `${c.target} · ${c.bucket}`),
  () => undefined,
);
route();
