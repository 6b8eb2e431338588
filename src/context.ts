import { randomUUID } from 'node:crypto';
import { Actor } from './auth/actor';
import { createLoaders, Loaders } from './loaders';
import { AppAbility, defineAbilityFor } from './policies/ability';
import { Channel } from './schema/enums';
import { ReadAudit } from './services/audit.service';
import type { Services } from './services';

/** Everything a resolver may know about the request. Built fresh for every request. */
export interface Context {
  requestId: string;
  channel: Channel;
  actor: Actor | null;
  ability: AppAbility;
  loaders: Loaders;
  audit: ReadAudit;
  services: Services;
}

/** The tenant and channel come only from the verified token and the listener, never from arguments. */
export async function createContext(services: Services, channel: Channel, authorization: string | undefined): Promise<Context> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  const actor = token ? await services.auth.actorFor(token, channel) : null;
  const ability = defineAbilityFor(actor);
  return {
    requestId: randomUUID(),
    channel,
    actor,
    ability,
    loaders: createLoaders(services.db, services.keyring, ability),
    audit: new ReadAudit(),
    services,
  };
}
