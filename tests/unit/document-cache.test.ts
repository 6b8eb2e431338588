import { parse } from 'graphql';
import { DOCUMENT_CACHE_BYTES, documentCache, retainedSize } from '../../src/http/document-cache';

describe('parsed document cache', () => {
  it('keeps documents within its memory budget, however much of them is comments', async () => {
    const cache = documentCache();
    // Documents that differ only in a comment, as anyone may send without a token: 100,000 comment
    // lines (200 kB) under one field, each about 9 MB once parsed, and 200 bytes as JSON.
    const padded = (n: number) => parse(`# ${n}\n${'#\n'.repeat(100_000)}{ __typename }`, { maxTokens: 1500 });
    for (let n = 0; n < 10; n++) await cache.set(`document-${n}`, padded(n));
    const kept = await Promise.all(cache.keys().map((key) => cache.get(key)));
    expect(kept.reduce((sum, document) => sum + retainedSize(document!), 0)).toBeLessThanOrEqual(DOCUMENT_CACHE_BYTES);
    expect(await cache.get('document-0')).toBeUndefined();
    expect(await cache.get('document-9')).toBeDefined();
    // An ordinary document is kept beside them.
    await cache.set('ordinary', parse('query($id: ID!) { resident(id: $id) { id familyName } }'));
    expect(await cache.get('ordinary')).toBeDefined();
  });
});
