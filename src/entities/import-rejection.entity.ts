import { Field, Int, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A refused row of an import: where and why, never the refused value. */
@Entity('import_rejection')
@ObjectType({ description: 'A row of an import file that was refused, by line, column and reason.' })
export class ImportRejection {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  municipalityCode: string;

  @PrimaryColumn({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @PrimaryColumn({ type: 'integer' })
  seq: number;

  @Column({ type: 'integer' })
  @Field(() => Int, { description: 'Line of the file (the header is line 1).' })
  line: number;

  @Column({ name: 'column_name', type: 'text' })
  @Field({ description: 'The column as named in the file\'s header (one the file lacks by the header that would add it, e.g. ticket_number); empty when the whole row is at fault.' })
  column: string;

  @Column({ type: 'text' })
  @Field({ description: 'The column\'s canonical name, e.g. myNumber.' })
  field: string;

  @Column({ type: 'text' })
  @Field(() => String, { description: 'An ErrorCode value.' })
  code: string;

  @Column({ type: 'text' })
  @Field({ description: 'Why the row was refused, in plain English; never the value refused.' })
  message: string;
}
