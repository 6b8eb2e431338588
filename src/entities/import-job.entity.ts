import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ImportMode, ImportPhase, ImportStatus } from '../schema/enums';

const bigint = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/** One resident registry import (住民記録の取込). Counts are exact; the report lists every rejected row. */
@Entity('import_job')
@ObjectType({ description: 'A resident registry CSV import and its outcome.' })
export class ImportJob {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The municipality imported into.' })
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The job\'s id (the import route\'s jobId).' })
  id: string;

  @Column({ type: 'text' })
  kind: 'RESIDENTS';

  @Column({ type: 'text' })
  @Field(() => ImportMode, { description: 'What the job does with rejected rows.' })
  mode: ImportMode;

  @Column({ type: 'text' })
  @Field(() => ImportStatus, { description: 'QUEUED, RUNNING, SUCCEEDED or FAILED.' })
  status: ImportStatus;

  @Column({ type: 'text', nullable: true })
  @Field(() => ImportPhase, { nullable: true, description: 'What a RUNNING job is doing.' })
  phase: ImportPhase | null;

  @Column({ type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'UTF8 or SJIS, as given or detected.' })
  encoding: 'UTF8' | 'SJIS' | null;

  @Column({ name: 'bytes_read', type: 'bigint', transformer: bigint })
  @Field(() => Float, { description: 'Bytes of the file read so far.' })
  bytesRead: number;

  @Column({ name: 'bytes_total', type: 'bigint', nullable: true, transformer: bigint })
  @Field(() => Float, { nullable: true, description: 'Size of the upload when the client announced it.' })
  bytesTotal: number | null;

  @Column({ name: 'rows_read', type: 'integer' })
  @Field(() => Int, { description: 'Data rows read so far (the header is not counted).' })
  rowsRead: number;

  @Column({ name: 'rows_accepted', type: 'integer' })
  @Field(() => Int, { description: 'Rows applied (or, under ABORT with rejections, that would have been).' })
  rowsAccepted: number;

  @Column({ name: 'rows_rejected', type: 'integer' })
  @Field(() => Int, { description: 'Data rows refused; see rejections.' })
  rowsRejected: number;

  /** Rows the rejection report lists: every rejected row, or none when the job failed for another reason. */
  @Column({ name: 'rejections_listed', type: 'integer' })
  rejectionsListed: number;

  @Column({ name: 'residents_inserted', type: 'integer' })
  @Field(() => Int, { description: 'Residents the file added.' })
  residentsInserted: number;

  @Column({ name: 'residents_updated', type: 'integer' })
  @Field(() => Int, { description: 'Existing residents whose registry data changed; identical rows are left untouched.' })
  residentsUpdated: number;

  @Column({ name: 'tickets_inserted', type: 'integer' })
  @Field(() => Int, { description: 'Tickets the file added.' })
  ticketsInserted: number;

  @Column({ name: 'tickets_updated', type: 'integer' })
  @Field(() => Int, { description: 'Tickets the resident already held whose series the file changed.' })
  ticketsUpdated: number;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'Why a FAILED job stopped; null otherwise.' })
  failureReason: string | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  @Field({ description: 'When the import was received (ISO 8601, UTC).' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'When the job started (ISO 8601, UTC); null while queued.' })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'When the job ended (ISO 8601, UTC); null while it runs.' })
  finishedAt: Date | null;

  /** The job's last sign of life, on the database's clock, by which every server judges it: their own clocks may differ. */
  @Column({ name: 'heartbeat_at', type: 'timestamptz', default: () => 'now()' })
  heartbeatAt: Date;

  /** The database session whose transaction holds the running import: gone, the job wrote nothing. */
  @Column({ name: 'backend_pid', type: 'integer', nullable: true })
  backendPid: number | null;
}
