import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A tablet's request key and where its dose landed: the registration receipt. Never exposed as such. */
@Entity('tablet_registration')
export class TabletRegistration {
  @PrimaryColumn({ name: 'account_id', type: 'uuid' })
  accountId: string;

  @PrimaryColumn({ name: 'idempotency_key', type: 'text' })
  idempotencyKey: string;

  @Column({ type: 'uuid' })
  id: string;

  @Column({ name: 'request_hash', type: 'text' })
  requestHash: string;

  @Column({ name: 'municipality_code', type: 'char', length: 6 })
  municipalityCode: string;

  @Column({ name: 'vaccination_record_id', type: 'uuid', nullable: true })
  vaccinationRecordId: string | null;

  @Column({ name: 'pending_dose_id', type: 'uuid', nullable: true })
  pendingDoseId: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
