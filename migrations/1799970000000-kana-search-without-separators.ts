import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The kana search ignores the middle dot and the double hyphen as it ignores spaces: registries
 * write a foreign resident's names with them (スミス・ジョン, メアリー・アン), and an officer types
 * them or not. search_kana drops them from family and given name run together, the characters
 * kanaSearchTerm drops from the term (src/validation/identifiers.ts); the names keep them. Names
 * cannot hold = or ゠ today (they are refused as not katakana), but the column drops what the term
 * does, so the two agree whatever names come to accept.
 *
 * resident_kana_idx is on the column, so its definition is unchanged: PostgreSQL recomputes the
 * column and rebuilds the table's indexes with it. That rewrites the table once, under a lock that
 * holds off reads and writes of residents while it runs, as adding the column did; there is no
 * concurrent way to change a stored column, and an index on the expression itself would stay out
 * of the search under row-level security (see KanaSearchUnderRowSecurity1798600000000).
 */
export class KanaSearchWithoutSeparators1799970000000 implements MigrationInterface {
  name = 'KanaSearchWithoutSeparators1799970000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resident ALTER COLUMN search_kana SET EXPRESSION AS (translate(family_name_kana || given_name_kana, ' \u3000・=゠', ''))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resident ALTER COLUMN search_kana SET EXPRESSION AS (translate(family_name_kana || given_name_kana, ' \u3000', ''))`);
  }
}
