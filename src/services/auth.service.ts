import { GraphQLError } from 'graphql';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Actor } from '../auth/actor';
import { decoyHash, verifyPassword } from '../auth/password';
import { TokenSigner } from '../auth/token';
import { Account } from '../entities/account.entity';
import { ROLE_CHANNELS } from '../policies/roles';
import { Channel } from '../schema/enums';
import { LOGIN_ID } from './account.service';
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
    // A login ID that no account can have (control characters, say) is simply unknown.
    const account = LOGIN_ID.test(loginId) ? await this.db.getRepository(Account).findOneBy({ loginId }) : null;
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
    const locked = account.lockedUntil !== null && account.lockedUntil > new Date();
    if (account.disabledAt || locked) {
      await audit('DENIED');
      await this.detector.loginFailed(address, place);
      throw refused();
    }
    if (!passwordOk) {
      // Counted in SQL so that concurrent attempts cannot slip past the limit.
      const [rows] = await this.db.query(
        `UPDATE account SET
           failed_login_count = CASE WHEN failed_login_count + 1 >= $2 THEN 0 ELSE failed_login_count + 1 END,
           locked_until = CASE WHEN failed_login_count + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
         WHERE id = $1 RETURNING failed_login_count = 0 AS locked_now`,
        [account.id, this.policy.maxFailedLogins, this.policy.lockoutMinutes],
      );
      await audit('FAILURE');
      await this.detector.loginFailed(address, place);
      if (rows[0]?.locked_now) await this.detector.accountLocked(account.id, account.municipalityCode, address);
      throw refused();
    }
    // The row was read before the password check: an attempt running beside it may have locked
    // (or an operator disabled) the account since, and a right guess must not lift that.
    const [signedIn] = await this.db.query(
      `UPDATE account SET failed_login_count = 0, locked_until = NULL, last_login_at = now()
       WHERE id = $1 AND disabled_at IS NULL AND (locked_until IS NULL OR locked_until <= now()) RETURNING id`,
      [account.id],
    );
    if ((signedIn as unknown[]).length === 0) {
      await audit('DENIED');
      await this.detector.loginFailed(address, place);
      throw refused();
    }
    await this.detector.loginSucceeded(address);
    await audit('SUCCESS');
    return { accessToken: await this.tokens.sign({ accountId: account.id, channel }), account };
  }

  /** The actor behind a token, or null if the token is invalid, from the other channel, or its account is disabled. */
  async actorFor(token: string, channel: Channel): Promise<Actor | null> {
    const claims = await this.tokens.verify(token, channel);
    if (!claims) return null;
    const account = await this.db.getRepository(Account).findOneBy({ id: claims.accountId });
    if (!account || account.disabledAt || !ROLE_CHANNELS[account.role].includes(channel)) return null;
    return {
      accountId: account.id,
      role: account.role,
      municipalityCode: account.municipalityCode,
      prefectureCode: account.prefectureCode,
      channel,
    };
  }
}
