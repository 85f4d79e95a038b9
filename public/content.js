// urlinsta: "Top content" on the influencer's page: posts and reels ranked by
// a metric over a window, a post's growth curve, and the stories of the last
// days; and older posts loaded on request. It follows the account app.js
// shows (the switcher's value) and asks only this site; no images from
// Instagram's hosts are shown.
'use strict';

(() => {
  const TIMEOUT_MS = 20000;
  const TOP = 12;
  const STORY_DAYS = 3;
  const CAPTION_CHARS = 90;
  /** Older posts are catalogued by the hourly collection: look again this often while it works. */
  const OLDER_POLL_MS = 5 * 60 * 1000;
  const SORTS = [
    { metric: 'reach', label: 'Reach' },
    { metric: 'views', label: 'Views' },
    { metric: 'total_interactions', label: 'Interactions' },
    { metric: 'likes', label: 'Likes' },
    { metric: 'saved', label: 'Saves' },
    { metric: 'shares', label: 'Shares' },
    { metric: 'comments', label: 'Comments' },
  ];
  const NUMBERS = [['reach', 'Reach'], ['views', 'Views'], ['likes', 'Likes'], ['saved', 'Saves'], ['shares', 'Shares']];
  const STORY_NUMBERS = [['reach', 'Reach'], ['views', 'Views'], ['replies', 'Replies'], ['navigation', 'Navigation']];
  const TYPES = { FEED: 'Post', REELS: 'Reel', STORY: 'Story' };

  const numberFormat = new Intl.NumberFormat('en');
  const dayFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
  const timeFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });

  const $ = (id) => document.getElementById(id);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  function h(tag, attrs, ...children) {
    return fill(document.createElement(tag), attrs, children);
  }

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

  const state = { account: null, loads: 0, selected: null, olderTimer: null };

  async function api(path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const send = body === undefined
      ? { headers: { accept: 'application/json' } }
      : { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) };
    try {
      const r = await fetch(path, { credentials: 'same-origin', signal: controller.signal, ...send });
      const body = await r.json().catch(() => null);
      if (!r.ok) throw new Error((body && body.message) || `The server answered ${r.status}.`);
      return body;
    } catch (e) {
      throw new Error(e.name === 'AbortError' ? 'The server took too long to answer.' : e.message);
    } finally {
      clearTimeout(timer);
    }
  }

  const excerpt = (caption) => {
    const text = (caption || '').replace(/\s+/g, ' ').trim();
    if (!text) return 'No caption';
    return text.length > CAPTION_CHARS ? `${text.slice(0, CAPTION_CHARS - 1).trimEnd()}…` : text;
  };
  const shown = (value) => (value === undefined || value === null ? '–' : numberFormat.format(value));
  /** A metric's latest value; likes and comments fall back to the media's own counts. */
  const metric = (m, key) => m.metrics[key] ?? { likes: m.like_count, comments: m.comments_count }[key];
  const daysAgo = (days) => new Date(Date.now() - days * 86400000).toISOString().slice(0, 10);

  function query() {
    const params = new URLSearchParams({ sort: $('content-sort').value, order: 'desc' });
    const span = $('content-window').value;
    if (span !== 'all') params.set('from', daysAgo(Number(span)));
    if ($('content-type').value) params.set('type', $('content-type').value);
    return params;
  }

  function setState(el, kind, text) {
    el.dataset.state = kind;
    if (text !== undefined) el.replaceChildren(h('li', { class: 'content-message' }, text));
  }

  // ---------------------------------------------------------------- top content

  async function loadTop() {
    const account = state.account;
    const load = ++state.loads;
    const list = $('content-list');
    const params = query();
    $('content-csv').href = `/api/insights/${encodeURIComponent(account)}/media?${params}&format=csv&limit=1000`;
    params.set('limit', String(TOP * 3));
    setState(list, 'loading', 'Loading your posts and reels…');
    try {
      const data = await api(`/api/insights/${encodeURIComponent(account)}/media?${params}`);
      if (load !== state.loads) return;
      const media = (data.media || []).filter((m) => m.product_type !== 'STORY').slice(0, TOP);
      if (!media.length) {
        setState(list, 'empty', 'No posts or reels from this window yet. urlinsta finds new ones every hour.');
        return;
      }
      list.replaceChildren(...media.map((m, i) => contentItem(m, i + 1)));
      list.dataset.state = 'ready';
    } catch (e) {
      if (load === state.loads) setState(list, 'error', `Your posts could not be loaded: ${e.message}`);
    }
  }

  function contentItem(m, rank) {
    const sort = $('content-sort').value;
    const label = (SORTS.find((x) => x.metric === sort) || SORTS[0]).label;
    const numbers = NUMBERS.filter(([key]) => key !== sort).slice(0, 3);
    return h('li', { class: 'content-item', 'data-media': m.media_id, 'data-deleted': m.deleted_at ? 'true' : null },
      h('button', { type: 'button', class: 'content-select', 'aria-pressed': String(state.selected === m.media_id), onclick: () => selectMedia(m) },
        h('span', { class: 'content-rank', 'aria-hidden': 'true' }, String(rank)),
        h('span', { class: 'content-main' },
          h('span', { class: 'content-meta' },
            h('span', { class: `content-type type-${m.product_type.toLowerCase()}` }, TYPES[m.product_type] || m.product_type),
            h('time', { datetime: m.posted_at }, dayFormat.format(new Date(m.posted_at))),
            m.deleted_at ? h('span', { class: 'content-deleted' }, 'deleted on Instagram') : null),
          h('span', { class: 'content-caption' }, excerpt(m.caption))),
        h('span', { class: 'content-score' },
          h('span', { class: 'content-score-value' }, shown(metric(m, sort))),
          h('span', { class: 'content-score-label' }, label))),
      h('p', { class: 'content-numbers' },
        ...numbers.map(([key, name]) => h('span', null, `${name} ${shown(metric(m, key))}`)),
        m.permalink ? h('a', { href: m.permalink, rel: 'noopener noreferrer', target: '_blank' }, 'View on Instagram') : null));
  }

  // ---------------------------------------------------------------- a post's curve

  async function selectMedia(m) {
    state.selected = m.media_id;
    for (const b of document.querySelectorAll('#content-list .content-select')) {
      b.setAttribute('aria-pressed', String(b.closest('.content-item').dataset.media === m.media_id));
    }
    const panel = $('content-curve');
    panel.hidden = false;
    const metric = $('content-sort').value;
    $('curve-title').textContent = `${TYPES[m.product_type] || 'Post'} of ${dayFormat.format(new Date(m.posted_at))}: ${metric.replace(/_/g, ' ')} as it grew`;
    const body = $('curve-body');
    body.dataset.state = 'loading';
    body.replaceChildren(h('p', null, 'Loading its snapshots…'));
    try {
      const data = await api(`/api/insights/${encodeURIComponent(state.account)}/media/${encodeURIComponent(m.media_id)}`);
      if (state.selected !== m.media_id) return;
      const points = (data.snapshots || []).filter((p) => p.metric_name === metric);
      body.replaceChildren(...(points.length ? curve(points, m.posted_at, metric) : [h('p', null, 'No snapshot of this number yet.')]));
      body.dataset.state = 'ready';
    } catch (e) {
      body.dataset.state = 'error';
      body.replaceChildren(h('p', null, `Its snapshots could not be loaded: ${e.message}`));
    }
  }

  /** An SVG line over hours since posting, and the same values as a table. */
  function curve(points, postedAt, metric) {
    const width = 560;
    const height = 180;
    const pad = 28;
    const start = new Date(postedAt).getTime();
    const hours = points.map((p) => Math.max(0, (new Date(p.snapshot_at).getTime() - start) / 3600000));
    const maxX = Math.max(1, ...hours);
    const maxY = Math.max(1, ...points.map((p) => p.metric_value));
    const x = (v) => pad + (v / maxX) * (width - 2 * pad);
    const y = (v) => height - pad - (v / maxY) * (height - 2 * pad);
    const line = points.map((p, i) => `${x(hours[i]).toFixed(1)},${y(p.metric_value).toFixed(1)}`).join(' ');
    const svg = s('svg', { class: 'curve', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${metric} over ${Math.round(maxX)} hours since posting, up to ${numberFormat.format(maxY)}` },
      s('line', { class: 'curve-axis', x1: pad, y1: height - pad, x2: width - pad, y2: height - pad }),
      s('polyline', { class: 'curve-line', points: line }),
      ...points.map((p, i) => s('circle', { class: 'curve-point', cx: x(hours[i]).toFixed(1), cy: y(p.metric_value).toFixed(1), r: 3 })),
      s('text', { class: 'curve-label', x: pad, y: height - 8 }, 'posted'),
      s('text', { class: 'curve-label', x: width - pad, y: height - 8, 'text-anchor': 'end' }, `${Math.round(maxX)} h`));
    const table = h('table', { class: 'curve-table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Snapshot (UTC)'), h('th', { scope: 'col' }, metric.replace(/_/g, ' ')))),
      h('tbody', null, ...points.map((p) => h('tr', null, h('td', null, timeFormat.format(new Date(p.snapshot_at))), h('td', null, shown(p.metric_value))))));
    return [svg, h('details', { class: 'curve-details' }, h('summary', null, `${points.length} snapshot${points.length === 1 ? '' : 's'}`), table)];
  }

  // ---------------------------------------------------------------- stories

  async function loadStories() {
    const load = state.loads;
    const list = $('story-list');
    setState(list, 'loading', 'Loading your stories…');
    try {
      const data = await api(`/api/insights/${encodeURIComponent(state.account)}/media?type=story&from=${daysAgo(STORY_DAYS)}&limit=100`);
      if (load !== state.loads) return;
      const stories = data.media || [];
      if (!stories.length) {
        setState(list, 'empty', `No stories in the last ${STORY_DAYS} days.`);
        return;
      }
      list.replaceChildren(...stories.map(storyItem));
      list.dataset.state = 'ready';
    } catch (e) {
      if (load === state.loads) setState(list, 'error', `Your stories could not be loaded: ${e.message}`);
    }
  }

  function storyItem(m) {
    const finals = m.final_metrics || null;
    const value = (key) => {
      if (finals && key in finals) return finals[key] === 'fewer_than_5' ? 'fewer than 5' : shown(finals[key]);
      if (finals && key === 'views' && 'impressions' in finals) return finals.impressions === 'fewer_than_5' ? 'fewer than 5' : shown(finals.impressions);
      return shown(m.metrics[key]);
    };
    const status = m.completed_by_webhook
      ? h('span', { class: 'story-status final' }, 'Final numbers from Instagram')
      : m.insights_status === 'not_enough_viewers'
        ? h('span', { class: 'story-status few' }, 'Not enough viewers for Instagram to report numbers')
        : h('span', { class: 'story-status live' }, 'Numbers while it was live');
    return h('li', { class: 'story-item', 'data-media': m.media_id, 'data-final': m.completed_by_webhook ? 'true' : 'false' },
      h('p', { class: 'story-head' }, h('time', { datetime: m.posted_at }, timeFormat.format(new Date(m.posted_at))), status),
      h('p', { class: 'content-numbers' }, ...STORY_NUMBERS.map(([key, name]) => h('span', null, `${name} ${value(key)}`))));
  }

  // ---------------------------------------------------------------- older posts

  const historyPath = () => `/api/insights/${encodeURIComponent(state.account)}/media/history`;
  const day = (t) => (t ? dayFormat.format(new Date(t)) : null);

  /** What the catalog holds, and how far a request for older posts got. */
  function olderText(p) {
    const count = `${numberFormat.format(p.media)} post${p.media === 1 ? '' : 's'} and reels`;
    const reach = day(p.catalogued_back_to);
    if (p.status === 'done') {
      return `Loaded back to ${day(p.since)}: ${count} in all. Choose “any time” above to rank them.`;
    }
    if (p.status === 'in_progress') {
      const sofar = reach ? `so far back to ${reach}, ${count}` : 'starting with the next hourly collection';
      return `Loading posts back to ${day(p.since)}: ${sofar}. About 100 more each hour, after your latest numbers.`;
    }
    return reach
      ? `Your posts and reels are loaded back to ${reach} (${count}). Load older ones:`
      : 'urlinsta loads your posts and reels of the last 90 days first, then older ones if you ask.';
  }

  function showOlder(p) {
    const status = $('older-status');
    status.textContent = olderText(p);
    status.dataset.state = p.status;
    $('older-load').disabled = false;
    clearTimeout(state.olderTimer);
    if (p.status === 'in_progress') state.olderTimer = setTimeout(loadOlder, OLDER_POLL_MS);
  }

  function olderFailed(what, e) {
    const status = $('older-status');
    status.dataset.state = 'error';
    status.textContent = `${what}: ${e.message}`;
    $('older-load').disabled = false;
  }

  async function loadOlder() {
    const account = state.account;
    try {
      const p = await api(historyPath());
      if (account === state.account) showOlder(p);
    } catch (e) {
      if (account === state.account) olderFailed('How far your posts are loaded could not be read', e);
    }
  }

  async function requestOlder() {
    const account = state.account;
    const button = $('older-load');
    button.disabled = true;
    $('older-status').dataset.state = 'loading';
    try {
      const p = await api(historyPath(), { days: Number($('older-reach').value) });
      if (account === state.account) showOlder(p);
    } catch (e) {
      if (account === state.account) olderFailed('Older posts could not be asked for', e);
    }
  }

  // ---------------------------------------------------------------- wiring

  function follow() {
    const shownAccount = document.body.dataset.view === 'dashboard' ? $('account-switcher').value : null;
    if (!shownAccount || shownAccount === state.account) return;
    state.account = shownAccount;
    state.selected = null;
    $('content-curve').hidden = true;
    loadTop();
    loadStories();
    loadOlder();
  }

  function init() {
    const sort = $('content-sort');
    sort.replaceChildren(...SORTS.map((x) => h('option', { value: x.metric }, x.label)));
    for (const id of ['content-sort', 'content-window', 'content-type']) {
      $(id).addEventListener('change', () => {
        if (!state.account) return;
        state.selected = null;
        $('content-curve').hidden = true;
        loadTop();
      });
    }
    $('older-load').addEventListener('click', () => {
      if (state.account) requestOlder();
    });
    const watch = new MutationObserver(follow);
    watch.observe(document.body, { attributes: true, attributeFilter: ['data-view'] });
    watch.observe($('account-username'), { childList: true, characterData: true, subtree: true });
    follow();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
