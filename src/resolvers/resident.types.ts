import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Resident } from '../entities/resident.entity';
import { UserError } from '../errors';
import { ResidentStatus, Sex } from '../schema/enums';
import { payloadDescriptions } from './payload';

@InputType({ description: 'A new resident. Dates are ISO 8601 (YYYY-MM-DD); full-width digits are accepted.' })
export class RegisterResidentInput {
  @Field({ description: '宛名番号: the municipality\'s own resident ID, 1 to 20 letters, digits or hyphens; unique within the municipality.' }) addresseeNumber: string;
  @Field({ description: '12-digit My Number (個人番号) with its check digit.' }) myNumber: string;
  @Field({ description: 'Family name (氏), up to 50 characters.' }) familyName: string;
  @Field({ description: 'Given name (名), up to 50 characters.' }) givenName: string;
  @Field({ description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) familyNameKana: string;
  @Field({ description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) givenNameKana: string;
  @Field({ description: 'ISO 8601 (YYYY-MM-DD); not in the future (JST).' }) birthDate: string;
  @Field(() => Sex, { description: 'As the registry records it.' }) sex: Sex;
}

@InputType({ description: 'Fields to change; omitted fields stay as they are.' })
export class UpdateResidentInput implements Partial<RegisterResidentInput> {
  @Field({ nullable: true, description: '宛名番号: the municipality\'s own resident ID, 1 to 20 letters, digits or hyphens; unique within the municipality.' }) addresseeNumber?: string;
  @Field({ nullable: true, description: '12-digit My Number (個人番号) with its check digit. LG-WAN only.' }) myNumber?: string;
  @Field({ nullable: true, description: 'Family name (氏), up to 50 characters.' }) familyName?: string;
  @Field({ nullable: true, description: 'Given name (名), up to 50 characters.' }) givenName?: string;
  @Field({ nullable: true, description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) familyNameKana?: string;
  @Field({ nullable: true, description: 'Katakana; half-width (ｶﾅ) is stored full-width.' }) givenNameKana?: string;
  @Field({ nullable: true, description: 'ISO 8601 (YYYY-MM-DD); not in the future (JST), nor after a recorded dose, move out or death.' }) birthDate?: string;
  @Field(() => Sex, { nullable: true, description: 'As the registry records it.' }) sex?: Sex;
}

@InputType({ description: 'Conditions on residents; those given all apply.' })
export class ResidentFilter {
  @Field({ nullable: true, description: 'Exact addressee number; one no resident can have is refused (BAD_USER_INPUT).' }) addresseeNumber?: string;
  @Field({ nullable: true, description: 'Prefix of family + given name in kana, run together, with spaces and middle dots (・, ･) ignored, in the names too (スミスジョン finds スミス・ジョン, and スミス・ジョン finds スミス ジョン), and double hyphens (＝, ゠) in the term: katakana (full- or half-width) or hiragana, searched as full-width katakana; anything else is refused (BAD_USER_INPUT).' }) kanaPrefix?: string;
  @Field({ nullable: true, description: 'Exact birth date, ISO 8601 (YYYY-MM-DD).' }) birthDate?: string;
  @Field(() => ResidentStatus, { nullable: true, description: 'Only residents in this state.' }) status?: ResidentStatus;
}

@ObjectType({ description: 'Where a page of a list ends.' })
export class PageInfo {
  @Field({ description: 'True when more rows follow this page.' }) hasNextPage: boolean;
  @Field(() => String, { nullable: true, description: 'The last row\'s cursor: pass it as `after` for the next page. Null when the page is empty.' }) endCursor: string | null;
}

@ObjectType({ description: 'A page of residents.' })
export class ResidentConnection {
  @Field(() => [Resident], { description: 'The residents of this page, in addressee number order.' }) nodes: Resident[];
  @Field(() => PageInfo, { description: 'Whether more follow, and where to continue.' }) pageInfo: PageInfo;
}

@ObjectType({ description: 'The resident as changed, or why not.' })
export class ResidentPayload {
  @Field(() => Resident, { nullable: true, description: payloadDescriptions.data }) resident?: Resident | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@ObjectType({ description: 'The resident deleted, or why not.' })
export class DeleteResidentPayload {
  @Field(() => ID, { nullable: true, description: 'The id of the resident deleted; null when userErrors is not empty.' }) deletedResidentId?: string | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

export const MAX_PAGE = 100;
export const pageSizeDescription = `Page size, 1 to ${MAX_PAGE}.`;
