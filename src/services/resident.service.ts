import { randomUUID } from 'node:crypto';
import { EntityManager, In, QueryFailedError } from 'typeorm';
import { Context } from '../context';
import { applyCursor, encodeCursor } from '../resolvers/cursor';
import { shareRegistryLockOrRetry } from '../db/registry-lock';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { Resident } from '../entities/resident.entity';
import { badArgument, checkPageSize, ErrorCode, ErrorCollector, identifierError, InputError, notFoundOrNoAccess } from '../errors';
import { Action } from '../policies/ability';
import { applyScope, ownMunicipalityFor, scopeOf } from '../policies/scope';
import { MAX_PAGE, RegisterResidentInput, ResidentConnection, ResidentFilter, UpdateResidentInput } from '../resolvers/resident.types';
import { ResidentStatus } from '../schema/enums';
import { EARLIEST_BIRTH, isFuture, isIsoDate, normaliseDate } from '../validation/dates';
import {
  checkAddresseeNumber, checkMunicipalityCode, checkMyNumber, isUuid, KATAKANA, kanaSearchTerm, charCount, NAME_MAX, nameCharactersProblem, normaliseKana,
} from '../validation/identifiers';
import { municipalityOfCode, ownMunicipalityCodes } from '../validation/own-codes';
import { checkReason } from '../validation/reasons';
import { MY_NUMBER_READS, writeAudit } from './audit.service';
import { voidOpenTickets } from './ticket.service';


type ResidentFields = Omit<RegisterResidentInput, 'myNumber'> & { myNumber: string };

/** Field checks shared by register and update; `partial` skips fields the caller left out. */
function checkFields(input: Partial<RegisterResidentInput>, partial: boolean): Partial<ResidentFields> {
  const errors = new ErrorCollector();
  const out: Partial<ResidentFields> = {};
  const present = (key: keyof RegisterResidentInput) => input[key] !== undefined && input[key] !== null;
  const need = (key: keyof RegisterResidentInput) => {
    if (!present(key) && !partial) errors.add(['input', key], ErrorCode.REQUIRED, 'is required');
    return present(key);
  };
  const identifier = (key: 'addresseeNumber' | 'myNumber', check: typeof checkMyNumber) => {
    if (!need(key)) return;
    const result = check(String(input[key]));
    if (result.ok) out[key] = result.value;
    else errors.add(['input', key], identifierError(result.reason), result.message);
  };
  identifier('addresseeNumber', checkAddresseeNumber);
  identifier('myNumber', checkMyNumber);
  for (const key of ['familyName', 'givenName', 'familyNameKana', 'givenNameKana'] as const) {
    if (!need(key)) continue;
    // Half-width katakana (ｶﾅ) is stored full-width, as the CSV import stores it.
    const value = key.endsWith('Kana') ? normaliseKana(String(input[key])) : String(input[key]).trim();
    const unreadable = nameCharactersProblem(value);
    if (value.length === 0) errors.add(['input', key], ErrorCode.REQUIRED, 'must not be empty');
    else if (unreadable) errors.add(['input', key], ErrorCode.INVALID_FORMAT, unreadable);
    else if (charCount(value) > NAME_MAX) errors.add(['input', key], ErrorCode.INVALID_FORMAT, `must be at most ${NAME_MAX} characters`);
    else if (key.endsWith('Kana') && !KATAKANA.test(value)) errors.add(['input', key], ErrorCode.INVALID_FORMAT, 'must be written in katakana');
    else out[key] = value;
  }
  if (need('birthDate')) {
    const value = normaliseDate(String(input.birthDate));
    if (!isIsoDate(value)) errors.add(['input', 'birthDate'], ErrorCode.INVALID_DATE, 'must be a real date written YYYY-MM-DD');
    else if (isFuture(value)) errors.add(['input', 'birthDate'], ErrorCode.DATE_IN_FUTURE, 'must not be in the future');
    else if (value < EARLIEST_BIRTH) errors.add(['input', 'birthDate'], ErrorCode.INVALID_DATE, `must not be before ${EARLIEST_BIRTH}`);
    else out.birthDate = value;
  }
  if (need('sex')) out.sex = input.sex;
  errors.throwIfAny();
  return out;
}

