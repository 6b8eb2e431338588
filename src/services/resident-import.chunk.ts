import { CsvError, parse } from 'csv-parse/sync';
import { TenantKeys } from '../crypto/tenant-keys';
import { Layout, LayoutError, resolveLayout, RowRules, stageRow } from './resident-import.layout';

/**
 * How records end, as the CSV parser would settle it on the first line break outside quotes. A
 * file whose records end in line feeds ('\n' or '\r\n') is read alike either way: every line feed
 * outside quotes ends a record, and a carriage return right before it is part of the line end
 * (files pasted together from a Windows extract and a Unix-made part mix the two). Only '\r'
 * (classic Mac) ends records at carriage returns, and there a line feed is data.
 */
export type RecordEnd = '\r\n' | '\n' | '\r';

/**
 * A run of whole records from the file, cut from the byte stream at a record boundary, with the
 * line its first record starts on: the unit handed to a worker thread.
 */
export interface Chunk {
  text: Uint8Array;
  firstLine: number;
}

interface StagedChunk {
  /** Rows in COPY text format: good ones with My Number already encrypted and hashed, rejected ones with their problems. */
  copy: string;
  rowsRead: number;
  rowsRejected: number;
  /** Set once the header row has been seen (in the chunk that held it). */
  layout: Layout | null;
}

/** A problem that ends the import, with the message the officer reads. */
export class ChunkFailure extends Error {}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf];
/** A record of nothing but these is no row: blanks (full-width too) and the end-of-file mark (Ctrl-Z) old systems write. */
const BLANK = /^[\s\x1a]*$/;
/** A record this long cannot be a registry row; cutting it off bounds memory against a stray quote. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
/** The CSV parser's options; `relax_quotes`: a quote that does not start a field is data, as spreadsheets read it. */
const PARSE = { relax_column_count: true, relax_quotes: true } as const;
/** Record ends of any file but a classic Mac one: a line feed, with the carriage return before it if any. */
const LINE_FEED_ENDS = ['\r\n', '\n'];

/** Where a scan of records stands: the last record end found, and the lines up to it. */
interface Scan {
  end: RecordEnd | null;
  /** Offset just after the last record end, or 0. */
  cut: number;
  /** Lines the bytes up to `cut` move the count by. */
  lines: number;
  /** Whether the scan stopped inside a quoted field. */
  quoted: boolean;
}

/** Inside a field: at its start (a quote there opens a quoted field), in plain data, or quoted. */
const enum At { START, PLAIN, QUOTED }

/**
 * Reads `data`, which starts at a record boundary, the way the CSV parser reads it (PARSE, record
 * ends as RecordEnd says), and finds its record ends and lines without building any field. A quote
 * opens a quoted field only at the start of a field; anywhere else it is data, so stray quotes in
 * plain fields, an odd number of them too, never hide a record end. Inside a quoted field `""` is a
 * quote, and a quote followed by a comma or a record end closes it. A quote followed by anything
 * else is where the parser would take the field so far as plain data, whose line breaks it has
 * already swallowed: a spreadsheet reads such a field otherwise, so the import fails at its line
 * rather than store a value nobody wrote. Until `eof`, a scan stops where the next bytes decide.
 */
