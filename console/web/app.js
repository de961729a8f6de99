// posture-console dashboard: vanilla JS, no framework, no requests anywhere but this console's own API.
// Every value from the API reaches the page through textContent (see el()), never as markup.
'use strict';

const REFRESH_MS = 15000;              // auto-refresh period; the "updated at" label shows the last success
const TOKEN_KEY = 'posture-console.operator-token';  // sessionStorage: gone when the tab closes
const SEARCH_DEBOUNCE_MS = 250;        // typing in the search box waits this long before asking the API
const OVERVIEW_LIST_LIMIT = 15;        // rows in the overview's failing and stale device tables
const DEVICE_TABLE_LIMIT = 1000;       // rows in the device table; beyond, filters or the CSV export

// ---- small DOM helpers -------------------------------------------------------------------------------

// el('td', {class: 'num'}, 'text', child): strings become text nodes, so data is never parsed as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const $ = (id) => document.getElementById(id);
function replace(container, ...children) { container.replaceChildren(...children.flat().filter((c) => c != null)); }

function badge(text, kind) { return el('span', { class: `badge ${kind || text}` }, text); }
function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}
function ago(iso) {
  if (!iso) return 'never';
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}
function num(value) { return value === null || value === undefined ? '—' : Number(value).toLocaleString(); }
function deviceStatus(d) {
  if (d.revoked) return badge('revoked');
  if (!d.last_seen_at) return badge('never reported', 'never');
  return el('span', {}, badge(d.status), d.stale ? [' ', badge('stale')] : []);
}

// ---- API access ----------------------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized('no token');
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized('token refused');
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { const body = await response.json(); message = `${body.error}: ${body.message}`; } catch (_) { /* not JSON */ }
    throw new Error(`${path}: ${message}`);
  }
  return path.endsWith('.csv') || path.includes('.csv?') ? response.text() : response.json();
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---- sortable tables -----------------------------------------------------------------------------------

// columns: [{key, label, num?, value?(row) -> sort value, render?(row) -> node|string}]
// Sort order per table name, kept across auto-refreshes so that a refresh does not undo a click.
const sortStates = new Map();

function table(columns, rows, options = {}) {
  const name = options.name || '';
  if (!sortStates.has(name)) sortStates.set(name, { key: options.defaultSort || null, dir: options.defaultDir || 1 });
  const state = sortStates.get(name);
  const wrapper = el('div', { class: 'table-wrap' });
  const sortValue = (column, row) => (column.value ? column.value(row) : row[column.key]);

  function draw() {
    const sorted = rows.slice();
    const column = columns.find((c) => c.key === state.key);
    if (column) {
      sorted.sort((a, b) => {
        const x = sortValue(column, a); const y = sortValue(column, b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * state.dir;
      });
    }
    const head = el('tr', {}, columns.map((c) => {
      const sort = c.key === state.key ? (state.dir > 0 ? 'ascending' : 'descending') : 'none';
      return el('th', { class: c.num ? 'num' : null, 'aria-sort': sort, scope: 'col' },
        c.sortable === false ? c.label : el('button', {
          type: 'button',
          onclick: () => {
            state.dir = state.key === c.key ? -state.dir : (c.num ? -1 : 1);
            state.key = c.key;
            draw();
          },
        }, c.label));
    }));
    const body = sorted.map((row) => el('tr', {
      class: options.onRow ? 'clickable' : null,
      'data-id': options.rowId ? options.rowId(row) : null,
      onclick: options.onRow ? () => options.onRow(row) : null,
    }, columns.map((c) => el('td', { class: c.num ? 'num' : null, 'data-col': c.key },
      c.render ? c.render(row) : num0(row[c.key], c.num)))));
    replace(wrapper, rows.length
      ? el('table', { 'data-table': options.name || null }, el('thead', {}, head), el('tbody', {}, body))
      : el('p', { class: 'empty' }, options.empty || 'Nothing to show.'));
  }
  function num0(value, isNum) { return isNum ? num(value) : (value === null || value === undefined || value === '' ? '—' : String(value)); }
  draw();
  return wrapper;
}

const deviceColumns = [
  { key: 'device_id', label: 'Device', render: (d) => el('a', { href: `#/device/${encodeURIComponent(d.device_id)}`, class: 'mono' }, d.device_id) },
  { key: 'store_id', label: 'Store' },
  { key: 'hostname', label: 'Hostname' },
  { key: 'status', label: 'Status', value: (d) => ({ fail: 0, error: 1, pass: 2 }[d.status] ?? 3), render: deviceStatus },
  { key: 'checks_fail', label: 'Failed', num: true },
  { key: 'checks_error', label: 'Errors', num: true },
  { key: 'caches_unencrypted', label: 'Unencrypted caches', num: true },
  { key: 'pan_findings', label: 'PAN findings', num: true },
  { key: 'packages_below_baseline', label: 'Below baseline', num: true },
  { key: 'pending_security_updates', label: 'Pending updates', num: true },
  { key: 'last_seen_at', label: 'Last report', value: (d) => d.last_seen_at || '', render: (d) => el('span', { title: fmtTime(d.last_seen_at) }, ago(d.last_seen_at)) },
];

// The overview's half-width tables show only what tells which device to look at first.
const compactDeviceColumns = ['device_id', 'store_id', 'status', 'checks_fail', 'checks_error', 'last_seen_at'];

function deviceTable(devices, name, empty, compact = false) {
  const columns = compact ? deviceColumns.filter((c) => compactDeviceColumns.includes(c.key)) : deviceColumns;
  return table(columns, devices, {
    name, empty, defaultSort: 'status', rowId: (d) => d.device_id,
    onRow: (d) => { location.hash = `#/device/${encodeURIComponent(d.device_id)}`; },
  });
}

// ---- views -------------------------------------------------------------------------------------------

function kpi(key, label, value, sub, tone, href) {
  return el(href ? 'a' : 'div', { class: `kpi ${tone}`, 'data-kpi': key, href },
    el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), el('div', { class: 'sub' }, sub));
}

