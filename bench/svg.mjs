// A hand-written SVG chart (no dependency): client-side latency percentiles (p50/p90/p99) of the send
// and send-sequential scenarios, Hearth against the bare Express and bare node:http baselines (and,
// with --against, the other Hearth build next to the current one; with the peer, matrix-server-node).
const COLORS = { Hearth: '#d9480f', Express: '#1971c2', 'node:http': '#2f9e44' };
const AGAINST_COLOR = '#f59f00';
const PEER_COLOR = '#7048e8';

/** Series name -> colour: the other build's bars right after the current build's, the peer's last. */
function colors(report) {
  const { Hearth, ...rest } = COLORS;
  return { Hearth, ...(report.against ? { [report.against.name]: AGAINST_COLOR } : {}), ...rest, ...(report.peer ? { [report.peer.name]: PEER_COLOR } : {}) };
}
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const label = (v) => (v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

export function latencySvg(report) {
  const palette = colors(report);
  const panels = [];
  for (const [name, title, target] of [['send', 'send: 64 connections, PUT /send', { p: 'p99', ms: 50 }], ['send-seq', 'send-sequential: 1 connection', { p: 'p50', ms: 1 }]]) {
    const s = report.scenarios.find((x) => x.name === name);
    if (!s) continue;
    const groups = [];
    for (const p of ['p50', 'p90', 'p99']) {
      const r = s.rows.find((x) => x.metric === `latency ${p}`);
      if (r) groups.push({ p, values: { Hearth: r.value, ...(report.against ? { [report.against.name]: r.against } : {}), Express: r.express, 'node:http': r.nodeHttp, ...(report.peer ? { [report.peer.name]: r.peer } : {}) } });
    }
    if (groups.length) panels.push({ title, groups, target });
  }
  if (!panels.length) return undefined;
  const pw = 420;
  const ph = 300;
  const top = 70;
  const left = 60;
  const gap = 50;
  const width = left + panels.length * (pw + gap);
  const height = top + ph + 70;
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  const m = report.machine;
  const versus = `${report.against ? `${report.against.name}, ` : ''}bare Express${report.peer ? `, bare node:http and ${report.peer.name}` : ' and bare node:http'}`;
  parts.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${esc(`Hearth send latency vs ${versus} (client side, ms)`)}</text>`);
  parts.push(`<text x="${left}" y="44" fill="#555">${esc(`${report.mode} run ${report.date.slice(0, 10)} · ${m.cpu} · ${m.cores} cores · ${m.ramGB} GB · node ${m.node}`)}</text>`);
  panels.forEach((panel, i) => {
    const x0 = left + i * (pw + gap);
    const max = niceMax(Math.max(panel.target.ms, ...panel.groups.flatMap((g) => Object.values(g.values).filter(Number.isFinite))));
    const y = (v) => top + ph - (v / max) * ph;
    parts.push(`<text x="${x0 + pw / 2}" y="${top - 10}" text-anchor="middle"><tspan font-weight="bold">${esc(panel.title)}</tspan><tspan fill="#c92a2a" dx="6">(target ${panel.target.p} &lt;= ${panel.target.ms} ms)</tspan></text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (max * t) / 4;
      parts.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${label(v)}</text>`);
    }
    parts.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${top + ph}" y2="${top + ph}" stroke="#333"/>`);
    // The issue's target for this scenario, as a dashed line.
    const ty = y(panel.target.ms).toFixed(1);
    parts.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${ty}" y2="${ty}" stroke="#c92a2a" stroke-dasharray="6 4"/>`);

    const gw = pw / panel.groups.length;
    const names = Object.keys(palette);
    const bw = (gw - 30) / names.length;
    panel.groups.forEach((g, gi) => {
      const gx = x0 + gi * gw + 15;
      names.forEach((n, ni) => {
        const v = g.values[n];
        if (!Number.isFinite(v)) return;
        const bx = gx + ni * bw;
        parts.push(`<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(top + ph - y(v)).toFixed(1)}" fill="${palette[n]}"><title>${esc(`${n} ${g.p}: ${v.toFixed(3)} ms`)}</title></rect>`);
        parts.push(`<text x="${(bx + (bw - 4) / 2).toFixed(1)}" y="${(y(v) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${label(v)}</text>`);
      });
      parts.push(`<text x="${gx + (gw - 30) / 2}" y="${top + ph + 18}" text-anchor="middle">${g.p}</text>`);
    });
  });
  // Legend entries 120 px apart, wider for a long name (Hearth@<sha>) so that labels do not overlap.
  let lx = left;
  for (const [n, c] of Object.entries(palette)) {
    parts.push(`<rect x="${lx}" y="${top + ph + 36}" width="12" height="12" fill="${c}"/><text x="${lx + 18}" y="${top + ph + 46}">${esc(n)}</text>`);
    lx += Math.max(120, 40 + Math.ceil(n.length * 7.5));
  }
  const tx = lx;
  parts.push(`<line x1="${tx}" x2="${tx + 24}" y1="${top + ph + 42}" y2="${top + ph + 42}" stroke="#c92a2a" stroke-dasharray="6 4"/><text x="${tx + 30}" y="${top + ph + 46}">target</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
