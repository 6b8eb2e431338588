import { randomUUID } from 'node:crypto';
import { Transform, Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { Context } from '../context';
import { copyCsv, spreadsheetText } from '../db/csv-copy';
import { patiently } from '../db/pg-client';
import { PlatformFunction } from '../entities/function-suspension.entity';
import { ErrorCode, ErrorCollector } from '../errors';
import { Log } from '../log';
import { ownMunicipalityFor } from '../policies/scope';
import { isIsoDate, normaliseDate } from '../validation/dates';
import { encodingNamed, FileEncoding } from '../validation/encodings';
import { checkQueryParameters } from '../validation/query-parameters';
import { writeAudit } from './audit.service';

export interface RecordExportFilter {
  from: string | null;
  to: string | null;
  /**
   * Registration dates (JST), inclusive: an incremental pull also gets doses registered late for an
   * earlier day, records corrected or deleted in the range, and those of residents changed in it.
   */
  registeredFrom: string | null;
  registeredTo: string | null;
  dose: number | null;
  encoding: FileEncoding;
}

/**
 * The VRS ledger layout (DESIGN.md §4.6), one line per dose, then what a ledger kept by incremental
 * pulls needs to apply corrections and deletions: the record's id, its status and when it changed,
 * and the record a correction replaced. Appended, so the VRS columns keep their places. My Number is
 * not a column and no column is derived from it: the query below never reads the resident's My
 * Number columns.
 */
export const LEDGER_COLUMNS: [header: string, sql: string][] = [
  ['宛名番号', spreadsheetText('r.addressee_number')],
  ['接種回', 'v.dose_number'],
  ['登録日時', `to_char(v.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD HH24:MI:SS')`],
  ['接種日', `to_char(v.vaccinated_on, 'YYYY-MM-DD')`],
  ['接種券番号', 't.ticket_number'],
  ['自治体コード', 'v.municipality_code'],
  ['接種地コード', 'v.site_municipality_code'],
  // As the tablet or officer gave them; empty when none was.
  ['接種会場', spreadsheetText('v.venue')],
  ['医師名', spreadsheetText('v.doctor_name')],
  ['ワクチンメーカー', spreadsheetText('v.manufacturer')],
  ['ロット番号', spreadsheetText('v.lot_number')],
  ['記録ID', 'v.id'],
  // COMPLETED, SUPERSEDED or ENTERED_IN_ERROR.
  ['状態', 'v.status'],
  ['状態変更日時', `to_char(v.status_changed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD HH24:MI:SS')`],
  ['訂正元記録ID', 'p.id'],
];

/** Query parameters of the download: from/to (vaccination date), registeredFrom/registeredTo (registration date, JST), both inclusive; dose; encoding. */
export function checkExportFilter(params: URLSearchParams): RecordExportFilter {
  const errors = new ErrorCollector();
  const refused = checkQueryParameters(params, ['from', 'to', 'registeredFrom', 'registeredTo', 'dose', 'encoding'], errors);
  // Typed as GraphQL's dates are: full-width digits and hyphens, or kana mode's ー, read as ASCII.
  const date = (name: string) => {
    const value = normaliseDate(params.get(name) ?? '');
    if (!value || refused.has(name)) return null;
    if (!isIsoDate(value)) errors.add([name], ErrorCode.INVALID_DATE, 'must be a real date written YYYY-MM-DD');
    return value;
  };
  /** Two inclusive bounds, the second not before the first. */
  const range = (low: string, high: string): [string | null, string | null] => {
    const [a, b] = [date(low), date(high)];
    if (a && b && isIsoDate(a) && isIsoDate(b) && a > b) errors.add([high], ErrorCode.INVALID_DATE, `must not be before ${low}`);
    return [a, b];
  };
  const [from, to] = range('from', 'to');
  const [registeredFrom, registeredTo] = range('registeredFrom', 'registeredTo');
  let dose: number | null = null;
  const rawDose = params.get('dose')?.trim();
  if (rawDose && !refused.has('dose')) {
    dose = Number(rawDose);
    if (!/^\d{1,2}$/.test(rawDose) || dose < 1 || dose > 20) errors.add(['dose'], ErrorCode.INVALID_FORMAT, 'must be a dose number from 1 to 20');
  }
  const encoding = encodingNamed(params.get('encoding') ?? 'utf8');
  if (!encoding && !refused.has('encoding')) errors.add(['encoding'], ErrorCode.INVALID_FORMAT, 'must be utf8 or sjis');
  errors.throwIfAny();
  return { from, to, registeredFrom, registeredTo, dose, encoding: encoding! };
}

/**
 * Streams a municipality's vaccination records as CSV with COPY TO, in constant memory: its
 * completed records, or with a registration range, every record registered or changed in it.
 */
export class RecordExportService {
  /** Fault injection for tests: a stage put between the database and the encoder, to fail a download part-way. */
  faultStage: (() => Transform) | null = null;

  constructor(private readonly db: DataSource, private readonly log: Log) {}

  /** The one municipality whose records the caller may download; refused otherwise. */
  municipalityOf(ctx: Context): string {
    return ownMunicipalityFor(ctx, 'export', 'VaccinationRecord');
  }

  /**
   * Writes the CSV to `out` and returns the number of records written. `started` is called once
   * the download can no longer be refused, before its first byte.
   */
  async stream(ctx: Context, filter: RecordExportFilter, out: Writable, started?: () => void): Promise<number> {
    const code = this.municipalityOf(ctx);
    const pull = Boolean(filter.registeredFrom || filter.registeredTo);
    // COPY takes no bind parameters; every value below was checked to be digits or an ISO date.
    const inRange = (column: string) => [
      filter.registeredFrom && `${column} >= (DATE '${filter.registeredFrom}')::timestamp AT TIME ZONE 'Asia/Tokyo'`,
      filter.registeredTo && `${column} < (DATE '${filter.registeredTo}' + 1)::timestamp AT TIME ZONE 'Asia/Tokyo'`,
    ].filter(Boolean).join(' AND ');
    const where: string[] = [];
    let rows: string;
    if (pull) {
      // A ledger kept by pulling what was registered since the last pull must also learn that a
      // dose it already has was corrected or deleted, or that its resident (宛名番号) changed after
      // it was registered: each record once, as it stands now. Each of the three is read through the
      // index on its own time, and UNION lists a record two of them find once; an OR of them read every record.
      // The records found are then read one at a time, with their resident, ticket and predecessor, each
      // by its whole key in a LATERAL subquery the planner cannot flatten (OFFSET 0): joined, where its
      // counts lagged a city written faster than autovacuum counts it, it reckoned one resident of the
      // city, read a record's resident by the municipality alone, and so every resident once per record.
      rows = `(SELECT municipality_code, id FROM vaccination_record WHERE municipality_code = '${code}' AND ${inRange('created_at')}
        UNION SELECT municipality_code, id FROM vaccination_record WHERE municipality_code = '${code}' AND ${inRange('status_changed_at')}
        UNION SELECT c.municipality_code, c.id FROM resident u CROSS JOIN LATERAL (SELECT municipality_code, id FROM vaccination_record c
            WHERE c.municipality_code = u.municipality_code AND c.resident_id = u.id AND c.created_at < u.updated_at OFFSET 0) c
          WHERE u.municipality_code = '${code}' AND ${inRange('u.updated_at')}) pulled
      CROSS JOIN LATERAL (SELECT * FROM vaccination_record v WHERE v.municipality_code = pulled.municipality_code AND v.id = pulled.id OFFSET 0) v
      CROSS JOIN LATERAL (SELECT addressee_number FROM resident r WHERE r.municipality_code = v.municipality_code AND r.id = v.resident_id OFFSET 0) r
      LEFT JOIN LATERAL (SELECT ticket_number FROM ticket t WHERE t.municipality_code = v.municipality_code AND t.id = v.ticket_id OFFSET 0) t ON true
      LEFT JOIN LATERAL (SELECT id FROM vaccination_record p WHERE p.municipality_code = v.municipality_code AND p.superseded_by = v.id OFFSET 0) p ON true`;
    } else {
      rows = `vaccination_record v
      JOIN resident r ON r.municipality_code = v.municipality_code AND r.id = v.resident_id
      LEFT JOIN ticket t ON t.municipality_code = v.municipality_code AND t.id = v.ticket_id
      LEFT JOIN vaccination_record p ON p.municipality_code = v.municipality_code AND p.superseded_by = v.id`;
      where.push(`v.municipality_code = '${code}'`, `v.status = 'COMPLETED'`);
    }
    if (filter.from) where.push(`v.vaccinated_on >= DATE '${filter.from}'`);
    if (filter.to) where.push(`v.vaccinated_on <= DATE '${filter.to}'`);
    if (filter.dose) where.push(`v.dose_number = ${Number(filter.dose)}`);
    const sql = `SELECT ${LEDGER_COLUMNS.map(([, column]) => column).join(', ')}
      FROM ${rows}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY v.vaccinated_on, r.addressee_number, v.dose_number, v.created_at`;
    await ctx.services.suspensions.assertAvailable(this.db.manager, PlatformFunction.EXPORT, code);
    let sent = 0;
    let substituted = 0;
    // The download's own id, its filter and its size: which records left is reproducible, and no value is logged.
    const described = [`from:${filter.from ?? '-'}`, `to:${filter.to ?? '-'}`, `dose:${filter.dose ?? '-'}`, `encoding:${filter.encoding}`];
    if (pull) described.push(`registeredFrom:${filter.registeredFrom ?? '-'}`, `registeredTo:${filter.registeredTo ?? '-'}`);
    // A Shift_JIS download also tells how many characters it wrote as 〓, lacking them.
    const size = () => [`rows:${sent}`, ...(filter.encoding === 'SJIS' ? [`substituted:${substituted}`] : [])];
    // Waits for a connection as long as it takes: the rows have left, and a busy pool must not cut the download.
    const audit = (outcome: 'SUCCESS' | 'FAILURE') => patiently(() => writeAudit(this.db.manager, ctx, [
      { operation: 'vaccinationRecord.export', municipalityCode: code, targetIds: [randomUUID(), ...described, ...size()], outcome },
    ]));
    // Counted as they pass, not from COPY's own count, which arrives only once all rows have.
    // No exported value holds a line break, so each one ends a record.
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) sent++;
        done(null, chunk);
      },
    });
    const fault = this.faultStage?.();
    try {
      await copyCsv(this.db, code, sql, {
        header: LEDGER_COLUMNS.map(([name]) => name), encoding: filter.encoding, out, stages: fault ? [fault, counter] : [counter], started,
        substituted: (count) => (substituted += count),
        // A pull by registration date is a day's few records, each read through its keys (above).
        wholeMunicipality: !pull,
      });
      // Logged before the download completes, so no finished download goes unrecorded.
      await audit('SUCCESS');
    } catch (error) {
      // A download cut off part-way has still taken the rows sent so far: it is logged too.
      await audit('FAILURE').catch((e: unknown) => this.log.error({ err: e, municipalityCode: code }, 'export audit failed'));
      throw error;
    }
    out.end();
    return sent;
  }
}
