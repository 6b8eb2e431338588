import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { ResidentStatus, Sex } from '../schema/enums';

/**
 * A person a municipality vaccinates (接種対象者). My Number is kept only as ciphertext under the
 * municipality's data key plus a keyed hash for look-ups; `Resident.myNumber` decrypts it for
 * the callers the policy allows.
 */
@Entity('resident')
@ObjectType({ description: 'A resident of a municipality (接種対象者).' })
export class Resident {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The municipality the resident is registered in (6 digits).' })
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The resident\'s id.' })
  id: string;

  @Column({ name: 'addressee_number', type: 'text' })
  @Field({ description: '宛名番号: the municipality\'s own resident ID.' })
  addresseeNumber: string;

  @Column({ name: 'my_number_cipher', type: 'bytea', select: true })
  myNumberCipher: Buffer;

  @Column({ name: 'my_number_hmac', type: 'bytea' })
  myNumberHmac: Buffer;

  @Column({ name: 'key_version', type: 'integer' })
  keyVersion: number;

  @Column({ name: 'family_name', type: 'text' })
  @Field({ description: 'Family name (氏).' })
  familyName: string;

  @Column({ name: 'given_name', type: 'text' })
  @Field({ description: 'Given name (名).' })
  givenName: string;

  @Column({ name: 'family_name_kana', type: 'text' })
  @Field({ description: 'Family name in full-width katakana.' })
  familyNameKana: string;

  @Column({ name: 'given_name_kana', type: 'text' })
  @Field({ description: 'Given name in full-width katakana.' })
  givenNameKana: string;

  @Column({ name: 'birth_date', type: 'date' })
  @Field({ description: 'ISO 8601 date.' })
  birthDate: string;

  @Column({ type: 'text' })
  @Field(() => Sex, { description: 'As the registry records it.' })
  sex: Sex;

  @Column({ type: 'text' })
  @Field(() => ResidentStatus, { description: 'ACTIVE, MOVED_OUT or DECEASED.' })
  status: ResidentStatus;

  @Column({ name: 'moved_out_on', type: 'date', nullable: true })
  @Field(() => String, { nullable: true, description: '転出日, ISO 8601 (YYYY-MM-DD); null unless moved out.' })
  movedOutOn: string | null;

  @Column({ name: 'moved_to_municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true, description: 'Destination municipality code when moved out, if known; a ward given is recorded as its designated city.' })
  movedToMunicipalityCode: string | null;

  @Column({ name: 'deceased_on', type: 'date', nullable: true })
  @Field(() => String, { nullable: true, description: 'Date of death, ISO 8601 (YYYY-MM-DD); null unless deceased.' })
  deceasedOn: string | null;

  @Column({ name: 'status_cleared_reason', type: 'text', nullable: true })
  @Field(() => String, {
    nullable: true,
    description: 'Why an officer last set a move out or death back to ACTIVE (clearResidentStatus); null if never. Who and when are in the operation log.',
  })
  statusClearedReason: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  @Field({ description: 'When the resident was registered here (ISO 8601, UTC).' })
  createdAt: Date;

  /**
   * On the database's clock, as the import writes it: the record export compares it with its records'
   * created_at, and a server's own clock may differ. A change writes statement_timestamp() into it; an
   * update date column, so that the save reads the value back (RETURNING) for the answer.
   */
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  @Field({ description: 'When the resident was last changed (ISO 8601, UTC).' })
  updatedAt: Date;
}
