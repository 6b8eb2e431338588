import { CsvError, parse } from 'csv-parse/sync';
import { TenantKeys } from '../crypto/tenant-keys';
import { Layout, LayoutError, resolveLayout, stageRow } from './resident-import.layout';

/** How records end, as the CSV parser would settle it on the first line break outside quotes. */
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
const LF = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf];
/** A record of nothing but these is no row: blanks (full-width too) and the end-of-file mark (Ctrl-Z) old systems write. */
const BLANK = /^[\s\x1a]*$/;
/** A record this long cannot be a registry row; cutting it off bounds memory against a stray quote. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/**
 * Cuts a byte stream (UTF-8) into chunks of whole records without parsing them: a record ends at
 * a line break outside double quotes. Quote characters and line breaks are ASCII, so UTF-8
 * multi-byte characters never confuse the scan. Line numbers follow the CSV parser's records: a
 * record starts on the line after the previous one and spans one more line per line feed inside
 * its quoted fields.
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
    const cut = this.boundary(data);
    if (cut === 0) {
      if (data.length > MAX_RECORD_BYTES) throw new ChunkFailure(`line ${this.nextLine}: the file is not valid CSV (a record does not end; quote not closed?); nothing was written`);
      this.pending = Buffer.from(data);
      return null;
    }
    this.pending = Buffer.from(data.subarray(cut));
    return this.take(data.subarray(0, cut));
  }

  /** The rest of the file: its last record may lack a line break. */
  finish(): Chunk | null {
    if (this.pending.length === 0) return null;
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return this.take(rest);
  }

  private take(bytes: Buffer): Chunk {
    const chunk = { text: new Uint8Array(bytes), firstLine: this.nextLine };
    this.first = false;
    this.nextLine += linesIn(bytes, this.end);
    return chunk;
  }

  /** Offset just after the last record end in `data`, or 0. */
  private boundary(data: Buffer): number {
    const quoteFree = data.indexOf(QUOTE) === -1;
    if (!this.end && !this.detect(data)) return 0;
    if (quoteFree) {
      if (this.end === '\r') return data.lastIndexOf(CR) + 1;
      for (let i = data.lastIndexOf(LF); i !== -1; i = i > 0 ? data.lastIndexOf(LF, i - 1) : -1) {
        if (this.end === '\n' || data[i - 1] === CR) return i + 1;
      }
      return 0;
    }
    let quoted = false;
    let cut = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i];
      if (b === QUOTE) quoted = !quoted;
      else if (!quoted) {
        if (this.end === '\r' ? b === CR : b === LF && (this.end === '\n' || data[i - 1] === CR)) cut = i + 1;
      }
    }
    return cut;
  }

  private detect(data: Buffer): boolean {
    let quoted = false;
    for (let i = 0; i < data.length; i++) {
      const b = data[i];
      if (b === QUOTE) quoted = !quoted;
      else if (!quoted && (b === LF || b === CR)) {
        if (b === LF) this.end = '\n';
        else if (i + 1 >= data.length) return false; // is it \r or \r\n? wait for the next byte
        else this.end = data[i + 1] === LF ? '\r\n' : '\r';
        return true;
      }
    }
    return false;
  }
}

/**
 * The records of a chunk. A chunk without quotes splits on its record ends and commas exactly
 * as the CSV parser would; anything else goes through the parser itself.
 */
function recordsOf(text: string, end: RecordEnd | null, firstLine: number): { record: string[]; line: number }[] {
  const out: { record: string[]; line: number }[] = [];
  if (end && text.indexOf('"') === -1) {
    const lines = text.split(end);
    if (lines[lines.length - 1] === '') lines.pop();
    // A bare line feed inside a \r\n or \r record is data, but it moves the line count.
    if (end === '\n' || !lines.some((l) => l.indexOf('\n') !== -1)) {
      for (let i = 0; i < lines.length; i++) out.push({ record: lines[i].split(','), line: firstLine + i });
      return out;
    }
  }
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, record_delimiter: end ?? undefined });
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
    for (const field of record) for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) nextLine++;
  }
  return out;
}

/** Lines that `bytes`, starting at a record boundary, move the count by. */
function linesIn(bytes: Buffer, end: RecordEnd | null): number {
  let lines = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) lines++;
  if (end === '\r') {
    // Mac line ends: each record is one line, plus the line feeds inside it.
    let quoted = false;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === QUOTE) quoted = !quoted;
      else if (bytes[i] === CR && !quoted) lines++;
    }
  }
  return lines;
}

/**
 * Checks every record of a chunk and stages the good ones (stageRow). The first non-empty record
 * of the file is its header; `layout` is null until it has been seen.
 */
export function stageChunk(chunk: Chunk, end: RecordEnd | null, layout: Layout | null, keys: TenantKeys, today: string): StagedChunk {
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
    const row = stageRow(record, line, staged.layout, keys, today);
    rows.push(row.copy);
    if (row.rejected) staged.rowsRejected++;
  }
  staged.copy = rows.join('');
  return staged;
}