/** A date for a status change: real, not in the future, not before the resident was born. */
function checkEventDate(field: string, value: string, birthDate: string): string {
  const date = normaliseDate(value);
  if (!isIsoDate(date)) throw InputError.of([field], ErrorCode.INVALID_DATE, 'must be a real date written YYYY-MM-DD');
  if (isFuture(date)) throw InputError.of([field], ErrorCode.DATE_IN_FUTURE, 'must not be in the future');
  if (date < birthDate) throw InputError.of([field], ErrorCode.DATE_BEFORE_BIRTH, 'must not be before the birth date');
  return date;
}

/** The same answer whether the unique index or the look-up under older key versions found the number. */
const numberTaken = () => InputError.of(['input', 'myNumber'], ErrorCode.DUPLICATE, 'another resident of this municipality has this My Number');

/** Unique-key violations name their constraint; map the ones a user can fix to the field at fault. */
function duplicateError(error: unknown): InputError | null {
  if (!(error instanceof QueryFailedError)) return null;
  const constraint = (error.driverError as { constraint?: string }).constraint;
  if (constraint === 'resident_addressee_number_key') {
    return InputError.of(['input', 'addresseeNumber'], ErrorCode.DUPLICATE, 'another resident of this municipality has this addressee number');
  }
  if (constraint === 'resident_my_number_hmac_key') {
    return numberTaken();
  }
  return null;
}

/**
 * A change's updated_at: the database's time of the statement that writes it, as the registry import's,
 * never this server's clock, which may differ from the database's and from other servers'. The record
 * export compares it with the created_at the database gave each record, so a number corrected just
 * after a dose on a server running behind would otherwise read as changed before the dose.
 */
const changedNow = (): string => 'statement_timestamp()';

/** What a change answers when the resident already holds every value given: nothing is written. */
class Unchanged {
  constructor(readonly resident: Resident) {}
}

export class ResidentService {
  constructor(private readonly keyring: TenantKeyring) {}

  async list(ctx: Context, filter: ResidentFilter = {}, first = 50, after?: string | null): Promise<ResidentConnection> {
    checkPageSize(first, MAX_PAGE);
    const scope = scopeOf(ctx.ability, 'read', 'Resident');
    if (!scope) return { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
    const db = await ctx.session.manager();
    const query = applyScope(db.getRepository(Resident).createQueryBuilder('r'), scope);
    // A filter given is applied, an empty one too: it is refused rather than read as no filter.
    if (filter.addresseeNumber != null) {
      const addressee = checkAddresseeNumber(filter.addresseeNumber);
      // A number no resident can have is a mistyped filter, not an empty result.
      if (!addressee.ok) throw badArgument(['filter', 'addresseeNumber'], addressee.message, identifierError(addressee.reason));
      query.andWhere('r.addresseeNumber = :addressee', { addressee: addressee.value });
    }
    if (filter.kanaPrefix != null) {
      const kana = kanaSearchTerm(filter.kanaPrefix);
      if (!kana) throw badArgument(['filter', 'kanaPrefix'], 'must not be empty', ErrorCode.REQUIRED);
      // Names are kept in full-width katakana: anything else would match nobody, and say nothing.
      if (!KATAKANA.test(kana)) throw badArgument(['filter', 'kanaPrefix'], 'must be written in kana (katakana or hiragana)', ErrorCode.INVALID_FORMAT);
      if (charCount(kana) > 2 * NAME_MAX) throw badArgument(['filter', 'kanaPrefix'], `must be at most ${2 * NAME_MAX} characters: a family and a given name in kana hold no more`, ErrorCode.INVALID_FORMAT);
      // search_kana holds family and given name run together without the separators they may hold (ジョン ポール,
      // メアリー・アン), as the term is taken. Names from the term up to the term with its last character the next one start with it: compared
      // so, not by LIKE, which is not leakproof and under row-level security stays out of resident_kana_idx's scan.
      const chars = [...kana];
      const next = chars.slice(0, -1).join('') + String.fromCodePoint(chars[chars.length - 1].codePointAt(0)! + 1);
      query.andWhere('r.search_kana ~>=~ :kana AND r.search_kana ~<~ :next', { kana, next });
    }
    if (filter.birthDate != null) {
      const birthDate = normaliseDate(filter.birthDate);
      if (!isIsoDate(birthDate)) {
        throw badArgument(['filter', 'birthDate'], 'must be a real date written YYYY-MM-DD', ErrorCode.INVALID_DATE);
      }
      query.andWhere('r.birthDate = :birthDate', { birthDate });
    }
    if (filter.status) query.andWhere('r.status = :status', { status: filter.status });
    if (after != null) applyCursor(query, scope, 'addressee_number', after);
    const rows = await query.orderBy('r.municipality_code').addOrderBy('r.addressee_number').limit(first + 1).getMany();
    const nodes = rows.slice(0, first);
    for (const r of nodes) ctx.audit.note('resident.read', r.municipalityCode, r.id);
    return { nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: nodes.length ? encodeCursor([nodes[nodes.length - 1].municipalityCode, nodes[nodes.length - 1].addresseeNumber]) : null } };
  }

