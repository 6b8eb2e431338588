import iconv from 'iconv-lite';
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { FileEncoding } from '../validation/encodings';
import { withClient } from './pg-client';
import { setTenants } from './tenant-session';

export interface CsvCopy {
  header: string[];
  encoding: FileEncoding;
  out: Writable;
  /** Stages put between the database and the encoder (counting, fault injection). */
  stages?: Transform[];
  /** Called once the transaction is open, before the first byte: the moment to send response headers. */
  started?: () => void;
}

/**
 * A text column as a CSV cell: one that a spreadsheet would take for a formula (= + - @, or a tab
 * or carriage return first) is written with a leading apostrophe, which spreadsheets show as text.
 */
export const spreadsheetText = (column: string) => `CASE WHEN ${column} ~ '^[-=+@\t\r]' THEN '''' || ${column} ELSE ${column} END`;

/** UTF-8 bytes from PostgreSQL to CP932 (Shift_JIS as Windows writes it); a character may span two chunks. */
function shiftJisEncoder(): Transform {
  const utf8 = new StringDecoder('utf8');
  const encode = (text: string) => (text ? iconv.encode(text, 'cp932') : undefined);
  return new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      done(null, encode(typeof chunk === 'string' ? chunk : utf8.write(chunk)));
    },
    flush(done) {
      done(null, encode(utf8.end()));
    },
  });
}

/**
 * Streams the rows of `sql` to `out` as CSV with COPY TO, in constant memory, from a read-only
 * transaction that row-level security limits to one municipality. `out` is left open: the caller
 * ends it once the download is accounted for. COPY takes no bind parameters, so `sql` must hold
 * only values already checked.
 */
export async function copyCsv(db: DataSource, municipalityCode: string, sql: string, { header, encoding, out, stages = [], started }: CsvCopy): Promise<void> {
  await withClient(db, async (client) => {
    await client.query('BEGIN READ ONLY');
    await setTenants(client, [municipalityCode]);
    const copy = client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv)`));
    started?.();
    const encoder = encoding === 'SJIS' ? shiftJisEncoder() : new PassThrough();
    // Excel opens UTF-8 CSV correctly only with a byte-order mark.
    encoder.write(`${encoding === 'SJIS' ? '' : '\ufeff'}${header.join(',')}\n`);
    await pipeline([copy, ...stages, encoder, out], { end: false });
    await client.query('COMMIT');
  });
}
