// urlinsta: the trend tiles ("at a glance") above the charts, and the page's
// Pacific calendar (Instagram's days run midnight to midnight in Los Angeles).
// Plain DOM, no inline styles or handlers (the page's CSP forbids them).
'use strict';

(() => {
  const pacific = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit' });
  const numberFormat = new Intl.NumberFormat('en');
  const dayFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

  /** `YYYY-MM-DD`: the Instagram (Pacific) day that time `t` (ms or Date) falls in. */
  function pacificDay(t) {
    return pacific.format(new Date(t));
  }

  const TILES = [
    { key: 'reach', title: 'Reach', help: 'Accounts reached, added up day by day.' },
    { key: 'views', title: 'Views' },
    { key: 'accounts_engaged', title: 'Accounts engaged', help: 'Added up day by day.' },
    { key: 'total_interactions', title: 'Interactions', help: 'Likes, comments, saves, shares, replies and reposts.' },
    { key: 'engagement_rate', title: 'Engagement rate', help: 'Interactions per 100 accounts reached.' },
    { key: 'follower_growth', title: 'Follower growth' },
  ];

  let loads = 0;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const dayLabel = (iso) => dayFormat.format(Date.parse(`${iso}T00:00:00Z`));

  /** A change as words and an arrow: the direction never rests on color alone. */
  function change(delta, pct, unit, days) {
    if (delta === null || delta === undefined) {
      return h('p', { class: 'tile-change', 'data-trend': 'none' }, `No comparison with the ${days} days before yet.`);
    }
    const trend = delta > 0 ? 'up' : delta < 0 ? 'down' : 'flat';
    const arrow = { up: '▲', down: '▼', flat: '▬' }[trend];
    const word = { up: 'Up', down: 'Down', flat: 'No change' }[trend];
    const amount = unit === 'points'
      ? `${Math.abs(delta).toFixed(1)} points`
      : pct === null || pct === undefined ? numberFormat.format(Math.abs(delta)) : `${Math.abs(pct).toFixed(1)}%`;
    const text = trend === 'flat' ? `${word} vs the ${days} days before` : `${word} ${amount} vs the ${days} days before`;
    return h('p', { class: 'tile-change', 'data-trend': trend }, h('span', { class: 'tile-arrow', 'aria-hidden': 'true' }, arrow), ' ', text);
  }

  function tile(spec, summary) {
    const days = summary.days;
    let value;
    let delta;
    let pct;
    let unit = 'count';
    if (spec.key === 'engagement_rate') {
      const r = summary.engagement_rate;
      value = r.current === null ? null : `${r.current.toFixed(1)}%`;
      delta = r.change;
      unit = 'points';
    } else if (spec.key === 'follower_growth') {
      const g = summary.follower_growth;
      value = g.current === null ? null
        : `${g.current > 0 ? '+' : g.current < 0 ? '−' : '±'}${numberFormat.format(Math.abs(g.current))}${g.current_pct === null ? '' : ` (${g.current_pct.toFixed(1)}%)`}`;
      delta = g.change;
      pct = null;
    } else {
      const t = summary.metrics[spec.key];
      value = t.current === null ? null : numberFormat.format(t.current);
      delta = t.change;
      pct = t.change_pct;
    }
    const notes = [];
    if (spec.key === 'follower_growth' && (summary.current.reconstructed || summary.previous.reconstructed)) {
      notes.push('Includes follower counts worked out from Instagram’s daily changes.');
    } else if (spec.key !== 'follower_growth' && summary.current.missing_days > 0) {
      const n = summary.current.missing_days;
      notes.push(`${n} day${n === 1 ? '' : 's'} without data.`);
    }
    return h('article', { class: 'card tile', 'data-tile': spec.key, 'aria-labelledby': `tile-${spec.key}-title` },
      h('h3', { class: 'tile-title', id: `tile-${spec.key}-title` }, spec.title),
      h('p', { class: 'tile-value' }, value === null ? '–' : value),
      change(delta, pct, unit, days),
      spec.help ? h('p', { class: 'tile-help' }, spec.help) : null,
      notes.length ? h('p', { class: 'tile-note' }, notes.join(' ')) : null);
  }

  /** Loads and shows the tiles of account `id` for the chosen window. */
  async function load(id) {
    const container = document.getElementById('summary-tiles');
    const help = document.getElementById('summary-help');
    if (!container) return;
    loads += 1;
    const mine = loads;
    const days = Number((document.querySelector('input[name="summary-window"]:checked') || {}).value || 28);
    container.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(`/api/insights/${encodeURIComponent(id)}/summary?days=${days}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      const summary = await response.json();
      if (mine !== loads) return;
      if (!response.ok) throw new Error((summary && summary.message) || `The server answered ${response.status}.`);
      help.textContent = `${dayLabel(summary.current.first_day)} to ${dayLabel(summary.current.last_day)}, against ${dayLabel(summary.previous.first_day)} to ${dayLabel(summary.previous.last_day)}. Today (${dayLabel(summary.today)}) is still filling up, so it is left out.`;
      container.replaceChildren(...TILES.map((spec) => tile(spec, summary)));
      container.dataset.state = 'ready';
    } catch (e) {
      if (mine !== loads) return;
      help.textContent = '';
      container.dataset.state = 'error';
      container.replaceChildren(h('p', { class: 'tile-error', role: 'alert' }, `Could not load the trends. ${e.message || ''}`));
    } finally {
      if (mine === loads) container.removeAttribute('aria-busy');
    }
  }

  let current = null;
  window.UrlinstaTrends = {
    pacificDay,
    load(id) {
      current = id;
      return load(id);
    },
  };
  document.addEventListener('DOMContentLoaded', () => {
    for (const radio of document.querySelectorAll('input[name="summary-window"]')) {
      radio.addEventListener('change', () => { if (current) load(current); });
    }
  });
})();
