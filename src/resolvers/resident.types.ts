import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Resident } from '../entities/resident.entity';
import { UserError } from '../errors';
import { ResidentStatus, Sex } from '../schema/enums';

@InputType({ description: 'A new resident. Dates are ISO 8601 (YYYY-MM-DD); full-width digits are accepted.' })
export class RegisterResidentInput {
  @Field() addresseeNumber: string;
  @Field({ description: '12-digit My Number (個人番号) with its check digit.' }) myNumber: string;
  @Field() familyName: string;
  @Field() givenName: string;
  @Field({ description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) familyNameKana: string;
  @Field({ description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) givenNameKana: string;
  @Field() birthDate: string;
  @Field(() => Sex) sex: Sex;
}

@InputType({ description: 'Fields to change; omitted fields stay as they are.' })
export class UpdateResidentInput implements Partial<RegisterResidentInput> {
  @Field({ nullable: true }) addresseeNumber?: string;
  @Field({ nullable: true }) myNumber?: string;
  @Field({ nullable: true }) familyName?: string;
  @Field({ nullable: true }) givenName?: string;
  @Field({ nullable: true, description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) familyNameKana?: string;
  @Field({ nullable: true, description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) givenNameKana?: string;
  @Field({ nullable: true }) birthDate?: string;
  @Field(() => Sex, { nullable: true }) sex?: Sex;
}

@InputType()
export class ResidentFilter {
  @Field({ nullable: true, description: 'Exact addressee number; one no resident can have is refused (BAD_USER_INPUT).' }) addresseeNumber?: string;
  @Field({ nullable: true, description: 'Prefix of family + given name in kana, run together, with spaces and middle dots (・, ･) ignored, in the names too (スミスジョン finds スミス・ジョン, and スミス・ジョン finds スミス ジョン), and double hyphens (＝, ゠) in the term: katakana (full- or half-width) or hiragana, searched as full-width katakana; anything else is refused (BAD_USER_INPUT).' }) kanaPrefix?: string;
  @Field({ nullable: true }) birthDate?: string;
  @Field(() => ResidentStatus, { nullable: true }) status?: ResidentStatus;
}

@ObjectType()
export class PageInfo {
  @Field() hasNextPage: boolean;
  @Field(() => String, { nullable: true }) endCursor: string | null;
}

@ObjectType()
export class ResidentConnection {
  @Field(() => [Resident]) nodes: Resident[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@ObjectType()
export class ResidentPayload {
  @Field(() => Resident, { nullable: true }) resident?: Resident | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType()
export class DeleteResidentPayload {
  @Field(() => ID, { nullable: true }) deletedResidentId?: string | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

export const MAX_PAGE = 100;
export const pageSizeDescription = `Page size, 1 to ${MAX_PAGE}.`;
