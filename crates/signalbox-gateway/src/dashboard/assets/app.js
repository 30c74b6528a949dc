// Signalbox dashboard: a view over the admin API, the "what changed?"
// timeline, and the operator actions (drain, force open / closed,
// throttle a route or tenant in requests or tokens per minute, pin,
// disable tools, switch a flow to fail-closed, escalate to humans,
// revert) for an operator token.
//
// Rules this file keeps (docs/admin.md, Dashboard):
// - The admin token lives in sessionStorage (this tab only) and goes out
//   only as the Authorization header of same-origin fetch calls; never in
//   a URL, never in storage that outlives the tab.
// - Everything that comes from the API is rendered as text (textContent,
//   createTextNode), never parsed as markup, and never put in an attribute
//   that a browser would run or load (no href/src from data). The unit
//   tests in dashboard/tests.rs refuse the markup sinks by name.
'use strict';

(function () {
  const TOKEN_KEY = 'signalbox.admin-token';
  const REFRESH_MS = 5000;
  let timer = null;
  let loading = false;

  const $ = (id) => document.getElementById(id);

  // === DOM helpers: text only ===

  /** An element with a class and children (strings become text nodes). */
  function el(tag, className, ...children) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function row(cells, className) {
    const tr = el('tr', className);
    for (const c of cells) tr.appendChild(el('td', null, c));
    return tr;
  }

  function badge(text, className) {
    return el('span', 'badge ' + className, text);
  }

  /** A token-safe class suffix from API data (letters, digits, dashes). */
  function cls(text) {
    return String(text || '').toLowerCase().replace(/[^a-z0-9-]/g, '');
  }

  function replaceRows(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function ms(v) {
    return v === null || v === undefined ? '–' : Math.round(v) + ' ms';
  }

  function pct(v) {
    return v === null || v === undefined ? '–' : (100 * v).toFixed(1) + ' %';
  }

  function time(msSinceEpoch) {
    if (!msSinceEpoch) return '–';
    return new Date(msSinceEpoch).toLocaleTimeString();
  }

  function dateTime(msSinceEpoch) {
    if (!msSinceEpoch) return 'never';
    return new Date(msSinceEpoch).toLocaleString();
  }

  // === The admin API ===

  class AuthError extends Error {}

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /**
   * A call to the admin API with the token as a header; `payload` is sent
   * as JSON. A 401 (or a refused read) signs the page out; a refused action
   * is an ordinary error, shown where the action was asked for.
   */
  async function call(path, method, payload, asText) {
    const t = token();
    if (!t) throw new AuthError('not signed in');
    const init = {
      method,
      headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    const resp = await fetch(path, init);
    if (asText && resp.ok) return resp.text();
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      body = null;
    }
    const message = body && body.error ? body.error.message : 'HTTP ' + resp.status;
    if (resp.status === 401 || (resp.status === 403 && method === 'GET')) {
      throw new AuthError(message);
    }
    if (!resp.ok) throw new Error(message);
    return body;
  }

  function api(path) {
    return call(path, 'GET');
  }

  // === Operator actions (operator token), each confirmed with a reason ===

  let pending = null;

  function button(label, onClick) {
    const b = el('button', null, label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  /**
   * Opens the confirmation form; `run(reason, ttl, extra)` does the call.
   * `extra` names one more value the action needs (a limit, an alias), or
   * is null.
   */
  function ask(title, withTtl, run, extra) {
    pending = run;
    $('act-title').textContent = title;
    $('act-ttl-label').hidden = !withTtl;
    $('act-extra-label').hidden = !extra;
    $('act-extra-name').textContent = extra || '';
    $('act-extra').value = '';
    $('act-error').textContent = '';
    $('act-reason').value = '';
    $('act-form').hidden = false;
    $('act-reason').focus();
  }

  function askRoute(kind, route) {
    ask(kind + ' route ' + route, true, (reason, ttl) => {
      const body = { action: { kind, route }, reason };
      if (ttl) body.ttl = ttl;
      return call('/admin/actions', 'POST', body).then((a) => kind + ' ' + a.id + ' created');
    });
  }

  /** Posts `action` with the reason and duration; names the id created. */
  function create(action, reason, ttl) {
    const body = { action, reason };
    if (ttl) body.ttl = ttl;
    return call('/admin/actions', 'POST', body).then((a) => action.kind + ' ' + a.id + ' created');
  }

  /**
   * A throttle's limit from `60` (requests per minute) or `5000 tokens`
   * (tokens per minute): the action's field and value, or null.
   */
  function parseLimit(text) {
    const m = /^\s*(\d+)\s*(tokens?)?\s*$/.exec(text || '');
    const n = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) return null;
    return [m[2] ? 'tokens-per-minute' : 'requests-per-minute', n];
  }

  const LIMIT_HELP = 'limit (required): requests per minute, or "N tokens"';
  const LIMIT_ERROR = 'limit: a whole number of requests per minute from 1, or "N tokens" per minute';

  /** Creates a throttle of `target` with the limit typed in `extra`. */
  function throttle(target, reason, ttl, extra) {
    const limit = parseLimit(extra);
    if (!limit) return Promise.reject(new Error(LIMIT_ERROR));
    return create({ kind: 'throttle', target, [limit[0]]: limit[1] }, reason, ttl);
  }

  function askThrottle(route) {
    ask('throttle route ' + route, true, (reason, ttl, extra) =>
      throttle({ route }, reason, ttl, extra), LIMIT_HELP);
  }

  function askPin(route) {
    ask('pin an alias to route ' + route, true, (reason, ttl, alias) => {
      if (!alias) return Promise.reject(new Error('alias: required'));
      return create({ kind: 'pin', alias, route }, reason, ttl);
    }, 'alias (required)');
  }

  /**
   * The flow actions (disable tools, fail-closed, escalate, throttle a
   * tenant) for the intent, tenant or alias named; the gateway refuses a
   * target an action does not take, naming the field.
   */
  function askFlow(event) {
    event.preventDefault();
    const action = $('flow-kind').value;
    const kind = ['intent', 'tenant', 'alias'].includes($('tools-target').value)
      ? $('tools-target').value : 'intent';
    const name = $('tools-name').value.trim();
    if (!name) {
      $('app-error').textContent = action + ': name an ' + kind + ' first';
      return;
    }
    $('app-error').textContent = '';
    const title = $('flow-kind').selectedOptions[0].textContent + ' ' + kind + ' ' + name;
    if (action === 'throttle') {
      ask(title, true, (reason, ttl, extra) =>
        throttle({ [kind]: name }, reason, ttl, extra), LIMIT_HELP);
    } else if (action === 'escalate') {
      ask(title, true, (reason, ttl) => create({ kind: 'escalate', [kind]: name }, reason, ttl));
    } else {
      const flow = action === 'fail-closed' ? 'fail-closed' : 'disable-tools';
      ask(title, true, (reason, ttl) => create({ kind: flow, target: { [kind]: name } }, reason, ttl));
    }
  }

  function askRevert(id) {
    ask('revert ' + id, false, (reason) =>
      call('/admin/actions/' + encodeURIComponent(id), 'DELETE', { reason })
        .then(() => id + ' reverted'));
  }

  async function confirmAction(event) {
    event.preventDefault();
    const reason = $('act-reason').value.trim();
    if (!reason) {
      $('act-error').textContent = 'a reason is required';
      return;
    }
    if (!pending) return;
    const ttl = $('act-ttl-label').hidden ? '' : $('act-ttl').value;
    const extra = $('act-extra-label').hidden ? '' : $('act-extra').value.trim();
    try {
      const done = await pending(reason, ttl, extra);
      pending = null;
      $('act-form').hidden = true;
      $('act-done').textContent = done;
      await refresh();
    } catch (e) {
      if (e instanceof AuthError) signOut(e.message);
      else $('act-error').textContent = e.message;
    }
  }

  function cancelAction() {
    pending = null;
    $('act-form').hidden = true;
  }

  // === Views ===

  function renderRoutes(data) {
    $('policy').textContent = 'policy ' + (data.policy_version || '?');
    const rows = (data.routes || []).map((r) => {
      const h = r.health || {};
      const hold = r.operator;
      const state = h.state || '?';
      let rowClass = state === 'open' || h.quality_regression ? 'route-open' : '';
      if (hold) rowClass = 'route-held';
      const held = hold
        ? el('span', null, badge(hold.action ? hold.action.kind : 'held', 'hold'), ' ',
          el('span', 'mono', hold.id || ''), ' ', el('span', null, hold.reason || ''))
        : '–';
      const cooldown = h.cooling_down
        ? 'cooling' + (h.retry_in_secs ? ' ' + h.retry_in_secs.toFixed(0) + ' s' : '')
        : '–';
      const tr = row([
        el('span', 'mono', r.route),
        r.provider,
        r.model_version,
        r.region,
        badge(state, 'state-' + cls(state)),
        h.reason || '',
        pct(h.window_error_rate) + ' of ' + (h.window_requests || 0),
        ms(h.p95_ms),
        cooldown,
        h.quality_regression
          ? el('span', null, badge('regression', 'state-open'), ' ', h.quality_regression)
          : 'ok',
        held,
        el('span', null,
          button('Drain', () => askRoute('drain', r.route)),
          button('Force open', () => askRoute('force-open', r.route)),
          button('Force close', () => askRoute('force-close', r.route)),
          button('Throttle', () => askThrottle(r.route)),
          button('Pin', () => askPin(r.route))),
      ], rowClass);
      tr.dataset.route = String(r.route);
      tr.dataset.state = cls(state);
      return tr;
    });
    replaceRows($('routes').tBodies[0], rows);
  }

  function target(action) {
    if (!action) return '';
    const parts = [];
    for (const [k, v] of Object.entries(action)) {
      if (k === 'kind') continue;
      parts.push(k + ' ' + (typeof v === 'object' ? JSON.stringify(v) : String(v)));
    }
    return parts.join(', ');
  }

  function renderActions(data) {
    const actions = data.actions || [];
    $('actions-empty').hidden = actions.length > 0;
    const rows = actions.map((a) => {
      const tr = row([
        el('span', 'mono', a.id),
        a.action ? a.action.kind : '',
        target(a.action),
        a.who ? a.who.name + ' (' + a.who.role + ')' : '',
        a.reason,
        dateTime(a.created_ms),
        a.expires_ms ? dateTime(a.expires_ms) : 'until reverted',
        button('Revert', () => askRevert(a.id)),
      ]);
      tr.dataset.action = String(a.id);
      return tr;
    });
    replaceRows($('actions').tBodies[0], rows);
  }

  function renderSummary(data, since) {
    const groups = data.groups || [];
    const total = groups.reduce((n, g) => n + g.count, 0);
    const errors = groups.reduce((n, g) => n + g.error_rate * g.count, 0);
    const degraded = groups.reduce((n, g) => n + g.degraded, 0);
    const cost = groups.reduce((n, g) => n + g.cost_usd, 0);
    const card = (label, value) => el('div', 'card', el('div', 'value', value), el('div', 'label', label));
    $('totals').replaceChildren(
      card('requests', String(total)),
      card('error rate', total ? pct(errors / total) : '–'),
      card('degraded', String(degraded)),
      card('cost (USD)', cost.toFixed(4)),
    );
    $('summary-window').textContent = 'since ' + time(since);
    $('summary-key').textContent = $('summary-group').value.replace('_', ' ');
    replaceRows($('summary').tBodies[0], groups.map((g) => row([
      el('span', 'mono', g.key),
      String(g.count),
      pct(g.error_rate),
      ms(g.p50_ms),
      ms(g.p95_ms),
      g.cost_usd.toFixed(4),
      String(g.degraded),
    ])));
  }

  function timelineQuery(now) {
    const q = new URLSearchParams();
    q.set('since', String(now - Number($('timeline-since').value)));
    q.set('until', String(now + 1));
    const alias = $('timeline-alias').value.trim();
    if (alias) q.set('alias', alias);
    return q;
  }

  /** The ranked differences, causes first, each with its kind and time. */
  function renderTimeline(report) {
    const changes = report.changes || [];
    const w = report.after_window || {};
    const b = report.before || {};
    const a = report.after || {};
    $('timeline-window').textContent = 'since ' + time(w.since_ms) + ': ' +
      (a.requests || 0) + ' requests, ' + (b.requests || 0) + ' before';
    // Without traffic in one window versions and metrics are not compared.
    const notes = {
      'none-before': 'No traffic in the baseline window: versions and metrics are not compared. Seen in the window: ',
      'none-after': 'No traffic in the window: versions and metrics are not compared.',
    };
    const note = notes[report.traffic];
    $('timeline-note').hidden = !note;
    $('timeline-note').textContent = note ? note + (report.seen || []).join('; ') : '';
    $('timeline-empty').hidden = changes.length > 0 || report.traffic === 'none-before';
    $('timeline').replaceChildren(...changes.map((c) => {
      const li = el('li', null, badge(c.kind, 'kind-' + cls(c.kind)), ' ',
        c.at_ms ? el('span', 'muted', time(c.at_ms) + ' ') : null, c.what);
      if (c.detail && c.detail.length) li.appendChild(el('pre', null, c.detail.join('\n')));
      li.dataset.kind = cls(c.kind);
      return li;
    }));
  }

  function decisionQuery() {
    const form = $('decision-filters');
    const q = new URLSearchParams();
    for (const name of ['tenant', 'alias', 'route', 'outcome', 'request_id', 'limit']) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    return q;
  }

  function renderDecisions(data) {
    const rows = (data.decisions || []).map((d) => {
      const tr = row([
        time(d.time_ms),
        el('span', 'mono', d.caller_request_id || d.request_id),
        d.tenant,
        d.alias || '–',
        d.chosen || '–',
        badge(d.outcome, 'outcome-' + cls(d.outcome)),
        String(d.status),
        ms(d.latency_ms),
        String((d.attempts || []).length),
        (d.degraded || []).join(', ') || '–',
        (d.operator_actions || []).join(', ') || '–',
      ], 'clickable');
      tr.dataset.request = String(d.request_id);
      tr.dataset.route = String(d.chosen || '');
      tr.dataset.outcome = cls(d.outcome);
      tr.addEventListener('click', () => showDetail(d));
      return tr;
    });
    replaceRows($('decisions').tBodies[0], rows);
  }

  function showDetail(d) {
    $('detail-id').textContent = d.request_id;
    const items = [];
    const li = (...parts) => items.push(el('li', null, ...parts));
    li('outcome ', d.outcome, ', status ', String(d.status), ', ', ms(d.latency_ms));
    if (d.error) li('error: ', d.error);
    for (const a of d.attempts || []) {
      li('attempt on ', a.route, ' (', a.provider, '): ', a.outcome,
        a.status ? ' ' + a.status : '', a.detail ? ' – ' + a.detail : '',
        ', ', ms(a.elapsed_ms));
    }
    for (const s of d.skipped || []) li('skipped ', s.route, ': ', s.reason);
    for (const a of d.operator_actions || []) li('operator action ', a);
    $('detail-summary').replaceChildren(...items);
    $('detail-json').textContent = JSON.stringify(d, null, 2);
    $('detail-explain').textContent = 'loading the explanation…';
    $('detail').hidden = false;
    // The explanation `signalbox explain` prints, rendered by the gateway.
    const path = '/admin/decisions/' + encodeURIComponent(d.request_id) + '?format=text';
    call(path, 'GET', undefined, true)
      .then((text) => {
        if ($('detail-id').textContent === d.request_id) $('detail-explain').textContent = text;
      })
      .catch((e) => {
        if (e instanceof AuthError) signOut(e.message);
        else $('detail-explain').textContent = e.message;
      });
  }

  // === Loading ===

  async function refresh() {
    if (loading) return;
    loading = true;
    const since = Date.now() - Number($('summary-since').value);
    const group = $('summary-group').value;
    try {
      const [routes, actions, summary, decisions, timeline] = await Promise.all([
        api('/admin/routes'),
        api('/admin/actions'),
        api('/admin/decisions?group_by=' + encodeURIComponent(group) + '&since=' + since),
        api('/admin/decisions?' + decisionQuery().toString()),
        api('/admin/what-changed?' + timelineQuery(Date.now()).toString()),
      ]);
      renderTimeline(timeline);
      renderRoutes(routes);
      renderActions(actions);
      renderSummary(summary, since);
      renderDecisions(decisions);
      $('app-error').textContent = '';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      document.body.dataset.loaded = String(Date.now());
    } catch (e) {
      if (e instanceof AuthError) {
        signOut(e.message);
      } else {
        $('app-error').textContent = e.message;
      }
    } finally {
      loading = false;
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if ($('auto').checked && token()) timer = setInterval(refresh, REFRESH_MS);
  }

  function showApp(signedIn) {
    $('login').hidden = signedIn;
    $('app').hidden = !signedIn;
    for (const id of ['refresh', 'logout', 'auto-label']) $(id).hidden = !signedIn;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    cancelAction();
    $('act-done').textContent = '';
    clearInterval(timer);
    timer = null;
    showApp(false);
    $('login-error').textContent = message || '';
    $('policy').textContent = '';
    $('updated').textContent = '';
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $('token');
    const t = input.value.trim();
    input.value = '';
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('login-error').textContent = '';
    showApp(true);
    await refresh();
    schedule();
  }

  function start() {
    $('login-form').addEventListener('submit', signIn);
    $('logout').addEventListener('click', () => signOut(''));
    $('refresh').addEventListener('click', refresh);
    $('auto').addEventListener('change', schedule);
    $('summary-since').addEventListener('change', refresh);
    $('summary-group').addEventListener('change', refresh);
    $('summary-form').addEventListener('submit', (e) => e.preventDefault());
    $('decision-filters').addEventListener('submit', (e) => {
      e.preventDefault();
      refresh();
    });
    $('timeline-since').addEventListener('change', refresh);
    $('timeline-form').addEventListener('submit', (e) => {
      e.preventDefault();
      refresh();
    });
    $('tools-form').addEventListener('submit', askFlow);
    $('act-form').addEventListener('submit', confirmAction);
    $('act-cancel').addEventListener('click', cancelAction);
    $('detail-close').addEventListener('click', () => {
      $('detail').hidden = true;
    });
    if (token()) {
      showApp(true);
      refresh().then(schedule);
    } else {
      showApp(false);
    }
  }

  start();
})();