  /** A resident the actor may act on; anything else, including another tenant's, is simply not found. */
  private async find(ctx: Context, db: EntityManager, action: Action, id: string, lock = false): Promise<Resident | null> {
    const scope = scopeOf(ctx.ability, action, 'Resident');
    if (!scope || !isUuid(id)) return null;
    const query = applyScope(db.getRepository(Resident).createQueryBuilder('r'), scope).andWhere('r.id = :id', { id });
    if (lock) query.setLock('pessimistic_write');
    return query.getOne();
  }

  async get(ctx: Context, id: string): Promise<Resident | null> {
    const resident = await this.find(ctx, await ctx.session.manager(), 'read', id);
    if (resident) ctx.audit.note('resident.read', resident.municipalityCode, resident.id);
    return resident;
  }

  /** Searches only the tenants whose My Number area the actor may read, by keyed hash. */
  async findByMyNumber(ctx: Context, myNumber: string): Promise<Resident | null> {
    const checked = checkMyNumber(myNumber);
    if (!checked.ok) {
      throw badArgument(['myNumber'], checked.message, identifierError(checked.reason));
    }
    const codes = (scopeOf(ctx.ability, 'read', 'MyNumber') ?? []).map((c) => c.municipalityCode);
    if (codes.some((code) => typeof code !== 'string')) throw new Error('My Number look-up needs a scope bound to municipalities');
    const db = await ctx.session.manager();
    for (const code of codes as string[]) {
      const resident = await db.getRepository(Resident).findOneBy({ municipalityCode: code, myNumberHmac: In(await this.lookupHashes(db, code, checked.value)) });
      ctx.audit.note(resident ? MY_NUMBER_READS.found : MY_NUMBER_READS.notFound, code, resident?.id ?? '-');
      if (resident) return resident;
    }
    return null;
  }

  /** Decrypts My Number for a resident the shield has already let through, and logs the access. */
  async myNumberOf(ctx: Context, resident: Resident): Promise<string> {
    const keys = await this.keyring.keysForVersion(await ctx.session.manager(), resident.municipalityCode, resident.keyVersion);
    ctx.audit.note(MY_NUMBER_READS.shown, resident.municipalityCode, resident.id);
    try {
      return keys.decrypt(resident.myNumberCipher);
    } catch {
      // A fault for the server's log, never the client's: the ciphertext was altered or copied from another row.
      throw new Error(`My Number of resident ${resident.id} (${resident.municipalityCode}) does not open under key version ${resident.keyVersion}: altered or copied ciphertext`);
    }
  }

