/** The two encodings registry files come in: UTF-8, and Shift_JIS as Windows writes it (CP932). */
export type FileEncoding = 'UTF8' | 'SJIS';

/** An encoding as people write it (utf8, UTF-8, sjis, Shift_JIS, cp932, Windows-31J); undefined if unknown. */
export function encodingNamed(name: string): FileEncoding | undefined {
  const key = name.trim().toLowerCase().replace(/[-_"]/g, '');
  if (key === 'utf8') return 'UTF8';
  return ['sjis', 'shiftjis', 'cp932', 'windows31j'].includes(key) ? 'SJIS' : undefined;
}
