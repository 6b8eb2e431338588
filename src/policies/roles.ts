import { Channel, Role } from '../schema/enums';

/** Which channels each role may sign in and work on (DESIGN.md §1); a token works only on its own. */
export const ROLE_CHANNELS: Record<Role, Channel[]> = {
  [Role.MUNICIPALITY]: [Channel.LGWAN, Channel.INTERNET],
  [Role.VACCINATION_SITE]: [Channel.INTERNET],
  [Role.PREFECTURE]: [Channel.LGWAN],
  [Role.NATIONAL]: [Channel.LGWAN],
  [Role.INTEGRATOR]: [Channel.INTERNET],
  [Role.OPERATOR]: [Channel.LGWAN],
};

/**
 * The tenant an account of each role belongs to (DESIGN.md §1): a municipality's officers and the
 * sites it runs act for that municipality, a prefecture's staff for the prefecture; the others
 * belong to none, so the ability gives them no tenant's rows.
 */
export const ROLE_TENANT: Record<Role, 'municipality' | 'prefecture' | null> = {
  [Role.MUNICIPALITY]: 'municipality',
  [Role.VACCINATION_SITE]: 'municipality',
  [Role.PREFECTURE]: 'prefecture',
  [Role.NATIONAL]: null,
  [Role.INTEGRATOR]: null,
  [Role.OPERATOR]: null,
};
