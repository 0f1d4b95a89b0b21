/**
 * A hand-written SVG grouped bar chart: a few panels side by side, each a
 * set of groups of bars, linear or log scale, with reference lines. Just
 * enough for docs/benchmarks.svg, no charting dependency.
 */

export interface Bar {
  series: string;
  value: number | undefined;
  /** Text above the bar; default the value. */
  label?: string;
}

export interface Panel {
  title: string;
  groups: { label: string; bars: Bar[] }[];
  scale: 'linear' | 'log';
  refLines?: { value: number; label: string }[];
}

const COLORS: Record<string, string> = {
  direct: '#8a8f98',
  pgbouncer: '#e39b2d',
  outpost: '#2c6cb0',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

export function barChart(panels: Panel[], caption: string): string {
  const panelH = 300;
  const top = 60;
  const bottom = 70;
  const left = 56;
  const barW = 22;
  const groupGap = 26;
  const rightRoom = 110;
  const widths = panels.map((p) => {
    const bars = p.groups.reduce((a, g) => a + g.bars.length, 0);
    // Room on the right for the reference lines' labels, and for the title.
    return Math.max(left + bars * barW + p.groups.length * groupGap + rightRoom, 7 * p.title.length + 20);
  });
  const width = Math.max(520, widths.reduce((a, b) => a + b, 0) + 20);
  const height = top + panelH + bottom + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  // Legend: every series that appears.
  const present = new Set(panels.flatMap((p) => p.groups.flatMap((g) => g.bars.map((b) => b.series))));
  const series = [
    ...Object.keys(COLORS).filter((s) => present.has(s)),
    ...[...present].filter((s) => !(s in COLORS)),
  ];
  series.forEach((s, i) => {
    const x = 20 + i * 110;
    out.push(`<rect x="${x}" y="14" width="12" height="12" fill="${COLORS[s] ?? '#555'}"/>`);
    out.push(`<text x="${x + 18}" y="24">${esc(s)}</text>`);
  });

  let x0 = 10;
  panels.forEach((p, pi) => {
    const w = widths[pi]!;
    const values = p.groups
      .flatMap((g) => g.bars.map((b) => b.value))
      .filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
    const refs = (p.refLines ?? []).map((r) => r.value);
    const plotTop = top;
    const plotBottom = top + panelH;
    let y: (v: number) => number;
    let ticks: number[];
    if (p.scale === 'log') {
      // Half a decade of headroom below the smallest value, so its bar stays visible.
      const lo = 10 ** Math.floor(Math.log10(Math.min(...values, ...refs)) - 0.5);
      const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, ...refs)));
      y = (v) =>
        plotBottom -
        ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH;
      ticks = [];
      for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
    } else {
      const hi = Math.max(...values, ...refs) * 1.15;
      const step = hi > 4 ? 1 : hi > 2 ? 0.5 : 0.25;
      y = (v) => plotBottom - (v / hi) * panelH;
      ticks = [];
      for (let t = 0; t <= hi; t += step) ticks.push(t);
    }
    out.push(
      `<text x="${x0 + w / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold" font-size="12">${esc(p.title)}</text>`,
    );
    const axisX = x0 + left;
    const plotRight = x0 + w - rightRoom + 10;
    for (const t of ticks) {
      out.push(`<line x1="${axisX}" x2="${n(plotRight)}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="#e5e5e5"/>`);
      out.push(`<text x="${axisX - 6}" y="${n(y(t) + 4)}" text-anchor="end" fill="#555">${t}</text>`);
    }
    out.push(`<line x1="${axisX}" x2="${axisX}" y1="${plotTop}" y2="${plotBottom}" stroke="#333"/>`);
    out.push(
      `<line x1="${axisX}" x2="${n(plotRight)}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/>`,
    );
    let bx = axisX + groupGap / 2;
    for (const g of p.groups) {
      const gx = bx;
      for (const b of g.bars) {
        if (b.value !== undefined && Number.isFinite(b.value) && b.value > 0) {
          const yt = y(b.value);
          out.push(
            `<rect x="${n(bx)}" y="${n(yt)}" width="${barW - 3}" height="${n(plotBottom - yt)}" fill="${COLORS[b.series] ?? '#555'}"><title>${esc(`${g.label} ${b.series}: ${b.label ?? b.value}`)}</title></rect>`,
          );
          out.push(
            `<text x="${n(bx + (barW - 3) / 2)}" y="${n(yt - 4)}" text-anchor="middle" font-size="9">${esc(b.label ?? String(b.value))}</text>`,
          );
        } else {
          out.push(
            `<text x="${n(bx + (barW - 3) / 2)}" y="${plotBottom - 4}" text-anchor="middle" font-size="9" fill="#999">n/a</text>`,
          );
        }
        bx += barW;
      }
      const cx = (gx + bx - 3) / 2;
      const words = g.label.split(' ');
      words.forEach((word, i) => {
        out.push(
          `<text x="${n(cx)}" y="${plotBottom + 14 + i * 12}" text-anchor="middle">${esc(word)}</text>`,
        );
      });
      bx += groupGap;
    }
    for (const r of p.refLines ?? []) {
      out.push(
        `<line x1="${axisX}" x2="${n(plotRight)}" y1="${n(y(r.value))}" y2="${n(y(r.value))}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
      );
      out.push(
        `<text x="${n(plotRight + 4)}" y="${n(y(r.value) + 3)}" fill="#c0392b" font-size="9">${esc(r.label)}</text>`,
      );
    }
    x0 += w;
  });
  out.push(`<text x="10" y="${height - 10}" fill="#555">${esc(caption)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
