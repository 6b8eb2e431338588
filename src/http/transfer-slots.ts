/**
 * How many CSV transfers (uploads or downloads) run at once, per municipality and on the whole
 * server. Each holds a database connection and a transaction from its first byte to its last, so
 * without a bound a few slow clients would take the pool every other request needs.
 */
export class TransferSlots {
  private readonly held = new Map<string, number>();
  private total = 0;

  constructor(readonly perMunicipality: number, readonly overall: number) {}

  /** A release function, or the reason no slot is free. */
  take(municipalityCode: string): { release: () => void } | { refused: 'municipality' | 'server' } {
    const mine = this.held.get(municipalityCode) ?? 0;
    if (mine >= this.perMunicipality) return { refused: 'municipality' };
    if (this.total >= this.overall) return { refused: 'server' };
    this.held.set(municipalityCode, mine + 1);
    this.total++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.held.get(municipalityCode) ?? 1) - 1;
        if (left === 0) this.held.delete(municipalityCode);
        else this.held.set(municipalityCode, left);
      },
    };
  }
}
