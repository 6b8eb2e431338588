import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';
import { UserError } from '../errors';
import { Channel, Role } from '../schema/enums';
import { payloadDescriptions } from './payload';

@InputType({ description: 'A new account, issued by the operator.' })
export class CreateAccountInput {
  @Field({ description: '3 to 64 letters, digits or . _ @ -. Names one account whatever the case of its letters: one that differs from an existing login ID only in case is refused (DUPLICATE); the account keeps the letters given here.' }) loginId: string;
  @Field({ description: '12 to 256 characters.' }) password: string;
  @Field(() => Role, { description: 'What the account is for; it decides the channels it signs in on.' }) role: Role;
  @Field({ description: 'The name shown for the account, e.g. a section or site name.' }) displayName: string;
  @Field({ nullable: true, description: 'Required for MUNICIPALITY and VACCINATION_SITE accounts.' }) municipalityCode?: string;
  @Field({ nullable: true, description: 'Required for PREFECTURE accounts.' }) prefectureCode?: string;
}

/** The most accounts one page of `accounts` holds. */
export const MAX_ACCOUNTS_PAGE = 500;

@InputType({ description: 'Conditions on accounts; those given all apply.' })
export class AccountFilter {
  @Field(() => String, { nullable: true, description: 'The accounts of one municipality (its officers and vaccination sites); a malformed code, or one not in the national list, is refused (BAD_USER_INPUT).' })
  municipalityCode?: string | null;
  @Field(() => Role, { nullable: true, description: 'Only accounts of this role.' }) role?: Role | null;
  @Field(() => Boolean, { nullable: true, description: 'true: only disabled accounts; false: only those that can sign in.' }) disabled?: boolean | null;
  @Field(() => String, { nullable: true, description: 'The account with this login ID, whatever the case of its letters; a malformed one is refused (BAD_USER_INPUT).' })
  loginId?: string | null;
}

@ObjectType({ description: 'A page of accounts.' })
export class AccountConnection {
  @Field(() => [Account], { description: 'The accounts of this page, in login ID order.' }) nodes: Account[];
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page; null on the last.' }) endCursor: string | null;
}

@ObjectType({ description: 'The account as changed, or why not.' })
export class AccountPayload {
  @Field(() => Account, { nullable: true, description: payloadDescriptions.data }) account?: Account | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@ObjectType({ description: 'The signed-in account.' })
export class Viewer {
  @Field({ description: 'The account\'s id.' }) accountId: string;
  @Field(() => Role, { description: 'The account\'s role.' }) role: Role;
  @Field(() => Channel, { description: 'The channel this token works on.' }) channel: Channel;
  @Field({ description: 'The account\'s display name.' }) displayName: string;
  @Field(() => Municipality, { nullable: true, description: 'The municipality a MUNICIPALITY or VACCINATION_SITE account acts for; null for the others.' }) municipality?: Municipality | null;
  @Field(() => String, { nullable: true, description: 'The prefecture (2 digits) of a PREFECTURE account; null for the others.' }) prefectureCode: string | null;
  @Field({ description: 'The password is the one the operator issued: nothing but changePassword and viewer works until it is changed.' })
  mustChangePassword: boolean;
}

@ObjectType({ description: 'A signed-in session. A wrong login ID or password, or a role signing in on a channel it does not use, is an UNAUTHENTICATED error instead.' })
export class LoginPayload {
  @Field({ description: 'Send as "Authorization: Bearer <token>". Valid only on the channel it was issued on.' })
  accessToken: string;
  @Field({ description: 'Seconds until the token expires; then sign in again.' }) expiresInSeconds: number;
  @Field({ description: 'Ask the user for a new password and call changePassword: the token works for nothing else until then.' })
  mustChangePassword: boolean;
  @Field(() => Viewer, { description: 'The account signed in.' }) viewer: Viewer;
}

@ObjectType({ description: 'The account whose password changed, or why not.' })
export class ChangePasswordPayload {
  @Field(() => ID, {
    nullable: true,
    description: 'The account, when its password was changed. Every token issued before, this one included, no longer works: sign in again with the new password.',
  })
  accountId?: string | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}
