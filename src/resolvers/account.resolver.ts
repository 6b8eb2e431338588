import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { Account } from '../entities/account.entity';
import { AccountPayload, CreateAccountInput, LoginPayload, Viewer } from './account.types';
import { withUserErrors } from './payload';

@Resolver()
export class AccountResolver {
  @Mutation(() => LoginPayload, { description: 'Signs in on the channel the request arrived on.' })
  async login(@Ctx() ctx: Context, @Arg('loginId') loginId: string, @Arg('password') password: string): Promise<LoginPayload> {
    const { accessToken, account } = await ctx.services.auth.login(ctx.channel, loginId, password, ctx.sourceAddress);
    return {
      accessToken,
      expiresInSeconds: ctx.services.config.tokenTtlSeconds,
      viewer: {
        accountId: account.id,
        role: account.role,
        channel: ctx.channel,
        displayName: account.displayName,
        municipality: account.municipalityCode ? await ctx.loaders.municipality.load(account.municipalityCode) : null,
        prefectureCode: account.prefectureCode,
      },
    };
  }

  @Query(() => Viewer, { nullable: true })
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
    };
  }

  @Query(() => [Account])
  accounts(@Ctx() ctx: Context): Promise<Account[]> {
    return ctx.services.accounts.list(ctx);
  }

  @Mutation(() => AccountPayload)
  createAccount(@Ctx() ctx: Context, @Arg('input', () => CreateAccountInput) input: CreateAccountInput) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.create(ctx, input) }));
  }

  @Mutation(() => AccountPayload, { description: 'Disabled accounts cannot sign in and their tokens stop working at once.' })
  disableAccount(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return withUserErrors(async () => ({ account: await ctx.services.accounts.disable(ctx, id) }));
  }
}
