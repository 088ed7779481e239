/**
 * Rendering result tables three ways from one description: aligned text for the terminal,
 * Markdown for reports, CSV for spreadsheets (RFC 4180 quoting).
 */

/** A table: header cells and rows of cells (already formatted strings). */
export interface Table {
  header: string[];
  rows: string[][];
  /** Lines printed under the table (protocol, notes). */
  notes?: string[];
}

/** Whether a cell looks numeric (right-aligned). */
function numeric(cell: string): boolean {
  return /^[-+]?(\d|\.\d)/.test(cell.trim()) || cell.trim() === 'NaN' || cell.trim() === '—';
}

/** Aligned plain text with a rule under the header. */
export function toText(t: Table): string {
  const widths = t.header.map((h, j) => Math.max(h.length, ...t.rows.map((r) => (r[j] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j > 0 && numeric(c) ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  const out = [line(t.header), widths.map((w) => '─'.repeat(w)).join('  '), ...t.rows.map(line)];
  if (t.notes?.length) out.push('', ...t.notes);
  return `${out.join('\n')}\n`;
}

/** GitHub-flavoured Markdown (pipes in cells escaped). */
export function toMarkdown(t: Table): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [`| ${t.header.map(esc).join(' | ')} |`, `|${t.header.map((_, j) => (j === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`)];
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** CSV with RFC 4180 quoting (fields with comma, quote or newline are quoted). */
export function toCsv(t: Table): string {
  const q = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `${[t.header, ...t.rows].map((r) => r.map(q).join(',')).join('\n')}\n`;
}

/** Formats a metric value with 4 decimals (NaN as "NaN"). */
export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'NaN';
}

/** Formats a p-value: 4 decimals, scientific below 0.001, "<1e-300" at underflow, "—" when absent. */
export function fmtP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return '—';
  if (p < 1e-300) return '<1e-300';
  return p < 1e-3 ? p.toExponential(2) : p.toFixed(4);
}
