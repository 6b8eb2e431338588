import { Field, ObjectType } from 'type-graphql';
import { ImportRejection } from '../entities/import-rejection.entity';

@ObjectType({ description: 'A page of an import\'s rejected rows, in line order.' })
export class ImportRejectionList {
  @Field(() => [ImportRejection]) nodes: ImportRejection[];
  @Field() hasNextPage: boolean;
  @Field(() => String, { nullable: true }) endCursor: string | null;
  @Field({ description: 'False when more rows were rejected than the report keeps (rowsRejected stays exact).' }) complete: boolean;
}
