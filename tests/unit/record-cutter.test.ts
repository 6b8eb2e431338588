import 'reflect-metadata';
import { RecordCutter } from '../../src/services/resident-import.chunk';

const text = (chunk: { text: Uint8Array } | null) => (chunk ? Buffer.from(chunk.text).toString('utf8') : null);

describe('cutting an upload into whole records', () => {
  it('drops the BOM even when it arrives split over the first pieces of the upload', () => {
    const file = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('宛名番号,個人番号\r\n1,2\r\n')]);
    for (const cuts of [[1], [2], [1, 2], [3], [5]]) {
      const cutter = new RecordCutter();
      const out: string[] = [];
      let from = 0;
      for (const at of [...cuts, file.length]) {
        const got = text(cutter.push(file.subarray(from, at)));
        if (got) out.push(got);
        from = at;
      }
      const rest = text(cutter.finish());
      if (rest) out.push(rest);
      expect([cuts, out.join('')]).toEqual([cuts, '宛名番号,個人番号\r\n1,2\r\n']);
    }
  });
});