function scan(data: Buffer, start: RecordEnd | null, eof: boolean, firstLine: number): Scan {
  let end = start;
  let at = At.START;
  let lines = 0;
  let cut = 0;
  let cutLines = 0;
  // Carriage returns (not before a line feed) inside quotes before the file's record end is known: lines if it is CR alone.
  let quotedCrs = 0;
  const n = data.length;
  /** Whether a record end begins at `i`: 1 yes, 0 no, -1 the bytes after `i` decide. */
  const endsAt = (i: number): number => {
    if (i >= n) return eof ? 1 : -1;
    if (data[i] === LF) return end === '\r' ? 0 : 1;
    if (data[i] !== CR) return 0;
    if (end === '\r') return 1;
    if (i + 1 >= n) return eof ? (end === null ? 1 : 0) : -1;
    return data[i + 1] === LF || end === null ? 1 : 0;
  };
  for (let i = 0; i < n; i++) {
    const b = data[i];
    if (at === At.QUOTED) {
      // A line break inside quotes is a line too, as an editor shows the file: a carriage return
      // right before a line feed is one break with it, even where records end in CR alone.
      if (b === LF) lines++;
      else if (b === CR) {
        if (data[i + 1] === LF) continue;
        if (end === '\r') lines++;
        else if (end === null) quotedCrs++;
      } else if (b === QUOTE) {
        if (i + 1 < n && data[i + 1] === QUOTE) {
          i++;
          continue;
        }
        const closes = i + 1 < n && data[i + 1] === COMMA ? 1 : endsAt(i + 1);
        if (closes === -1) break;
        if (closes === 0) {
          // The records before this one are handed out first, so that they are counted whatever
          // the chunk the bad quote falls in; the scan that starts at this record fails.
          if (cut > 0) return { end, cut, lines: cutLines, quoted: false };
          throw new ChunkFailure(`line ${firstLine}: the file is not valid CSV (CSV_INVALID_CLOSING_QUOTE); nothing was written`);
        }
        at = At.PLAIN;
      }
      continue;
    }
    if (b === QUOTE) at = at === At.START ? At.QUOTED : At.PLAIN;
    else if (b === COMMA) at = At.START;
    else if (b === LF) {
      lines++;
      end ??= '\n';
      if (end === '\r') at = At.PLAIN;
      else {
        at = At.START;
        cut = i + 1;
        cutLines = lines;
      }
    } else if (b === CR) {
      if (end === null) {
        // \r or \r\n? The next byte decides.
        if (i + 1 >= n && !eof) break;
        end = data[i + 1] === LF ? '\r\n' : '\r';
        if (end === '\r') lines += quotedCrs;
      }
      if (end !== '\r') at = At.PLAIN;
      else {
        lines++;
        at = At.START;
        cut = i + 1;
        cutLines = lines;
      }
    } else at = At.PLAIN;
  }
  if (eof) return { end, cut: n, lines, quoted: at === At.QUOTED };
  return { end, cut, lines: cutLines, quoted: at === At.QUOTED };
}

/** Lines that quote-free `bytes` move the count by. */
function plainLines(bytes: Buffer, end: RecordEnd | null): number {
  let lines = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) lines++;
  if (end === '\r') for (let i = bytes.indexOf(CR); i !== -1; i = bytes.indexOf(CR, i + 1)) lines++;
  return lines;
}

/**
 * Cuts a byte stream (UTF-8) into chunks of whole records without parsing them (see `scan`).
 * Quote characters and line breaks are ASCII, so UTF-8 multi-byte characters never confuse the
 * scan. Line numbers follow the CSV parser's records: a record starts on the line after the
 * previous one and spans one more line per line break inside its quoted fields (a line feed, and
 * in a classic Mac file a carriage return not before one too).
 */
export class RecordCutter {
  end: RecordEnd | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private nextLine = 1;
  private first = true;

  /** Whole records available after `bytes`, or null while a record is still incomplete. */
  push(bytes: Buffer): Chunk | null {
    let data = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
    // Until the first record is out, the BOM may still be arriving: it is looked for again each time.
    if (this.first && BOM.every((b, i) => data[i] === b)) data = data.subarray(3);
    const { cut, lines, quoted } = this.boundary(data, false);
    if (cut === 0) {
      if (data.length > MAX_RECORD_BYTES) {
        throw new ChunkFailure(quoted
          ? `line ${this.nextLine}: the file is not valid CSV (a quoted field runs on for over ${MAX_RECORD_BYTES / 1024 / 1024} MB; quote not closed?); nothing was written`
          : `line ${this.nextLine}: the line is too long (over ${MAX_RECORD_BYTES / 1024 / 1024} MB, the limit for one row); nothing was written`);
      }
      this.pending = Buffer.from(data);
      return null;
    }
    this.pending = Buffer.from(data.subarray(cut));
    return this.take(data.subarray(0, cut), lines);
  }

  /** The rest of the file (its last record may lack a line break), in as many calls as it takes until null. */
  finish(): Chunk | null {
    if (this.pending.length === 0) return null;
    const rest = this.pending;
    const { cut, lines } = this.boundary(rest, true);
    this.pending = Buffer.from(rest.subarray(cut));
    return this.take(rest.subarray(0, cut), lines);
  }

  private take(bytes: Buffer, lines: number): Chunk {
    const chunk = { text: new Uint8Array(bytes), firstLine: this.nextLine };
    this.first = false;
    this.nextLine += lines;
    return chunk;
  }

