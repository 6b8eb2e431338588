import { Channel, Role } from '../schema/enums';

/** Who is calling, as established by a verified token and the listener the request came in on. */
export interface Actor {
  accountId: string;
  role: Role;
  municipalityCode: string | null;
  prefectureCode: string | null;
  channel: Channel;
  /** Still signed in with the password the operator issued: only changePassword and viewer are open. */
  mustChangePassword?: boolean;
}