  async register(ctx: Context, input: RegisterResidentInput): Promise<Resident> {
    const municipalityCode = ownMunicipalityFor(ctx, 'create', 'Resident');
    // A resident is registered with My Number, which is entered over LG-WAN only.
    ownMunicipalityFor(ctx, 'update', 'MyNumber');
    const fields = checkFields(input, false) as ResidentFields;
    return this.write(ctx, 'resident.register', async (tx) => {
      const keys = await this.keyring.keysForWriting(tx, municipalityCode);
      const { myNumber, ...rest } = fields;
      await this.assertNumberFree(tx, municipalityCode, myNumber, null);
      const resident = tx.getRepository(Resident).create({
        ...rest,
        municipalityCode,
        id: randomUUID(),
        myNumberCipher: keys.encrypt(myNumber),
        myNumberHmac: keys.lookupHash(myNumber),
        keyVersion: keys.version,
        status: ResidentStatus.ACTIVE,
        movedOutOn: null,
        movedToMunicipalityCode: null,
        deceasedOn: null,
        statusClearedReason: null,
      });
      // Its created_at and updated_at are the database's now() (the columns' defaults), read back by the insert.
      await tx.getRepository(Resident).insert(resident);
      return resident;
    });
  }

  /**
   * Changes the fields given. Values equal to the stored ones change nothing: a resident whose
   * every given value is already stored is answered as it is, with no write, no new updatedAt
   * (which would put its records into the next incremental export) and no change logged, only
   * the read of its answer.
   */
  async update(ctx: Context, id: string, input: UpdateResidentInput): Promise<Resident> {
    // Refused before the number is checked: not even its format or its holder is told.
    if (input.myNumber != null) ownMunicipalityFor(ctx, 'update', 'MyNumber');
    if (!Object.values(input).some((value) => value !== undefined && value !== null)) {
      throw InputError.of(['input'], ErrorCode.REQUIRED, 'give at least one field to change');
    }
    const fields = checkFields(input, true);
    return this.write(ctx, 'resident.update', async (tx) => {
      const resident = await this.find(ctx, tx, 'update', id, true);
      if (!resident) throw notFoundOrNoAccess(['id']);
      const { myNumber, ...given } = fields;
      const rest = Object.fromEntries(Object.entries(given).filter(([key, value]) => resident[key as keyof typeof given] !== value)) as typeof given;
      // Compared by look-up hash under the key the stored number is kept under.
      const sameNumber = !!myNumber && (await this.keyring.keysForVersion(tx, resident.municipalityCode, resident.keyVersion)).lookupHash(myNumber).equals(resident.myNumberHmac);
      const newNumber = sameNumber ? undefined : myNumber;
      if (Object.keys(rest).length === 0 && !newNumber) return new Unchanged(resident);
      if (rest.birthDate) {
        // A registry import under way checked the birth date it writes against the doses and dates recorded
        // then: one changed after its checks would let a dose in that its write then leaves before the birth.
        await shareRegistryLockOrRetry(tx, resident.municipalityCode, ['input', 'birthDate'],
          'the municipality\'s resident registry is being imported, or its tickets issued, right now: change the birth date again in a minute');
        await this.assertBirthDateFits(tx, resident, rest.birthDate);
      }
      Object.assign(resident, rest, { updatedAt: changedNow });
      if (newNumber) {
        // The key first, as a registration takes it: writers take its lock and the number's in one order.
        const keys = await this.keyring.keysForWriting(tx, resident.municipalityCode);
        await this.assertNumberFree(tx, resident.municipalityCode, newNumber, resident.id);
        Object.assign(resident, { myNumberCipher: keys.encrypt(newNumber), myNumberHmac: keys.lookupHash(newNumber), keyVersion: keys.version });
      }
      await tx.getRepository(Resident).save(resident);
      return resident;
    });
  }

