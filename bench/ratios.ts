// The table BENCHMARKS.md leads with: each measurement beside its ceiling, measured in the same
// run on the same data. Each bench script replaces its own rows (by the script's name in the
// first column) and leaves the others', so a script run alone keeps the table whole.
import { readFileSync, writeFileSync } from 'node:fs';

export interface RatioRow {
  measurement: string;
  product: string;
  ceiling: string;
  ratio: number;
  /** Issue 18's target for the ratio; null for a figure shown beside one that has it. */
  target: number | null;
}

const HEADING = '## Ratios to the ceiling, measured in the same run';
const HEADER = [
  '| bench | measurement | product | ceiling | ratio | target | met |',
  '| --- | --- | --- | --- | --- | --- | --- |',
];

const rowOf = (bench: string, r: RatioRow) =>
  `| ${bench} | ${r.measurement} | ${r.product} | ${r.ceiling} | ${r.ratio.toFixed(2)}× | ${r.target === null ? '—' : `≥ ${r.target}×`} | ${r.target === null ? '' : r.ratio >= r.target ? 'yes' : '**no**'} |`;

/** The leading table's text with `bench`'s rows replaced by `rows`, from a report's current text. */
export function withRatios(report: string, bench: string, rows: readonly RatioRow[]): string {
  const at = report.indexOf(HEADING);
  const end = at === -1 ? -1 : report.indexOf('\n## ', at + 1);
  const kept =
    at === -1
      ? []
      : report
          .slice(at, end === -1 ? undefined : end)
          .split('\n')
          .filter(
            (line) =>
              line.startsWith('| ') &&
              !line.startsWith('| bench |') &&
              !line.startsWith('| --- ') &&
              !line.startsWith(`| ${bench} |`),
          );
  const section = [HEADING, '', ...HEADER, ...kept, ...rows.map((r) => rowOf(bench, r)), ''].join('\n');
  if (at !== -1) return `${report.slice(0, at)}${section}${end === -1 ? '' : report.slice(end)}`;
  // First time: after the file's introduction, before its first section.
  const first = report.indexOf('\n## ');
  return first === -1 ? `${report}\n${section}` : `${report.slice(0, first + 1)}${section}${report.slice(first)}`;
}

export function writeRatios(bench: string, rows: readonly RatioRow[]): void {
  const file = new URL('../BENCHMARKS.md', import.meta.url);
  writeFileSync(file, withRatios(readFileSync(file, 'utf8'), bench, rows));
}
