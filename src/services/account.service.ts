import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { hashPassword } from '../auth/password';
import { Context, keepWrite } from '../context';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';
import { Prefecture } from '../entities/prefecture.entity';
import { badArgument, badCursor, checkPageSize, ErrorCode, ErrorCollector, identifierError, InputError, notFoundOrNoAccess } from '../errors';
import { ROLE_TENANT } from '../policies/roles';
import { applyScope, scopeOf } from '../policies/scope';
import { AccountConnection, AccountFilter, CreateAccountInput, MAX_ACCOUNTS_PAGE } from '../resolvers/account.types';
import { checkRowCursor, pageOf } from '../resolvers/cursor';
import { Role } from '../schema/enums';
import { charCount, checkMunicipalityCode, checkPrefectureCode, isUuid } from '../validation/identifiers';
import { noMunicipalityMessage } from '../validation/own-codes';
import { AuditSource, checkMunicipalityFilter, writeAudit } from './audit.service';

export const LOGIN_ID = /^[A-Za-z0-9._@-]{3,64}$/;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 256;

/**
 * Longer than a password may be set. Over twice as many UTF-16 units is over as many characters,
 * told without counting them, which for a megabyte takes a while. A password is checked at sign-in
 * whatever its length (Argon2 takes as long for a megabyte as for twelve characters), so that one
 * set before the maximum still signs in.
 */
const passwordTooLong = (password: string): boolean =>
  password.length > 2 * MAX_PASSWORD || charCount(password) > MAX_PASSWORD;

/** The one password rule, for a password the operator issues and for one its holder chooses: 𠮷 is one character, not two. */
export function checkPassword(password: string, field: string[], errors: ErrorCollector): void {
  if (passwordTooLong(password)) errors.add(field, ErrorCode.INVALID_FORMAT, `must be at most ${MAX_PASSWORD} characters`);
  else if (charCount(password) < MIN_PASSWORD) errors.add(field, ErrorCode.INVALID_FORMAT, `must be at least ${MIN_PASSWORD} characters`);
}

/** A disable that AccountService.disable refuses: answered as a userError on `id`, and logged. */
class DisableRefused extends InputError {
  constructor(message: string) {
    super([{ field: ['id'], code: ErrorCode.INVALID_STATE, message }]);
  }
}

export class AccountService {
  constructor(private readonly db: DataSource) {}

  /**
   * A page of accounts ordered by login ID whatever its case, the order of the unique index on
   * lower(login_id); by municipality, by role or of the disabled accounts, of an index of its own in
   * that order. A page reads about a page of the index, however many accounts come before it. The cursor is the last
   * account's id, and one no account has is refused, never read as the list's start.
   */
  async list(ctx: Context, filter: AccountFilter, first: number, after: string | null | undefined): Promise<AccountConnection> {
    checkPageSize(first, MAX_ACCOUNTS_PAGE);
    if (after != null && !isUuid(after)) throw badCursor();
    const scope = scopeOf(ctx.ability, 'read', 'Account');
    if (!scope) return { nodes: [], endCursor: null };
    const municipalityCode = await checkMunicipalityFilter(ctx, filter.municipalityCode);
    if (filter.loginId != null && !LOGIN_ID.test(filter.loginId)) {
      throw badArgument(['filter', 'loginId'], 'must be 3 to 64 letters, digits or . _ @ -', ErrorCode.INVALID_FORMAT);
    }
    const db = await ctx.session.manager();
    const query = applyScope(db.getRepository(Account).createQueryBuilder('a'), scope);
    if (municipalityCode) query.andWhere('a.municipality_code = :code', { code: municipalityCode });
    if (filter.role) query.andWhere('a.role = :role', { role: filter.role });
    if (filter.disabled != null) query.andWhere(filter.disabled ? 'a.disabled_at IS NOT NULL' : 'a.disabled_at IS NULL');
    if (filter.loginId) query.andWhere('lower(a.login_id) = lower(:loginId)', { loginId: filter.loginId });
    if (after) {
      const cursor = after.toLowerCase();
      await checkRowCursor(db, Account, scope, cursor);
      query.andWhere('lower(a.login_id) > (SELECT lower(c.login_id) FROM account c WHERE c.id = :cursor)', { cursor });
    }
    return pageOf(await query.orderBy('lower(a.login_id)').limit(first + 1).getMany(), first, (last) => last.id);
  }