  /**
   * A new birth date comes before every date recorded of the resident: the first recorded dose, the
   * issue of an open ticket (as issueTickets requires), a move out or death. Read under the
   * resident's row lock, which dose writers and ticket issuance take first; an import's new tickets
   * are issued today, which no birth date is after.
   */
  private async assertBirthDateFits(tx: EntityManager, resident: Resident, birthDate: string): Promise<void> {
    const refuse = (code: ErrorCode, message: string) => InputError.of(['input', 'birthDate'], code, message);
    const { first } = await this.doseDates(tx, resident);
    if (first && birthDate > first) throw refuse(ErrorCode.DATE_AFTER_NEXT_DOSE, `must not be after the first recorded dose (${first})`);
    const [ticket] = await tx.query(
      `SELECT ticket_number, to_char(issued_on, 'YYYY-MM-DD') AS issued_on FROM ticket
       WHERE municipality_code = $1 AND resident_id = $2 AND voided_on IS NULL AND issued_on < $3::date
       ORDER BY issued_on, ticket_number LIMIT 1`,
      [resident.municipalityCode, resident.id, birthDate],
    );
    if (ticket) throw refuse(ErrorCode.INVALID_DATE, `must not be after the issue date of ticket ${ticket.ticket_number} (${ticket.issued_on})`);
    for (const [event, on] of [['move out', resident.movedOutOn], ['death', resident.deceasedOn]] as const) {
      if (on && birthDate > on) throw refuse(ErrorCode.INVALID_DATE, `must not be after the recorded ${event} (${on})`);
    }
  }

  async markMovedOut(ctx: Context, id: string, movedOutOn: string, destination?: string | null): Promise<Resident> {
    let destinationCode: string | null = null;
    // Left out, the destination is unknown; given empty, it is refused rather than erase the one recorded.
    if (destination != null) {
      const checked = checkMunicipalityCode(destination);
      if (!checked.ok) {
        throw InputError.of(['destinationMunicipalityCode'], identifierError(checked.reason), checked.message);
      }
      // The notice may name a ward of another designated city: the city is the municipality the resident moves to.
      destinationCode = municipalityOfCode(checked.value);
    }
    return this.write(ctx, 'resident.markMovedOut', async (tx) => {
      const resident = await this.find(ctx, tx, 'update', id, true);
      if (!resident) throw notFoundOrNoAccess(['id']);
      // A designated city is one municipality: a move between its wards is no move out.
      if (destinationCode && ownMunicipalityCodes(resident.municipalityCode).has(destinationCode)) {
        throw InputError.of(['destinationMunicipalityCode'], ErrorCode.INVALID_STATE, 'is the resident\'s own municipality (or one of its wards): a move within it is no move out');
      }
      if (destinationCode && !(await ctx.loaders.municipality.load(destinationCode))) {
        throw InputError.of(['destinationMunicipalityCode'], ErrorCode.UNKNOWN_MUNICIPALITY, 'is not a municipality in the national list');
      }
      if (resident.status === ResidentStatus.DECEASED) throw InputError.of(['id'], ErrorCode.INVALID_STATE, 'resident is recorded as deceased');
      // A second mark would overwrite the first's date and destination with no trace; a correction clears it, with a reason, first.
      if (resident.status === ResidentStatus.MOVED_OUT) {
        throw InputError.of(['id'], ErrorCode.INVALID_STATE,
          `resident is already recorded as moved out (${resident.movedOutOn}): to record another date or destination, clear the move with clearResidentStatus first`);
      }
      const date = checkEventDate('movedOutOn', movedOutOn, resident.birthDate);
      await this.assertAfterDoses(tx, resident, 'movedOutOn', date);
      // An issuance or import under way may be writing a ticket for them that this voiding cannot see yet.
      await shareRegistryLockOrRetry(tx, resident.municipalityCode, ['id']);
      Object.assign(resident, {
        status: ResidentStatus.MOVED_OUT,
        movedOutOn: date,
        movedToMunicipalityCode: destinationCode,
        updatedAt: changedNow,
      });
      await tx.getRepository(Resident).save(resident);
      await voidOpenTickets(tx, ctx, resident.municipalityCode, resident.id, 'moved out');
      return resident;
    });
  }

