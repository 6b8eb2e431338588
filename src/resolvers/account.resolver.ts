import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import {
  AccountConnection, AccountFilter, AccountPayload, ChangePasswordPayload, CreateAccountInput, LoginPayload, MAX_ACCOUNTS_PAGE, Viewer,
} from './account.types';
import { withUserErrors } from './payload';

@Resolver()
export class AccountResolver {
  @Mutation(() => LoginPayload, { description: 'Signs in on the channel the request arrived on.' })
  async login(@Ctx() ctx: Context, @Arg('loginId', { description: 'The account\'s login ID, in any case of its letters.' }) loginId: string,
    @Arg('password', { description: 'The account\'s password.' }) password: string): Promise<LoginPayload> {
    const { accessToken, account } = await ctx.services.auth.login(ctx.channel, loginId, password, ctx.sourceAddress);
    return {
      accessToken,
      expiresInSeconds: ctx.services.config.tokenTtlSeconds,
      mustChangePassword: account.mustChangePassword,
      viewer: {
        accountId: account.id,
        role: account.role,
        channel: ctx.channel,
        displayName: account.displayName,
        municipality: account.municipalityCode ? await ctx.loaders.municipality.load(account.municipalityCode) : null,
        prefectureCode: account.prefectureCode,
        mustChangePassword: account.mustChangePassword,
      },
    };
  }

  @Mutation(() => ChangePasswordPayload, { description: "Replaces the signed-in account's own password; the current one must be given." })
  changePassword(@Ctx() ctx: Context, @Arg('currentPassword', { description: 'A wrong one is PASSWORD_INCORRECT and counts towards the lockout.' }) currentPassword: string, @Arg('newPassword', { description: '12 to 256 characters.' }) newPassword: string) {
    return withUserErrors(async () => ({ accountId: (await ctx.services.auth.changePassword(ctx, currentPassword, newPassword)).id }));
  }

  @Query(() => Viewer, { nullable: true, description: 'The signed-in account, also one that must change its password first.' })
  async viewer(@Ctx() ctx: Context): Promise<Viewer | null> {
    const actor = ctx.actor;
    if (!actor) return null;
    const account = await ctx.services.reference.account(await ctx.session.manager(), actor.accountId);
    return {
      accountId: actor.accountId,
      role: actor.role,
      channel: actor.channel,
      displayName: account.displayName,
      municipality: actor.municipalityCode ? await ctx.loaders.municipality.load(actor.municipalityCode) : null,
      prefectureCode: actor.prefectureCode,
      mustChangePassword: account.mustChangePassword,
    };
  }

  @Query(() => AccountConnection, { description: 'Every account, a page at a time, ordered by login ID whatever the case of its letters.' })
  accounts(
    @Ctx() ctx: Context,
    @Arg('filter', () => AccountFilter, { nullable: true, description: 'Conditions that all apply; omitted, every account.' }) filter?: AccountFilter,
    @Arg('first', () => Int, { defaultValue: 100, description: `At most ${MAX_ACCOUNTS_PAGE}.` }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page; omitted for the first page. Any other value is refused (BAD_USER_INPUT).' }) after?: string,
  ): Promise<AccountConnection> {
    return ctx.services.accounts.list(ctx, filter ?? {}, first ?? 100, after);
  }

  @Mutation(() => AccountPayload, { description: 'Operator: issues an account. Its holder must change the password at first sign-in (mustChangePassword).' })
  createAccount(@Ctx() ctx: Context, @Arg('input', () => CreateAccountInput, { description: 'The new account.' }) input: CreateAccountInput) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.create(ctx, input) }));
  }

  @Mutation(() => AccountPayload, {
    description: "Disabled accounts cannot sign in and their tokens stop working at once. The caller's own account and the last enabled operator account are refused (INVALID_STATE), so that an operator remains to enable accounts again; so is an account already disabled.",
  })
  disableAccount(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The account\'s id.' }) id: string) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.disable(ctx, id) }));
  }

  @Mutation(() => AccountPayload, {
    description: 'Lets a disabled account sign in again; an enabled one is refused (INVALID_STATE). Tokens issued before stay refused: its holder signs in again.',
  })
  enableAccount(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The account\'s id.' }) id: string) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.enable(ctx, id) }));
  }

  @Mutation(() => AccountPayload, {
    description: "Gives another account a temporary password that its holder must change at the next sign-in (mustChangePassword), ends every token issued before and lifts a lockout; a disabled account stays disabled. The caller's own account is refused (INVALID_STATE): it uses changePassword.",
  })
  resetAccountPassword(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The account\'s id.' }) id: string,
    @Arg('temporaryPassword', { description: '12 to 256 characters.' }) temporaryPassword: string,
  ) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.resetPassword(ctx, id, temporaryPassword) }));
  }
}
