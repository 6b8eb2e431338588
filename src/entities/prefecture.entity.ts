import { Field, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('prefecture')
@ObjectType({ description: 'A prefecture (都道府県), JIS X 0401.' })
export class Prefecture {
  @PrimaryColumn({ type: 'char', length: 2 })
  @Field({ description: 'JIS X 0401 code, 01–47.' })
  code: string;

  @Column({ type: 'text' })
  @Field()
  name: string;
}
