import 'reflect-metadata';
import { TenantKeys } from '../../src/crypto/tenant-keys';
import { ChunkFailure, RecordCutter, stageChunk } from '../../src/services/resident-import.chunk';
import { Layout } from '../../src/services/resident-import.layout';
import { JAPANESE_HEADER, registryCsv, registryRow } from '../helpers/registry-csv';

const text = (chunk: { text: Uint8Array } | null) => (chunk ? Buffer.from(chunk.text).toString('utf8') : null);

describe('cutting an upload into whole records', () => {
  it('drops the BOM even when it arrives split over the first pieces of the upload', () => {
    const file = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('宛名番号,個人番号\r\n1,2\r\n')]);
    for (const cuts of [[1], [2], [1, 2], [3], [5]]) {
      const cutter = new RecordCutter();
      const out: string[] = [];
      let from = 0;
      for (const at of [...cuts, file.length]) {
        const got = text(cutter.push(file.subarray(from, at)));
        if (got) out.push(got);
        from = at;
      }
      const rest = text(cutter.finish());
      if (rest) out.push(rest);
      expect([cuts, out.join('')]).toEqual([cuts, '宛名番号,個人番号\r\n1,2\r\n']);
    }
  });

  it('counts a carriage return inside quotes in the header of a classic Mac file, before its record end is known', () => {
    const cutter = new RecordCutter();
    const first = cutter.push(Buffer.from('h1,"a\rb"\rx,y\r'));
    const second = cutter.push(Buffer.from('p,q\r'));
    expect([first?.firstLine, second?.firstLine ?? cutter.finish()?.firstLine]).toEqual([1, 4]);
  });

  it('counts a carriage return and line feed inside quotes as one line, in the header of a classic Mac file too', () => {
    const cutter = new RecordCutter();
    const first = cutter.push(Buffer.from('h1,"a\r\nb"\rx,y\r'));
    const second = cutter.push(Buffer.from('p,q\r'));
    expect([first?.firstLine, second?.firstLine ?? cutter.finish()?.firstLine]).toEqual([1, 4]);
  });
});

/** A row as staged: its line, and either its family name or the fields its problems name. */
type Staged = [line: number, value: string];

const keys = new TenantKeys('131016', 1, Buffer.alloc(32, 7));

/** Cuts `file` as it arrives in `pieces` and stages every chunk, as the import does. */
function stage(file: string, pieces: number[]): Staged[] {
  const bytes = Buffer.from(file);
  const cutter = new RecordCutter();
  let layout: Layout | null = null;
  const out: Staged[] = [];
  const take = (chunk: { text: Uint8Array; firstLine: number } | null) => {
    if (!chunk) return;
    const staged = stageChunk(chunk, cutter.end, layout, keys, { today: '2024-04-01', nationalCodes: new Set(['131016']) });
    layout = staged.layout;
    for (const line of staged.copy.split('\n').slice(0, -1)) {
      const columns = line.split('\t');
      const problems = columns[12] === '\\N' ? null : (JSON.parse(columns[12].replace(/\\\\/g, '\\')) as { field: string; message: string }[]);
      out.push([Number(columns[0]), problems ? problems.map((p) => `${p.field}: ${p.message}`).join('; ') : columns[4]]);
    }
  };
  let from = 0;
  for (const at of [...pieces, bytes.length]) {
    take(cutter.push(bytes.subarray(from, at)));
    from = at;
  }
  take(cutter.finish());
  return out;
}

/** The same rows wherever the upload's pieces happen to end. */
function stagedEverywhere(file: string): Staged[] {
  const whole = stage(file, []);
  const length = Buffer.byteLength(file);
  for (let at = 1; at < length; at++) expect([at, stage(file, [at])]).toEqual([at, whole]);
  expect(stage(file, Array.from({ length: length - 1 }, (_, i) => i + 1))).toEqual(whole);
  return whole;
}

/** A registry file with the given family names (as CSV), its header ending in `headerEnd`, each row in `ends`. */
function registry(families: string[], ends: string[], headerEnd = '\r\n'): string {
  const [header, ...rows] = registryCsv(families.map((_, i) => registryRow({ family: `NAME${i}` }))).split('\r\n');
  return header + headerEnd + families.map((family, i) => rows[i].replace(`NAME${i}`, family) + ends[i]).join('');
}

