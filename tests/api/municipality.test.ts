import { Channel, Role } from '../../src/schema/enums';
import { codes, TestApp } from '../helpers/test-app';

/** The public list of municipalities (reference data): a code that is no prefecture is refused, as statistics refuses it. */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const LIST = 'query($p: String!) { municipalities(prefectureCode: $p) { code name } }';

describe('municipalities', () => {
  it('lists one prefecture\'s municipalities in code order, the code typed with full-width digits too', async () => {
    const code = await t.createMunicipality('13');
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    for (const p of ['13', '１３', ' 13 ']) {
      const listed = (await officer.gql(LIST, { p })).data.municipalities;
      expect(listed.map((m: { code: string }) => m.code)).toContain(code);
      expect(listed.every((m: { code: string }) => m.code.startsWith('13'))).toBe(true);
      expect(listed.map((m: { code: string }) => m.code)).toEqual([...listed.map((m: { code: string }) => m.code)].sort());
    }
  });

  it('refuses a code that is no prefecture, naming the argument and why, instead of an empty list', async () => {
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: await t.createMunicipality() });
    for (const p of ['48', '00', '1', '131016', '', 'tokyo']) {
      const refused = await site.gql(LIST, { p });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors?.[0]).toMatchObject({
        message: 'prefectureCode: must be a 2-digit prefecture code from 01 to 47',
        extensions: { code: 'BAD_USER_INPUT', field: ['prefectureCode'], reason: 'INVALID_FORMAT' },
      });
      expect(refused.data).toBeNull();
    }
  });
});
