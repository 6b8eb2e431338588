/**
 * The COVID-19 vaccines used in Japan, one code per product (approved products and their
 * variant-adapted formulations). Records keep code, manufacturer and product as given here.
 */
export interface VaccineProductInfo {
  code: string;
  manufacturer: string;
  product: string;
  productJa: string;
}

export const VACCINES: readonly VaccineProductInfo[] = [
  { code: 'PFIZER-COMIRNATY', manufacturer: 'Pfizer', product: 'Comirnaty', productJa: 'コミナティ' },
  { code: 'PFIZER-COMIRNATY-BA1', manufacturer: 'Pfizer', product: 'Comirnaty Bivalent (Original/Omicron BA.1)', productJa: 'コミナティ2価（起源株/オミクロン株BA.1）' },
  { code: 'PFIZER-COMIRNATY-BA45', manufacturer: 'Pfizer', product: 'Comirnaty Bivalent (Original/Omicron BA.4-5)', productJa: 'コミナティ2価（起源株/オミクロン株BA.4-5）' },
  { code: 'PFIZER-COMIRNATY-XBB15', manufacturer: 'Pfizer', product: 'Comirnaty (Omicron XBB.1.5)', productJa: 'コミナティ（オミクロン株XBB.1.5）' },
  { code: 'PFIZER-COMIRNATY-JN1', manufacturer: 'Pfizer', product: 'Comirnaty (Omicron JN.1)', productJa: 'コミナティ（オミクロン株JN.1）' },
  { code: 'PFIZER-COMIRNATY-KP2', manufacturer: 'Pfizer', product: 'Comirnaty (Omicron KP.2)', productJa: 'コミナティ（オミクロン株KP.2）' },
  { code: 'MODERNA-SPIKEVAX', manufacturer: 'Moderna', product: 'Spikevax', productJa: 'スパイクバックス' },
  { code: 'MODERNA-SPIKEVAX-BA1', manufacturer: 'Moderna', product: 'Spikevax Bivalent (Original/Omicron BA.1)', productJa: 'スパイクバックス2価（起源株/オミクロン株BA.1）' },
  { code: 'MODERNA-SPIKEVAX-BA45', manufacturer: 'Moderna', product: 'Spikevax Bivalent (Original/Omicron BA.4-5)', productJa: 'スパイクバックス2価（起源株/オミクロン株BA.4-5）' },
  { code: 'MODERNA-SPIKEVAX-XBB15', manufacturer: 'Moderna', product: 'Spikevax (Omicron XBB.1.5)', productJa: 'スパイクバックス（オミクロン株XBB.1.5）' },
  { code: 'MODERNA-SPIKEVAX-JN1', manufacturer: 'Moderna', product: 'Spikevax (Omicron JN.1)', productJa: 'スパイクバックス（オミクロン株JN.1）' },
  { code: 'TAKEDA-NUVAXOVID', manufacturer: 'Takeda', product: 'Nuvaxovid', productJa: 'ヌバキソビッド' },
  { code: 'ASTRAZENECA-VAXZEVRIA', manufacturer: 'AstraZeneca', product: 'Vaxzevria', productJa: 'バキスゼブリア' },
  { code: 'DAIICHISANKYO-DAICHIRONA', manufacturer: 'Daiichi Sankyo', product: 'Daichirona', productJa: 'ダイチロナ' },
  { code: 'MEIJISEIKA-KOSTAIVE', manufacturer: 'Meiji Seika Pharma', product: 'Kostaive', productJa: 'コスタイベ' },
];

const BY_CODE = new Map(VACCINES.map((v) => [v.code, v]));

export function vaccineByCode(code: string): VaccineProductInfo | undefined {
  return BY_CODE.get(code.trim().toUpperCase());
}
