import iconv from 'iconv-lite';
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { FileEncoding } from '../validation/encodings';
import { endWithClient, withClient } from './pg-client';
import { setTenants } from './tenant-session';

export interface CsvCopy {
  header: string[];
  encoding: FileEncoding;
  out: Writable;
  /** Stages put between the database and the encoder (counting, fault injection). */
  stages?: Transform[];
  /** Called once the transaction is open, before the first byte: the moment to send response headers. */
  started?: () => void;
  /** Shift_JIS only: told, as they pass, how many characters CP932 lacks and were written as 〓. */
  substituted?: (count: number) => void;
  /**
   * The rows are most of a municipality's: join them by hash, never row by row. The planner's counts
   * lag a city whose rows came faster than autovacuum counts them, and reckoning one record and one
   * resident where there are 50,000 of each, it read every resident of the city once per record
   * (minutes for what takes a fraction of a second).
   */
  wholeMunicipality?: boolean;
}

/**
 * A text column as a CSV cell: one that a spreadsheet would take for a formula (= + - @, or a tab
 * or carriage return first) is written with a leading apostrophe, which spreadsheets show as text.
 */
export const spreadsheetText = (column: string) => `CASE WHEN ${column} ~ '^[-=+@\t\r]' THEN '''' || ${column} ELSE ${column} END`;

/**
 * Characters that JIS X 0208 as Unicode maps (macOS and iOS Japanese input writes them) and CP932
 * holds as another code point: the character CP932 writes in their place, e.g. 〜 as ～.
 */
const CP932_FORMS = new Map<string, string>([
  ['\u301c', '\uff5e'], // WAVE DASH → FULLWIDTH TILDE
  ['\u2016', '\u2225'], // DOUBLE VERTICAL LINE → PARALLEL TO
  ['\u2212', '\uff0d'], // MINUS SIGN → FULLWIDTH HYPHEN-MINUS
  ['\u00a2', '\uffe0'], // CENT SIGN → FULLWIDTH CENT SIGN
  ['\u00a3', '\uffe1'], // POUND SIGN → FULLWIDTH POUND SIGN
  ['\u00ac', '\uffe2'], // NOT SIGN → FULLWIDTH NOT SIGN
  ['\u2014', '\u2015'], // EM DASH → HORIZONTAL BAR
  ['\u00a6', '\uffe4'], // BROKEN BAR → FULLWIDTH BROKEN BAR
]);

/** 〓 (GETA MARK): what Japanese systems customarily print for a character their code set lacks. */
const GETA = '\u3013';

/** What CP932 writes for each non-ASCII BMP character met so far: the character itself, its CP932 form, or 〓. Bounded by the BMP. */
const cp932Written = new Map<string, string>();

/**
 * A variation selector picks a form of the character before it (葛󠄀 with U+E0100, an emoji's colour
 * form with U+FE0F). CP932 has one form of each character and no selector: it is left out, so that
 * 葛󠄀 is written 葛 and an emoji one 〓, not followed by a 〓 of its own.
 */
const VARIATION_SELECTOR = /^\p{Variation_Selector}$/u;

function cp932Form(ch: string): string {
  if (VARIATION_SELECTOR.test(ch)) return '';
  // CP932 holds no character beyond the BMP (𠮷, emoji): one 〓 for the whole surrogate pair.
  if (ch.length > 1) return GETA;
  let written = cp932Written.get(ch);
  if (written === undefined) {
    written = CP932_FORMS.get(ch) ?? ch;
    // iconv-lite writes '?' for what CP932 lacks, and '?' is ASCII, which never reaches here.
    const bytes = iconv.encode(written, 'cp932');
    if (bytes.length === 1 && bytes[0] === 0x3f) written = GETA;
    cp932Written.set(ch, written);
  }
  return written;
}

/**
 * UTF-8 bytes from PostgreSQL to CP932 (Shift_JIS as Windows writes it). A character CP932 lacks is
 * written as 〓, never dropped or turned into '?', and counted in `substituted`. The decoder holds
 * back a character split between two chunks, so each code point (a surrogate pair too) is seen whole.
 */
function shiftJisEncoder(substituted?: (count: number) => void): Transform {
  const utf8 = new StringDecoder('utf8');
  const encode = (text: string) => {
    if (!text) return undefined;
    let lacking = 0;
    const held = text.replace(/[^\x00-\x7f]/gu, (ch) => {
      const written = cp932Form(ch);
      if (written === GETA && ch !== GETA) lacking++;
      return written;
    });
    if (lacking) substituted?.(lacking);
    return iconv.encode(held, 'cp932');
  };
  return new Transform({
    // Strings written in (the header) arrive as UTF-8 bytes too, in order with the rows.
    decodeStrings: true,
    transform(chunk: Buffer, _enc, done) {
      done(null, encode(utf8.write(chunk)));
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
export async function copyCsv(db: DataSource, municipalityCode: string, sql: string, { header, encoding, out, stages = [], started, substituted, wholeMunicipality }: CsvCopy): Promise<void> {
  await withClient(db, async (client) => {
    await client.query('BEGIN READ ONLY');
    // A client that leaves before the first row (a city's rows are sorted for seconds first) gives
    // its slot back at once: the statement must not go on sorting for it, outside every bound.
    await endWithClient(client, true);
    await setTenants(client, [municipalityCode]);
    if (wholeMunicipality) await client.query('SET LOCAL enable_nestloop = off');
    const copy = client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv)`));
    started?.();
    const encoder = encoding === 'SJIS' ? shiftJisEncoder(substituted) : new PassThrough();
    // Excel opens UTF-8 CSV correctly only with a byte-order mark.
    encoder.write(`${encoding === 'SJIS' ? '' : '\ufeff'}${header.join(',')}\n`);
    await pipeline([copy, ...stages, encoder, out], { end: false });
    await client.query('COMMIT');
  });
}