  /**
   * The last record end in `data` (all of it at the end of the file, unless a bad quote stops the
   * scan before), the lines up to it, and whether the bytes after it end inside quotes.
   */
  private boundary(data: Buffer, eof: boolean): Scan {
    if (this.end && data.indexOf(QUOTE) === -1) {
      const cut = eof ? data.length : (this.end === '\r' ? data.lastIndexOf(CR) : data.lastIndexOf(LF)) + 1;
      return { end: this.end, cut, lines: plainLines(data.subarray(0, cut), this.end), quoted: false };
    }
    const found = scan(data, this.end, eof, this.nextLine);
    this.end = found.end;
    return found;
  }
}

/**
 * The records of a chunk. A chunk without quotes splits on its record ends and commas exactly
 * as the CSV parser would; anything else goes through the parser itself.
 */
function recordsOf(text: string, end: RecordEnd | null, firstLine: number): { record: string[]; line: number }[] {
  const out: { record: string[]; line: number }[] = [];
  if (text.indexOf('"') === -1) {
    if (end !== '\r') {
      const lines = text.split('\n');
      // The last piece is the end of the file's last line if it lacks a line break (its \r is data).
      const last = lines.pop()!;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
        out.push({ record: line.split(','), line: firstLine + i });
      }
      if (last !== '') out.push({ record: last.split(','), line: firstLine + lines.length });
      return out;
    }
    // A line feed inside a \r record is data, but it moves the line count.
    if (text.indexOf('\n') === -1) {
      const lines = text.split('\r');
      if (lines[lines.length - 1] === '') lines.pop();
      for (let i = 0; i < lines.length; i++) out.push({ record: lines[i].split(','), line: firstLine + i });
      return out;
    }
  }
  let records: string[][];
  try {
    records = parse(text, { ...PARSE, record_delimiter: end === '\r' ? '\r' : LINE_FEED_ENDS });
  } catch (error) {
    // Every error of the parser's own (its codes do not all start with CSV_) is the file's fault.
    if (error instanceof CsvError) {
      // Counted as the cutter counts lines: the parser's own count takes the CR and the LF of a
      // quoted CRLF for two lines.
      const bytes = Number((error as { bytes?: unknown }).bytes);
      const line = Number.isInteger(bytes) ? firstLine + linesIn(Buffer.from(text).subarray(0, bytes), end) : '?';
      throw new ChunkFailure(`line ${line}: the file is not valid CSV (${error.code}); nothing was written`);
    }
    throw error;
  }
  let nextLine = firstLine;
  for (const record of records) {
    out.push({ record, line: nextLine });
    nextLine++;
    for (const field of record) nextLine += breaksIn(field, end);
  }
  return out;
}

/** Line breaks inside a field: line feeds, and in a classic Mac file carriage returns not before one too (as `scan`). */
function breaksIn(field: string, end: RecordEnd | null): number {
  let breaks = 0;
  for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) breaks++;
  if (end === '\r') for (let i = field.indexOf('\r'); i !== -1; i = field.indexOf('\r', i + 1)) if (field[i + 1] !== '\n') breaks++;
  return breaks;
}

/** Lines that `bytes`, starting at a record boundary, move the count by. */
function linesIn(bytes: Buffer, end: RecordEnd | null): number {
  return bytes.indexOf(QUOTE) === -1 ? plainLines(bytes, end) : scan(bytes, end, true, 1).lines;
}

/**
 * Checks every record of a chunk and stages the good ones (stageRow). The first non-empty record
 * of the file is its header; `layout` is null until it has been seen.
 */
export function stageChunk(chunk: Chunk, end: RecordEnd | null, layout: Layout | null, keys: TenantKeys, rules: RowRules): StagedChunk {
  const text = Buffer.from(chunk.text.buffer, chunk.text.byteOffset, chunk.text.byteLength).toString('utf8');
  const staged: StagedChunk = { copy: '', rowsRead: 0, rowsRejected: 0, layout };
  // Joined once at the end: a string grown row by row survives every young collection meanwhile.
  const rows: string[] = [];
  for (const { record, line } of recordsOf(text, end, chunk.firstLine)) {
    if (record.every((field) => BLANK.test(field))) continue;
    if (!staged.layout) {
      try {
        staged.layout = resolveLayout(record);
      } catch (error) {
        throw error instanceof LayoutError ? new ChunkFailure(error.message) : error;
      }
      continue;
    }
    staged.rowsRead++;
    const row = stageRow(record, line, staged.layout, keys, rules);
    rows.push(row.copy);
    if (row.rejected) staged.rowsRejected++;
  }
  staged.copy = rows.join('');
  return staged;
}