async function renderOverview(isCurrent) {
  const [summary, failing, stale] = await Promise.all([
    api('/api/v1/summary'),
    api(`/api/v1/devices${query({ status: 'fail', limit: OVERVIEW_LIST_LIMIT })}`),
    api(`/api/v1/devices${query({ status: 'stale', limit: OVERVIEW_LIST_LIMIT })}`),
  ]);
  if (!isCurrent()) return;
  const s = summary;
  const score = s.compliance_score === null ? '—' : `${s.compliance_score}%`;
  const scoreTone = s.compliance_score === null ? 'neutral' : s.compliance_score >= 95 ? 'good' : s.compliance_score >= 80 ? 'warn' : 'bad';
  const tone = (n) => (n > 0 ? 'bad' : 'good');
  replace($('kpis'),
    kpi('compliance_score', 'Compliance', score, `${num(s.passing)} of ${num(s.reporting)} reporting devices pass`, scoreTone),
    kpi('devices', 'Devices', num(s.devices), `${num(s.never_reported)} never reported, ${num(s.revoked)} revoked`, 'neutral', '#/devices'),
    kpi('failing', 'Failing', num(s.failing), `${num(s.erroring)} with check errors`, tone(s.failing), '#/devices?status=fail'),
    kpi('stale', 'Stale', num(s.stale), `silent for over ${Math.round(s.stale_after_seconds / 3600)} h`, s.stale > 0 ? 'warn' : 'good', '#/devices?status=stale'),
    kpi('caches_unencrypted', 'Unencrypted caches', num(s.caches_unencrypted), `on ${num(s.devices_with_unencrypted_caches)} devices`, tone(s.caches_unencrypted)),
    kpi('pan_findings', 'PAN findings', num(s.pan_findings), `on ${num(s.devices_with_pan_findings)} devices`, tone(s.pan_findings)),
    kpi('devices_behind_on_patches', 'Behind on patches', num(s.devices_behind_on_patches), `${num(s.reboot_required)} need a reboot`, s.devices_behind_on_patches > 0 ? 'warn' : 'good'),
  );

  const parts = [['pass', 'passing', s.passing], ['fail', 'failing', s.failing], ['error', 'erroring', s.erroring], ['never', 'never reported', s.never_reported]];
  const total = Math.max(1, s.devices);
  replace($('statusbar'), parts.filter((p) => p[2] > 0).map(([cls, label, n]) => {
    const span = el('span', { class: `bg-${cls}`, title: `${label}: ${n}` });
    span.style.width = `${(100 * n) / total}%`;
    return span;
  }));
  replace($('statuslegend'), parts.map(([cls, label, n]) =>
    el('span', { 'data-status': cls }, el('span', { class: `swatch bg-${cls}` }), `${label}: `, el('strong', {}, num(n)))));

  replace($('failing-checks'), table([
    { key: 'id', label: 'Check', render: (c) => el('a', { href: `#/devices?check=${encodeURIComponent(c.id)}`, class: 'mono' }, c.id) },
    { key: 'title', label: 'Title' },
    { key: 'severity', label: 'Severity', value: (c) => ({ critical: 0, high: 1, medium: 2, low: 3 }[c.severity] ?? 4), render: (c) => badge(c.severity) },
    { key: 'devices', label: 'Devices', num: true },
  ], s.failing_checks, { name: 'failing-checks', defaultSort: 'devices', defaultDir: -1, empty: 'No check fails anywhere.' }));
  replace($('failing-devices'), deviceTable(failing.devices, 'failing-devices', 'No device fails a check.', true));
  replace($('stale-devices'), deviceTable(stale.devices, 'stale-devices', 'Every device reported recently.'));
  $('stale-note').textContent = `(no report for ${Math.round(s.stale_after_seconds / 3600)} h or more)`;
  return summary;
}

