/** Small statistics and formatting helpers for the report. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** 1234567 → '1.235 M', 45678 → '45.7 K'. */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(3)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} K`;
  return perSecond.toFixed(0);
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function us(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** Renders rows as aligned columns; columns listed in `rightAligned` are right-aligned. */
export function table(rows: string[][], rightAligned: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => pad(cell, widths[i]!, rightAligned.has(i))).join('  ').trimEnd()).join('\n');
}
