import { Field, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A tenant: one municipality (市区町村), incl. Tokyo's special wards; designated cities are one tenant. */
@Entity('municipality')
@ObjectType({ description: 'A municipality (市区町村): the tenant that owns its residents\' records.' })
export class Municipality {
  @PrimaryColumn({ type: 'char', length: 6 })
  @Field({ description: '全国地方公共団体コード: 6 digits with check digit.' })
  code: string;

  @Column({ name: 'prefecture_code', type: 'char', length: 2 })
  @Field({ description: 'Its prefecture, 2 digits (01–47).' })
  prefectureCode: string;

  @Column({ type: 'text' })
  @Field({ description: 'The name in Japanese, e.g. 横浜市.' })
  name: string;

  @Column({ name: 'name_kana', type: 'text' })
  @Field({ description: 'The reading in hiragana, e.g. よこはまし.' })
  nameKana: string;

  @Column({ name: 'accepts_certificate_e_issuance', type: 'boolean', default: false })
  @Field({ description: 'Has accepted the terms for issuing certificates through the app.' })
  acceptsCertificateEIssuance: boolean;

  @Column({ name: 'accepts_consentless_inquiry', type: 'boolean', default: false })
  @Field({ description: 'Has accepted the terms for answering move-in inquiries without consent.' })
  acceptsConsentlessInquiry: boolean;
}