describe('reading the records of an upload', () => {
  it('ends a record at every line feed outside quotes, with or without a carriage return before it', () => {
    const file = registry(['甲', '乙', '丙', '丁', '戊', '己'], ['\r\n', '\n', '\n', '\r\n', '\n', '']);
    expect(stagedEverywhere(file)).toEqual([[2, '甲'], [3, '乙'], [4, '丙'], [5, '丁'], [6, '戊'], [7, '己']]);
    // A header in CRLF and nothing but bare line feeds after it.
    const lf = registry(['甲', '乙', '丙', '丁', '戊'], ['\n', '\n', '\n', '\n', '\n']);
    expect(stage(lf, []).map(([line]) => line)).toEqual([2, 3, 4, 5, 6]);
  });

  it('keeps line numbers right after quoted line breaks in a file of mixed line ends', () => {
    const file = registry(['甲', '"乙\r\n\n乙"', '丙', '"丁\n丁"', '戊'], ['\n', '\r\n', '\n', '\n', '\r\n']);
    expect(stagedEverywhere(file)).toEqual([
      [2, '甲'],
      [3, 'familyName: must not contain control characters, nor U+FFFD (what bytes that could not be decoded become)'],
      [6, '丙'],
      [7, 'familyName: must not contain control characters, nor U+FFFD (what bytes that could not be decoded become)'],
      [9, '戊'],
    ]);
  });

  it('still ends records at carriage returns alone in a classic Mac file, a line feed there being data', () => {
    const file = registry(['甲', '乙', '丙'], ['\r', '\r', '\r'], '\r');
    expect(stagedEverywhere(file)).toEqual([[2, '甲'], [3, '乙'], [4, '丙']]);
    // A carriage return inside quotes breaks the line there too: 乙 takes lines 3 and 4.
    const quoted = registry(['甲', '"乙\r乙"', '丙\n丙', '丁'], ['\r', '\r', '\r', '\r'], '\r');
    expect(stagedEverywhere(quoted).map(([line]) => line)).toEqual([2, 3, 5, 7]);
    // A carriage return and line feed inside quotes is one line break, as an editor shows it:
    // 乙 takes lines 3 and 4, and the rejected row after it is on line 5.
    const crlf = registry(['甲', '"乙\r\n乙"', '丙', '丁'], ['\r', '\r', ',,,x\r', '\r'], '\r');
    expect(stagedEverywhere(crlf)).toEqual([
      [2, '甲'],
      [3, 'familyName: must not contain control characters, nor U+FFFD (what bytes that could not be decoded become)'],
      [5, `: has ${JAPANESE_HEADER.length + 3} fields; the header has ${JAPANESE_HEADER.length}`],
      [6, '丁'],
    ]);
  });

  it('reads a quote that does not start a field as data, an odd number of them too', () => {
    const file = registry(['甲', '乙 "A" 乙', '丙"', 'x"y"z"', '戊'], ['\n', '\r\n', '\n', '\r\n', '\n']);
    expect(stagedEverywhere(file)).toEqual([[2, '甲'], [3, '乙 "A" 乙'], [4, '丙"'], [5, 'x"y"z"'], [6, '戊']]);
  });

  it('fails at its line on a quoted field that goes on after its closing quote, or never closes', () => {
    const junk = registry(['甲', '"乙\n乙"', '"丙"丙', '丁'], ['\r\n', '\r\n', '\n', '\n']);
    for (const pieces of [[], [Buffer.from(junk).indexOf('丙')], [Buffer.byteLength(junk) - 2]]) {
      expect(() => stage(junk, pieces)).toThrow(new ChunkFailure('line 5: the file is not valid CSV (CSV_INVALID_CLOSING_QUOTE); nothing was written'));
    }
    const mac = registry(['甲', '"乙\r乙"', '"丙"丙', '丁'], ['\r', '\r', '\r', '\r'], '\r');
    for (const pieces of [[], [Buffer.from(mac).indexOf('丙')]]) {
      expect(() => stage(mac, pieces)).toThrow(new ChunkFailure('line 5: the file is not valid CSV (CSV_INVALID_CLOSING_QUOTE); nothing was written'));
    }
    const unclosed = registry(['甲', '"乙\n乙"', '"丙', '丁'], ['\r\n', '\r\n', '\n', '\n']);
    expect(() => stage(unclosed, [])).toThrow(/^line 5: the file is not valid CSV \(CSV_QUOTE_NOT_CLOSED\)/);
  });

  it('rejects a row with a value beyond the header\'s fields, and takes empty fields padding a row', () => {
    const file = registry(['甲', '乙', '丙'], [',,,\r\n', ',,,x\n', ',, ,\n']);
    const fields = JAPANESE_HEADER.length;
    expect(stagedEverywhere(file)).toEqual([[2, '甲'], [3, `: has ${fields + 3} fields; the header has ${fields}`], [4, '丙']]);
  });
});
