import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The kana search compares a stored column rather than an expression. The application reads
 * residents under row-level security, and PostgreSQL then lets a search's condition into an index
 * scan only when every function in it is leakproof: translate() and || are not, so the search on
 * resident_kana_idx's expression read every resident of the municipality and filtered them one by
 * one. The column holds the same value, family and given name run together without spaces, and
 * the index is on it. Adding it rewrites the table once.
 */
export class KanaSearchUnderRowSecurity1798600000000 implements MigrationInterface {
  name = 'KanaSearchUnderRowSecurity1798600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX resident_kana_idx`);
    await db.query(`ALTER TABLE resident ADD COLUMN search_kana text GENERATED ALWAYS AS (translate(family_name_kana || given_name_kana, ' \u3000', '')) STORED`);
    await db.query(`CREATE INDEX resident_kana_idx ON resident (municipality_code, search_kana text_pattern_ops)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resident DROP COLUMN search_kana`);
    await db.query(`CREATE INDEX resident_kana_idx ON resident (municipality_code, (translate(family_name_kana || given_name_kana, ' \u3000', '')) text_pattern_ops)`);
  }
}