async function renderStores(isCurrent) {
  const { stores } = await api('/api/v1/stores');
  if (!isCurrent()) return;
  replace($('stores-table'), table([
    { key: 'store_id', label: 'Store', render: (st) => el('a', { href: `#/devices?store=${encodeURIComponent(st.store_id)}` }, st.store_id) },
    { key: 'devices', label: 'Devices', num: true },
    { key: 'passing', label: 'Passing', num: true },
    { key: 'failing', label: 'Failing', num: true },
    { key: 'erroring', label: 'Erroring', num: true },
    { key: 'stale', label: 'Stale', num: true },
    { key: 'compliance', label: 'Compliance', num: true, value: (st) => storeScore(st),
      render: (st) => { const v = storeScore(st); return v === null ? '—' : `${v.toFixed(1)}%`; } },
    { key: 'caches_unencrypted', label: 'Unencrypted caches', num: true },
    { key: 'pan_findings', label: 'PAN findings', num: true },
  ], stores, { name: 'stores', defaultSort: 'failing', defaultDir: -1, rowId: (st) => st.store_id,
    onRow: (st) => { location.hash = `#/devices?store=${encodeURIComponent(st.store_id)}`; } }));
}
function storeScore(st) {
  const reporting = st.passing + st.failing + st.erroring;
  return reporting ? (100 * st.passing) / reporting : null;
}

// Filters live in the URL (#/devices?store=..&status=..&check=..&q=..) so a view can be bookmarked.
function currentFilters() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  return { store: params.get('store') || '', status: params.get('status') || '', check: params.get('check') || '', q: params.get('q') || '' };
}

function fillSelect(select, values, selected, allLabel) {
  replace(select, el('option', { value: '' }, allLabel), values.map((v) => el('option', { value: v }, v)));
  if (selected && !values.includes(selected)) select.append(el('option', { value: selected }, selected));
  select.value = selected;
}

async function renderDevices(isCurrent) {
  const filters = currentFilters();
  const [list, stores, summary] = await Promise.all([
    api(`/api/v1/devices${query({ ...filters, limit: DEVICE_TABLE_LIMIT })}`),
    api('/api/v1/stores'),
    api('/api/v1/summary'),
  ]);
  if (!isCurrent()) return;
  fillSelect($('f-store'), stores.stores.map((st) => st.store_id), filters.store, 'all stores');
  fillSelect($('f-check'), summary.failing_checks.map((c) => c.id), filters.check, 'any check');
  $('f-status').value = filters.status;
  if (document.activeElement !== $('f-q')) $('f-q').value = filters.q;
  $('device-count').textContent = String(list.devices.length);
  $('device-more').hidden = list.devices.length < DEVICE_TABLE_LIMIT;
  replace($('devices-table'), deviceTable(list.devices, 'devices', 'No device matches these filters.'));
}

function setFilters(changes) {
  const filters = { ...currentFilters(), ...changes };
  const next = `#/devices${query(filters)}`;
  if (location.hash !== next) location.hash = next;
}

function facts(container, pairs) {
  replace(container, pairs.map(([label, value, key]) =>
    el('div', { 'data-fact': key || null }, el('dt', {}, label), el('dd', {}, value instanceof Node ? value : (value ?? '—')))));
}

