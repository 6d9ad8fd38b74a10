/**
 * Prometheus text exposition format (version 0.0.4), without dependencies: serve the output of
 * `renderPrometheus` with `Content-Type: text/plain; version=0.0.4; charset=utf-8`.
 *
 * Naming: counter names should end in `_total` (Prometheus convention); not enforced here so
 * existing names can be exposed unchanged. Durations are in seconds (see `histogramQuantiles`).
 */

export type MetricType = 'counter' | 'gauge' | 'summary';

export interface Sample {
  labels?: Readonly<Record<string, string | number>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** Summary family from latency quantiles. */
export interface QuantileSource {
  count: number;
  sum: number;
  quantiles: ReadonlyArray<readonly [q: number, value: number]>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: ReadonlySet<string> = new Set<MetricType>(['counter', 'gauge', 'summary']);

// Marks a summary's _sum/_count samples. A symbol, not a Sample field, keeps the public
// Sample shape plain; it survives object spread but not JSON or structuredClone.
const SUFFIX = Symbol('prometheus.suffix');
type Suffix = '_sum' | '_count';
interface TaggedSample extends Sample {
  [SUFFIX]?: Suffix;
}

function checkMetricName(name: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new TypeError(`invalid Prometheus metric name ${JSON.stringify(name)}`);
  }
}

function checkLabelName(name: string, metric: string): void {
  if (!LABEL_NAME.test(name)) {
    throw new TypeError(`invalid Prometheus label name ${JSON.stringify(name)} on metric ${JSON.stringify(metric)}`);
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  // String() switches to exponent notation from 1e21; BigInt keeps big integers plain.
  if (Number.isInteger(v) && Math.abs(v) >= 1e21) return BigInt(v).toString();
  return String(v);
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelValue(v: string | number): string {
  return typeof v === 'number' ? formatValue(v) : escapeLabelValue(String(v));
}

function renderLabels(metric: string, labels: Readonly<Record<string, string | number>> | undefined): string {
  if (labels === undefined) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    checkLabelName(name, metric);
    parts.push(`${name}="${labelValue(value)}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/**
 * A summary family: per series, one `quantile` sample per quantile, then `_sum` and `_count`.
 * The series' labels must not include `quantile` (it is reserved for the quantile lines).
 */
export function summaryFamily(
  name: string,
  help: string,
  series: ReadonlyArray<{ labels?: Record<string, string | number>; source: QuantileSource }>,
): MetricFamily {
  checkMetricName(name);
  const samples: Sample[] = [];
  for (const { labels, source } of series) {
    if (labels !== undefined && Object.prototype.hasOwnProperty.call(labels, 'quantile')) {
      throw new TypeError(`label "quantile" is reserved in summary ${JSON.stringify(name)}`);
    }
    for (const [q, value] of source.quantiles) {
      samples.push({ labels: { ...labels, quantile: q }, value });
    }
    const sum: TaggedSample = { value: source.sum, [SUFFIX]: '_sum' };
    const count: TaggedSample = { value: source.count, [SUFFIX]: '_count' };
    if (labels !== undefined) {
      sum.labels = { ...labels };
      count.labels = { ...labels };
    }
    samples.push(sum, count);
  }
  return { name, help, type: 'summary', samples };
}

/**
 * Renders families in order: HELP, TYPE, then one line per sample. Labels keep their insertion
 * order. Throws TypeError on a bad metric or label name. No families gives the empty string.
 */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    checkMetricName(family.name);
    if (!TYPES.has(family.type)) {
      throw new TypeError(`invalid Prometheus metric type ${JSON.stringify(family.type)} for ${JSON.stringify(family.name)}`);
    }
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples as readonly TaggedSample[]) {
      const suffix = family.type === 'summary' ? (sample[SUFFIX] ?? '') : '';
      lines.push(`${family.name}${suffix}${renderLabels(family.name, sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * quantiles from an hdr-histogram-js Histogram recorded in NANOSECONDS, returned in SECONDS.
 * An empty histogram gives NaN quantiles (as Prometheus clients do), sum 0 and count 0.
 * Values are HDR-precise (its significant digits); sum is mean*count, so equally approximate.
 */
export function histogramQuantiles(
  h: { totalCount: number; mean: number; getValueAtPercentile(p: number): number },
  quantiles: readonly number[] = [0.5, 0.9, 0.99, 0.999],
): QuantileSource {
  for (const q of quantiles) {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  }
  const count = h.totalCount;
  if (count === 0) {
    return { count: 0, sum: 0, quantiles: quantiles.map((q) => [q, NaN] as const) };
  }
  return {
    count,
    sum: (h.mean * count) / 1e9,
    quantiles: quantiles.map((q) => [q, h.getValueAtPercentile(q * 100) / 1e9] as const),
  };
}
