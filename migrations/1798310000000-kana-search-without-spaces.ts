import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The kana search matches family and given name run together without spaces, as the search term
 * is taken: a name kept with a space in it (ジョン ポール, a foreign resident's middle name) is found
 * past it. The index follows the expression the search uses.
 */
export class KanaSearchWithoutSpaces1798310000000 implements MigrationInterface {
  name = 'KanaSearchWithoutSpaces1798310000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX resident_kana_idx`);
    await db.query(`CREATE INDEX resident_kana_idx ON resident (municipality_code, (translate(family_name_kana || given_name_kana, ' \u3000', '')) text_pattern_ops)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX resident_kana_idx`);
    await db.query(`CREATE INDEX resident_kana_idx ON resident (municipality_code, (family_name_kana || given_name_kana) text_pattern_ops)`);
  }
}
