/**
 * `renderHtmlReport`: the benchmark report as one self-contained HTML page: a throughput bar chart,
 * a latency-by-percentile plot in the style of HdrHistogram's plotter, a percentile table and the
 * notes. No external scripts, styles, fonts or images (the page is mailed around and opened from
 * disk), and the figures are embedded as JSON so tools can read them back without scraping.
 */

export interface HtmlThroughput { peer: string; median: number; min: number; max: number } // messages/s over runs
export interface HtmlLatencyCurve {
  label: string;                          // e.g. 'ringmaster-1t @ 20,000 msg/s'
  /** Latency by percentile, ascending percentile, e.g. from 0 up to 100 (max). */
  points: { percentile: number; us: number }[];
}
export interface HtmlReportData {
  title: string;
  machine: string;     // one line: CPU model, cores, Node version
  settings: string;    // one line: the run configuration
  generated: string;   // ISO date
  throughput: HtmlThroughput[];
  latency: HtmlLatencyCurve[];
  notes?: string[];    // free text lines (verification result etc.)
}

// ---- text ------------------------------------------------------------------------------------------

/** Escapes text for element content and quoted attributes alike (labels come from user input). */
function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Long labels would run over the bars; the full text stays in the SVG <title> tooltip. */
function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** 565800 → '565.8 K/s', 1234567 → '1.23 M/s'. */
function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '—';
  const abs = Math.abs(perSecond);
  if (abs >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G/s`;
  if (abs >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (abs >= 1e3) return `${(perSecond / 1e3).toFixed(1)} K/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** Axis ticks are round numbers: 250000 → '250 K', 1000000 → '1 M' (no trailing zeros). */
function axisRate(perSecond: number): string {
  const [scale, unit] = perSecond >= 1e9 ? [1e9, ' G'] : perSecond >= 1e6 ? [1e6, ' M'] : perSecond >= 1e3 ? [1e3, ' K'] : [1, ''];
  return `${Number((perSecond / scale).toPrecision(4))}${unit}`;
}

/** Microseconds as in the text report: whole µs from 100 up (with separators), else one or two decimals; huge values as 1.23e9. */
function formatUs(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  // Past ten seconds the digits would stretch the table; three significant figures say enough.
  if (abs >= 1e7) return value.toExponential(2).replace('e+', 'e');
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 1 || abs === 0) return value.toFixed(1);
  return value.toFixed(2);
}

/** SVG coordinates: two decimals are plenty and keep the page small. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

// ---- curve styles ----------------------------------------------------------------------------------

// Colour-blind-friendly palette (Okabe–Ito, without yellow which is unreadable on white).
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#56B4E9', '#E69F00', '#000000'];

function curveStyle(index: number): { color: string; dash: string | null } {
  // Past the palette, reuse colours with a dash pattern so curves stay distinguishable.
  const round = Math.floor(index / PALETTE.length);
  const dashes: (string | null)[] = [null, '8 4', '2 3', '10 3 2 3'];
  return { color: PALETTE[index % PALETTE.length]!, dash: dashes[round % dashes.length] ?? null };
}

function swatch(index: number): string {
  const { color, dash } = curveStyle(index);
  return `<svg class="swatch" width="28" height="10" viewBox="0 0 28 10" aria-hidden="true"><line x1="1" y1="5" x2="27" y2="5" stroke="${color}" stroke-width="3"${dash ? ` stroke-dasharray="${dash}"` : ''}/></svg>`;
}

// ---- throughput chart ------------------------------------------------------------------------------

/** A round tick step (1/2/2.5/5 × 10^k) giving about six intervals up to `top`, so the axis ends close to the data. */
function tickStep(top: number): number {
  if (!(top > 0) || !Number.isFinite(top)) return 0.2;
  const raw = top / 6;
  const decade = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5]) if (m * decade >= raw * (1 - 1e-12)) return m * decade;
  return 10 * decade;
}

