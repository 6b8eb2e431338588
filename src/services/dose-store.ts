import { EntityManager, QueryFailedError } from 'typeorm';
import { ErrorCode, InputError } from '../errors';
import { prepared } from '../db/pg-client';
import { CheckedDose, PriorDose, ResidentFacts } from './dose-rules';

/** SQL shared by every path that writes a dose: lock the resident, read the history, insert. */

export interface LockedResident extends ResidentFacts {
  municipalityCode: string;
  id: string;
  history: PriorDose[];
}

export interface TicketWithResident {
  ticketId: string;
  series: string;
  voidedOn: string | null;
  resident: LockedResident;
}

const RESIDENT_COLUMNS = `r.municipality_code, r.id AS resident_id, to_char(r.birth_date, 'YYYY-MM-DD') AS birth_date, r.status,
  to_char(r.moved_out_on, 'YYYY-MM-DD') AS moved_out_on, to_char(r.deceased_on, 'YYYY-MM-DD') AS deceased_on,
  coalesce((SELECT json_agg(json_build_object('id', v.id, 'doseNumber', v.dose_number, 'vaccinatedOn', to_char(v.vaccinated_on, 'YYYY-MM-DD'),
                                              'vaccineCode', v.vaccine_code, 'manufacturer', v.manufacturer) ORDER BY v.dose_number)
            FROM vaccination_record v
            WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED'), '[]') AS history`;

type Row = Record<string, any>;

function residentOf(row: Row): LockedResident {
  return {
    municipalityCode: row.municipality_code,
    id: row.resident_id,
    birthDate: row.birth_date,
    status: row.status,
    movedOutOn: row.moved_out_on,
    deceasedOn: row.deceased_on,
    history: row.history,
  };
}

/**
 * A ticket, its resident and the resident's completed doses, by exact ticket reference. With
 * `lock`, the resident row is locked first so that doses of one person are written one at a time,
 * and everything is read after the lock: a statement that waits for a lock still reads with the
 * snapshot it began with, so the history read beside the lock would miss the dose whose
 * transaction held it.
 */
export async function ticketWithResident(db: EntityManager, municipalityCode: string, ticketNumber: string, lock: boolean): Promise<TicketWithResident | null> {
  if (lock) {
    const locked: Row[] = await db.query(prepared(
      `SELECT 1 FROM ticket t JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id
       WHERE t.municipality_code = $1 AND t.ticket_number = $2 FOR UPDATE OF r`),
      [municipalityCode, ticketNumber],
    );
    if (!locked.length) return null;
  }
  const rows: Row[] = await db.query(prepared(
    `SELECT t.id AS ticket_id, t.series, to_char(t.voided_on, 'YYYY-MM-DD') AS voided_on, ${RESIDENT_COLUMNS}
     FROM ticket t JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id
     WHERE t.municipality_code = $1 AND t.ticket_number = $2`),
    [municipalityCode, ticketNumber],
  );
  if (!rows.length) return null;
  const row = rows[0];
  return { ticketId: row.ticket_id, series: row.series, voidedOn: row.voided_on, resident: residentOf(row) };
}

/** A resident of one tenant, locked, then read with the history (see lockedResidents). */
export async function lockedResident(db: EntityManager, municipalityCode: string, residentId: string): Promise<LockedResident | null> {
  // The map is keyed as PostgreSQL prints the id; the one asked for may be in upper case.
  const [resident] = (await lockedResidents(db, municipalityCode, [residentId])).values();
  return resident ?? null;
}

/**
 * Residents of one tenant, locked in one statement, then read with their histories in another (see
 * ticketWithResident); those not found are missing from the map. Locked in id order, so that two
 * batches over the same residents wait for each other instead of deadlocking.
 */
export async function lockedResidents(db: EntityManager, municipalityCode: string, residentIds: string[]): Promise<Map<string, LockedResident>> {
  if (!residentIds.length) return new Map();
  await db.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE', [municipalityCode, residentIds]);
  const rows: Row[] = await db.query(`SELECT ${RESIDENT_COLUMNS} FROM resident r WHERE r.municipality_code = $1 AND r.id = ANY($2::uuid[])`, [municipalityCode, residentIds]);
  return new Map(rows.map((row) => [row.resident_id, residentOf(row)]));
}

export interface NewRecord {
  municipalityCode: string;
  id: string;
  residentId: string;
  ticketId: string | null;
  dose: CheckedDose;
  siteMunicipalityCode: string;
  source: 'TABLET' | 'OFFICER' | 'CSV' | 'INQUIRY';
  recordedBy: string | null;
  idempotencyKey: string | null;
}

const RECORD_COLUMNS = `municipality_code, id, resident_id, ticket_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
  product, lot_number, venue, doctor_name, site_municipality_code, source, recorded_by, idempotency_key`;

const valuesOf = (r: NewRecord) => [r.municipalityCode, r.id, r.residentId, r.ticketId, r.dose.doseNumber, r.dose.vaccinatedOn, r.dose.vaccine.code,
  r.dose.vaccine.manufacturer, r.dose.vaccine.product, r.dose.lotNumber, r.dose.venue, r.dose.doctorName, r.siteMunicipalityCode, r.source, r.recordedBy, r.idempotencyKey];

function duplicateDose(error: unknown): never {
  if (error instanceof QueryFailedError && (error.driverError as { constraint?: string }).constraint === 'vaccination_record_dose_key') {
    throw InputError.of(['input', 'doseNumber'], ErrorCode.DUPLICATE_DOSE, 'this dose is already recorded');
  }
  throw error;
}

/**
 * Writes one COMPLETED dose. The one dose per resident and number that may be COMPLETED is also a
 * unique key: a writer that got past the resident's lock some other way is told the dose is
 * already recorded, not handed a fault.
 */
export async function insertRecord(db: EntityManager, r: NewRecord): Promise<Date> {
  const [row] = await db.query(prepared(
    `INSERT INTO vaccination_record (${RECORD_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING created_at`),
    valuesOf(r),
  ).catch(duplicateDose);
  return row.created_at;
}

/** Writes many COMPLETED doses in one statement, as insertRecord writes one; one parameter, however many doses. */
export async function insertRecords(db: EntityManager, records: NewRecord[]): Promise<void> {
  if (!records.length) return;
  const names = RECORD_COLUMNS.split(',').map((c) => c.trim());
  await db.query(
    `INSERT INTO vaccination_record (${RECORD_COLUMNS})
     SELECT ${RECORD_COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS r(municipality_code text, id uuid, resident_id uuid, ticket_id uuid,
       dose_number smallint, vaccinated_on date, vaccine_code text, manufacturer text, product text, lot_number text, venue text, doctor_name text,
       site_municipality_code text, source text, recorded_by uuid, idempotency_key text)`,
    [JSON.stringify(records.map((r) => Object.fromEntries(valuesOf(r).map((v, i) => [names[i], v]))))],
  ).catch(duplicateDose);
}
