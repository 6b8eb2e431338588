import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';
import { UserError } from '../errors';
import { Channel, Role } from '../schema/enums';

@InputType()
export class CreateAccountInput {
  @Field({ description: '3 to 64 letters, digits or . _ @ -. Names one account whatever the case of its letters: one that differs from an existing login ID only in case is refused (DUPLICATE); the account keeps the letters given here.' }) loginId: string;
  @Field({ description: '12 to 256 characters.' }) password: string;
  @Field(() => Role) role: Role;
  @Field() displayName: string;
  @Field({ nullable: true, description: 'Required for MUNICIPALITY and VACCINATION_SITE accounts.' }) municipalityCode?: string;
  @Field({ nullable: true, description: 'Required for PREFECTURE accounts.' }) prefectureCode?: string;
}

/** The most accounts one page of `accounts` holds. */
export const MAX_ACCOUNTS_PAGE = 500;

@InputType()
export class AccountFilter {
  @Field(() => String, { nullable: true, description: 'The accounts of one municipality (its officers and vaccination sites); a malformed code, or one not in the national list, is refused (BAD_USER_INPUT).' })
  municipalityCode?: string | null;
  @Field(() => Role, { nullable: true }) role?: Role | null;
  @Field(() => Boolean, { nullable: true, description: 'true: only disabled accounts; false: only those that can sign in.' }) disabled?: boolean | null;
  @Field(() => String, { nullable: true, description: 'The account with this login ID, whatever the case of its letters; a malformed one is refused (BAD_USER_INPUT).' })
  loginId?: string | null;
}

@ObjectType()
export class AccountConnection {
  @Field(() => [Account]) nodes: Account[];
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page; null on the last.' }) endCursor: string | null;
}

@ObjectType()
export class AccountPayload {
  @Field(() => Account, { nullable: true }) account?: Account | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType({ description: 'The signed-in account.' })
export class Viewer {
  @Field() accountId: string;
  @Field(() => Role) role: Role;
  @Field(() => Channel) channel: Channel;
  @Field() displayName: string;
  @Field(() => Municipality, { nullable: true }) municipality?: Municipality | null;
  @Field(() => String, { nullable: true }) prefectureCode: string | null;
  @Field({ description: 'The password is the one the operator issued: nothing but changePassword and viewer works until it is changed.' })
  mustChangePassword: boolean;
}

@ObjectType()
export class LoginPayload {
  @Field({ description: 'Send as "Authorization: Bearer <token>". Valid only on the channel it was issued on.' })
  accessToken: string;
  @Field() expiresInSeconds: number;
  @Field({ description: 'Ask the user for a new password and call changePassword: the token works for nothing else until then.' })
  mustChangePassword: boolean;
  @Field(() => Viewer) viewer: Viewer;
}

@ObjectType()
export class ChangePasswordPayload {
  @Field(() => ID, {
    nullable: true,
    description: 'The account, when its password was changed. Every token issued before, this one included, no longer works: sign in again with the new password.',
  })
  accountId?: string | null;
  @Field(() => [UserError]) userErrors: UserError[];
}
