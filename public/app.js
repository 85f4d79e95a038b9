// urlinsta: the influencer's page. Plain DOM, no build step, no other host:
// it runs under `script-src 'self'; style-src 'self'`, so nothing here writes
// inline styles or handlers (element.style through the CSSOM is allowed).
'use strict';

(() => {
  // ---------------------------------------------------------------- settings

  /** A call slower than this shows "still loading"; one slower than TIMEOUT_MS fails. */
  const SLOW_MS = 6000;
  const TIMEOUT_MS = 20000;
  /** A refresh asks Instagram for several days of data: give it longer. */
  const REFRESH_TIMEOUT_MS = 120000;
  /** Warn this many days before a reconnect is needed. */
  const WARN_DAYS = 14;
  const AUDIENCE_TOP = 8;
  const ACCOUNT_KEY = 'urlinsta.account';

  const CHARTS = [
    { metric: 'reach', title: 'Reach', help: 'Accounts that saw your content, each day.', kind: 'daily' },
    { metric: 'views', title: 'Views', help: 'Times your content was played or displayed, each day.', kind: 'daily' },
    { metric: 'accounts_engaged', title: 'Accounts engaged', help: 'Accounts that interacted with your content, each day.', kind: 'daily' },
    { metric: 'followers_count', title: 'Followers', help: 'Your follower count at the end of each day.', kind: 'total' },
  ];

  const AUDIENCE = [
    { key: 'country', title: 'Countries' },
    { key: 'city', title: 'Cities' },
    { key: 'age', title: 'Age' },
    { key: 'gender', title: 'Gender' },
  ];

  /** The callback's reason codes, in plain words, with what to do. */
  const REASONS = {
    access_denied: {
      title: 'Nothing was connected',
      text: 'You chose Cancel, so urlinsta received no access. When you are ready, continue with Facebook or Instagram again and choose Allow.',
    },
    state_mismatch: {
      title: 'That sign-in could not be verified',
      text: 'It took too long, or it started in another tab or browser. Nothing was stored. Please connect again from this page.',
    },
    no_pages: {
      title: 'No Facebook Page found',
      text: 'Instagram shares insights through the Facebook Page your Instagram account is linked to. Create a Page (or select your Pages in the Facebook dialog), link your Instagram account to it, then try again.',
    },
    no_instagram_account: {
      title: 'No Instagram Business or Creator account found',
      text: 'None of your Facebook Pages is linked to an Instagram professional account. In the Instagram app, switch to a Business or Creator account and link it to your Facebook Page, then try again.',
    },
    missing_permissions: {
      title: 'Permission to read insights is missing',
      text: 'Not every permission urlinsta needs (such as reading insights) was granted. Connect again and leave all the requested permissions switched on.',
    },
    personal_account: {
      title: 'This is a personal Instagram account',
      text: 'Instagram shares insights of professional accounts only. In the Instagram app, switch this account to a Business or Creator account (Settings, then Account type and tools), then continue with Instagram again. Nothing was stored.',
    },
    instagram_unavailable: {
      title: 'Signing in with Instagram is not available here',
      text: 'This site is set up for Facebook sign-in only. Use Continue with Facebook, with the Facebook Page your Instagram account is linked to.',
    },
    graph_error: {
      title: 'Meta did not answer as expected',
      text: 'This is usually temporary. Wait a minute, then try again.',
    },
    server_error: {
      title: 'urlinsta could not save your connection',
      text: 'Nothing was saved. This is usually temporary: wait a few minutes, then try again. If it keeps happening, tell whoever runs this site.',
    },
  };

  // ---------------------------------------------------------------- state

  const state = {
    status: null,
    account: null,
    range: 30,
    /** Draw the period before the range too, dashed. */
    compare: false,
    lastCollected: null,
    charts: new Map(),
    generation: 0,
    justConnected: false,
    /** Counts status loads: only the newest one's answer is shown. */
    statusLoads: 0,
  };

  const numberFormat = new Intl.NumberFormat('en');
  const compactFormat = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 });
  const dayFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const longDayFormat = new Intl.DateTimeFormat('en', { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
  const dateFormat = new Intl.DateTimeFormat('en', { day: 'numeric', month: 'long', year: 'numeric' });
  const timeFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });
  const regionNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null;

  // ---------------------------------------------------------------- DOM helpers

  const $ = (id) => document.getElementById(id);

  /** Creates an element: `h('p', {class: 'x'}, 'text', child)`. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    return fill(el, attrs, children);
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    return fill(document.createElementNS(SVG_NS, tag), attrs, children);
  }

  function fill(el, attrs, children) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function setView(view) {
    document.body.dataset.view = view;
    for (const name of ['loading', 'failed', 'connect', 'dashboard']) {
      $(`view-${name}`).hidden = name !== view;
    }
    $('account-tools').hidden = view !== 'dashboard';
    showNoticeRetry();
  }

  /** A failed connect offers "Try again", except beside the Connect button itself. */
  function showNoticeRetry() {
    $('notice-actions').hidden = $('notice').dataset.retry !== 'true' || document.body.dataset.view === 'connect';
  }

  // ---------------------------------------------------------------- API

  /** `status` is the HTTP status, 0 when no answer came. */
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
      this.retryAfter = null;
    }
  }

  /** The server's messages are terse ("no such connected account"): make them a sentence. */
  function sentence(text) {
    const t = String(text).trim();
    return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
  }

  /** One API call with a time limit; errors carry a message fit for people. */
  async function api(path, { method = 'GET', body, timeoutMs = TIMEOUT_MS } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: body ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        credentials: 'same-origin',
        signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) {
        throw new ApiError('The server took too long to answer.', 0);
      }
      throw new ApiError('The server could not be reached. Check your connection.', 0);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const message = (data && (data.message || data.error)) || `The server answered ${response.status}.`;
      const err = new ApiError(sentence(message), response.status);
      err.data = data;
      err.retryAfter = Number(response.headers.get('retry-after')) || null;
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------- notices

  function showNotice(kind, title, text, withRetry) {
    const notice = $('notice');
    notice.dataset.kind = kind;
    notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    $('notice-title').textContent = title;
    $('notice-text').textContent = text || '';
    $('notice-text').hidden = !text;
    notice.dataset.retry = withRetry ? 'true' : 'false';
    notice.hidden = false;
    showNoticeRetry();
  }

  /** The callback lands on `/?connected=true` or `/?error=<reason>`: say what happened, once. */
  function readCallbackResult() {
    const params = new URLSearchParams(window.location.search);
    const error = params.get('error');
    if (error) {
      const reason = REASONS[error] || {
        title: 'Connecting did not work',
        text: `Meta sent us back with "${error}". Please try again; if it keeps happening, remove urlinsta in your Facebook or Instagram settings and connect anew.`,
      };
      showNotice('error', reason.title, reason.text, true);
      $('notice').dataset.reason = error;
    } else if (params.get('connected') === 'true') {
      state.justConnected = true;
    }
    if (error || params.has('connected')) {
      window.history.replaceState(null, '', window.location.pathname);
    }
  }

  // ---------------------------------------------------------------- status

  async function loadStatus() {
    state.statusLoads += 1;
    const load = state.statusLoads;
    setView('loading');
    const wanted = window.localStorage.getItem(ACCOUNT_KEY);
    const query = wanted ? `?instagram_user_id=${encodeURIComponent(wanted)}` : '';
    let status;
    try {
      status = await api(`/api/auth/status${query}`);
    } catch (e) {
      // A newer load (another account chosen meanwhile) has the last word.
      if (load !== state.statusLoads) return;
      if (e.status === 401) {
        status = { connected: false, logins: e.data && e.data.logins };
      } else {
        $('failed-text').textContent = `${e.message} Your data is safe; nothing was changed.`;
        setView('failed');
        return;
      }
    }
    if (load !== state.statusLoads) return;
    if (!status || !status.connected) {
      state.status = null;
      // "Continue with Instagram" only where this deployment has Instagram Login.
      $('login-instagram').hidden = !((status && status.logins) || []).includes('instagram');
      setView('connect');
      return;
    }
    state.status = status;
    state.account = (status.accounts || []).find((a) => a.instagram_user_id === status.instagram_user_id) || status;
    if (state.justConnected) {
      state.justConnected = false;
      const count = (status.accounts || []).length;
      showNotice('success', count > 1 ? `Your ${count} Instagram accounts are connected.` : 'Your Instagram account is connected.',
        'urlinsta collects your insights every hour. To see them right away, press Refresh now.');
    }
    renderDashboard();
  }

  // ---------------------------------------------------------------- dashboard

  function renderDashboard() {
    const status = state.status;
    const account = state.account;
    const username = status.username || account.username || status.instagram_user_id;
    state.generation += 1;
    state.lastCollected = null;

    $('account-avatar').textContent = (username || '?').charAt(0).toUpperCase();
    $('account-username').textContent = `@${username}`;
    $('account-name').textContent = account.name || '';
    $('account-name').hidden = !account.name;
    const page = status.facebook_page_name || account.facebook_page_name;
    $('account-page').textContent = page ? `Facebook Page: ${page}` : '';
    const followers = status.followers_count ?? account.followers_count;
    $('account-followers').textContent = followers === null || followers === undefined ? '–' : numberFormat.format(followers);
    $('dialog-username').textContent = `@${username}`;

    renderSwitcher();
    renderHealth();
    setLastCollected(null);
    $('refresh-result').textContent = '';
    updateCsvLink();
    setView('dashboard');
    loadCharts();
    loadAudience();
    loadTrends();
  }

  function loadTrends() {
    if (window.UrlinstaTrends) window.UrlinstaTrends.load(state.status.instagram_user_id);
  }

  function renderSwitcher() {
    const accounts = state.status.accounts || [];
    const select = $('account-switcher');
    select.replaceChildren(
      ...accounts.map((a) =>
        h('option', { value: a.instagram_user_id, selected: a.instagram_user_id === state.status.instagram_user_id },
          `@${a.username || a.instagram_user_id}`)),
    );
    $('switcher').hidden = accounts.length < 2;
  }

  /** The connection's health: healthy, reconnect soon (with the date), or broken. */
  function renderHealth() {
    const token = (state.account && state.account.token) || {};
    const status = state.status.token_status || token.status || 'active';
    const reconnectBy = reconnectDate(token);
    const card = $('health');
    const reconnect = $('reconnect');
    // Which login collects this account: its reconnect goes through the same one.
    const viaInstagram = collectingLogin() === 'instagram';
    const who = viaInstagram ? 'Instagram' : 'Facebook';
    reconnect.href = viaInstagram ? '/api/auth/login?provider=instagram' : '/api/auth/login';
    let health;
    let headline;
    let text;
    if (status !== 'active') {
      health = 'bad';
      headline = 'Reconnect needed';
      // Why Meta refused the token (190, 102) is worded by the server, for the login it came from.
      const refused = (token.code === 190 || token.code === 102) && token.reason;
      const why = refused ? `${token.reason}.` : (token.code >= 200 && token.code < 300 || token.code === 10
        ? 'a permission urlinsta needs was removed.'
        : `${who} no longer accepts this connection.`);
      // A connection that needs a new login may still collect for a while; an invalid one does not.
      text = status === 'invalid'
        ? `Collection has stopped because ${why} Reconnect to resume; your history is kept.`
        : `${who} asks you to log in again because ${why} Reconnect so that collection does not stop.`;
    } else if (reconnectBy && daysUntil(reconnectBy) <= WARN_DAYS) {
      health = 'warn';
      const days = Math.max(0, Math.ceil(daysUntil(reconnectBy)));
      headline = days === 0 ? 'Reconnect today' : `Reconnect within ${days} day${days === 1 ? '' : 's'}`;
      text = `Facebook's access ends on ${dateFormat.format(reconnectBy)}. Reconnect before then to keep collecting; it takes a minute.`;
    } else {
      health = 'ok';
      headline = 'Healthy';
      text = viaInstagram
        ? 'Collecting every hour. You signed in with Instagram: the connection renews itself, nothing to do.'
        : reconnectBy
        ? `Collecting every hour. Facebook asks you to reconnect by ${dateFormat.format(reconnectBy)}; we will remind you here.`
        : 'Collecting every hour.';
    }
    card.dataset.health = health;
    $('health-status').textContent = headline;
    $('health-text').textContent = text;
    reconnect.hidden = health === 'ok';
  }

  /** The login whose token collects the account shown: `facebook` or `instagram`. */
  function collectingLogin() {
    return (state.account && state.account.login) || state.status.login || 'facebook';
  }

  /** The date by which the user must log in again: the server's, or the earliest expiry. */
  function reconnectDate(token) {
    const explicit = state.status.reconnect_by || token.reconnect_by;
    const times = (explicit ? [explicit] : [token.user_token_expires_at, token.data_access_expires_at])
      .filter(Boolean)
      .map((t) => Date.parse(t))
      .filter((t) => !Number.isNaN(t));
    return times.length ? new Date(Math.min(...times)) : null;
  }

  function daysUntil(date) {
    return (date.getTime() - Date.now()) / 86400000;
  }

  function setLastCollected(iso) {
    const el = $('last-collected');
    if (iso && (!state.lastCollected || iso > state.lastCollected)) state.lastCollected = iso;
    if (!state.lastCollected) {
      el.textContent = 'not yet';
      el.removeAttribute('datetime');
      el.removeAttribute('title');
      return;
    }
    const when = new Date(state.lastCollected);
    el.dateTime = when.toISOString();
    el.title = timeFormat.format(when);
    el.textContent = relativeTime(when);
  }

  function relativeTime(when) {
    const minutes = Math.round((Date.now() - when.getTime()) / 60000);
    if (minutes < 1) return 'just now';
    if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
    if (minutes < 24 * 60) {
      const hours = Math.round(minutes / 60);
      return `${hours} hour${hours === 1 ? '' : 's'} ago`;
    }
    return timeFormat.format(when);
  }

  // ---------------------------------------------------------------- dates

  /** `YYYY-MM-DD` in UTC, `days` before today. */
  function isoDay(daysAgo) {
    const d = new Date();
    d.setUTCHours(0, 0, 0, 0);
    d.setUTCDate(d.getUTCDate() - daysAgo);
    return d.toISOString().slice(0, 10);
  }

  function rangeDates() {
    return { from: isoDay(state.range - 1), to: isoDay(0) };
  }

  const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);

  /**
   * The day a stored value describes. Meta ends a daily value's `end_time` at
   * the end of that (Pacific) day, early the next morning in UTC: the value
   * belongs to the day before. Hourly snapshots (`lifetime`) belong to the
   * Pacific day they were taken in, like the daily values of that day.
   */
  function dayOf(row) {
    const t = Date.parse(row.end_time);
    if (Number.isNaN(t)) return null;
    if (row.period === 'day') return new Date(t - 12 * 3600000).toISOString().slice(0, 10);
    return window.UrlinstaTrends ? window.UrlinstaTrends.pacificDay(t) : new Date(t).toISOString().slice(0, 10);
  }

  /** Today's Instagram (Pacific) day: still filling up. */
  function todayDay() {
    return window.UrlinstaTrends ? window.UrlinstaTrends.pacificDay(Date.now()) : isoDay(0);
  }

  // ---------------------------------------------------------------- charts

  function updateCsvLink() {
    const { from, to } = rangeDates();
    const id = encodeURIComponent(state.status.instagram_user_id);
    const link = $('csv-download');
    link.href = `/api/insights/${id}?from=${from}&to=${to}&format=csv`;
    link.setAttribute('download', `urlinsta-${state.status.username || id}-${from}-to-${to}.csv`);
    link.textContent = `Download CSV (${state.range} days)`;
  }

  function loadCharts() {
    const container = $('charts');
    if (!container.children.length) {
      for (const spec of CHARTS) container.append(createChartCard(spec));
    }
    for (const spec of CHARTS) loadChart(spec);
  }

  function createChartCard(spec) {
    const body = h('div', { class: 'chart-body', 'data-state': 'loading' });
    const card = h('article', { class: 'card chart-card', id: `chart-${spec.metric}`, 'data-metric': spec.metric, 'aria-labelledby': `chart-${spec.metric}-title` },
      h('h3', { class: 'chart-title', id: `chart-${spec.metric}-title` }, spec.title),
      h('p', { class: 'chart-help' }, spec.help),
      h('p', { class: 'chart-figure' },
        h('span', { class: 'figure', id: `chart-${spec.metric}-figure` }, '–'),
        h('span', { class: 'chart-summary', id: `chart-${spec.metric}-summary` })),
      body);
    const chart = { spec, body, points: [], drawnWidth: 0 };
    state.charts.set(spec.metric, chart);
    // Charts follow their card's width, so that their text stays readable on phones.
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        if (chart.body.dataset.state === 'ready' && Math.round(chart.body.clientWidth) !== chart.drawnWidth) drawChart(chart);
      }).observe(body);
    }
    return card;
  }

  async function loadChart(spec) {
    const chart = state.charts.get(spec.metric);
    const generation = state.generation;
    const range = state.range;
    const compare = state.compare;
    const { from, to } = rangeDates();
    // Comparing reads the period before the range as well.
    const readFrom = compare ? isoDay(2 * range - 1) : from;
    // Up to tomorrow (UTC): today's unfinished Instagram day ends there at the latest.
    const readTo = isoDay(-1);
    showState(chart.body, 'loading', `Loading ${spec.title.toLowerCase()}…`);
    const slow = setTimeout(() => {
      if (chart.body.dataset.state === 'loading') showState(chart.body, 'loading', 'Still loading: the server is slow today…');
    }, SLOW_MS);
    const id = encodeURIComponent(state.status.instagram_user_id);
    try {
      const data = await api(`/api/insights/${id}?from=${readFrom}&to=${readTo}&metric=${spec.metric}&format=json`);
      if (generation !== state.generation || range !== state.range || compare !== state.compare) return;
      const rows = (data && data.insights) || [];
      for (const row of rows) setLastCollected(row.collected_at);
      // A daily value is stored with the end of its day, so the first one
      // requested from `from` describes the day before it.
      chart.from = new Date(dayMs(from) - 86400000).toISOString().slice(0, 10);
      chart.to = todayDay() > to ? todayDay() : to;
      const all = toPoints(rows.filter((r) => r.metric_name === spec.metric));
      const points = all.filter((p) => p.day >= chart.from);
      // The period before, moved forward by the range to lie under this one.
      chart.previous = compare
        ? all.filter((p) => p.day < chart.from).map((p) => ({ ...p, was: p.day, day: new Date(dayMs(p.day) + range * 86400000).toISOString().slice(0, 10) }))
        : [];
      chart.points = points;
      if (!points.length) {
        setSummary(chart, null);
        showState(chart.body, 'empty', 'No data yet for these days. urlinsta collects every hour; press Refresh now to collect right away.');
        return;
      }
      setSummary(chart, points);
      drawChart(chart);
    } catch (e) {
      if (generation !== state.generation || range !== state.range || compare !== state.compare) return;
      chart.points = [];
      setSummary(chart, null);
      showState(chart.body, 'error', `Could not load ${spec.title.toLowerCase()}. ${chartErrorText(e)}`, () => loadChart(spec));
    } finally {
      clearTimeout(slow);
    }
  }

  function chartErrorText(e) {
    if (e.status === 401 || e.status === 403) return 'Your session ended: reload the page and connect again.';
    return e.message;
  }

  /**
   * One point per day: daily metrics as reported, totals as the day's last
   * snapshot. Today's point is unfinished; a reconstructed one says so.
   */
  function toPoints(rows) {
    const byDay = new Map();
    for (const row of rows) {
      const day = dayOf(row);
      // A missing value (null) is no data, not zero.
      const value = row.metric_value === null || row.metric_value === undefined ? NaN : Number(row.metric_value);
      if (!day || !Number.isFinite(value)) continue;
      const seen = byDay.get(day);
      if (!seen || row.end_time >= seen.end_time) byDay.set(day, { day, value, end_time: row.end_time, reconstructed: row.reconstructed === true });
    }
    const today = todayDay();
    return [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : 1))
      .map(({ day, value, reconstructed }) => ({ day, value, reconstructed, unfinished: day >= today }));
  }

  function setSummary(chart, points) {
    const figure = $(`chart-${chart.spec.metric}-figure`);
    const summary = $(`chart-${chart.spec.metric}-summary`);
    figure.parentElement.hidden = !points || !points.length;
    if (figure.parentElement.hidden) return;
    // The headline is the last whole day's value: today's is still filling up (the follower count is as of now).
    const whole = points.filter((p) => !p.unfinished);
    const last = chart.spec.kind === 'daily' && whole.length ? whole[whole.length - 1] : points[points.length - 1];
    figure.textContent = numberFormat.format(last.value);
    let context = '';
    if (points.length > 1 && chart.spec.kind === 'total') {
      const change = last.value - points[0].value;
      const sign = change > 0 ? '+' : change < 0 ? '−' : '±';
      context = `${sign}${numberFormat.format(Math.abs(change))} since ${dayFormat.format(dayMs(points[0].day))}`;
    } else {
      // Daily unique counts are not summed: an account seen on two days counts on both.
      // Today is still filling up: it would pull the average down.
      if (whole.length > 1) {
        const average = whole.reduce((sum, p) => sum + p.value, 0) / whole.length;
        context = `daily average ${numberFormat.format(Math.round(average))}${whole.length < points.length ? ', today left out' : ''}`;
      }
    }
    summary.textContent = `on ${dayFormat.format(dayMs(last.day))}${context ? ` · ${context}` : ''}`;
  }

  /** Puts a loading, empty or error message (with Try again) where data would be. */
  function showState(body, kind, message, retry) {
    body.dataset.state = kind;
    body.replaceChildren(h('div', {
      class: 'state-box', 'data-kind': kind, role: kind === 'error' ? 'alert' : undefined, 'aria-busy': kind === 'loading' ? 'true' : undefined,
    },
    h('p', {}, message),
    retry ? h('button', { type: 'button', class: 'button secondary', onclick: retry }, 'Try again') : null));
  }

  /** Round numbers for an axis: about `count` steps covering [min, max]. */
  function niceTicks(min, max, count) {
    if (min === max) {
      const pad = Math.max(1, Math.abs(max) * 0.05);
      min -= pad;
      max += pad;
    }
    const raw = (max - min) / count;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((st) => st >= raw) || 10 * magnitude;
    const lo = Math.floor(min / step) * step;
    const hi = Math.ceil(max / step) * step;
    const ticks = [];
    for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
    return ticks;
  }

  const CHART_HEIGHT = 210;
  const MARGIN = { top: 12, right: 12, bottom: 28, left: 48 };

  /** Draws `chart.points` over the whole range, as wide as the card is now. */
  function drawChart(chart) {
    const { spec, points } = chart;
    const previous = chart.previous || [];
    const width = Math.max(240, Math.round(chart.body.clientWidth || 520));
    chart.drawnWidth = Math.round(chart.body.clientWidth);
    const height = CHART_HEIGHT;
    const innerW = width - MARGIN.left - MARGIN.right;
    const innerH = height - MARGIN.top - MARGIN.bottom;

    // Scales: daily counts from zero; the follower total around its values.
    const values = points.concat(previous).map((p) => p.value);
    const ticks = niceTicks(spec.kind === 'daily' ? 0 : Math.min(...values), Math.max(...values), 4);
    const yMin = ticks[0];
    const yMax = ticks[ticks.length - 1];
    const start = dayMs(chart.from);
    const span = Math.max(1, dayMs(chart.to) - start);
    const x = (day) => MARGIN.left + ((dayMs(day) - start) / span) * innerW;
    const y = (v) => MARGIN.top + innerH - ((v - yMin) / (yMax - yMin || 1)) * innerH;
    const at = (p) => `${x(p.day).toFixed(1)},${y(p.value).toFixed(1)}`;

    const yAxis = ticks.map((t) => s('g', { class: 'axis y-axis' },
      s('line', { class: t === yMin ? 'baseline' : 'grid-line', x1: MARGIN.left, x2: width - MARGIN.right, y1: y(t), y2: y(t) }),
      s('text', { x: MARGIN.left - 8, y: y(t), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, compactFormat.format(t))));
    const labelCount = width < 420 ? 3 : 5;
    const xAxis = Array.from({ length: labelCount }, (_, i) => {
      const t = start + (span * i) / (labelCount - 1);
      const anchor = i === 0 ? 'start' : i === labelCount - 1 ? 'end' : 'middle';
      return s('text', { x: MARGIN.left + (innerW * i) / (labelCount - 1), y: height - 6, 'text-anchor': anchor }, dayFormat.format(t));
    });

    const segments = gapless(points);
    // Measured whole days solid; a stretch into a reconstructed or unfinished day dashed.
    const lines = { line: '', reconstructed: '', unfinished: '' };
    for (const seg of segments) {
      for (let i = 1; i < seg.length; i += 1) {
        const kind = seg[i].unfinished ? 'unfinished' : seg[i].reconstructed || seg[i - 1].reconstructed ? 'reconstructed' : 'line';
        lines[kind] += `M${at(seg[i - 1])}L${at(seg[i])}`;
      }
    }
    const before = gapless(previous).map((seg) => `M${seg.map(at).join('L')}`).join('');
    // A filled area reads as "amount" and so starts at zero: daily metrics only.
    const floor = (p) => `${x(p.day).toFixed(1)},${y(yMin).toFixed(1)}`;
    const area = spec.kind !== 'daily' ? '' : segments.filter((seg) => seg.length > 1)
      .map((seg) => `M${floor(seg[0])}L${seg.map(at).join('L')}L${floor(seg[seg.length - 1])}Z`).join('');

    // Dots for a month; for a quarter they would crowd the line, so only the one read shows.
    const dense = innerW / Math.max(1, state.range) < 8;
    const dots = points.map((p) => s('circle', {
      class: p.unfinished ? 'point unfinished' : 'point', cx: x(p.day).toFixed(1), cy: y(p.value).toFixed(1), r: dense ? 3.5 : 3.25, 'data-day': p.day, 'data-value': p.value,
    }));
    const guide = s('line', { class: 'guide', y1: MARGIN.top, y2: MARGIN.top + innerH, x1: -10, x2: -10, visibility: 'hidden' });
    const hit = s('rect', { class: 'hit', x: MARGIN.left, y: MARGIN.top, width: innerW, height: innerH });

    const first = points[0];
    const last = points[points.length - 1];
    const label = `${spec.title}, last ${state.range} days: ${points.length} day${points.length === 1 ? '' : 's'} of data, from ${numberFormat.format(first.value)} on ${longDayFormat.format(dayMs(first.day))} to ${numberFormat.format(last.value)} on ${longDayFormat.format(dayMs(last.day))}. Use the left and right arrow keys to read each day.`;
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, tabindex: 0, role: 'group', 'aria-label': label },
      s('title', {}, `${spec.title} over the last ${state.range} days`),
      yAxis,
      s('g', { class: 'axis x-axis' }, xAxis),
      s('path', { class: 'area', d: area }),
      before ? s('path', { class: 'line previous', d: before }) : null,
      s('path', { class: 'line', d: lines.line }),
      lines.reconstructed ? s('path', { class: 'line reconstructed', d: lines.reconstructed }) : null,
      lines.unfinished ? s('path', { class: 'line unfinished', d: lines.unfinished }) : null,
      guide,
      s('g', { class: dense ? 'points dense' : 'points' }, dots),
      hit);
    const tooltip = h('div', { class: 'tooltip', hidden: true });
    const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    // A young connection has little history: say so rather than look broken.
    const note = dayMs(first.day) - start > 2 * 86400000
      ? h('p', { class: 'chart-note' }, `Collected since ${longDayFormat.format(dayMs(first.day))}; each day adds a point.`)
      : '';
    const keys = [
      previous.length ? `Dashed grey: the ${state.range} days before, moved under these.` : '',
      points.some((p) => p.reconstructed) ? 'Dashed: follower counts worked out from Instagram’s daily changes, before urlinsta measured them.' : '',
      last.unfinished ? 'Today is still filling up (dotted).' : '',
    ].filter(Boolean);
    const legend = keys.length ? h('p', { class: 'chart-legend' }, keys.map((k) => h('span', {}, k))) : '';
    chart.body.dataset.state = 'ready';
    chart.body.replaceChildren(svg, tooltip, live, note, legend);

    // Reading a value: the pointer picks the nearest day, the keys step through days.
    let active = -1;
    const show = (index) => {
      if (active >= 0) dots[active].classList.remove('active');
      active = Math.min(points.length - 1, Math.max(0, index));
      const p = points[active];
      dots[active].classList.add('active');
      guide.setAttribute('x1', x(p.day));
      guide.setAttribute('x2', x(p.day));
      guide.setAttribute('visibility', 'visible');
      const was = previous.find((q) => q.day === p.day);
      tooltip.replaceChildren(longDayFormat.format(dayMs(p.day)), h('strong', {}, numberFormat.format(p.value)),
        p.unfinished ? ' (today, so far)' : p.reconstructed ? ' (worked out)' : '',
        was ? h('span', { class: 'tooltip-previous' }, ` · ${dayFormat.format(dayMs(was.was))}: ${numberFormat.format(was.value)}`) : '');
      tooltip.hidden = false;
      tooltip.style.left = `${Math.min(Math.max(x(p.day), 70), width - 70)}px`;
      tooltip.style.top = `${y(p.value)}px`;
      live.textContent = `${longDayFormat.format(dayMs(p.day))}: ${numberFormat.format(p.value)} ${spec.title.toLowerCase()}`;
    };
    const hide = () => {
      if (active >= 0) dots[active].classList.remove('active');
      active = -1;
      guide.setAttribute('visibility', 'hidden');
      tooltip.hidden = true;
    };
    const nearest = (clientX) => {
      const box = svg.getBoundingClientRect();
      const px = ((clientX - box.left) / box.width) * width;
      return points.reduce((best, p, i) => (Math.abs(x(p.day) - px) < Math.abs(x(points[best].day) - px) ? i : best), 0);
    };
    hit.addEventListener('pointermove', (e) => show(nearest(e.clientX)));
    hit.addEventListener('pointerleave', () => { if (document.activeElement !== svg) hide(); });
    svg.addEventListener('focus', () => show(active >= 0 ? active : points.length - 1));
    svg.addEventListener('blur', hide);
    svg.addEventListener('keydown', (e) => {
      const moves = { ArrowLeft: active - 1, ArrowRight: active + 1, Home: 0, End: points.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      show(moves[e.key]);
    });
  }

  /** Runs of consecutive days: a missing day breaks the line (Instagram sends nothing, not zero). */
  function gapless(points) {
    const segments = [];
    points.forEach((p, i) => {
      if (i === 0 || dayMs(p.day) - dayMs(points[i - 1].day) > 86400000) segments.push([]);
      segments[segments.length - 1].push(p);
    });
    return segments;
  }

  // ---------------------------------------------------------------- audience

  async function loadAudience() {
    const container = $('audience');
    const generation = state.generation;
    // Until there are bars to show, one message stands for the whole audience.
    const whole = (kind, message, retry) => {
      const body = h('div', { class: 'audience-body' });
      showState(body, kind, message, retry);
      container.replaceChildren(h('article', { class: 'card audience-card audience-whole', id: 'audience-all', 'aria-label': 'Audience' }, body));
    };
    whole('loading', 'Loading your audience…');
    const slow = setTimeout(() => {
      if ($('audience-all')) whole('loading', 'Still loading: the server is slow today…');
    }, SLOW_MS);
    const id = encodeURIComponent(state.status.instagram_user_id);
    try {
      const data = await api(`/api/insights/${id}/audience`);
      if (generation !== state.generation) return;
      setLastCollected(data && data.collected_at);
      $('audience-help').textContent = data && data.collected_at
        ? `Your followers, as Instagram described them on ${dateFormat.format(new Date(data.collected_at))}. Instagram lists the top 45 of each.`
        : 'Your followers, as Instagram last described them.';
      if (data && data.status && data.status !== 'ok') {
        whole('empty', data.status === 'not_available'
          ? 'Instagram does not share audience details for this account yet: it needs at least 100 followers.'
          : 'No audience data yet. urlinsta asks Instagram once a day; the first snapshot will appear here.');
        return;
      }
      container.replaceChildren(...AUDIENCE.map((dim) => {
        const body = h('div', { class: 'audience-body' });
        const entries = normalizeBreakdown(data && (dim.key === 'age' ? data.age || ageFromGenderAge(data.gender_age) : data[dim.key]));
        renderBars(body, dim, entries);
        return h('article', { class: 'card audience-card', id: `audience-${dim.key}`, 'aria-labelledby': `audience-${dim.key}-title` },
          h('h3', { class: 'chart-title', id: `audience-${dim.key}-title` }, dim.title), body);
      }));
    } catch (e) {
      if (generation !== state.generation) return;
      whole('error', `Could not load your audience. ${chartErrorText(e)}`, () => loadAudience());
    } finally {
      clearTimeout(slow);
    }
  }

  /** Accepts `[{key, value}]`, `[{dimension_value(s), value}]`, `[[key, value]]` or `{key: value}`. */
  function normalizeBreakdown(raw) {
    if (!raw) return [];
    let entries;
    if (Array.isArray(raw)) {
      entries = raw.map((e) => {
        if (Array.isArray(e)) return { key: e[0], value: e[1] };
        const key = e.key ?? e.dimension_value ?? (Array.isArray(e.dimension_values) ? e.dimension_values.join(', ') : undefined) ?? e.name ?? e.label;
        return { key, value: e.value ?? e.count };
      });
    } else if (typeof raw === 'object') {
      entries = Object.entries(raw).map(([key, value]) => ({ key, value }));
    } else {
      return [];
    }
    return entries
      .map((e) => ({ key: String(e.key ?? ''), value: Number(e.value) }))
      .filter((e) => e.key && Number.isFinite(e.value) && e.value > 0)
      .sort((a, b) => b.value - a.value);
  }

  /** `gender_age` keys look like `F.25-34`: sums them by age when no age breakdown came. */
  function ageFromGenderAge(raw) {
    const sums = {};
    for (const { key, value } of normalizeBreakdown(raw)) {
      const age = key.includes('.') ? key.split('.').slice(1).join('.') : key;
      sums[age] = (sums[age] || 0) + value;
    }
    return sums;
  }

  function audienceLabel(dim, key) {
    if (dim === 'country' && regionNames && /^[A-Z]{2}$/.test(key)) {
      try {
        return regionNames.of(key) || key;
      } catch (e) {
        return key;
      }
    }
    if (dim === 'gender') return { F: 'Women', M: 'Men', U: 'Not specified' }[key] || key;
    return key;
  }

  function renderBars(body, dim, entries) {
    if (!entries.length) {
      showState(body, 'empty', `Instagram sent no ${dim.title.toLowerCase()} this time.`);
      return;
    }
    // Shares of all followers: Instagram lists only the top 45 cities or
    // countries, so their sum can fall short of the follower count.
    const listed = entries.reduce((sum, e) => sum + e.value, 0);
    const followers = Number((state.status && state.status.followers_count) || 0);
    const total = Math.max(listed, followers);
    // Ages read best in their natural order; everything else by size.
    const shown = dim.key === 'age'
      ? [...entries].sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }))
      : entries.slice(0, AUDIENCE_TOP);
    const max = Math.max(...shown.map((e) => e.value));
    const list = h('ul', { class: 'bars', 'aria-label': `${dim.title} of your followers` }, shown.map((e) => {
      const share = total ? (e.value / total) * 100 : 0;
      const label = audienceLabel(dim.key, e.key);
      const fillEl = h('span', { class: 'bar-fill' });
      fillEl.style.width = `${Math.max(1.5, (e.value / max) * 100).toFixed(1)}%`;
      return h('li', { class: 'bar-row', 'data-key': e.key },
        h('span', { class: 'bar-label', title: label }, label),
        h('span', { class: 'bar-value' }, h('strong', {}, `${share < 1 ? share.toFixed(1) : Math.round(share)}%`), numberFormat.format(e.value)),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fillEl));
    }));
    body.dataset.state = 'ready';
    const note = entries.length > shown.length
      ? h('p', { class: 'audience-note' }, `Top ${shown.length} of ${entries.length}.`)
      : null;
    body.replaceChildren(list, note || '');
  }

  // ---------------------------------------------------------------- refresh

  async function refreshNow() {
    const button = $('refresh');
    const result = $('refresh-result');
    const progress = $('refresh-progress');
    if (button.getAttribute('aria-busy') === 'true') return;
    const generation = state.generation;
    button.setAttribute('aria-busy', 'true');
    button.setAttribute('aria-disabled', 'true');
    button.querySelector('.button-label').textContent = 'Collecting…';
    progress.hidden = false;
    result.dataset.kind = 'progress';
    result.textContent = 'Asking Instagram for your latest numbers. This can take a little while.';
    const id = encodeURIComponent(state.status.instagram_user_id);
    try {
      const data = await api(`/api/insights/${id}/refresh`, { method: 'POST', body: {}, timeoutMs: REFRESH_TIMEOUT_MS });
      if (generation !== state.generation) return;
      const collected = Number((data && data.collected) || 0);
      result.dataset.kind = 'success';
      result.textContent = collected > 0
        ? `Done: ${numberFormat.format(collected)} value${collected === 1 ? '' : 's'} collected from Instagram.`
        : 'Done: you are up to date; Instagram had nothing new.';
      setLastCollected(new Date().toISOString());
      loadCharts();
      loadAudience();
      loadTrends();
    } catch (e) {
      if (generation !== state.generation) return;
      result.dataset.kind = 'error';
      result.textContent = refreshErrorText(e);
    } finally {
      button.removeAttribute('aria-busy');
      button.removeAttribute('aria-disabled');
      button.querySelector('.button-label').textContent = 'Refresh now';
      progress.hidden = true;
    }
  }

  function refreshErrorText(e) {
    if (e.status === 429) {
      const minutes = e.retryAfter ? Math.max(1, Math.ceil(e.retryAfter / 60)) : null;
      return minutes
        ? `Instagram asks us to slow down. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}; hourly collection goes on by itself.`
        : 'Instagram asks us to slow down. Try again later; hourly collection goes on by itself.';
    }
    if (e.status === 409) {
      const who = collectingLogin() === 'instagram' ? 'Instagram' : 'Facebook';
      return `${who} no longer accepts this connection, so nothing could be collected. Reconnect to resume.`;
    }
    if (e.status === 502) return 'Instagram did not answer as expected. Try again in a few minutes.';
    if (e.status === 401 || e.status === 403) return 'Your session ended: reload the page and connect again.';
    return `Refresh did not finish. ${e.message}`;
  }

  // ---------------------------------------------------------------- disconnect

  function openDisconnect() {
    $('dialog-error').hidden = true;
    const dialog = $('disconnect-dialog');
    dialog.showModal();
    $('dialog-cancel').focus();
  }

  async function confirmDisconnect() {
    const confirm = $('dialog-confirm');
    const dialog = $('disconnect-dialog');
    const username = `@${state.status.username || state.status.instagram_user_id}`;
    confirm.disabled = true;
    confirm.textContent = 'Disconnecting…';
    try {
      const result = await api('/api/auth/disconnect', { method: 'POST', body: { instagram_user_id: state.status.instagram_user_id } });
      dialog.close();
      window.localStorage.removeItem(ACCOUNT_KEY);
      showNotice('info', `${username} is disconnected.`, result && result.revoked
        ? 'Its tokens and collected insights were deleted, and Facebook was asked to remove urlinsta\'s access.'
        : 'Its tokens and collected insights were deleted. Your other connected accounts keep working.');
      await loadStatus();
    } catch (e) {
      // A refusal (4xx) deleted nothing; without an answer, or after a server
      // error (a deletion that timed out may still land), the page cannot know.
      const outcome = e.status >= 400 && e.status < 500
        ? 'Nothing was deleted; please try again.'
        : 'Reload the page to see whether the account is still connected, and try again if it is.';
      $('dialog-error').textContent = `Could not disconnect: ${e.message} ${outcome}`;
      $('dialog-error').hidden = false;
    } finally {
      confirm.disabled = false;
      confirm.textContent = 'Disconnect';
    }
  }

  // ---------------------------------------------------------------- sign out

  /** Ends this browser's session; the accounts stay connected and collected. */
  async function signOut() {
    const button = $('sign-out');
    button.disabled = true;
    try {
      await api('/api/auth/logout', { method: 'POST' });
      window.localStorage.removeItem(ACCOUNT_KEY);
      showNotice('info', 'You are signed out.', 'Your accounts stay connected and collected. Connect again to see them here.');
      await loadStatus();
    } catch (e) {
      showNotice('error', 'Could not sign out.', `${e.message} Please try again.`);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  function onRangeChange(e) {
    state.range = Number(e.target.value);
    updateCsvLink();
    loadCharts();
  }

  function start() {
    $('notice-dismiss').addEventListener('click', () => { $('notice').hidden = true; });
    $('failed-retry').addEventListener('click', loadStatus);
    $('refresh').addEventListener('click', refreshNow);
    $('disconnect').addEventListener('click', openDisconnect);
    $('sign-out').addEventListener('click', signOut);
    $('dialog-cancel').addEventListener('click', () => $('disconnect-dialog').close());
    $('dialog-confirm').addEventListener('click', confirmDisconnect);
    $('account-switcher').addEventListener('change', (e) => {
      window.localStorage.setItem(ACCOUNT_KEY, e.target.value);
      loadStatus();
    });
    for (const radio of document.querySelectorAll('input[name="range"]')) radio.addEventListener('change', onRangeChange);
    $('compare-previous').addEventListener('change', (e) => {
      state.compare = e.target.checked;
      loadCharts();
    });
    setInterval(() => { if (state.lastCollected) setLastCollected(null); }, 60000);
    readCallbackResult();
    loadStatus();
  }

  start();
})();
