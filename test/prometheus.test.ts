/**
 * Prometheus text exposition (runtime/prometheus.ts). Pure code with no worker threads, so it is
 * imported from source rather than dist/. Every rendering is also read back by a strict parser of
 * the 0.0.4 line grammar below, so a formatting slip fails even where no exact text is asserted.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { build } from 'hdr-histogram-js';
import {
  histogramQuantiles,
  renderPrometheus,
  summaryFamily,
  type MetricFamily,
  type MetricType,
  type Sample,
} from '../runtime/prometheus.js';

// ---- exposition grammar (text format 0.0.4), without timestamps since none are rendered ----

const NAME = String.raw`[a-zA-Z_:][a-zA-Z0-9_:]*`;
const LABEL = String.raw`[a-zA-Z_][a-zA-Z0-9_]*`;
const LABEL_VALUE = String.raw`(?:[^"\\\n]|\\[\\"n])*`; // only \\ \" \n escapes
const HELP_TEXT = String.raw`(?:[^\\\n]|\\[\\n])*`; // only \\ \n escapes
const VALUE = String.raw`(?:NaN|[+-]Inf|[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)`;
const PAIR = `${LABEL}="${LABEL_VALUE}"`;

const HELP_LINE = new RegExp(`^# HELP (${NAME}) (${HELP_TEXT})$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|summary|histogram|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(${PAIR}(?:,${PAIR})*)\\})? (${VALUE})$`);
const PAIR_GLOBAL = new RegExp(`(${LABEL})="(${LABEL_VALUE})"`, 'g');

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  samples: ParsedSample[];
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Parses an exposition, failing on any line outside the grammar or out of HELP/TYPE/sample order. */
function parseExposition(text: string): ParsedFamily[] {
  if (text === '') return [];
  expect(text.endsWith('\n'), 'ends with a newline').toBe(true);
  expect(text.endsWith('\n\n'), 'single trailing newline').toBe(false);
  const families: ParsedFamily[] = [];
  let pendingHelp: { name: string; help: string } | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = HELP_LINE.exec(line);
    if (help) {
      expect(pendingHelp, `HELP without TYPE before: ${line}`).toBeUndefined();
      pendingHelp = { name: help[1]!, help: unescape(help[2]!) };
      continue;
    }
    const type = TYPE_LINE.exec(line);
    if (type) {
      expect(pendingHelp?.name, `TYPE follows its HELP: ${line}`).toBe(type[1]);
      expect(families.some((f) => f.name === type[1]), `family ${type[1]} once`).toBe(false);
      families.push({ name: type[1]!, help: pendingHelp!.help, type: type[2]!, samples: [] });
      pendingHelp = undefined;
      continue;
    }
    const sample = SAMPLE_LINE.exec(line);
    expect(sample, `line matches the sample grammar: ${JSON.stringify(line)}`).not.toBeNull();
    expect(pendingHelp, `sample between HELP and TYPE: ${line}`).toBeUndefined();
    const family = families.at(-1);
    expect(family, `sample before any TYPE: ${line}`).toBeDefined();
    const name = sample![1]!;
    const allowed = family!.type === 'summary' ? [family!.name, `${family!.name}_sum`, `${family!.name}_count`] : [family!.name];
    expect(allowed, `sample ${name} belongs to family ${family!.name}`).toContain(name);
    const labels: Record<string, string> = {};
    for (const m of (sample![2] ?? '').matchAll(PAIR_GLOBAL)) {
      expect(Object.hasOwn(labels, m[1]!), `label ${m[1]} once`).toBe(false);
      labels[m[1]!] = unescape(m[2]!);
    }
    family!.samples.push({ name, labels, value: parseValue(sample![3]!) });
  }
  expect(pendingHelp, 'trailing HELP without TYPE').toBeUndefined();
  return families;
}

/** Label values as they should read back: numbers in the rendered text form. */
function expectedLabels(labels: Sample['labels']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[k] = typeof v === 'number' ? numberText(v) : v;
  return out;
}
function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isInteger(v) && Math.abs(v) >= 1e21 ? BigInt(v).toString() : String(v);
}
const normalise = (v: number): number => (Object.is(v, -0) ? 0 : v);

// ---------------------------------------------------------------------------------------------

