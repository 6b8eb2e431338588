import { Channel, Role } from '../schema/enums';

/** Who is calling, as established by a verified token and the listener the request came in on. */
export interface Actor {
  accountId: string;
  role: Role;
  municipalityCode: string | null;
  prefectureCode: string | null;
  channel: Channel;
}

/** Which channel each role may log in on (DESIGN.md §1). */
export const ROLE_CHANNELS: Record<Role, Channel[]> = {
  [Role.MUNICIPALITY]: [Channel.LGWAN, Channel.INTERNET],
  [Role.VACCINATION_SITE]: [Channel.INTERNET],
  [Role.PREFECTURE]: [Channel.LGWAN],
  [Role.NATIONAL]: [Channel.LGWAN],
  [Role.INTEGRATOR]: [Channel.INTERNET],
  [Role.OPERATOR]: [Channel.LGWAN],
};