  async markDeceased(ctx: Context, id: string, deceasedOn: string): Promise<Resident> {
    return this.write(ctx, 'resident.markDeceased', async (tx) => {
      const resident = await this.find(ctx, tx, 'update', id, true);
      if (!resident) throw notFoundOrNoAccess(['id']);
      if (resident.status === ResidentStatus.DECEASED) {
        throw InputError.of(['id'], ErrorCode.INVALID_STATE,
          `resident is already recorded as deceased (${resident.deceasedOn}): to record another date, clear the death with clearResidentStatus first`);
      }
      const date = checkEventDate('deceasedOn', deceasedOn, resident.birthDate);
      if (resident.movedOutOn && date < resident.movedOutOn) {
        throw InputError.of(['deceasedOn'], ErrorCode.INVALID_DATE, `must not be before the recorded move out (${resident.movedOutOn})`);
      }
      await this.assertAfterDoses(tx, resident, 'deceasedOn', date);
      // An issuance or import under way may be writing a ticket for them that this voiding cannot see yet.
      await shareRegistryLockOrRetry(tx, resident.municipalityCode, ['id']);
      Object.assign(resident, { status: ResidentStatus.DECEASED, deceasedOn: date, updatedAt: changedNow });
      await tx.getRepository(Resident).save(resident);
      await voidOpenTickets(tx, ctx, resident.municipalityCode, resident.id, 'deceased');
      return resident;
    });
  }

  /**
   * Undoes the last mark of a resident: a move cancelled (転出取消), or a mark entered for the wrong
   * resident. A death is cleared back to the move out recorded before it, if any; otherwise the
   * resident is ACTIVE again. The reason is kept on the resident. The tickets the mark voided stay
   * void, as every void ticket does; the officer issues a new one.
   */
  async clearStatus(ctx: Context, id: string, reason: string): Promise<Resident> {
    const text = checkReason(reason);
    return this.write(ctx, 'resident.clearStatus', async (tx) => {
      const resident = await this.find(ctx, tx, 'update', id, true);
      if (!resident) throw notFoundOrNoAccess(['id']);
      if (resident.status === ResidentStatus.ACTIVE) {
        throw InputError.of(['id'], ErrorCode.INVALID_STATE, 'resident is already active: there is no move out or death to clear');
      }
      const movedOutBefore = resident.status === ResidentStatus.DECEASED && resident.movedOutOn !== null;
      Object.assign(resident, {
        ...(movedOutBefore ? { status: ResidentStatus.MOVED_OUT } : { status: ResidentStatus.ACTIVE, movedOutOn: null, movedToMunicipalityCode: null }),
        deceasedOn: null,
        statusClearedReason: text,
        updatedAt: changedNow,
      });
      await tx.getRepository(Resident).save(resident);
      return resident;
    });
  }

