/**
 * Bench — the HTML report: self-contained, escapes every user-supplied text, embeds the figures
 * as JSON that reads back unchanged, one polyline per latency curve, and survives odd data.
 */
import { describe, expect, test } from 'vitest';
import { renderHtmlReport, type HtmlLatencyCurve, type HtmlReportData } from '../dist/bench/html.js';

function curve(label: string, values: [number, number][]): HtmlLatencyCurve {
  return { label, points: values.map(([percentile, us]) => ({ percentile, us })) };
}

function sample(): HtmlReportData {
  return {
    title: 'ringmaster bench — W1',
    machine: 'AMD EPYC 7B13 (2 cores), Node v20.20.2',
    settings: 'messages 500,000 × 3 runs, rates 20,000 and 100,000 msg/s',
    generated: '2025-05-01T12:00:00.000Z',
    throughput: [
      { peer: 'ringmaster-1t', median: 1_230_000, min: 1_180_000, max: 1_290_000 },
      { peer: 'postMessage-batched', median: 565_800, min: 540_000, max: 601_000 },
      { peer: 'piscina', median: 41_200, min: 39_800, max: 43_900 },
    ],
    latency: [
      curve('ringmaster-1t @ 20,000 msg/s', [[0, 10], [50, 20], [90, 40], [99, 80], [99.9, 160], [99.99, 320], [100, 640]]),
      curve('ringmaster-1t @ 100,000 msg/s', [[0, 12], [50, 25], [75, 33], [90, 50], [99, 120], [99.9, 400], [99.99, 900], [99.999, 1500], [100, 2100]]),
      // Sparse: the table must take the nearest point at or above each percentile.
      curve('postMessage-batched @ 20,000 msg/s', [[0, 5], [95, 50], [100, 500]]),
    ],
    notes: ['verification: all peers produced the expected W1 totals'],
  };
}

/** The same escaping the page promises, for building expectations. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function embedded(html: string): unknown {
  const m = /<script type="application\/json" id="ringmaster-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!);
}

function svg(html: string, id: string): string {
  const m = new RegExp(`<svg[^>]*id="${id}"[\\s\\S]*?</svg>`).exec(html);
  expect(m, `svg #${id}`).not.toBeNull();
  return m![0];
}

function polylines(html: string): string[] {
  return [...svg(html, 'latency-chart').matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]!);
}

/** The <td> texts of the percentile-table row for curve `index`. */
function tableRow(html: string, index: number): string[] {
  const row = new RegExp(`<tr data-curve="${index}">([\\s\\S]*?)</tr>`).exec(html);
  expect(row, `table row ${index}`).not.toBeNull();
  return [...row![1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/<svg[\s\S]*?<\/svg>/g, ''));
}

/** The page between `<h2>name</h2>` and the next heading (or the end of <main>). */
function section(html: string, name: string): string {
  const start = html.indexOf(`<h2>${name}</h2>`);
  expect(start, `section ${name}`).toBeGreaterThanOrEqual(0);
  const rest = html.slice(start + name.length + 9);
  return rest.slice(0, rest.search(/<h2>|<\/main>/));
}

/** Every number in an SVG's geometry attributes, to check none is NaN/Infinity or off the canvas. */
function coordinates(svgText: string): number[] {
  const out: number[] = [];
  const body = svgText.replace(/^<svg[^>]*>/, ''); // the root's width="100%" is not geometry
  for (const m of body.matchAll(/\s(?:x|y|x1|x2|y1|y2|cx|cy|width|height|points|d)="([^"]*)"/g)) {
    for (const token of m[1]!.split(/[\s,MHVL]+/).filter(Boolean)) out.push(Number(token));
  }
  return out;
}

