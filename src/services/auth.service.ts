import { GraphQLError } from 'graphql';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, Raw } from 'typeorm';
import { Actor } from '../auth/actor';
import { decoyHash, hashPassword, verifyPassword } from '../auth/password';
import { TokenSigner } from '../auth/token';
import { Context, keepWrite } from '../context';
import { Account } from '../entities/account.entity';
import { ErrorCode, ErrorCollector, InputError } from '../errors';
import { ROLE_CHANNELS } from '../policies/roles';
import { Channel } from '../schema/enums';
import { checkPassword, LOGIN_ID } from './account.service';
import { writeAudit } from './audit.service';
import { IntrusionDetector } from './intrusion.service';

export interface LoginPolicy {
  maxFailedLogins: number;
  lockoutMinutes: number;
}

// One message for every refusal: it never tells whether the login ID exists or is locked.
const refused = () =>
  new GraphQLError('Login ID or password is incorrect, or the account is locked or disabled', {
    extensions: { code: 'UNAUTHENTICATED' },
  });

export class AuthService {
  constructor(
    private readonly db: DataSource,
    private readonly tokens: TokenSigner,
    private readonly policy: LoginPolicy,
    private readonly detector: IntrusionDetector,
  ) {}

  async login(channel: Channel, loginId: string, password: string, address: string): Promise<{ accessToken: string; account: Account }> {
    const source = { requestId: randomUUID(), channel, actor: null };
    const place = await this.detector.loginStarted(address);
    // A throttled attempt writes no log line: it costs no password hash, so a line each would let a
    // flood grow the log without bound; the LOGIN_THROTTLED alert records the throttling.
    if (place === null) throw refused();
    // A login ID that no account can have (control characters, say) is simply unknown. One account
    // has it in any case of its letters (account_login_id_lower_key), however the holder typed them.
    const account = LOGIN_ID.test(loginId)
      ? await this.db.getRepository(Account).findOneBy({ loginId: Raw((column) => `lower(${column}) = lower(:loginId)`, { loginId }) })
      : null;
    if (!account) {
      await verifyPassword(await decoyHash(), password);
      await this.detector.loginFailed(address, place);
      await writeAudit(this.db.manager, source, [{ operation: 'login', municipalityCode: null, targetIds: [], outcome: 'FAILURE' }]);
      throw refused();
    }
    const audit = (outcome: 'SUCCESS' | 'FAILURE' | 'DENIED') =>
      writeAudit(this.db.manager, source, [{ operation: 'login', municipalityCode: account.municipalityCode, targetIds: [account.id], outcome }]);

    const passwordOk = await verifyPassword(account.passwordHash, password);
    if (!ROLE_CHANNELS[account.role].includes(channel)) {
      // Answered as a wrong password, right or wrong: a different answer would confirm the password
      // to whoever tries an LG-WAN account's credentials from the internet. Nor does it count
      // towards the account's lockout, or anyone on the internet could lock LG-WAN accounts out.
      await audit('DENIED');
      await this.detector.loginFailed(address, place);
      throw refused();
    }
    if (account.disabledAt || account.locked) {
      await audit('DENIED');
      await this.detector.loginFailed(address, place);
      throw refused();
    }
    if (!passwordOk) {
      const failure = await this.countFailure(this.db.manager, account.id);
      await audit(failure === 'alreadyLocked' ? 'DENIED' : 'FAILURE');
      await this.detector.loginFailed(address, place);
      if (failure === 'lockedNow') await this.detector.accountLocked(account.id, account.municipalityCode, address);
      throw refused();
    }
    // The row was read before the password check: an attempt running beside it may have locked
    // (or an operator disabled) the account since, and a right guess must not lift that; nor may
    // a password changed since sign anyone in.
    const [signedIn] = await this.db.query(
      `UPDATE account SET failed_login_count = 0, locked_until = NULL, last_login_at = now()
       WHERE id = $1 AND password_version = $2 AND disabled_at IS NULL AND (locked_until IS NULL OR locked_until <= now()) RETURNING id`,
      [account.id, account.passwordVersion],
    );
    if ((signedIn as unknown[]).length === 0) {
      await audit('DENIED');
      await this.detector.loginFailed(address, place);
      throw refused();
    }
    await this.detector.loginSucceeded(address);
    await audit('SUCCESS');
    return { accessToken: await this.tokens.sign({ accountId: account.id, channel, passwordVersion: account.passwordVersion }), account };
  }

  /**
   * Counts a wrong password towards the lockout, in SQL so that concurrent attempts cannot slip past
   * the limit. An attempt that read the account before another locked it is not counted: the lock
   * is neither lengthened nor raised twice, and it ends with no failures carried over.
   */
  private async countFailure(db: EntityManager, accountId: string): Promise<'counted' | 'lockedNow' | 'alreadyLocked'> {
    const [rows] = await db.query(
      `UPDATE account SET
         failed_login_count = CASE WHEN failed_login_count + 1 >= $2 THEN 0 ELSE failed_login_count + 1 END,
         locked_until = CASE WHEN failed_login_count + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
       WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now()) RETURNING failed_login_count = 0 AS locked_now`,
      [accountId, this.policy.maxFailedLogins, this.policy.lockoutMinutes],
    );
    if (rows.length === 0) return 'alreadyLocked';
    return rows[0].locked_now === true ? 'lockedNow' : 'counted';
  }