  /**
   * Deletes a resident registered by mistake, with their tickets. A resident with any vaccination
   * record (completed, superseded or entered in error) is refused: records are history that a
   * correction only ever marks, and a ledger kept from the export would never learn of them gone.
   */
  async delete(ctx: Context, id: string): Promise<string> {
    let removed: string[] = [];
    const deleted = await this.write(ctx, 'resident.delete', async (tx) => {
      // The row lock every dose writer takes first: no record is added between the check and the delete.
      const resident = await this.find(ctx, tx, 'delete', id, true);
      if (!resident) throw notFoundOrNoAccess(['id']);
      const records = await tx.query('SELECT 1 FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2 LIMIT 1', [resident.municipalityCode, resident.id]);
      if (records.length) {
        throw InputError.of(['id'], ErrorCode.INVALID_STATE,
          'the resident has vaccination records, which are kept: mark the resident moved out or deceased, or correct their details, instead');
      }
      // An issuance or import under way may be writing a ticket for them, which would name a resident gone.
      await shareRegistryLockOrRetry(tx, resident.municipalityCode, ['id']);
      removed = (await tx.query(
        'SELECT id::text FROM ticket WHERE municipality_code = $1 AND resident_id = $2',
        [resident.municipalityCode, resident.id],
      )).map((r: { id: string }) => r.id);
      await tx.getRepository(Resident).delete({ municipalityCode: resident.municipalityCode, id: resident.id });
      return resident;
    }, () => removed);
    return deleted.id;
  }

  /** My Number's look-up hash under every key version of the municipality, newest first. */
  private async lookupHashes(db: EntityManager, municipalityCode: string, myNumber: string): Promise<Buffer[]> {
    return (await this.keyring.allVersions(db, municipalityCode)).map((keys) => keys.lookupHash(myNumber));
  }

  /**
   * The unique index compares hashes under one key version only; once a municipality has more
   * than one, a number may be stored under an older key's hash (a rotation under way, or a server
   * that has not noticed it yet), so the number is looked up under every version, one writer of
   * the municipality at a time.
   */
  private async assertNumberFree(tx: EntityManager, municipalityCode: string, myNumber: string, except: string | null): Promise<void> {
    const hashes = await this.lookupHashes(tx, municipalityCode, myNumber);
    if (hashes.length < 2) return;
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`my-number:${municipalityCode}`]);
    const taken = await tx.query(
      'SELECT 1 FROM resident WHERE municipality_code = $1 AND my_number_hmac = ANY ($2::bytea[]) AND id IS DISTINCT FROM $3 LIMIT 1',
      [municipalityCode, hashes, except],
    );
    if (taken.length > 0) throw numberTaken();
  }

  /**
   * The dates of the resident's first and last recorded doses: its birth must come before them,
   * a move out or death after them, as the dose rules require of every new dose.
   */
  private async doseDates(tx: EntityManager, resident: Resident): Promise<{ first: string | null; last: string | null }> {
    const [dates] = await tx.query(
      `SELECT to_char(min(vaccinated_on), 'YYYY-MM-DD') AS first, to_char(max(vaccinated_on), 'YYYY-MM-DD') AS last
       FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2 AND status = 'COMPLETED'`,
      [resident.municipalityCode, resident.id],
    );
    return dates;
  }

  private async assertAfterDoses(tx: EntityManager, resident: Resident, field: string, date: string): Promise<void> {
    const { last } = await this.doseDates(tx, resident);
    if (last && date < last) throw InputError.of([field], ErrorCode.DATE_BEFORE_PREVIOUS_DOSE, `must not be before the last recorded dose (${last})`);
  }

  /**
   * Runs a change in one transaction together with its audit event (the resident, then any
   * `alsoChanged`); nothing is half-written. A change that finds nothing to do logs no change,
   * only the read of the resident it answers with.
   */
  private async write(ctx: Context, operation: string, change: (tx: EntityManager) => Promise<Resident | Unchanged>, alsoChanged: () => string[] = () => []): Promise<Resident> {
    try {
      return await (await ctx.session.manager()).transaction(async (tx) => {
        const result = await change(tx);
        if (result instanceof Unchanged) {
          ctx.audit.note('resident.read', result.resident.municipalityCode, result.resident.id);
          return result.resident;
        }
        await writeAudit(tx, ctx, [{ operation, municipalityCode: result.municipalityCode, targetIds: [result.id, ...alsoChanged()], outcome: 'SUCCESS' }]);
        return result;
      });
    } catch (error) {
      throw duplicateError(error) ?? error;
    }
  }
}