  /**
   * A password the operator chose must be changed at the account's first sign-in: the operator
   * keeps no working credentials of anyone. `chosenByHolder` is for an account whose password its
   * own holder set: an operator created from the shell, demo data.
   */
  async create(ctx: Context | AuditSource, input: CreateAccountInput, { chosenByHolder = false } = {}): Promise<Account> {
    const errors = new ErrorCollector();
    if (!LOGIN_ID.test(input.loginId)) errors.add(['input', 'loginId'], ErrorCode.INVALID_FORMAT, 'must be 3 to 64 letters, digits or . _ @ -');
    checkPassword(input.password, ['input', 'password'], errors);
    if (!input.displayName.trim()) errors.add(['input', 'displayName'], ErrorCode.REQUIRED, 'must not be empty');
    else if (/[\u0000-\u001f\u007f-\u009f]/.test(input.displayName)) errors.add(['input', 'displayName'], ErrorCode.INVALID_FORMAT, 'must not hold control characters');
    else if (charCount(input.displayName.trim()) > 100) errors.add(['input', 'displayName'], ErrorCode.INVALID_FORMAT, 'must be at most 100 characters');
    const needsMunicipality = ROLE_TENANT[input.role] === 'municipality';
    const needsPrefecture = ROLE_TENANT[input.role] === 'prefecture';
    let municipalityCode: string | null = null;
    let prefectureCode: string | null = null;
    if (needsMunicipality !== !!input.municipalityCode) {
      errors.add(['input', 'municipalityCode'], needsMunicipality ? ErrorCode.REQUIRED : ErrorCode.INVALID_STATE,
        needsMunicipality ? `is required for ${input.role} accounts` : `must be empty for ${input.role} accounts`);
    } else if (input.municipalityCode) {
      const checked = checkMunicipalityCode(input.municipalityCode);
      if (!checked.ok) errors.add(['input', 'municipalityCode'], identifierError(checked.reason), checked.message);
      else if (!(await this.db.getRepository(Municipality).existsBy({ code: checked.value }))) {
        errors.add(['input', 'municipalityCode'], ErrorCode.UNKNOWN_MUNICIPALITY, noMunicipalityMessage(checked.value));
      } else municipalityCode = checked.value;
    }
    if (needsPrefecture !== !!input.prefectureCode) {
      errors.add(['input', 'prefectureCode'], needsPrefecture ? ErrorCode.REQUIRED : ErrorCode.INVALID_STATE,
        needsPrefecture ? `is required for ${input.role} accounts` : `must be empty for ${input.role} accounts`);
    } else if (input.prefectureCode) {
      const checked = checkPrefectureCode(input.prefectureCode);
      if (!checked.ok || !(await this.db.getRepository(Prefecture).existsBy({ code: checked.value }))) {
        errors.add(['input', 'prefectureCode'], ErrorCode.INVALID_FORMAT, 'must be a prefecture code from 01 to 47');
      } else prefectureCode = checked.value;
    }
    errors.throwIfAny();

    const account = this.db.getRepository(Account).create({
      id: randomUUID(),
      loginId: input.loginId,
      passwordHash: await hashPassword(input.password),
      mustChangePassword: !chosenByHolder,
      passwordVersion: 0,
      role: input.role,
      municipalityCode,
      prefectureCode,
      displayName: input.displayName.trim(),
      disabledAt: null,
      failedLoginCount: 0,
      lockedUntil: null,
      lastLoginAt: null,
      createdAt: new Date(),
    });
    // A request's in its transaction, so that a mutation document undone undoes this account too.
    const db = 'session' in ctx ? await ctx.session.manager() : this.db.manager;
    return db.transaction(async (tx) => {
      const inserted = await tx.query('INSERT INTO account (id, login_id, password_hash, must_change_password, role, municipality_code, prefecture_code, display_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id',
        [account.id, account.loginId, account.passwordHash, account.mustChangePassword, account.role, municipalityCode, prefectureCode, account.displayName]);
      // Taken in any case of its letters (account_login_id_lower_key): no two accounts read alike.
      if (inserted.length === 0) throw InputError.of(['input', 'loginId'], ErrorCode.DUPLICATE, 'is already taken');
      await writeAudit(tx, ctx, [{ operation: 'account.create', municipalityCode, targetIds: [account.id], outcome: 'SUCCESS' }]);
      return account;
    });
  }

