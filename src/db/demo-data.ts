import { DataSource } from 'typeorm';
import { contextFor, finishRequest } from '../context';
import { Channel, Role, Sex } from '../schema/enums';
import { ROLE_CHANNELS } from '../policies/roles';
import { Services } from '../services';
import { myNumberCheckDigit } from '../validation/identifiers';

export const DEMO_PASSWORD = 'demo-password-2026';

export const DEMO_ACCOUNTS = [
  { loginId: 'operator', role: Role.OPERATOR, displayName: 'System operator' },
  { loginId: 'chiyoda-officer', role: Role.MUNICIPALITY, municipalityCode: '131016', displayName: 'Chiyoda officer' },
  { loginId: 'minato-officer', role: Role.MUNICIPALITY, municipalityCode: '131032', displayName: 'Minato officer' },
  { loginId: 'chiyoda-site', role: Role.VACCINATION_SITE, municipalityCode: '131016', displayName: 'Chiyoda vaccination site tablet' },
  { loginId: 'tokyo-prefecture', role: Role.PREFECTURE, prefectureCode: '13', displayName: 'Tokyo Metropolitan Government' },
  { loginId: 'national', role: Role.NATIONAL, displayName: 'Ministry of Health' },
  { loginId: 'reservations', role: Role.INTEGRATOR, displayName: 'Reservation system' },
];

/** The start-up banner's lines for the demo accounts: each with every channel its role signs in on. */
export function demoAccountLines(): string[] {
  return DEMO_ACCOUNTS.map((a) => `  ${a.loginId.padEnd(18)} ${a.role.padEnd(17)} on ${ROLE_CHANNELS[a.role].join(' or ')}`);
}

const FAMILY = [['佐藤', 'サトウ'], ['鈴木', 'スズキ'], ['高橋', 'タカハシ'], ['田中', 'タナカ'], ['伊藤', 'イトウ'], ['渡辺', 'ワタナベ']];
const GIVEN = [['太郎', 'タロウ', Sex.MALE], ['花子', 'ハナコ', Sex.FEMALE], ['健', 'ケン', Sex.MALE], ['由美', 'ユミ', Sex.FEMALE], ['翔', 'ショウ', Sex.MALE]] as const;

/** The demo accounts of this database still open to sign-in (with the published password, unless changed). */
export async function openDemoAccounts(db: DataSource): Promise<string[]> {
  const rows: { login_id: string }[] = await db.query(
    'SELECT login_id FROM account WHERE login_id = ANY($1) AND disabled_at IS NULL ORDER BY login_id', [DEMO_ACCOUNTS.map((a) => a.loginId)],
  );
  return rows.map((r) => r.login_id);
}

/** A valid My Number derived from a serial, for demo and test data only. */
export function demoMyNumber(serial: number): string {
  const body = String(100000000000 + serial * 7919).slice(1, 12);
  return body + myNumberCheckDigit(body);
}

/** Demo accounts (one per role) and a few residents, loaded only into an empty embedded database. */
export async function loadDemoData(db: DataSource, services: Services): Promise<boolean> {
  const [{ count }] = await db.query('SELECT count(*)::int AS count FROM account');
  if (count > 0) return false;
  const seed = { requestId: 'seed', channel: 'CLI', actor: null };
  const idOf = new Map<string, string>();
  // Not forced to change the published password, so that the demo can be tried at once; production
  // refuses to serve while any of them can sign in.
  for (const a of DEMO_ACCOUNTS) {
    idOf.set(a.loginId, (await services.accounts.create(seed, { ...a, password: DEMO_PASSWORD }, { chosenByHolder: true })).id);
  }
  for (const municipalityCode of ['131016', '131032']) {
    const officer = idOf.get(municipalityCode === '131016' ? 'chiyoda-officer' : 'minato-officer')!;
    const actor = { accountId: officer, role: Role.MUNICIPALITY, municipalityCode, prefectureCode: null, channel: Channel.LGWAN };
    const ctx = contextFor(services, actor, { channel: Channel.LGWAN, sourceAddress: 'seed', requestId: 'seed' });
    for (let i = 0; i < 30; i++) {
      const [family, familyKana] = FAMILY[i % FAMILY.length];
      const [given, givenKana, sex] = GIVEN[i % GIVEN.length];
      await services.residents.register(ctx, {
        addresseeNumber: `${municipalityCode.slice(2, 5)}${String(i + 1).padStart(7, '0')}`,
        myNumber: demoMyNumber(Number(municipalityCode) + i),
        familyName: family,
        givenName: given,
        familyNameKana: familyKana,
        givenNameKana: givenKana,
        birthDate: `${1940 + ((i * 7) % 80)}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
        sex,
      });
    }
    // Tickets of the first series for every demo resident, so a tablet has something to scan.
    await services.tickets.issue(ctx, { series: '1-2', allActiveResidents: true });
    await finishRequest(ctx);
  }
  // The demo reservation system is contracted by Chiyoda.
  const operatorActor = { accountId: idOf.get('operator')!, role: Role.OPERATOR, municipalityCode: null, prefectureCode: null, channel: Channel.LGWAN };
  const operatorCtx = contextFor(services, operatorActor, { channel: Channel.LGWAN, sourceAddress: 'seed', requestId: 'seed' });
  await services.integratorContracts.create(operatorCtx, idOf.get('reservations')!, '131016');
  await finishRequest(operatorCtx);
  return true;
}
