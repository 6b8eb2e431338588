import { TransferSlots } from '../../src/http/transfer-slots';

describe('transfer slots', () => {
  it('bounds transfers per municipality and on the whole server, and frees a slot once, however often it is released', () => {
    const slots = new TransferSlots(2, 3);
    const a1 = slots.take('131016');
    const a2 = slots.take('131016');
    expect(slots.take('131016')).toEqual({ refused: 'municipality' });
    const b1 = slots.take('271004');
    expect(slots.take('011002')).toEqual({ refused: 'server' });
    if (!('release' in a1) || !('release' in a2) || !('release' in b1)) throw new Error('expected slots');
    a1.release();
    a1.release();
    // One slot came back, not two: the server is full again after one more.
    expect('release' in slots.take('011002')).toBe(true);
    expect(slots.take('131016')).toEqual({ refused: 'server' });
    b1.release();
    expect('release' in slots.take('131016')).toBe(true);
    expect(slots.take('131016')).toEqual({ refused: 'municipality' });
  });
});