  /**
   * Replaces the signed-in account's password with one its holder chose. A wrong current password
   * counts towards the lockout as a failed login does, so a token left on an unlocked terminal is
   * no way round it; a locked account's token is refused (actorFor), and one locked while its
   * request runs is answered as a wrong password is. The current password is
   * checked first, so a wrong one is counted whatever the new one is; the new one's faults depend
   * on nothing secret and are named with it. Every attempt leaves a log line. The change ends
   * every token issued before it, this request's own included.
   */
  async changePassword(ctx: Context, currentPassword: string, newPassword: string): Promise<Account> {
    const refusals = new ErrorCollector();
    checkPassword(newPassword, ['newPassword'], refusals);
    if (newPassword === currentPassword) refusals.add(['newPassword'], ErrorCode.PASSWORD_UNCHANGED, 'must differ from the current password');

    const db = await ctx.session.manager();
    const account = await db.getRepository(Account).findOneByOrFail({ id: ctx.actor!.accountId });
    const log = (outcome: 'SUCCESS' | 'FAILURE' | 'DENIED') => (into: EntityManager) =>
      writeAudit(into, ctx, [{ operation: 'account.changePassword', municipalityCode: account.municipalityCode, targetIds: [account.id], outcome }]);
    // A refused attempt, and its count towards the lockout, stay even if the request is rolled back.
    const audit = (outcome: 'SUCCESS' | 'FAILURE' | 'DENIED') => (outcome === 'SUCCESS' ? log(outcome)(db) : keepWrite(ctx, db, log(outcome)));
    const incorrect = () => new InputError([
      { field: ['currentPassword'], code: ErrorCode.PASSWORD_INCORRECT, message: 'is incorrect, or the account is locked' },
      ...refusals.errors,
    ]);

    const passwordOk = await verifyPassword(account.passwordHash, currentPassword);
    if (account.locked) {
      await audit('DENIED');
      throw incorrect();
    }
    if (!passwordOk) {
      const failure = await keepWrite(ctx, db, (into) => this.countFailure(into, account.id));
      await audit(failure === 'alreadyLocked' ? 'DENIED' : 'FAILURE');
      if (failure === 'lockedNow') await this.detector.accountLocked(account.id, account.municipalityCode, ctx.sourceAddress);
      throw incorrect();
    }
    if (refusals.errors.length > 0) {
      await audit('FAILURE');
      refusals.throwIfAny();
    }
    // Only over the hash just verified: a change or a lock that came in meanwhile wins.
    const [changed] = await db.query(
      `UPDATE account SET password_hash = $3, password_version = password_version + 1, must_change_password = false, failed_login_count = 0
       WHERE id = $1 AND password_hash = $2 AND (locked_until IS NULL OR locked_until <= now()) RETURNING id`,
      [account.id, account.passwordHash, await hashPassword(newPassword)],
    );
    if ((changed as unknown[]).length === 0) {
      await audit('DENIED');
      // Replaced meanwhile (another request of this account, or the operator's reset): this
      // password was right, and the holder is told so; a lock that came in is answered as ever.
      const [now] = await db.query(
        `SELECT password_hash <> $2 AND (locked_until IS NULL OR locked_until <= now()) AS replaced FROM account WHERE id = $1`, [account.id, account.passwordHash]);
      if (now?.replaced) {
        throw InputError.of(['currentPassword'], ErrorCode.INVALID_STATE, 'was replaced by another request while this one ran: sign in with the password it set');
      }
      throw incorrect();
    }
    await audit('SUCCESS');
    return account;
  }

  /**
   * The actor behind a token, or null if the token is invalid, from the other channel, its account
   * is disabled or locked, or its password has changed (or it was enabled again) since the token was issued.
   */
  async actorFor(token: string, channel: Channel): Promise<Actor | null> {
    const claims = await this.tokens.verify(token, channel);
    if (!claims) return null;
    const account = await this.db.getRepository(Account).findOneBy({ id: claims.accountId });
    if (!account || account.disabledAt || !ROLE_CHANNELS[account.role].includes(channel)) return null;
    // A lock stops the account's tokens too, until it ends: whoever is guessing may already hold one.
    if (account.locked) return null;
    // Signed before the password last changed: whoever held the old password holds no session. An
    // enable moves the version on too, so it revives no token from before the disable.
    if (claims.passwordVersion !== account.passwordVersion) return null;
    return {
      accountId: account.id,
      role: account.role,
      municipalityCode: account.municipalityCode,
      prefectureCode: account.prefectureCode,
      channel,
      mustChangePassword: account.mustChangePassword,
    };
  }
}
