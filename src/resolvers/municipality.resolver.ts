import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { Municipality } from '../entities/municipality.entity';

@Resolver(() => Municipality)
export class MunicipalityResolver {
  @Query(() => Municipality, { nullable: true, description: 'Null for a code in no list; a code no municipality can have (its shape or check digit wrong) is refused (BAD_USER_INPUT), and so is a designated city\'s ward (UNKNOWN_MUNICIPALITY, naming the city\'s code: the city is one municipality).' })
  municipality(@Ctx() ctx: Context, @Arg('code', { description: '全国地方公共団体コード: 6 digits with check digit.' }) code: string): Promise<Municipality | null> {
    return ctx.services.reference.municipality(ctx, code);
  }

  @Query(() => [Municipality], { description: 'Municipalities of one prefecture (01–47), in code order; any other code is refused (BAD_USER_INPUT).' })
  async municipalities(@Ctx() ctx: Context, @Arg('prefectureCode', { description: '2 digits, 01–47.' }) prefectureCode: string): Promise<Municipality[]> {
    return ctx.services.reference.municipalitiesOf(await ctx.session.manager(), prefectureCode);
  }
}
