import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A municipality's data key, wrapped by the master key. Never exposed through the API. */
@Entity('tenant_key')
export class TenantKey {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  municipalityCode: string;

  @PrimaryColumn({ name: 'key_version', type: 'integer' })
  keyVersion: number;

  @Column({ name: 'wrapped_key', type: 'bytea' })
  wrappedKey: Buffer;
}