describe('renderHtmlReport', () => {
  test('is a complete, self-contained HTML page', () => {
    const html = renderHtmlReport(sample());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).not.toMatch(/\b(?:src|href|xlink:href)\s*=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\/|file:/i);
    expect(html).not.toMatch(/<(?:img|iframe|object|embed)\b/i);
    // The only script is the inert JSON data block.
    expect(html.match(/<script\b/gi)).toEqual(['<script']);
    expect(html).toContain('<script type="application/json" id="ringmaster-data">');
  });

  test('shows title, machine, settings, generated date and notes', () => {
    const data = sample();
    const html = renderHtmlReport(data);
    expect(html).toContain(`<title>${esc(data.title)}</title>`);
    expect(html).toContain(`<h1>${esc(data.title)}</h1>`);
    for (const line of [data.machine, data.settings, data.generated, ...data.notes!]) expect(html).toContain(esc(line));
  });

  test('embeds the whole data object as JSON that reads back unchanged', () => {
    const data = sample();
    expect(embedded(renderHtmlReport(data))).toEqual(data);
  });

  test('throughput: one bar per peer, at its median, with the value printed', () => {
    const data = sample();
    const html = renderHtmlReport(data);
    const chart = svg(html, 'throughput-chart');
    for (const r of data.throughput) expect(chart).toContain(`>${esc(r.peer)}</text>`);
    expect(chart).toContain('>1.23 M/s</text>');
    expect(chart).toContain('>565.8 K/s</text>');
    expect(chart).toContain('>41.2 K/s</text>');
    const widths = [...chart.matchAll(/<rect class="bar"[^>]*width="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(3);
    // Bars are linear in the median.
    expect(widths[1]! / widths[0]!).toBeCloseTo(565_800 / 1_230_000, 2);
    expect(widths[2]! / widths[0]!).toBeCloseTo(41_200 / 1_230_000, 2);
    expect(chart.match(/class="whisker"/g)).toHaveLength(3);
  });

  test('latency: one polyline per curve with one vertex per point, log axes with the HdrHistogram ticks', () => {
    const data = sample();
    const html = renderHtmlReport(data);
    const lines = polylines(html);
    expect(lines).toHaveLength(data.latency.length);
    lines.forEach((pts, i) => expect(pts.split(' ')).toHaveLength(data.latency[i]!.points.length));
    const chart = svg(html, 'latency-chart');
    const xTicks = [...chart.matchAll(/class="tick x-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(xTicks).toEqual(['0%', '90%', '99%', '99.9%', '99.99%', '99.999%']);
    const yTicks = [...chart.matchAll(/class="tick y-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(yTicks).toEqual(['1', '10', '100', '1,000', '10,000']); // data spans 5 µs .. 2100 µs

    // x is log10(1/(1-p)): 90%, 99%, 99.9% are equally spaced; 100% sits on the 99.999% tick.
    const xs = lines[0]!.split(' ').map((p) => Number(p.split(',')[0]));
    const [x0, , x90, x99, x999, , x100] = xs as [number, number, number, number, number, number, number];
    expect(x99 - x90).toBeCloseTo(x90 - x0, 1);
    expect(x999 - x99).toBeCloseTo(x90 - x0, 1);
    const x99999 = lines[1]!.split(' ').map((p) => Number(p.split(',')[0]))[7]!;
    expect(x100).toBeCloseTo(x99999, 5);
    // y is log10(µs): doubling latency is a constant step up.
    const ys = lines[0]!.split(' ').map((p) => Number(p.split(',')[1]));
    for (let i = 2; i < ys.length; i++) expect(ys[i - 1]! - ys[i]!).toBeCloseTo(ys[0]! - ys[1]!, 1);
    for (const c of data.latency) expect(html).toContain(esc(c.label));
  });

  test('percentile table: exact points, nearest point at or above, and max', () => {
    const html = renderHtmlReport(sample());
    expect(tableRow(html, 0).slice(1)).toEqual(['20.0', '40.0', '80.0', '160', '320', '640']);
    expect(tableRow(html, 1).slice(1)).toEqual(['25.0', '50.0', '120', '400', '900', '2,100']);
    expect(tableRow(html, 2).slice(1)).toEqual(['50.0', '50.0', '500', '500', '500', '500']);
    expect(tableRow(html, 0)[0]).toContain('ringmaster-1t @ 20,000 msg/s');
  });

  test('a curve that stops short shows only a lower bound', () => {
    const data = { ...sample(), latency: [curve('short', [[0, 3], [50, 7], [99, 30]])] };
    expect(tableRow(renderHtmlReport(data), 0).slice(1)).toEqual(['7.0', '30.0', '30.0', '≥ 30.0', '≥ 30.0', '≥ 30.0']);
  });

  test('escapes hostile labels everywhere, and the JSON still reads back', () => {
    const evil = '</script><script>alert("x")</script> & <b>bold</b>\'';
    const data: HtmlReportData = {
      ...sample(),
      title: evil,
      machine: evil,
      settings: evil,
      throughput: [{ peer: evil, median: 1000, min: 900, max: 1100 }],
      latency: [curve(evil, [[0, 1], [100, 10]])],
      notes: [evil, '<!-- comment'],
    };
    const html = renderHtmlReport(data);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>bold');
    expect(html).not.toContain('<!-- comment');
    expect(html.match(/<script\b/gi)).toHaveLength(1);
    expect(html.match(/<\/script>/gi)).toHaveLength(1);
    expect(html).toContain(esc(evil));
    expect(html.split(esc(evil)).length - 1).toBeGreaterThanOrEqual(6); // title×2, machine, settings, peer, curve, note
    expect(embedded(html)).toEqual(data);
  });

  test('empty throughput and latency lists say "no data"', () => {
    const data: HtmlReportData = { ...sample(), throughput: [], latency: [], notes: undefined };
    const html = renderHtmlReport(data);
    for (const name of ['Throughput', 'Latency by percentile', 'Percentiles']) expect(section(html, name)).toContain('no data');
    expect(html).not.toContain('id="throughput-chart"');
    expect(html).not.toContain('id="latency-chart"');
    expect(html).not.toContain('<polyline');
    expect(html).not.toContain('<h2>Notes</h2>');
    expect(embedded(html)).toEqual(JSON.parse(JSON.stringify(data)));
  });

  test('a single point, zero and negative latencies, and huge values render finite geometry', () => {
    const data: HtmlReportData = {
      ...sample(),
      throughput: [
        { peer: 'zero', median: 0, min: 0, max: 0 },
        { peer: 'huge', median: 4.2e12, min: 4.1e12, max: 4.3e12 },
        { peer: 'negative', median: -5, min: -10, max: 3 },
      ],
      latency: [
        curve('single', [[50, 42]]),
        curve('zeros', [[0, 0], [50, -3], [99, 0], [100, 5]]),
        curve('huge', [[0, 1e9], [99.9999, 5e14], [100, 1e15]]),
        curve('empty', []),
      ],
    };
    const html = renderHtmlReport(data);
    expect(html).not.toMatch(/NaN|Infinity/);
    const lat = svg(html, 'latency-chart');
    const thr = svg(html, 'throughput-chart');
    for (const v of [...coordinates(lat), ...coordinates(thr)]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1000);
    }
    const lines = polylines(html);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lat).toMatch(/<circle /); // the single point is marked
    expect(html).toContain('4200.00 G/s');
    expect(tableRow(html, 1).slice(1)).toEqual(['-3.0', '0.0', '0.0', '5.0', '5.0', '5.0']); // raw figures in the table
    expect(tableRow(html, 2).slice(1)).toEqual(['5.00e14', '5.00e14', '5.00e14', '5.00e14', '5.00e14', '1.00e15']);
    expect(tableRow(html, 3).slice(1)).toEqual(['—', '—', '—', '—', '—', '—']);
    expect(html).toMatch(/empty<\/span> <em>\(no data\)<\/em>/);
    // A y axis spanning 0.1 µs .. 1e15 µs labels at most about ten decades.
    const yTicks = [...lat.matchAll(/class="tick y-tick"/g)];
    expect(yTicks.length).toBeGreaterThan(2);
    expect(yTicks.length).toBeLessThanOrEqual(12);
    expect(embedded(html)).toEqual(data);
  });

  test('a single throughput peer and a single flat curve still get axes', () => {
    const data: HtmlReportData = {
      ...sample(),
      throughput: [{ peer: 'only', median: 1000, min: 1000, max: 1000 }],
      latency: [curve('flat', [[0, 100], [100, 100]])],
    };
    const html = renderHtmlReport(data);
    expect(html).toContain('>1.0 K/s</text>');
    const yTicks = [...svg(html, 'latency-chart').matchAll(/class="tick y-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(yTicks).toEqual(['100', '1,000']);
    expect(polylines(html)).toHaveLength(1);
  });
});