  /**
   * Disables an account. No account disables itself, and the last enabled operator account stays,
   * so the operators cannot lock themselves out (an enable needs an operator). A refusal changes
   * nothing and is logged as DENIED. An account already disabled is refused as enable refuses an
   * enabled one, and nothing is written: the log keeps the one disable that took effect.
   */
  async disable(ctx: Context, given: string): Promise<Account> {
    const db = await ctx.session.manager();
    // A uuid is one however its letters are written: compared as the database compares it.
    const id = given.toLowerCase();
    try {
      return await db.transaction(async (tx) => {
        if (!isUuid(id)) throw notFoundOrNoAccess(['id']);
        if (id === ctx.actor?.accountId) throw new DisableRefused('is your own account: another operator has to disable it');
        // The enabled operators, locked in one order until the request commits: two operators
        // disabling each other at once are taken one after the other, and the second finds itself
        // the last. NO KEY UPDATE, so the operation log's references to these rows do not wait.
        const operators: { id: string }[] = await tx.query(
          `SELECT id FROM account WHERE role = $1 AND disabled_at IS NULL ORDER BY id FOR NO KEY UPDATE`, [Role.OPERATOR]);
        if (operators.length === 1 && operators[0].id === id) {
          throw new DisableRefused('is the last enabled operator account: create another operator before disabling it');
        }
        const result = await tx.createQueryBuilder().update(Account).set({ disabledAt: () => 'now()' }).where('id = :id AND disabled_at IS NULL', { id }).execute();
        if (!result.affected) {
          if (!(await tx.getRepository(Account).existsBy({ id }))) throw notFoundOrNoAccess(['id']);
          throw InputError.of(['id'], ErrorCode.INVALID_STATE, 'is already disabled: there is nothing to disable');
        }
        await writeAudit(tx, ctx, [{ operation: 'account.disable', municipalityCode: null, targetIds: [id], outcome: 'SUCCESS' }]);
        return tx.getRepository(Account).findOneByOrFail({ id });
      });
    } catch (error) {
      if (error instanceof DisableRefused) {
        await keepWrite(ctx, db, (into) => writeAudit(into, ctx, [{ operation: 'account.disable', municipalityCode: null, targetIds: [id], outcome: 'DENIED' }]));
      }
      throw error;
    }
  }

  /**
   * Enables a disabled account again. Its tokens from before stay dead: the password version moves
   * on, as a password change moves it, so a token issued before the disable is not revived by the
   * enable; the holder signs in again.
   */
  async enable(ctx: Context, given: string): Promise<Account> {
    const db = await ctx.session.manager();
    const id = given.toLowerCase();
    return db.transaction(async (tx) => {
      if (!isUuid(id)) throw notFoundOrNoAccess(['id']);
      const [enabled] = await tx.query(
        `UPDATE account SET disabled_at = NULL, password_version = password_version + 1 WHERE id = $1 AND disabled_at IS NOT NULL RETURNING id`, [id]);
      if ((enabled as unknown[]).length === 0) {
        if (!(await tx.getRepository(Account).existsBy({ id }))) throw notFoundOrNoAccess(['id']);
        throw InputError.of(['id'], ErrorCode.INVALID_STATE, 'is not disabled: there is nothing to enable');
      }
      await writeAudit(tx, ctx, [{ operation: 'account.enable', municipalityCode: null, targetIds: [id], outcome: 'SUCCESS' }]);
      return tx.getRepository(Account).findOneByOrFail({ id });
    });
  }

  /**
   * Replaces another account's password with a temporary one the operator chose, for a holder who
   * forgot theirs or is locked out: as after createAccount, the holder must change it at the next
   * sign-in; every token issued before stops working, and a lockout ends. A disabled account stays
   * disabled. The operator's own password is changed with changePassword, which asks for the
   * current one: a refusal of the caller's own account changes nothing and is logged as DENIED.
   */
  async resetPassword(ctx: Context, given: string, temporaryPassword: string): Promise<Account> {
    const db = await ctx.session.manager();
    const id = given.toLowerCase();
    const log = (outcome: 'SUCCESS' | 'DENIED') => (into: EntityManager) =>
      writeAudit(into, ctx, [{ operation: 'account.passwordReset', municipalityCode: null, targetIds: [id], outcome }]);
    if (!isUuid(id)) throw notFoundOrNoAccess(['id']);
    const errors = new ErrorCollector();
    if (id === ctx.actor?.accountId) {
      errors.add(['id'], ErrorCode.INVALID_STATE, 'is your own account: change your own password with changePassword');
      await keepWrite(ctx, db, log('DENIED'));
    }
    checkPassword(temporaryPassword, ['temporaryPassword'], errors);
    errors.throwIfAny();
    const passwordHash = await hashPassword(temporaryPassword);
    return db.transaction(async (tx) => {
      const [reset] = await tx.query(
        `UPDATE account SET password_hash = $2, password_version = password_version + 1, must_change_password = true, failed_login_count = 0, locked_until = NULL
         WHERE id = $1 RETURNING id`, [id, passwordHash]);
      if ((reset as unknown[]).length === 0) throw notFoundOrNoAccess(['id']);
      await log('SUCCESS')(tx);
      return tx.getRepository(Account).findOneByOrFail({ id });
    });
  }
}
