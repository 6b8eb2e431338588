import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { Role } from '../schema/enums';

@Entity('account')
@ObjectType({ description: 'A login issued by the system operator.' })
export class Account {
  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID)
  id: string;

  @Column({ name: 'login_id', type: 'text' })
  @Field()
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
  @Field(() => Role)
  role: Role;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true })
  municipalityCode: string | null;

  @Column({ name: 'prefecture_code', type: 'char', length: 2, nullable: true })
  @Field(() => String, { nullable: true })
  prefectureCode: string | null;

  @Column({ name: 'display_name', type: 'text' })
  @Field()
  displayName: string;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true })
  disabledAt: Date | null;

  @Column({ name: 'failed_login_count', type: 'integer', default: 0 })
  failedLoginCount: number;

  @Column({ name: 'locked_until', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true })
  lockedUntil: Date | null;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  @Field()
  createdAt: Date;
}
