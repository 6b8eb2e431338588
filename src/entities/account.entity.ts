import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn, VirtualColumn } from 'typeorm';
import { Role } from '../schema/enums';

@Entity('account')
@ObjectType({ description: 'A login issued by the system operator.' })
export class Account {
  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The account\'s id.' })
  id: string;

  @Column({ name: 'login_id', type: 'text' })
  @Field({ description: 'The login ID, with the letters it was given; it matches whatever their case.' })
  loginId: string;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash: string;

  @Column({ name: 'must_change_password', type: 'boolean', default: false })
  @Field({ description: 'The account still holds the password the operator issued it with, and may do nothing but change it.' })
  mustChangePassword: boolean;

  /** Moves on with every password change or reset and every enable; a token is valid only under the version it was issued with. */
  @Column({ name: 'password_version', type: 'integer', default: 0 })
  passwordVersion: number;

  @Column({ type: 'text' })
  @Field(() => Role, { description: 'What the account is for.' })
  role: Role;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true, description: 'The municipality a MUNICIPALITY or VACCINATION_SITE account acts for; null for the others.' })
  municipalityCode: string | null;

  @Column({ name: 'prefecture_code', type: 'char', length: 2, nullable: true })
  @Field(() => String, { nullable: true, description: 'The prefecture (2 digits) of a PREFECTURE account; null for the others.' })
  prefectureCode: string | null;

  @Column({ name: 'display_name', type: 'text' })
  @Field({ description: 'The name shown for the account.' })
  displayName: string;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'When the account was disabled (ISO 8601, UTC); null while it can sign in.' })
  disabledAt: Date | null;

  @Column({ name: 'failed_login_count', type: 'integer', default: 0 })
  failedLoginCount: number;

  @Column({ name: 'locked_until', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'Until when sign-in is refused after repeated wrong passwords (ISO 8601, UTC); null or past when not locked.' })
  lockedUntil: Date | null;

  /**
   * Whether the lock still holds when the account is read, on the database's clock: it set
   * locked_until and the statements that count a failure or sign in judge it, and a server's own
   * clock may run minutes apart from it.
   */
  @VirtualColumn({ type: 'boolean', query: (alias) => `coalesce(${alias}.locked_until > now(), false)` })
  locked: boolean;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  @Field({ description: 'When the account was issued (ISO 8601, UTC).' })
  createdAt: Date;
}