async function renderDevice(id, isCurrent) {
  const detail = await api(`/api/v1/devices/${encodeURIComponent(id)}`);
  if (!isCurrent()) return;
  const d = detail.device;
  replace($('device-title'), el('span', { class: 'mono' }, d.device_id), ' ', deviceStatus(d));
  facts($('device-facts'), [
    ['Store', el('a', { href: `#/devices?store=${encodeURIComponent(d.store_id)}` }, d.store_id)],
    ['Hostname', d.hostname], ['Operating system', d.os], ['Agent', d.agent_version],
    ['Checks', `${d.checks_pass} pass, ${d.checks_fail} fail, ${d.checks_error} error`],
    ['Last report', `${fmtTime(d.last_seen_at)} (${ago(d.last_seen_at)})`],
    ['Enrolled', fmtTime(d.enrolled_at)], ['Certificate valid until', fmtTime(d.certificate_not_after)],
  ]);

  const order = { fail: 0, error: 1, pass: 2, not_applicable: 3 };
  replace($('device-checks'), table([
    { key: 'status', label: 'Status', value: (c) => order[c.status] ?? 4, render: (c) => badge(c.status.replace('_', ' '), c.status) },
    { key: 'id', label: 'Check', render: (c) => el('div', {}, el('div', {}, c.title || c.id), el('div', { class: 'muted mono' }, c.id)) },
    { key: 'severity', label: 'Severity', value: (c) => ({ critical: 0, high: 1, medium: 2, low: 3 }[c.severity] ?? 4), render: (c) => badge(c.severity) },
    { key: 'evidence', label: 'Evidence', sortable: false, render: (c) => el('div', { class: 'evidence' }, c.evidence ?? '—') },
    { key: 'remediation', label: 'Remediation', sortable: false,
      render: (c) => el('div', { class: 'evidence' }, (c.status === 'fail' || c.status === 'error') && c.remediation ? c.remediation : '—') },
    { key: 'references', label: 'References', sortable: false, render: (c) => (c.references || []).join('; ') || '—' },
  ], detail.checks, { name: 'checks', defaultSort: 'status', rowId: (c) => c.id, empty: 'No checks in the latest report.' }));

  const p = detail.patch || {};
  facts($('device-patch'), [
    ['Packages installed', num(p.packages_total)],
    ['Below baseline', num((p.below_baseline || []).length)],
    ['Pending security updates', num(p.pending_security_updates)],
    ['Last security update', fmtTime(p.last_security_update_at)],
    ['Reboot required', p.reboot_required === undefined ? '—' : badge(p.reboot_required ? 'yes' : 'no', p.reboot_required ? 'no' : 'yes')],
  ]);
  replace($('device-patch-packages'), (p.below_baseline || []).length ? table([
    { key: 'name', label: 'Package', render: (r) => el('span', { class: 'mono' }, r.name) },
    { key: 'installed', label: 'Installed', render: (r) => el('span', { class: 'mono' }, r.installed) },
    { key: 'required', label: 'Required', render: (r) => el('span', { class: 'mono' }, r.required) },
  ], p.below_baseline, { name: 'below-baseline' }) : null);

  const sc = detail.scan || {};
  facts($('device-scan'), [
    ['Files scanned', num(sc.files_scanned)], ['Bytes scanned', num(sc.bytes_scanned)], ['PAN findings', num(sc.pan_findings), 'scan-pan'],
  ]);
  replace($('device-scan-locations'), (sc.locations || []).length ? table([
    { key: 'path', label: 'Location', render: (r) => el('span', { class: 'mono' }, r.path) },
    { key: 'count', label: 'Findings', num: true },
    { key: 'action', label: 'Action taken' },
  ], sc.locations, { name: 'scan-locations', defaultSort: 'count', defaultDir: -1 }) : null);

  replace($('device-caches'), table([
    { key: 'name', label: 'Cache' },
    { key: 'path', label: 'Path', render: (c) => el('span', { class: 'mono' }, c.path) },
    { key: 'encrypted', label: 'Encrypted', value: (c) => (c.encrypted ? 1 : 0), render: (c) => badge(c.encrypted ? 'yes' : 'no') },
    { key: 'cipher_version', label: 'SQLCipher' },
    { key: 'rows', label: 'Rows', num: true },
    { key: 'purged_rows', label: 'Purged', num: true },
    { key: 'transformed_values', label: 'Minimized values', num: true },
    { key: 'pan_findings', label: 'PAN findings', num: true },
    { key: 'last_enforced_at', label: 'Last enforced', render: (c) => fmtTime(c.last_enforced_at) },
  ], detail.caches || [], { name: 'caches', defaultSort: 'encrypted', empty: 'No customer caches reported.' }));

  replace($('device-history'), table([
    { key: 'received_at', label: 'Received', render: (r) => fmtTime(r.received_at) },
    { key: 'generated_at', label: 'Generated', render: (r) => fmtTime(r.generated_at) },
    { key: 'status', label: 'Status', render: (r) => badge(r.status) },
    { key: 'report_id', label: 'Report', render: (r) => el('span', { class: 'mono' }, r.report_id) },
  ], detail.history, { name: 'history', defaultSort: 'received_at', defaultDir: -1, empty: 'No report yet.' }));
}

