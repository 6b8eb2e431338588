import { EntityManager, QueryRunner } from 'typeorm';
import { TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

/** The code of a municipality that does not exist (the check digit is right, the row absent). */
async function unknownCode(): Promise<string> {
  const code = await t.createMunicipality();
  await t.db.query('DELETE FROM municipality WHERE code = $1', [code]);
  return code;
}

/** As the owner, inside one transaction that may write into `code`'s tenant. */
function asOwner<T>(code: string, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return t.db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('vrs.tenants', $1, true)`, [code]);
    return work(tx);
  });
}

/** A resident numbered `A-1`, whose My Number hash repeats the byte `hashByte` (two hex digits). */
function insertResident(tx: EntityManager, code: string, hashByte = 'ab'): Promise<unknown> {
  return tx.query(
    `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version,
       family_name, given_name, family_name_kana, given_name_kana, birth_date, sex)
     VALUES ($1, gen_random_uuid(), 'A-1', '\\x00', decode(repeat($2, 32), 'hex'), 1, '山田', '花子', 'ヤマダ', 'ハナコ', '1980-01-01', 'FEMALE')`,
    [code, hashByte],
  );
}

/** A municipality that nothing but residents refers to (no accounts, no keys), holding one resident. */
async function municipalityWithResident(): Promise<string> {
  const code = await t.createMunicipality();
  await asOwner(code, (tx) => insertResident(tx, code));
  return code;
}

const violation = { code: '23503', constraint: 'resident_municipality_fk' };

describe('a resident belongs to a municipality that exists', () => {
  it('refuses a resident of an unknown municipality, even written by the owner', async () => {
    const code = await unknownCode();
    await expect(asOwner(code, (tx) => insertResident(tx, code))).rejects.toMatchObject(violation);
    expect(await t.db.query('SELECT 1 FROM resident WHERE municipality_code = $1', [code])).toHaveLength(0);
  });

  it('refuses moving a resident under an unknown municipality code', async () => {
    const code = await municipalityWithResident();
    const other = await unknownCode();
    await expect(asOwner(`${code},${other}`, (tx) => tx.query('UPDATE resident SET municipality_code = $2 WHERE municipality_code = $1', [code, other])))
      .rejects.toMatchObject(violation);
  });

  it('refuses deleting or renumbering a municipality that still has residents', async () => {
    const code = await municipalityWithResident();
    await expect(t.db.query('DELETE FROM municipality WHERE code = $1', [code])).rejects.toMatchObject(violation);
    const other = await unknownCode();
    await expect(t.db.query('UPDATE municipality SET code = $2 WHERE code = $1', [code, other])).rejects.toMatchObject(violation);
    expect(await t.db.query('SELECT 1 FROM municipality WHERE code = $1', [code])).toHaveLength(1);
  });

  it('lets a municipality without residents be deleted, and one with residents be renamed', async () => {
    const empty = await t.createMunicipality();
    await t.db.query('DELETE FROM municipality WHERE code = $1', [empty]);
    expect(await t.db.query('SELECT 1 FROM municipality WHERE code = $1', [empty])).toHaveLength(0);
    const code = await municipalityWithResident();
    await t.db.query(`UPDATE municipality SET name = 'テスト新市' WHERE code = $1`, [code]);
    expect(await t.db.query('SELECT name FROM municipality WHERE code = $1', [code])).toEqual([{ name: 'テスト新市' }]);
  });
});

const DELETE_RESIDENT = 'mutation($id: ID!) { deleteResident(id: $id) { deletedResidentId userErrors { code } } }';
const ticketViolation = { code: '23503', constraint: 'ticket_resident_fk' };

function insertTicket(tx: EntityManager, code: string, residentId: string): Promise<unknown> {
  return tx.query(
    `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on)
     VALUES ($1, gen_random_uuid(), $2, lpad((floor(random() * 1e10))::bigint::text, 10, '0'), '1', current_date)`,
    [code, residentId],
  );
}

describe('a ticket belongs to a resident that exists', () => {
  it('refuses a ticket, new or moved, that names no resident of its municipality', async () => {
    const { code, officer } = await t.tenant();
    const other = await t.tenant();
    const { ticketId } = await residentWithTicket(officer);
    const theirs = await residentWithTicket(other.officer);
    await expect(asOwner(code, (tx) => insertTicket(tx, code, '00000000-0000-4000-8000-000000000000'))).rejects.toMatchObject(ticketViolation);
    // A resident of another municipality is no resident of this one.
    await expect(asOwner(code, (tx) => insertTicket(tx, code, theirs.residentId))).rejects.toMatchObject(ticketViolation);
    await expect(asOwner(code, (tx) => tx.query('UPDATE ticket SET resident_id = $3 WHERE municipality_code = $1 AND id = $2', [code, ticketId, theirs.residentId])))
      .rejects.toMatchObject(ticketViolation);
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM ticket WHERE municipality_code = $1', [code]);
    expect(count).toBe(1);
  });

  it('counts residents written in the same transaction, in a subtransaction or by others, in one statement', async () => {
    const { code, officer } = await t.tenant();
    const { residentId: before } = await residentWithTicket(officer);
    const residentIds = (tx: EntityManager) => tx.query(`SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number IN ('A-1', 'A-2')`, [code]);
    const insertTickets = (tx: EntityManager, ids: string[]) => tx.query(
      `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on)
       SELECT $1, gen_random_uuid(), r, lpad((floor(random() * 1e10))::bigint::text, 10, '0'), '1', current_date FROM unnest($2::uuid[]) r`,
      [code, ids],
    );
    await asOwner(code, async (tx) => {
      await insertResident(tx, code);
      await tx.query('SAVEPOINT sub');
      await tx.query(`UPDATE resident SET addressee_number = 'A-2' WHERE municipality_code = $1 AND addressee_number = 'A-1'`, [code]);
      await tx.query('RELEASE SAVEPOINT sub');
      await insertResident(tx, code, 'cd');
      const ids: string[] = (await residentIds(tx)).map((r: { id: string }) => r.id);
      expect(ids).toHaveLength(2);
      await insertTickets(tx, [before, ...ids]);
      await tx.query('SAVEPOINT missing');
      await expect(insertTickets(tx, [...ids, '00000000-0000-4000-8000-000000000000'])).rejects.toMatchObject(ticketViolation);
      await tx.query('ROLLBACK TO SAVEPOINT missing');
    });
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM ticket WHERE municipality_code = $1', [code]);
    expect(count).toBe(4);
  });

  it('refuses changing the key of a resident who holds tickets, and allows it for one who holds none', async () => {
    const { code, officer } = await t.tenant();
    const { residentId } = await residentWithTicket(officer);
    await expect(asOwner(code, (tx) => tx.query('UPDATE resident SET id = gen_random_uuid() WHERE municipality_code = $1 AND id = $2', [code, residentId])))
      .rejects.toMatchObject(ticketViolation);
    await t.db.query('DELETE FROM ticket WHERE municipality_code = $1 AND resident_id = $2', [code, residentId]);
    await asOwner(code, (tx) => tx.query('UPDATE resident SET id = gen_random_uuid() WHERE municipality_code = $1 AND id = $2', [code, residentId]));
    expect(await t.db.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = $2', [code, residentId])).toHaveLength(0);
  });

  it('deleting a resident through the API deletes their tickets, and nobody else\'s; one with records is refused', async () => {
    const { code, officer } = await t.tenant();
    const gone = await residentWithTicket(officer);
    const kept = await residentWithTicket(officer);
    const registered = await (await tablet(t, code)).gql(REGISTER_DOSE, { input: doseInput(code, kept.ticketNumber) });
    expect(registered.data.registerDose.receipt.status).toBe('RECORDED');
    expect((await officer.gql(DELETE_RESIDENT, { id: gone.residentId })).data.deleteResident).toEqual({ deletedResidentId: gone.residentId, userErrors: [] });
    expect((await officer.gql(DELETE_RESIDENT, { id: kept.residentId })).data.deleteResident).toEqual({ deletedResidentId: null, userErrors: [{ code: 'INVALID_STATE' }] });
    const left = async (table: string) => (await t.db.query(`SELECT resident_id FROM ${table} WHERE municipality_code = $1`, [code])).map((r: { resident_id: string }) => r.resident_id);
    expect(await left('ticket')).toEqual([kept.residentId]);
    expect(await left('vaccination_record')).toEqual([kept.residentId]);
  });

  describe('under concurrent writers', () => {
    interface Writers {
      /** Adds tickets. */
      adding: QueryRunner;
      /** Deletes residents. */
      deleting: QueryRunner;
      /** Resolves once the writer's pending statement waits for a lock the other one holds. */
      blocked(writer: QueryRunner): Promise<void>;
    }

    /** Two open owner transactions that may write into `code`, released afterwards. */
    async function twoWriters(code: string, work: (writers: Writers) => Promise<void>): Promise<void> {
      const pids = new Map<QueryRunner, number>();
      const open = async () => {
        const runner = t.db.createQueryRunner();
        await runner.connect();
        await runner.startTransaction();
        await runner.query(`SELECT set_config('vrs.tenants', $1, true)`, [code]);
        pids.set(runner, (await runner.query('SELECT pg_backend_pid() AS pid'))[0].pid);
        return runner;
      };
      const blocked = async (writer: QueryRunner) => {
        for (let i = 0; i < 100; i++) {
          const [row] = await t.db.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [pids.get(writer)]);
          if (row?.wait_event_type === 'Lock') return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw new Error('the statement never waited for the lock');
      };
      const writers = { adding: await open(), deleting: await open(), blocked };
      try {
        await work(writers);
      } finally {
        await writers.adding.release();
        await writers.deleting.release();
      }
    }
    const settled = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error) => ({ error }));
    const deleteResident = (runner: QueryRunner, code: string, id: string) =>
      runner.query('DELETE FROM resident WHERE municipality_code = $1 AND id = $2', [code, id]);
    const ticketsOf = (code: string, residentId: string) =>
      t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1 AND resident_id = $2', [code, residentId]);

    it.each([
      ['a resident', false],
      ['a resident whose row the adding transaction updated', true],
    ])('%s deleted while a ticket is being added waits for it, then takes the ticket along', async (_, updatedFirst) => {
      const { code, officer } = await t.tenant();
      const { residentId } = await residentWithTicket(officer);
      await twoWriters(code, async ({ adding, deleting, blocked }) => {
        const onResident = (sql: string) => adding.query(`${sql} WHERE municipality_code = $1 AND id = $2`, [code, residentId]);
        if (updatedFirst) await onResident(`UPDATE resident SET family_name = '川田'`);
        await insertTicket(adding.manager, code, residentId);
        // The KEY SHARE lock stamps the resident's row with the adding transaction's id, also a row
        // version that transaction wrote itself: its raw xmin alone cannot tell it from a frozen row.
        const [{ xmax }] = await onResident('SELECT xmax::text FROM resident');
        expect(xmax).not.toBe('0');
        const deleted = settled(deleteResident(deleting, code, residentId));
        await blocked(deleting);
        await adding.commitTransaction();
        expect(await deleted).not.toHaveProperty('error');
        await deleting.commitTransaction();
      });
      expect(await ticketsOf(code, residentId)).toHaveLength(0);
    });

    it('a ticket added for a resident being deleted fails once the deletion commits', async () => {
      const { code, officer } = await t.tenant();
      const { residentId } = await residentWithTicket(officer);
      await twoWriters(code, async ({ adding, deleting, blocked }) => {
        await deleteResident(deleting, code, residentId);
        const added = settled(insertTicket(adding.manager, code, residentId));
        await blocked(adding);
        await deleting.commitTransaction();
        expect(await added).toMatchObject({ error: ticketViolation });
        await adding.rollbackTransaction();
      });
      expect(await ticketsOf(code, residentId)).toHaveLength(0);
    });
  });
});

describe('identifiers keep their format, whoever writes them', () => {
  /** Inserts a resident (and a ticket for them) as the owner, past every check of the API; the database's error, if any. */
  async function written(addresseeNumber: string, ticketNumber: string): Promise<{ code?: string; constraint?: string } | null> {
    const code = await t.createMunicipality();
    try {
      await asOwner(code, async (tx) => {
        const [{ id }] = await tx.query(
          `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version,
             family_name, given_name, family_name_kana, given_name_kana, birth_date, sex)
           VALUES ($1, gen_random_uuid(), $2, '\\x00', decode(repeat('ab', 32), 'hex'), 1, '山田', '花子', 'ヤマダ', 'ハナコ', '1980-01-01', 'FEMALE')
           RETURNING id`,
          [code, addresseeNumber],
        );
        await tx.query(
          `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on) VALUES ($1, gen_random_uuid(), $2, $3, '1', current_date)`,
          [code, id, ticketNumber],
        );
      });
      return null;
    } catch (error) {
      return error as { code: string; constraint: string };
    }
  }

  const addressee = { code: '23514', constraint: 'resident_addressee_number_format' };
  const ticket = { code: '23514', constraint: 'ticket_number_format' };

  it('accepts 1 to 20 ASCII letters, digits and hyphens, and a ticket number of ten ASCII digits', async () => {
    for (const number of ['7', 'aZ-09', 'A'.repeat(20), '-'.repeat(20)]) expect(await written(number, '0123456789')).toBeNull();
  });

  it('refuses any other addressee number', async () => {
    for (const number of ['', 'A'.repeat(21), 'A 1', 'A_1', 'A\n1', 'Ａ1', '１', '山田']) {
      expect(await written(number, '0123456789')).toMatchObject(addressee);
    }
  });

  it('refuses any other ticket number', async () => {
    for (const number of ['012345678', ' 012345678', '01234 5678', '012345678a', '０１２３４５６７８９', '012345678\n']) {
      expect(await written('A1', number)).toMatchObject(ticket);
    }
  });
});
