// A plain horizontal bar chart of ratios on a log scale, as a standalone SVG (no library).
// Bars grow right of 1x when basefs is better, left when Hyperdrive is; a dashed line marks
// the 1.5x goal.

export interface Bar { label: string; ratio: number }

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x >= 100) return `${Math.round(x)}x`;
  if (x >= 10) return `${x.toFixed(0)}x`;
  if (x >= 0.1) return `${x.toFixed(2)}x`;
  return `${x.toPrecision(2)}x`;
}

export function renderSvg(bars: Bar[], title: string): string {
  const labelW = 390;
  const plotW = 520;
  const valueW = 70;
  const rowH = 24;
  const top = 58;
  const width = labelW + plotW + valueW + 20;
  const height = top + bars.length * rowH + 46;
  const finite = bars.map((b) => b.ratio).filter((r) => Number.isFinite(r) && r > 0);
  // symmetric log range in whole decades, at least 0.1x..10x
  let dec = 1;
  for (const r of finite) dec = Math.max(dec, Math.ceil(Math.abs(Math.log10(r)) - 1e-9));
  dec = Math.min(dec, 5);
  const x0 = labelW;
  const xOf = (r: number) => x0 + ((Math.log10(Math.min(Math.max(r, 10 ** -dec), 10 ** dec)) + dec) / (2 * dec)) * plotW;
  const one = xOf(1);
  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
  p.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  p.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  p.push(`<text x="${one - 6}" y="42" text-anchor="end" fill="#b03a2e">&#8592; Hyperdrive better</text>`);
  p.push(`<text x="${one + 6}" y="42" fill="#1e8449">basefs better &#8594;</text>`);
  // decade grid
  for (let k = -dec; k <= dec; k++) {
    const x = xOf(10 ** k);
    p.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${top + bars.length * rowH}" stroke="${k === 0 ? '#333' : '#ddd'}" stroke-width="${k === 0 ? 1.5 : 1}"/>`);
    p.push(`<text x="${x.toFixed(1)}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${k < 0 ? (10 ** k).toFixed(-k) : String(10 ** k)}x</text>`);
  }
  const goal = xOf(1.5);
  p.push(`<line x1="${goal.toFixed(1)}" y1="${top - 6}" x2="${goal.toFixed(1)}" y2="${top + bars.length * rowH}" stroke="#1e8449" stroke-dasharray="4,3"/>`);
  p.push(`<text x="${goal.toFixed(1)}" y="${top + bars.length * rowH + 32}" text-anchor="middle" fill="#1e8449">goal 1.5x</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) p.push(`<rect x="0" y="${y}" width="${width}" height="${rowH}" fill="#f6f6f6"/>`);
    p.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    if (!Number.isFinite(b.ratio) || b.ratio <= 0) {
      p.push(`<text x="${one + 6}" y="${y + rowH / 2 + 4}" fill="#888">n/a</text>`);
      return;
    }
    const x = xOf(b.ratio);
    const color = b.ratio >= 1.5 ? '#27ae60' : b.ratio >= 1 ? '#f1c40f' : '#e74c3c';
    const left = Math.min(x, one);
    p.push(`<rect x="${left.toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x - one)).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`);
    const tx = b.ratio >= 1 ? Math.max(x, one) + 4 : Math.min(x, one) - 4;
    p.push(`<text x="${tx.toFixed(1)}" y="${y + rowH / 2 + 4}" text-anchor="${b.ratio >= 1 ? 'start' : 'end'}" font-weight="bold">${fmt(b.ratio)}</text>`);
  });
  p.push('</svg>');
  return p.join('\n') + '\n';
}