// ---- routing, refresh, sign-in ---------------------------------------------------------------------------

function route() {
  const [path] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'device' && parts[1]) return { view: 'device', id: decodeURIComponent(parts.slice(1).join('/')) };
  if (['overview', 'stores', 'devices'].includes(parts[0])) return { view: parts[0] };
  return { view: 'overview' };
}

// Each refresh has a generation; a slower, older one that finishes late must not paint over a newer one.
let generation = 0;
async function refresh() {
  const current = route();
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${current.view}`;
  for (const tab of document.querySelectorAll('.tabs a'))
    tab.classList.toggle('active', tab.dataset.view === current.view || (current.view === 'device' && tab.dataset.view === 'devices'));
  try {
    if (current.view === 'overview') await renderOverview(isCurrent);
    else if (current.view === 'stores') await renderStores(isCurrent);
    else if (current.view === 'devices') await renderDevices(isCurrent);
    else await renderDevice(current.id, isCurrent);
    if (!isCurrent()) return;
    $('banner').hidden = true;
    const now = new Date();
    $('updated').textContent = `updated at ${now.toLocaleTimeString()}`;
    $('updated').dataset.updatedAt = now.toISOString();
    document.body.dataset.ready = current.view;
  } catch (e) {
    if (!isCurrent()) return;
    if (e instanceof Unauthorized) return askForToken(e.message === 'token refused' ? 'The console refused that token.' : '');
    $('banner').textContent = `Could not load: ${e.message}`;
    $('banner').hidden = false;
  }
}

function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('login-error').textContent = message;
  $('login-error').hidden = !message;
  $('login-token').value = '';
  if (!$('login').open) $('login').showModal();
  $('login-token').focus();
}

function start() {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('login').close();
    refresh();
  });
  $('login').addEventListener('cancel', (event) => event.preventDefault());  // no way around signing in
  $('signout').addEventListener('click', () => askForToken(''));
  $('refresh').addEventListener('click', refresh);
  $('filters').addEventListener('submit', (event) => event.preventDefault());
  $('f-store').addEventListener('change', (e) => setFilters({ store: e.target.value }));
  $('f-status').addEventListener('change', (e) => setFilters({ status: e.target.value }));
  $('f-check').addEventListener('change', (e) => setFilters({ check: e.target.value }));
  let debounce = null;
  $('f-q').addEventListener('input', (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => setFilters({ q: e.target.value.trim() }), SEARCH_DEBOUNCE_MS);
  });
  $('f-clear').addEventListener('click', () => { $('f-q').value = ''; location.hash = '#/devices'; });
  $('f-csv').addEventListener('click', async () => {
    try {
      const csv = await api(`/api/v1/devices.csv${query(currentFilters())}`);
      const link = el('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: 'devices.csv' });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (e) {
      if (e instanceof Unauthorized) askForToken('');
      else { $('banner').textContent = `Could not export: ${e.message}`; $('banner').hidden = false; }
    }
  });
  window.addEventListener('hashchange', refresh);
  setInterval(() => {
    if ($('autorefresh').checked && !document.hidden && !$('login').open) refresh();
  }, REFRESH_MS);
  if (!sessionStorage.getItem(TOKEN_KEY)) askForToken('');
  else refresh();
}

document.addEventListener('DOMContentLoaded', start);
