import { jwtVerify, SignJWT } from 'jose';
import { Channel } from '../schema/enums';
import { isUuid } from '../validation/identifiers';

const ISSUER = 'vrs-platform';

export interface TokenClaims {
  accountId: string;
  channel: Channel;
  /** The account's password version at sign-in: a password change or reset, or an enable, ends every token issued before it. */
  passwordVersion: number;
}

export class TokenSigner {
  constructor(private readonly secret: Buffer, private readonly ttlSeconds: number) {}

  /** The channel is the token's signed audience, so a token only works where it was issued. */
  sign(claims: TokenClaims): Promise<string> {
    return new SignJWT({ pwv: claims.passwordVersion })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.accountId)
      .setIssuer(ISSUER)
      .setAudience(claims.channel)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.secret);
  }

  /** Returns the claims, or null for any token that is malformed, expired, forged or from the other channel. */
  async verify(token: string, channel: Channel): Promise<TokenClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.secret, { issuer: ISSUER, audience: channel, algorithms: ['HS256'] });
      // Only an account id names an account: anything else, signed or not, is no one's token.
      if (typeof payload.sub !== 'string' || !isUuid(payload.sub)) return null;
      // Tokens signed before versions existed carry none: they hold for an unchanged password only.
      const version = payload.pwv ?? 0;
      if (!Number.isInteger(version)) return null;
      return { accountId: payload.sub, channel, passwordVersion: version as number };
    } catch {
      return null;
    }
  }
}