describe('renderPrometheus', () => {
  it('renders a counter and a gauge with labels exactly', () => {
    const text = renderPrometheus([
      {
        name: 'ringmaster_messages_total',
        help: 'Messages delivered to actors.',
        type: 'counter',
        samples: [
          { labels: { thread: 0, lane: 'normal' }, value: 1234 },
          { labels: { thread: 1, lane: 'high' }, value: 5 },
        ],
      },
      {
        name: 'ringmaster_ring_fill_ratio',
        help: 'Fraction of the ring in use.',
        type: 'gauge',
        samples: [{ labels: { thread: 0 }, value: 0.25 }, { value: 3 }, { labels: {}, value: -1.5 }],
      },
    ]);
    expect(text).toBe(
      [
        '# HELP ringmaster_messages_total Messages delivered to actors.',
        '# TYPE ringmaster_messages_total counter',
        'ringmaster_messages_total{thread="0",lane="normal"} 1234',
        'ringmaster_messages_total{thread="1",lane="high"} 5',
        '# HELP ringmaster_ring_fill_ratio Fraction of the ring in use.',
        '# TYPE ringmaster_ring_fill_ratio gauge',
        'ringmaster_ring_fill_ratio{thread="0"} 0.25',
        'ringmaster_ring_fill_ratio 3',
        'ringmaster_ring_fill_ratio -1.5',
        '',
      ].join('\n'),
    );
    parseExposition(text);
  });

  it('escapes backslash, double quote and newline in label values, backslash and newline in help', () => {
    const text = renderPrometheus([
      {
        name: 'escapes',
        help: 'first line\nsecond \\ line with "quotes"',
        type: 'gauge',
        samples: [{ labels: { path: 'C:\\dir\\"x"\nnext', plain: 'a,b=c}{' }, value: 1 }],
      },
    ]);
    expect(text).toBe(
      [
        '# HELP escapes first line\\nsecond \\\\ line with "quotes"',
        '# TYPE escapes gauge',
        'escapes{path="C:\\\\dir\\\\\\"x\\"\\nnext",plain="a,b=c}{"} 1',
        '',
      ].join('\n'),
    );
    const [family] = parseExposition(text);
    expect(family!.help).toBe('first line\nsecond \\ line with "quotes"');
    expect(family!.samples[0]!.labels).toEqual({ path: 'C:\\dir\\"x"\nnext', plain: 'a,b=c}{' });
  });

  it('renders summaries: quantile lines, then _sum and _count, per series', () => {
    const labels = { op: 'ask' };
    const family = summaryFamily('ringmaster_latency_seconds', 'Send to reply latency.', [
      { labels, source: { count: 10, sum: 1.5, quantiles: [[0.5, 0.1], [0.99, 0.4]] } },
      { source: { count: 0, sum: 0, quantiles: [[0.5, NaN]] } },
    ]);
    const expected = [
      '# HELP ringmaster_latency_seconds Send to reply latency.',
      '# TYPE ringmaster_latency_seconds summary',
      'ringmaster_latency_seconds{op="ask",quantile="0.5"} 0.1',
      'ringmaster_latency_seconds{op="ask",quantile="0.99"} 0.4',
      'ringmaster_latency_seconds_sum{op="ask"} 1.5',
      'ringmaster_latency_seconds_count{op="ask"} 10',
      'ringmaster_latency_seconds{quantile="0.5"} NaN',
      'ringmaster_latency_seconds_sum 0',
      'ringmaster_latency_seconds_count 0',
      '',
    ].join('\n');
    expect(renderPrometheus([family])).toBe(expected);
    expect(labels).toEqual({ op: 'ask' }); // caller's labels untouched
    // Copies made by spreading still render as _sum/_count.
    expect(renderPrometheus([{ ...family, samples: family.samples.map((s) => ({ ...s })) }])).toBe(expected);
    parseExposition(expected);
  });

  it('rejects "quantile" among a summary series\' labels', () => {
    expect(() => summaryFamily('s', 'h', [{ labels: { quantile: 1 }, source: { count: 0, sum: 0, quantiles: [] } }])).toThrow(TypeError);
  });

  it('renders special and edge values', () => {
    const values: Array<[number, string]> = [
      [NaN, 'NaN'],
      [Infinity, '+Inf'],
      [-Infinity, '-Inf'],
      [0, '0'],
      [-0, '0'],
      [42, '42'],
      [-7, '-7'],
      [2 ** 53, '9007199254740992'],
      [1e21, '1000000000000000000000'], // String() would give 1e+21
      [-1e22, '-10000000000000000000000'],
      [Number.MAX_VALUE, BigInt(Number.MAX_VALUE).toString()],
      [0.1, '0.1'],
      [-2.5, '-2.5'],
      [1.5e-7, '1.5e-7'],
      [5e-324, '5e-324'],
    ];
    const text = renderPrometheus([
      { name: 'edge', help: '', type: 'gauge', samples: values.map(([value], i) => ({ labels: { i, inf: Infinity }, value })) },
    ]);
    expect(text.split('\n').slice(2, -1)).toEqual(values.map(([, out], i) => `edge{i="${i}",inf="+Inf"} ${out}`));
    expect(text.startsWith('# HELP edge \n# TYPE edge gauge\n')).toBe(true);
    const [family] = parseExposition(text);
    family!.samples.forEach((s, i) => expect(s.value).toBe(normalise(values[i]![0])));
  });

  it('keeps HELP and TYPE for a family without samples; no families renders nothing', () => {
    expect(renderPrometheus([{ name: 'idle_total', help: 'Nothing yet.', type: 'counter', samples: [] }])).toBe(
      '# HELP idle_total Nothing yet.\n# TYPE idle_total counter\n',
    );
    expect(renderPrometheus([])).toBe('');
  });

  it('throws a TypeError naming a bad metric name', () => {
    for (const name of ['bad-name', '1starts_with_digit', '', 'has space', 'dotted.name', 'ünïcode']) {
      const family: MetricFamily = { name, help: 'h', type: 'gauge', samples: [{ value: 1 }] };
      expect(() => renderPrometheus([family])).toThrow(TypeError);
      expect(() => renderPrometheus([family])).toThrow(JSON.stringify(name));
    }
    expect(() => summaryFamily('bad-summary', 'h', [])).toThrow(TypeError);
    // Colons are allowed in metric names (recording rules).
    expect(renderPrometheus([{ name: 'job:rate:5m', help: 'h', type: 'gauge', samples: [{ value: 1 }] }])).toContain('job:rate:5m 1\n');
  });

  it('throws a TypeError naming a bad label name', () => {
    for (const label of ['bad-label', '0digit', 'a:b', '', 'sp ace']) {
      const family: MetricFamily = { name: 'ok', help: 'h', type: 'gauge', samples: [{ labels: { [label]: 'v' }, value: 1 }] };
      expect(() => renderPrometheus([family])).toThrow(TypeError);
      expect(() => renderPrometheus([family])).toThrow(JSON.stringify(label));
    }
  });

  it('every line of a larger rendering matches the exposition grammar and reads back', () => {
    const families: MetricFamily[] = [];
    const types: MetricType[] = ['counter', 'gauge'];
    const tricky = ['', 'plain', 'back\\slash', 'quo"te', 'new\nline', '\\"\n', 'ünïcødé ✓', '{a="b"}', '# HELP x', ' '];
    for (let f = 0; f < 12; f++) {
      const samples: Sample[] = [];
      for (let s = 0; s < 15; s++) {
        const value = [s, -s, s / 7, NaN, Infinity, -Infinity, 1e300, 5e-324, 2 ** 60][s % 9]!;
        samples.push({ labels: s % 4 === 0 ? undefined : { thread: s, lane: tricky[(s + f) % tricky.length]!, _x: s * 0.5 }, value });
      }
      families.push({ name: `ringmaster_f${f}_${types[f % 2] === 'counter' ? 'total' : 'value'}`, help: tricky[f % tricky.length]!, type: types[f % 2]!, samples });
    }
    families.push(
      summaryFamily('ringmaster_latency_seconds', 'Latency\nin seconds.', [
        { labels: { lane: 'high' }, source: { count: 3, sum: 0.003, quantiles: [[0.5, 0.001], [0.9, 0.0015], [0.999, Infinity]] } },
        { labels: { lane: 'we"ird\\' }, source: { count: 0, sum: 0, quantiles: [[0.5, NaN]] } },
        { source: { count: 1, sum: 2, quantiles: [] } },
      ]),
    );
    const text = renderPrometheus(families);
    const parsed = parseExposition(text);
    expect(text.split('\n').length - 1).toBe(12 * (2 + 15) + 2 + (3 + 2) + (1 + 2) + 2);
    expect(parsed.map((p) => p.name)).toEqual(families.map((f) => f.name));
    for (let f = 0; f < 12; f++) {
      expect(parsed[f]!.help).toBe(families[f]!.help);
      expect(parsed[f]!.type).toBe(families[f]!.type);
      parsed[f]!.samples.forEach((s, i) => {
        expect(s.labels).toEqual(expectedLabels(families[f]!.samples[i]!.labels));
        expect(s.value).toBe(families[f]!.samples[i]!.value);
      });
    }
    const summary = parsed.at(-1)!;
    expect(summary.samples.map((s) => s.name)).toEqual([
      ...Array<string>(3).fill('ringmaster_latency_seconds'),
      'ringmaster_latency_seconds_sum',
      'ringmaster_latency_seconds_count',
      'ringmaster_latency_seconds',
      'ringmaster_latency_seconds_sum',
      'ringmaster_latency_seconds_count',
      'ringmaster_latency_seconds_sum',
      'ringmaster_latency_seconds_count',
    ]);
    expect(summary.samples[2]!.labels).toEqual({ lane: 'high', quantile: '0.999' });
    expect(summary.samples[5]!.labels).toEqual({ lane: 'we"ird\\', quantile: '0.5' });
  });

  it('round-trips arbitrary names, label values, help text and numbers (property)', () => {
    const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/).filter((n) => n !== '__proto__');
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('\\', '"', '\n', '{', '}', ',', '=', ' ', '#'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 12 });
    const labelValue = fc.oneof(text, fc.double(), fc.integer());
    const sample = fc.record({ labels: fc.option(fc.dictionary(labelName, labelValue, { maxKeys: 4 }), { nil: undefined }), value: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e21, -(2 ** 70))) });
    const family = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,12}$/),
      help: text,
      type: fc.constantFrom<MetricType>('counter', 'gauge'),
      samples: fc.array(sample, { maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(family, { selector: (f) => f.name, maxLength: 5 }), (families) => {
        const parsed = parseExposition(renderPrometheus(families));
        expect(parsed.map((p) => [p.name, p.help, p.type])).toEqual(families.map((f) => [f.name, f.help, f.type]));
        parsed.forEach((p, f) =>
          p.samples.forEach((s, i) => {
            const want = families[f]!.samples[i]!;
            expect(s.name).toBe(families[f]!.name);
            expect(s.labels).toEqual(expectedLabels(want.labels));
            expect(s.value).toBe(normalise(want.value));
          }),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('histogramQuantiles', () => {
  // 1 ms .. 1000 ms, one value each, recorded in nanoseconds.
  const histogram = () => {
    const h = build({ numberOfSignificantValueDigits: 3 });
    for (let ms = 1; ms <= 1000; ms++) h.recordValue(ms * 1e6);
    return h;
  };
  // 3 significant digits: any value is within 1/1000 of what was recorded.
  const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 1e-3);

  it('converts nanoseconds to seconds at the default quantiles', () => {
    const h = histogram();
    const source = histogramQuantiles(h);
    expect(source.count).toBe(1000);
    near(source.sum, 500.5); // 1 + 2 + ... + 1000 ms
    expect(source.quantiles.map(([q]) => q)).toEqual([0.5, 0.9, 0.99, 0.999]);
    const expected = [0.5, 0.9, 0.99, 0.999]; // the q-th value of 1..1000 ms, in seconds
    source.quantiles.forEach(([, v], i) => near(v, expected[i]!));
    h.destroy();
  });

  it('takes custom quantiles, including the extremes', () => {
    const h = histogram();
    const source = histogramQuantiles(h, [0, 0.25, 1]);
    expect(source.quantiles.map(([q]) => q)).toEqual([0, 0.25, 1]);
    near(source.quantiles[0]![1], 0.001);
    near(source.quantiles[1]![1], 0.25);
    near(source.quantiles[2]![1], 1);
    expect(() => histogramQuantiles(h, [1.5])).toThrow(RangeError);
    expect(() => histogramQuantiles(h, [NaN])).toThrow(RangeError);
    h.destroy();
  });

  it('an empty histogram gives NaN quantiles and zero sum and count', () => {
    const h = build();
    expect(histogramQuantiles(h)).toEqual({ count: 0, sum: 0, quantiles: [[0.5, NaN], [0.9, NaN], [0.99, NaN], [0.999, NaN]] });
    h.destroy();
  });

  it('feeds summaryFamily into a valid exposition', () => {
    const h = histogram();
    const text = renderPrometheus([summaryFamily('ringmaster_ask_seconds', 'Ask latency.', [{ labels: { thread: 0 }, source: histogramQuantiles(h) }])]);
    const [family] = parseExposition(text);
    expect(family!.type).toBe('summary');
    expect(family!.samples.map((s) => s.labels['quantile'] ?? s.name)).toEqual(['0.5', '0.9', '0.99', '0.999', 'ringmaster_ask_seconds_sum', 'ringmaster_ask_seconds_count']);
    expect(family!.samples.at(-1)!.value).toBe(1000);
    expect(text).toContain('ringmaster_ask_seconds_count{thread="0"} 1000\n');
    h.destroy();
  });
});
