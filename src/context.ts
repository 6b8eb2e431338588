import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { EntityManager } from 'typeorm';
import { Actor } from './auth/actor';
import { RequestSession } from './db/tenant-session';
import { createLoaders, Loaders } from './loaders';
import { currentRequest, noteRequest } from './log';
import { AppAbility, defineAbilityFor, tenantsOf } from './policies/ability';
import { Channel } from './schema/enums';
import { ReadAudit } from './services/audit.service';
import type { Services } from './services';

/** Everything a resolver may know about the request. Built fresh for every request. */
export interface Context {
  /** The HTTP request's id (its answer's X-Request-Id, its log lines' requestId); one of its own otherwise. */
  requestId: string;
  channel: Channel;
  /** The client's address (src/http/client-address.ts), for throttling and alerts. */
  sourceAddress: string;
  actor: Actor | null;
  ability: AppAbility;
  /** The request's database transaction, scoped to the actor's municipalities. */
  session: RequestSession;
  loaders: Loaders;
  audit: ReadAudit;
  /**
   * Writes that must outlast the request's transaction (failed attempts, for the lockout and the
   * operation log): done in the request as usual, and again on their own if it is rolled back.
   */
  kept: ((db: EntityManager) => Promise<unknown>)[];
  /** The request has been counted towards its account's refusals (countRefusal). */
  refusalCounted: boolean;
  services: Services;
}

/**
 * The tenant and channel come only from the verified token and the listener, never from arguments.
 * `statementTimeoutMs` bounds each statement of the request's transaction (see RequestSession).
 */
export async function createContext(services: Services, channel: Channel, req: IncomingMessage, statementTimeoutMs?: number): Promise<Context> {
  // Two Authorization headers name no one: Node keeps the first in req.headers, a proxy may read
  // the last, so neither token is used, as none is from a header that is no bearer token.
  const [authorization, ...more] = req.headersDistinct.authorization ?? [];
  // The scheme's name is case-insensitive (RFC 9110 §11.1): "bearer" is as good as "Bearer".
  const token = authorization && more.length === 0 && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
  const actor = token ? await services.auth.actorFor(token, channel) : null;
  noteRequest({ municipalityCode: actor?.municipalityCode ?? null });
  return contextFor(services, actor, { channel, sourceAddress: services.clientAddress(req), statementTimeoutMs, requestId: currentRequest()?.requestId });
}

/** A context acting as `actor`; also used by seeding and tools that go through the services. */
export function contextFor(services: Services, actor: Actor | null, via: { channel: Channel; sourceAddress: string; requestId?: string; statementTimeoutMs?: number }): Context {
  const session = new RequestSession(services.db, tenantsOf(actor), via.statementTimeoutMs);
  const ability = defineAbilityFor(actor);
  return {
    requestId: via.requestId ?? randomUUID(),
    channel: via.channel,
    sourceAddress: via.sourceAddress,
    actor,
    ability,
    session,
    loaders: createLoaders(() => session.manager(), ability),
    audit: new ReadAudit(),
    kept: [],
    refusalCounted: false,
    services,
  };
}

/**
 * Counts the request towards its account's refusals for intrusion detection, once however many of
 * its fields were refused: a page of residents asked with My Number on the internet channel is one
 * refused request, not one for each resident on it.
 */
export async function countRefusal(ctx: Context): Promise<void> {
  if (!ctx.actor || ctx.refusalCounted) return;
  ctx.refusalCounted = true;
  await ctx.services.detector.denied(ctx.actor, ctx.sourceAddress);
}

/** Does `work` in the request's transaction now, and again on its own should the request be rolled back. */
export async function keepWrite<T>(ctx: Context, db: EntityManager, work: (db: EntityManager) => Promise<T>): Promise<T> {
  ctx.kept.push(work);
  return work(db);
}

/**
 * Counts the request's reads of My Number for intrusion detection, writes its read log and commits
 * its transaction; on failure rolls back and rethrows.
 * A request answered with a fault (`faulted`) writes nothing but its read log and its kept writes:
 * the other root fields of a mutation are undone with it, as the answer (a null payload) tells the
 * client.
 */
export async function finishRequest(ctx: Context, faulted = false): Promise<void> {
  let session = ctx.session;
  let kept: Context['kept'] = [];
  if (faulted) {
    if (ctx.audit.isEmpty && ctx.kept.length === 0) return session.finish(false);
    session = await session.undo();
    kept = ctx.kept;
  }
  try {
    // Counted before the read log is written (which empties it): one statement however many numbers were read.
    const myNumbers = ctx.audit.myNumbersRead;
    if (myNumbers > 0 && ctx.actor) await ctx.services.detector.myNumbersRead(ctx.actor, ctx.sourceAddress, myNumbers);
    if (!ctx.audit.isEmpty) await ctx.audit.flush(await session.manager(), ctx);
    for (const work of kept) await work(await session.manager());
  } catch (error) {
    await session.finish(false);
    throw error;
  }
  await session.finish(true);
}
