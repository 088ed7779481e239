/**
 * The one error type of the data layer. Every problem with an input file is reported with the
 * file, the 1-based line (or record) and the field, so a user can open the file at the spot:
 *
 *   ratings.dat:1042: field "rating": expected a number, got "x5"
 */

/** A problem with a data source. `line` is 1-based (0 when not tied to a line); `field` names the column. */
export class DataError extends Error {
  readonly file: string;
  readonly line: number;
  readonly field: string | undefined;
  readonly reason: string;

  constructor(file: string, line: number, field: string | undefined, reason: string) {
    const where = line > 0 ? `${file}:${line}` : file;
    super(field === undefined ? `${where}: ${reason}` : `${where}: field "${field}": ${reason}`);
    this.name = 'DataError';
    this.file = file;
    this.line = line;
    this.field = field;
    this.reason = reason;
  }
}

/** Shortens a raw field value for an error message. */
export function preview(text: string, max = 40): string {
  // JSON.stringify escapes quotes and control characters.
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
