import { Arg, Ctx, FieldResolver, Float, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { Context } from '../context';
import { ImportJob } from '../entities/import-job.entity';
import { ImportStatus } from '../schema/enums';
import { ImportRejectionList } from './import-job.types';
import { badCursor } from '../errors';

@Resolver(() => ImportJob)
export class ImportJobResolver {
  @Query(() => ImportJob, { nullable: true, description: 'A resident registry import of the caller\'s municipality. LG-WAN only.' })
  importJob(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The jobId the import route answered with.' }) id: string): Promise<ImportJob | null> {
    return ctx.services.imports.get(ctx, id);
  }

  @Query(() => [ImportJob], { description: 'The caller\'s most recent imports, newest first. LG-WAN only.' })
  importJobs(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 20, description: 'At most 100.' }) first: number): Promise<ImportJob[]> {
    return ctx.services.imports.list(ctx, first);
  }

  @FieldResolver(() => Float, { nullable: true, description: 'Share of the file read, 0 to 1, when its size is known; 1 once succeeded.' })
  progress(@Root() job: ImportJob): number | null {
    if (job.status === ImportStatus.SUCCEEDED) return 1;
    return job.bytesTotal ? Math.min(1, job.bytesRead / job.bytesTotal) : null;
  }

  @FieldResolver(() => ImportRejectionList, { description: 'Rejected rows by line, column and reason; never the rejected values.' })
  async rejections(
    @Root() job: ImportJob,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 100, description: 'At most 1000.' }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page; omitted for the first page.' }) after?: string,
  ): Promise<ImportRejectionList> {
    // The cursors this field hands out are positions in the report (an int4).
    const cursor = after != null ? Number(after) : null;
    if (cursor !== null && (!/^\d{1,10}$/.test(after!) || cursor > 2 ** 31 - 1)) throw badCursor();
    return ctx.services.imports.rejectionsOf(ctx.loaders, job, first, cursor);
  }
}
