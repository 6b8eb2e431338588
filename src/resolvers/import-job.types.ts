import { Field, ObjectType } from 'type-graphql';
import { ImportRejection } from '../entities/import-rejection.entity';

@ObjectType({ description: 'A page of an import\'s rejected rows, in line order.' })
export class ImportRejectionList {
  @Field(() => [ImportRejection], { description: 'The rejected rows of this page.' }) nodes: ImportRejection[];
  @Field({ description: 'True when more rejected rows follow this page.' }) hasNextPage: boolean;
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page; null when the page is empty.' }) endCursor: string | null;
  @Field({ description: 'True once the report lists every rejected row: false while the job runs, when it failed for another reason after counting rejections, and once ten later imports of the municipality have rejected rows (only the latest ten reports are kept).' }) complete: boolean;
}
