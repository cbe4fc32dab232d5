// Beamline dashboard: reads this control plane's admin views with the session cookie and draws
// them. Plain DOM, no framework, nothing fetched from elsewhere; text only ever goes in through
// textContent, so nothing a tenant or provider names can become markup.
(() => {
  'use strict';

  const MAX_ROWS = 100;
  const SUMMARY_EVERY_MS = 2000;
  const VIEWS_EVERY_MS = 5000;
  const SPEND_EVERY_MS = 15000;
  const KINDS = ['received', 'extension', 'decision', 'provider_attempt', 'first_chunk', 'post_change', 'final', 'cost'];

  const $ = (id) => document.getElementById(id);

  // el('td', {className: 'num'}, '12 ms') — children are strings (as text) or nodes.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child == null ? '' : String(child)));
    }
    return node;
  }

  function pill(text, tone) {
    return el('span', { className: 'pill' + (tone ? ' ' + tone : '') }, text);
  }

  function fill(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { className: 'empty', colSpan: columns }, emptyText))]));
  }

  const ms = (v) => (v == null ? '—' : v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(1) + ' ms' : (v / 1000).toFixed(2) + ' s');
  const num = (v) => (v == null ? '—' : Number(v).toLocaleString('en-US'));
  const usd = (v) => (v == null ? '—' : '$' + Number(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: v < 1 ? 6 : 2 }));
  const pct = (v) => (v == null ? '—' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%');
  const bytes = (v) => (v == null ? '—' : (v / (1024 * 1024)).toFixed(1) + ' MiB');

  function duration(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  }

  // Every read goes through here: a lost session sends the page back to the sign-in form.
  async function getJson(url) {
    const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (response.status === 401) {
      window.location.assign('/ui');
      throw new Error('signed out');
    }
    if (!response.ok) {
      throw new Error(`${url}: HTTP ${response.status}`);
    }
    return response.json();
  }

  // Runs task now and then every period; a failure leaves the last figures and retries next time.
  function every(period, task) {
    const run = () => task().catch((error) => console.warn(error)).finally(() => setTimeout(run, period));
    run();
  }

  // ---- Traffic, workers and pools: /ui/api/summary -------------------------------------------

  let summary = null;

  async function refreshSummary() {
    summary = await getJson('/ui/api/summary');
    const r = summary.requests;
    $('instance').textContent = 'instance ' + summary.instance_id;
    $('uptime').textContent = 'up ' + duration(summary.uptime_s);
    $('requests-total').textContent = num(r.total);
    $('rps').textContent = r.per_second.toFixed(1);
    $('p50').textContent = ms(r.p50_ms);
    $('p99').textContent = ms(r.p99_ms);
    $('errors').textContent = num(r.errors);
    drawSpark(r.history);
    drawPools(summary.dispatch);
    drawRuntime(summary.runtime);
    drawProviders();
  }

  function drawSpark(history) {
    const svg = $('spark');
    const ns = 'http://www.w3.org/2000/svg';
    const max = Math.max(1, ...history);
    const width = 600 / history.length;
    const nodes = [];
    const base = document.createElementNS(ns, 'line');
    base.setAttribute('class', 'base');
    base.setAttribute('x1', '0'); base.setAttribute('x2', '600');
    base.setAttribute('y1', '59.5'); base.setAttribute('y2', '59.5');
    nodes.push(base);
    history.forEach((count, i) => {
      if (!count) {
        return;
      }
      const height = Math.max(2, (count / max) * 58);
      const bar = document.createElementNS(ns, 'rect');
      bar.setAttribute('class', 'bar');
      bar.setAttribute('x', String(i * width + 1));
      bar.setAttribute('width', String(Math.max(1, width - 2)));
      bar.setAttribute('y', String(60 - height));
      bar.setAttribute('height', String(height));
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${count} requests, ${history.length - i}s ago`;
      bar.append(title);
      nodes.push(bar);
    });
    svg.replaceChildren(...nodes);
  }

  function drawPools(dispatch) {
    $('dispatch-mode').textContent = dispatch.mode === 'nats' ? 'workers over NATS' : 'in-process runtime';
    const rows = dispatch.pools.map((p) => el('tr', {},
      el('td', { className: 'mono' }, p.pool),
      el('td', { className: 'num' }, p.limit == null ? '—' : num(p.limit)),
      el('td', { className: 'num blocks' }, num(p.total)),
      el('td', { className: 'num' }, ms(p.p50_ms)),
      el('td', { className: 'num' }, ms(p.p99_ms)),
      el('td', { className: 'num' }, num(p.errors))));
    fill($('pool-rows'), rows, 6, 'no pools');
  }

  // ---- Workers on the bus, from their heartbeats: /admin/v1/workers ----------------------------

  async function refreshWorkers() {
    const view = await getJson('/admin/v1/workers');
    $('worker-table').hidden = view.mode !== 'nats';
    const rows = view.workers.map((w) => el('tr', {},
      el('td', { className: 'mono' }, w.worker_id),
      el('td', {}, w.alive ? (w.draining ? pill('draining', 'warn') : pill('alive', 'ok')) : pill('gone', 'bad')),
      el('td', { className: 'mono' }, w.pools.map((p) => `${p.name} ${p.in_flight}/${p.capacity}, ${p.queued} queued`).join(' · ')),
      el('td', { className: 'num' }, ms(w.seen_ms_ago))));
    fill($('worker-rows'), rows, 4, 'no worker heard from');
  }

  function drawRuntime(runtime) {
    const pairs = [
      ['runtime', runtime.framework],
      ['processors', num(runtime.processors)],
      ['working set', bytes(runtime.working_set_bytes)],
      ['GC heap', bytes(runtime.gc_heap_bytes)],
      ['GC collections', runtime.gc_collections.join(' / ')],
      ['thread pool', `${num(runtime.thread_pool_threads)} threads, ${num(runtime.thread_pool_queue)} queued`],
    ];
    $('runtime').replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  // ---- Providers: provider-stats + circuit-breakers + the summary's per-provider latency --------

  let providerStats = [];
  let breakers = [];

  async function refreshProviders() {
    const [stats, states] = await Promise.all([getJson('/admin/v1/provider-stats'), getJson('/admin/v1/circuit-breakers')]);
    const byId = new Map();
    for (const tenant of stats.tenants) {
      for (const p of tenant.providers) {
        byId.set(p.provider_id, p);
      }
    }
    providerStats = [...byId.values()];
    breakers = states.breakers;
    drawProviders();
  }

  function breakerOf(providerId) {
    const states = breakers.filter((b) => b.provider_id === providerId).map((b) => b.state);
    if (!states.length) {
      return pill('none');
    }
    if (states.includes('open')) {
      return pill('open', 'bad');
    }
    return states.includes('half_open') ? pill('half open', 'warn') : pill('closed', 'ok');
  }

  function drawProviders() {
    const latency = new Map((summary ? summary.providers : []).map((p) => [p.provider_id, p]));
    const ids = new Set(providerStats.map((p) => p.provider_id));
    // Requests, latency and errors are this instance's requests through the provider (the summary);
    // the router's own smoothed figures show on hover.
    const row = (id, title, live, stats, breaker) => el('tr', {},
      el('td', { className: 'mono', title }, id),
      el('td', { className: 'num' }, num(live.total || 0)),
      el('td', { className: 'num' }, ms(live.p50_ms)),
      el('td', { className: 'num' }, ms(live.p99_ms)),
      el('td', { className: 'num', title: stats ? `router: ${num(stats.calls)} calls, error rate (EWMA) ${pct(stats.error_rate_ewma)}, latency (EWMA) ${ms(stats.latency_ewma_ms)}` : '' },
        live.total ? pct(live.errors / live.total) : '—'),
      el('td', {}, breaker));
    const rows = providerStats.map((p) => row(p.provider_id, [p.kind, p.model].filter(Boolean).join(' · '),
      latency.get(p.provider_id) || {}, p.stats, breakerOf(p.provider_id)));
    // Requests that reached a provider no tenant routes to any more still show.
    for (const [id, live] of latency) {
      if (!ids.has(id) && id !== 'none') {
        rows.push(row(id, '', live, null, pill('—')));
      }
    }
    fill($('provider-rows'), rows, 6, 'no providers configured');
  }

  // ---- Extensions: /admin/v1/extensions/health ------------------------------------------------

  const EXTENSION_TONES = { healthy: 'ok', degraded: 'warn', open: 'bad', unregistered: 'bad' };

  async function refreshExtensions() {
    const view = await getJson('/admin/v1/extensions/health');
    const rows = Object.values(view.health).map((x) => el('tr', {},
      el('td', { className: 'mono', title: x.source }, x.extension_id),
      el('td', {}, pill(x.status, EXTENSION_TONES[x.status])),
      el('td', { className: 'num' }, num(x.calls)),
      el('td', { className: 'num' }, x.calls ? pct(x.success_rate) : '—'),
      el('td', { className: 'num' }, x.calls ? ms(x.p99_ms) : '—')));
    fill($('extension-rows'), rows, 5, 'no extensions in use');
  }

  // ---- Experiments: /admin/v1/experiments -------------------------------------------------------

  const EXPERIMENT_TONES = { running: 'warn', promoted: 'ok', completed: '', stopped: '' };

  async function refreshExperiments() {
    const { experiments } = await getJson('/admin/v1/experiments');
    const rows = [];
    for (const x of experiments) {
      const tests = Object.fromEntries(x.comparisons.map((c) => [c.arm, c[x.metric]]));
      x.arms.forEach((arm, i) => {
        const winner = x.winner === arm.name;
        const p = tests[arm.name] ? tests[arm.name].p_value : null;
        rows.push(el('tr', { className: winner ? 'winner' : '' },
          el('td', { className: 'mono' }, i === 0 ? x.tenant_id : ''),
          el('td', { className: 'mono', title: `${x.metric}, α = ${x.alpha}, policy ${x.policy_id}` }, i === 0 ? x.id : ''),
          el('td', {}, i === 0 ? pill(x.status, EXPERIMENT_TONES[x.status]) : ''),
          el('td', { className: 'num' }, i === 0 ? `${x.looks}/${x.max_looks}` : ''),
          el('td', { className: 'mono' }, arm.name + (winner ? ' ★' : '') + (i === 0 ? ' (control)' : '')),
          el('td', { className: 'mono' }, arm.provider || `policy ${arm.policy}`),
          el('td', { className: 'num' }, arm.weight + '%'),
          el('td', { className: 'num' }, num(arm.requests)),
          el('td', { className: 'num' }, arm.executions ? pct(arm.error_rate) : '—'),
          el('td', { className: 'num' }, ms(arm.latency_ms.mean)),
          el('td', { className: 'num' }, arm.quality.n ? `${arm.quality.mean.toFixed(3)} (${num(arm.quality.n)})` : '—'),
          el('td', { className: 'num' }, p == null ? '—' : p < 0.0001 ? p.toExponential(1) : p.toFixed(4))));
      });
    }
    fill($('experiment-rows'), rows, 12, 'no experiments');
  }

  // ---- Tenants, spend against budget: /admin/v1/tenants + .../usage --------------------------

  let tenantIds = [];

  function currentPeriod() {
    const now = new Date();
    return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  }

  // The usage view may not exist on this build, or fail for one tenant: that tenant shows "—".
  async function usageOf(tenantId, period) {
    try {
      const view = await getJson(`/admin/v1/tenants/${encodeURIComponent(tenantId)}/usage?period=${period}`);
      return view.usage || null;
    } catch {
      return null;
    }
  }

  async function refreshSpend() {
    const period = currentPeriod();
    const { tenants } = await getJson('/admin/v1/tenants');
    updateTenantFilter(tenants.map((t) => t.id));
    const usages = await Promise.all(tenants.map((t) => usageOf(t.id, period)));
    $('period').textContent = period + ' (UTC)';
    const rows = tenants.map((t, i) => {
      const usage = usages[i];
      const spend = usage ? usage.spend_usd : null;
      const budget = usage && usage.budget_usd != null ? usage.budget_usd : (t.limits && t.limits.monthly_budget_usd);
      const share = spend != null && budget ? Math.min(1, spend / budget) : null;
      const meter = el('div', { className: 'meter' + (share == null ? '' : share >= 0.9 ? ' bad' : share >= 0.7 ? ' warn' : '') }, el('span'));
      meter.firstChild.style.width = share == null ? '0' : (share * 100).toFixed(1) + '%';
      meter.title = share == null ? 'no usage or no budget' : pct(share) + ' of the budget';
      return el('tr', {},
        el('td', { className: 'mono', title: t.name || '' }, t.id),
        el('td', { className: 'num' }, usage ? num(usage.requests) : '—'),
        el('td', { className: 'num' }, usd(spend)),
        el('td', { className: 'num' }, budget == null ? '—' : usd(budget)),
        el('td', {}, meter));
    });
    fill($('tenant-rows'), rows, 5, 'no tenants');
  }

  function updateTenantFilter(ids) {
    const sorted = [...ids].sort();
    if (sorted.join('\n') === tenantIds.join('\n')) {
      return;
    }
    tenantIds = sorted;
    const select = $('tenant-filter');
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, 'all tenants'), ...sorted.map((id) => el('option', { value: id }, id)));
    select.value = sorted.includes(chosen) ? chosen : '';
  }

  // ---- Activity: the SSE stream, filtered by tenant on the server ----------------------------

  let source = null;
  let seen = 0;

  // Red for what went wrong; a decision's status (the strategy) and a skip are neutral.
  const BAD_EXTENSION = new Set(['reject', 'timeout', 'unavailable', 'malformed', 'error']);
  function statusTone(event) {
    if (event.status === 'ok') {
      return 'ok';
    }
    if (event.kind === 'final' || event.kind === 'provider_attempt') {
      return 'bad';
    }
    return event.kind === 'extension' && BAD_EXTENSION.has(event.status) ? 'bad' : undefined;
  }

  function addActivity(event) {
    seen += 1;
    $('activity-count').textContent = num(seen);
    const time = new Date(event.time);
    const row = el('tr', {},
      el('td', { className: 'mono' }, time.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(time.getMilliseconds()).padStart(3, '0')),
      el('td', { className: 'mono' }, event.tenant_id),
      el('td', {}, event.kind + (event.stage ? ' · ' + event.stage : '')),
      el('td', { className: 'mono' }, event.subject || (event.cost_usd != null ? usd(event.cost_usd) : '')),
      el('td', {}, event.status ? pill(event.status, statusTone(event)) : ''),
      el('td', { className: 'num' }, event.latency_ms == null ? '' : ms(event.latency_ms)),
      el('td', { className: 'mono muted', title: event.request_id + (event.detail ? '\n' + event.detail : '') }, event.request_id.slice(0, 12)));
    const rows = $('activity-rows');
    rows.prepend(row);
    while (rows.childElementCount > MAX_ROWS) {
      rows.lastElementChild.remove();
    }
  }

  function connect() {
    if (source) {
      source.close();
    }
    $('activity-rows').replaceChildren();
    const tenant = $('tenant-filter').value;
    const url = '/admin/v1/activity/stream?history=' + MAX_ROWS + (tenant ? '&tenant_id=' + encodeURIComponent(tenant) : '');
    source = new EventSource(url, { withCredentials: true });
    const state = $('live-state');
    source.onopen = () => { state.textContent = 'live'; state.className = 'pill ok'; };
    source.onerror = () => { state.textContent = 'reconnecting'; state.className = 'pill warn'; };
    const handle = (message) => {
      try {
        addActivity(JSON.parse(message.data));
      } catch (error) {
        console.warn(error);
      }
    };
    for (const kind of KINDS) {
      source.addEventListener(kind, handle);
    }
    source.addEventListener('message', handle);
    source.addEventListener('dropped', (message) => {
      const { dropped } = JSON.parse(message.data);
      addActivity({ time: new Date().toISOString(), tenant_id: '', kind: 'dropped', request_id: '', detail: `${dropped} events lost` });
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('tenant-filter').addEventListener('change', connect);
    connect();
    every(SUMMARY_EVERY_MS, refreshSummary);
    every(VIEWS_EVERY_MS, refreshProviders);
    every(VIEWS_EVERY_MS, refreshExtensions);
    every(VIEWS_EVERY_MS, refreshWorkers);
    every(VIEWS_EVERY_MS, refreshExperiments);
    every(SPEND_EVERY_MS, refreshSpend);
  });
})();