/** Non-finite and negative rates are drawn at 0 (the printed value still shows what came in). */
function barValue(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function throughputSvg(rows: readonly HtmlThroughput[]): string {
  if (rows.length === 0) return '<p class="nodata">no data</p>';
  const width = 960;
  const longest = Math.max(...rows.map((r) => Math.min(Array.from(r.peer).length, 36)));
  const labelW = Math.min(300, Math.max(110, longest * 7.5 + 16));
  const valueW = 96;
  const plotL = labelW;
  const plotR = width - valueW;
  const rowH = 34;
  const top = 10;
  const axisH = 26;
  const height = top + rows.length * rowH + axisH;

  const top1 = Math.max(...rows.map((r) => Math.max(barValue(r.median), barValue(r.max), barValue(r.min))));
  const step = tickStep(top1);
  const intervals = Math.max(1, Math.ceil(top1 / step - 1e-9));
  const axisMax = step * intervals;
  const x = (v: number) => plotL + (Math.min(barValue(v), axisMax) / axisMax) * (plotR - plotL);

  const parts: string[] = [];
  parts.push(`<svg class="chart" id="throughput-chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="throughput by peer">`);
  // Grid and axis labels at every round step.
  const axisY = top + rows.length * rowH;
  for (let i = 0; i <= intervals; i++) {
    const v = step * i;
    const gx = x(v);
    parts.push(`<line class="grid" x1="${n(gx)}" y1="${top}" x2="${n(gx)}" y2="${axisY}"/>`);
    parts.push(`<text class="tick" x="${n(gx)}" y="${axisY + 17}" text-anchor="middle">${esc(axisRate(v))}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const barY = y + 6;
    const barH = rowH - 12;
    const mid = barY + barH / 2;
    const bx = x(r.median);
    const lo = x(Math.min(r.min, r.max));
    const hi = x(Math.max(r.min, r.max));
    const { color } = curveStyle(i);
    const tip = `${r.peer}: median ${formatRate(r.median)} (min ${formatRate(r.min)}, max ${formatRate(r.max)})`;
    parts.push(`<g class="peer" data-peer="${i}"><title>${esc(tip)}</title>`);
    parts.push(`<text class="label" x="${n(plotL - 8)}" y="${n(mid + 4)}" text-anchor="end">${esc(truncate(r.peer, 36))}</text>`);
    parts.push(`<rect class="bar" x="${n(plotL)}" y="${n(barY)}" width="${n(bx - plotL)}" height="${n(barH)}" fill="${color}" fill-opacity="0.8"/>`);
    // Whisker: min–max over the runs, with end caps.
    parts.push(`<path class="whisker" d="M${n(lo)} ${n(mid)}H${n(hi)}M${n(lo)} ${n(mid - 6)}V${n(mid + 6)}M${n(hi)} ${n(mid - 6)}V${n(mid + 6)}"/>`);
    parts.push(`<text class="value" x="${n(Math.max(bx, hi) + 8)}" y="${n(mid + 4)}">${esc(formatRate(r.median))}</text>`);
    parts.push('</g>');
  });
  parts.push(`<line class="axis" x1="${plotL}" y1="${top}" x2="${plotL}" y2="${axisY}"/>`);
  parts.push(`<line class="axis" x1="${plotL}" y1="${axisY}" x2="${plotR}" y2="${axisY}"/>`);
  parts.push('</svg>');
  return parts.join('\n');
}

// ---- latency plot ----------------------------------------------------------------------------------

/** Latencies at or below zero have no place on a log axis; they (and anything tinier) are drawn here. */
const MIN_US = 0.1;
/** The percentile axis ends at 99.999% (1/(1-p) = 10^5); higher percentiles and the max are drawn there. */
const X_DECADES = 5;
const X_TICKS = ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%'];

/** Percentile (0..100) → decades of 1/(1-p), clamped to the axis. */
function percentileX(percentile: number): number {
  const p = Math.min(Math.max(percentile, 0), 100);
  if (p >= 100) return X_DECADES;
  return Math.min(X_DECADES, Math.log10(100 / (100 - p)));
}

function drawable(curve: HtmlLatencyCurve): { percentile: number; us: number }[] {
  // Non-finite figures cannot be placed; order by percentile so the line never doubles back.
  return curve.points
    .filter((p) => Number.isFinite(p.percentile) && Number.isFinite(p.us))
    .map((p) => ({ percentile: p.percentile, us: Math.max(p.us, MIN_US) }))
    .sort((a, b) => a.percentile - b.percentile);
}

/** 1 → '1', 1000 → '1,000', 1e9 → '1e9': decade labels stay short even for huge ranges. */
function decadeLabel(exp: number): string {
  if (exp < 0) return (10 ** exp).toFixed(-exp);
  if (exp <= 6) return (10 ** exp).toLocaleString('en-US');
  return `1e${exp}`;
}

function latencySvg(curves: readonly HtmlLatencyCurve[]): string {
  const series = curves.map(drawable);
  const all = series.flat();
  if (all.length === 0) return '<p class="nodata">no data</p>';
  const width = 960;
  const height = 520;
  const L = 78, R = 44, T = 16, B = 58; // R leaves room for the centred '99.999%' label
  const plotW = width - L - R;
  const plotH = height - T - B;

  const lo = Math.floor(Math.log10(Math.min(...all.map((p) => p.us))));
  let hi = Math.ceil(Math.log10(Math.max(...all.map((p) => p.us))));
  if (hi <= lo) hi = lo + 1; // one flat value still gets a decade of axis
  const x = (percentile: number) => L + (percentileX(percentile) / X_DECADES) * plotW;
  const y = (us: number) => T + plotH - ((Math.log10(us) - lo) / (hi - lo)) * plotH;

  const parts: string[] = [];
  parts.push(`<svg class="chart" id="latency-chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="latency by percentile">`);
  X_TICKS.forEach((label, i) => {
    const gx = L + (i / X_DECADES) * plotW;
    parts.push(`<line class="grid" x1="${n(gx)}" y1="${T}" x2="${n(gx)}" y2="${T + plotH}"/>`);
    parts.push(`<text class="tick x-tick" x="${n(gx)}" y="${T + plotH + 18}" text-anchor="middle">${label}</text>`);
  });
  // Label at most ~10 decades so a huge range stays legible; grid lines for every decade.
  const step = Math.max(1, Math.ceil((hi - lo) / 10));
  for (let e = lo; e <= hi; e++) {
    const gy = y(10 ** e);
    parts.push(`<line class="grid" x1="${L}" y1="${n(gy)}" x2="${L + plotW}" y2="${n(gy)}"/>`);
    if ((e - lo) % step === 0 || e === hi) {
      parts.push(`<text class="tick y-tick" x="${L - 8}" y="${n(gy + 4)}" text-anchor="end">${decadeLabel(e)}</text>`);
    }
  }
  parts.push(`<rect class="frame" x="${L}" y="${T}" width="${plotW}" height="${plotH}"/>`);
  parts.push(`<text class="axis-title" x="${n(L + plotW / 2)}" y="${height - 12}" text-anchor="middle">percentile</text>`);
  parts.push(`<text class="axis-title" transform="translate(18 ${n(T + plotH / 2)}) rotate(-90)" text-anchor="middle">latency (µs)</text>`);
  curves.forEach((curve, i) => {
    const { color, dash } = curveStyle(i);
    const pts = series[i]!;
    // One polyline per curve, even an empty one, so curve i is always polyline i.
    const coords = pts.map((p) => `${n(x(p.percentile))},${n(y(p.us))}`).join(' ');
    parts.push(`<g class="curve" data-curve="${i}"><title>${esc(curve.label)}</title>`);
    parts.push(`<polyline points="${coords}" fill="none" stroke="${color}" stroke-width="2.2" stroke-linejoin="round"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    // A single point draws no line; mark it so it is visible.
    if (pts.length === 1) parts.push(`<circle cx="${n(x(pts[0]!.percentile))}" cy="${n(y(pts[0]!.us))}" r="4" fill="${color}"/>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function legend(curves: readonly HtmlLatencyCurve[]): string {
  if (curves.length === 0) return '';
  const items = curves.map((c, i) => `<li>${swatch(i)}<span>${esc(c.label)}</span>${drawable(c).length === 0 ? ' <em>(no data)</em>' : ''}</li>`);
  return `<ul class="legend">${items.join('')}</ul>`;
}

// ---- percentile table ------------------------------------------------------------------------------

const TABLE_PERCENTILES: { head: string; percentile: number }[] = [
  { head: 'p50', percentile: 50 },
  { head: 'p90', percentile: 90 },
  { head: 'p99', percentile: 99 },
  { head: 'p99.9', percentile: 99.9 },
  { head: 'p99.99', percentile: 99.99 },
  { head: 'max', percentile: 100 },
];

/**
 * The latency at `percentile`: the nearest point at or above it (HdrHistogram's convention, which
 * never understates). When the curve stops short, only a lower bound is known: '≥ the last value'.
 */
function latencyAt(points: readonly { percentile: number; us: number }[], percentile: number): string {
  const sorted = points.filter((p) => Number.isFinite(p.percentile) && !Number.isNaN(p.us)).sort((a, b) => a.percentile - b.percentile);
  if (sorted.length === 0) return '—';
  const at = sorted.find((p) => p.percentile >= percentile - 1e-9);
  if (at) return formatUs(at.us);
  return `≥ ${formatUs(Math.max(...sorted.map((p) => p.us)))}`;
}

function percentileTable(curves: readonly HtmlLatencyCurve[]): string {
  if (curves.length === 0) return '<p class="nodata">no data</p>';
  const head = `<tr><th>curve</th>${TABLE_PERCENTILES.map((c) => `<th>${c.head}</th>`).join('')}</tr>`;
  const rows = curves.map(
    (c, i) => `<tr data-curve="${i}"><td class="name">${swatch(i)}${esc(c.label)}</td>${TABLE_PERCENTILES.map((t) => `<td>${esc(latencyAt(c.points, t.percentile))}</td>`).join('')}</tr>`,
  );
  return `<div class="scroll"><table class="percentiles"><caption>latency in µs</caption><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

// ---- page ------------------------------------------------------------------------------------------

/** JSON for a <script> element: '<' escaped so no label can close the element or open a comment. */
function embeddedJson(data: HtmlReportData): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1b1f24; margin: 0; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
.meta { margin: 2px 0; color: #4a535d; }
.meta b { color: #1b1f24; font-weight: 600; }
.hint { color: #5d6670; font-size: 13px; margin: 0 0 6px; }
.chart { display: block; max-width: 100%; height: auto; }
.chart text { font-family: inherit; fill: #1b1f24; }
.chart .tick { font-size: 12px; fill: #4a535d; }
.chart .label { font-size: 13px; }
.chart .value { font-size: 13px; font-weight: 600; }
.chart .axis-title { font-size: 13px; fill: #4a535d; }
.chart .grid { stroke: #e6e9ed; stroke-width: 1; }
.chart .axis { stroke: #8a939c; stroke-width: 1; }
.chart .frame { fill: none; stroke: #8a939c; stroke-width: 1; }
.chart .whisker { stroke: #1b1f24; stroke-width: 1.4; fill: none; }
.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 6px 22px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { flex: none; vertical-align: middle; margin-right: 6px; }
.legend .swatch { margin-right: 0; }
table.percentiles { border-collapse: collapse; margin-top: 6px; font-variant-numeric: tabular-nums; }
table.percentiles caption { text-align: left; color: #5d6670; font-size: 13px; padding-bottom: 4px; }
table.percentiles th, table.percentiles td { padding: 5px 12px; border-bottom: 1px solid #e6e9ed; text-align: right; }
table.percentiles th:first-child, table.percentiles td.name { text-align: left; }
table.percentiles thead th { border-bottom: 2px solid #c5ccd3; font-weight: 600; }
.scroll { overflow-x: auto; }
.nodata { color: #8a939c; font-style: italic; margin: 12px 0; }
.notes { padding-left: 20px; }
.notes li { white-space: pre-wrap; }
`;

/** A self-contained HTML page (no external scripts, styles, fonts or images). */
export function renderHtmlReport(data: HtmlReportData): string {
  const throughput = data.throughput ?? [];
  const latency = data.latency ?? [];
  const notes = data.notes ?? [];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${esc(data.title)}</h1>
<p class="meta"><b>machine</b> ${esc(data.machine)}</p>
<p class="meta"><b>settings</b> ${esc(data.settings)}</p>
<p class="meta"><b>generated</b> ${esc(data.generated)}</p>

<h2>Throughput</h2>
<p class="hint">messages per second: bar at the median over runs, whisker from min to max</p>
${throughputSvg(throughput)}

<h2>Latency by percentile</h2>
<p class="hint">log–log: percentile as 1/(1−p), latency in µs; the max is drawn at 99.999%</p>
${latencySvg(latency)}
${legend(latency)}

<h2>Percentiles</h2>
${percentileTable(latency)}
${notes.length > 0 ? `\n<h2>Notes</h2>\n<ul class="notes">${notes.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>` : ''}
</main>
<script type="application/json" id="ringmaster-data">${embeddedJson(data)}</script>
</body>
</html>
`;
}
